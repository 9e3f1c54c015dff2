//! A USB capture of CCID readers (USBPcap on Windows: link type 249; usbmon on Linux: 220, or
//! 189 in older files) read into a trace's events: the URBs that carry data (an OUT transfer's
//! submission, an IN transfer's successful completion) make each device's bulk streams of CCID
//! messages (a message may span URBs); IccPowerOn's answer is the ATR, XfrBlock and DataBlock
//! (chained pieces joined, time-extension answers skipped) the exchanges, a failed DataBlock a
//! failed exchange, NotifySlotChange on the interrupt endpoint and a SlotStatus without a card
//! the taps and removals. Each device and slot is a reader (`usb 1.5 slot 0`): a capture of
//! several needs a choice, as with pcscd logs. A device whose bulk stream is not CCID (a USB
//! stick beside the reader) is left out.

use super::model::{ExchangeOutcome, ParseError, RawTrace, What, err};
use std::collections::BTreeMap;

/// USBPcap's link type.
pub(super) const USBPCAP: u16 = 249;
/// usbmon with the 64-byte header.
pub(super) const USBMON_MMAPPED: u16 = 220;
/// usbmon with the 48-byte header.
pub(super) const USBMON: u16 = 189;

/// One URB half as captured, reduced to what CCID needs.
struct Urb<'p> {
    number: usize,
    at_us: u64,
    device: (u16, u16),
    endpoint: u8,
    transfer: u8,
    completion: bool,
    ok: bool,
    data: &'p [u8],
}

const INTERRUPT: u8 = 1;
const BULK: u8 = 3;

fn u16le(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn u32le(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// The URB of a packet of `linktype`; `None` for one too short to hold its header.
fn urb(linktype: u16, number: usize, at_us: u64, p: &[u8]) -> Result<Option<Urb<'_>>, ParseError> {
    let short = |need: usize| {
        err(
            number,
            format!("a USB packet of {} bytes, its header needs {need}", p.len()),
        )
    };
    match linktype {
        USBPCAP => {
            if p.len() < 27 {
                return Err(short(27));
            }
            let header = usize::from(u16le(p, 0));
            if header < 27 || header > p.len() {
                return Err(err(
                    number,
                    format!(
                        "a USBPcap header length of {header} in a packet of {}",
                        p.len()
                    ),
                ));
            }
            Ok(Some(Urb {
                number,
                at_us,
                device: (u16le(p, 17), u16le(p, 19)),
                endpoint: p[21],
                transfer: p[22],
                completion: p[16] & 1 == 1,
                ok: u32le(p, 10) == 0,
                data: &p[header..],
            }))
        }
        USBMON | USBMON_MMAPPED => {
            let header = if linktype == USBMON { 48 } else { 64 };
            if p.len() < header {
                return Err(short(header));
            }
            let ndesc = if linktype == USBMON_MMAPPED {
                u32le(p, 60) as usize
            } else {
                0
            };
            let start = header.saturating_add(ndesc.saturating_mul(16)).min(p.len());
            let status = i32::from_le_bytes([p[28], p[29], p[30], p[31]]);
            Ok(Some(Urb {
                number,
                at_us,
                device: (u16le(p, 12), u16::from(p[11])),
                endpoint: p[10],
                transfer: p[9],
                completion: p[8] == b'C',
                ok: p[8] != b'E' && (status >= 0 || status == -115),
                data: &p[start..],
            }))
        }
        _ => Ok(None),
    }
}

/// What a CCID reader's descriptors say of it (a capture made with USBPcap's
/// `--inject-descriptors`, or of the reader being plugged in).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UsbIdentity {
    /// The reader's name in the trace (`usb 1.5`), its slots' prefix.
    pub device: String,
    /// idVendor, idProduct.
    pub id: (u16, u16),
    /// dwMaxCCIDMessageLength.
    pub max_message: u32,
    /// dwMaxIFSD.
    pub max_ifsd: u32,
    /// The APDU exchange level says extended APDUs (dwFeatures 0x00040000).
    pub extended: bool,
}

/// The CCID readers whose device and CCID class descriptors the packets show (control
/// transfers' completions), in device order.
pub(super) fn read_descriptors(
    linktype: u16,
    packets: &[(usize, u64, &[u8])],
) -> Result<Vec<UsbIdentity>, ParseError> {
    const CONTROL: u8 = 2;
    let mut ids: BTreeMap<(u16, u16), (u16, u16)> = BTreeMap::new();
    let mut ccid: BTreeMap<(u16, u16), (u32, u32, u32)> = BTreeMap::new();
    for &(number, at_us, p) in packets {
        let Some(u) = urb(linktype, number, at_us, p)? else {
            continue;
        };
        if u.transfer != CONTROL || !u.completion || !u.ok {
            continue;
        }
        let d = u.data;
        if d.len() >= 18 && d[0] == 0x12 && d[1] == 0x01 {
            ids.insert(u.device, (u16le(d, 8), u16le(d, 10)));
        } else if d.len() >= 9 && d[1] == 0x02 {
            // A configuration: its descriptors one after another; the CCID class one is 0x21.
            let mut at = 0;
            while at + 2 <= d.len() && d[at] >= 2 {
                let len = usize::from(d[at]);
                if d[at + 1] == 0x21 && len >= 54 && at + 54 <= d.len() {
                    let c = &d[at..];
                    ccid.insert(u.device, (u32le(c, 28), u32le(c, 40), u32le(c, 44)));
                }
                at += len;
            }
        }
    }
    Ok(ccid
        .into_iter()
        .filter_map(|(device, (max_ifsd, features, max_message))| {
            Some(UsbIdentity {
                device: format!("usb {}.{}", device.0, device.1),
                id: *ids.get(&device)?,
                max_message,
                max_ifsd,
                extended: features & 0x0007_0000 == 0x0004_0000,
            })
        })
        .collect())
}

/// A CCID message with the packet that completed it.
struct Message {
    number: usize,
    at_us: u64,
    bytes: Vec<u8>,
}

/// Bytes of one direction of a device, cut into CCID messages (10-byte header + dwLength).
#[derive(Default)]
struct Stream {
    pending: Vec<u8>,
}

/// Largest CCID message kazasu accepts (dwMaxCCIDMessageLength is at most a few KB in practice;
/// an extended APDU of 65,544 bytes plus the header).
const MAX_MESSAGE: usize = 10 + 65_544;

impl Stream {
    fn feed(&mut self, data: &[u8], number: usize, at_us: u64) -> Result<Vec<Message>, ParseError> {
        self.pending.extend_from_slice(data);
        let mut out = Vec::new();
        while self.pending.len() >= 10 {
            let len = u32le(&self.pending, 1) as usize;
            if len > MAX_MESSAGE - 10 {
                return Err(err(
                    number,
                    format!("a CCID message announcing {len} bytes of data"),
                ));
            }
            if self.pending.len() < 10 + len {
                break;
            }
            let bytes: Vec<u8> = self.pending.drain(..10 + len).collect();
            out.push(Message {
                number,
                at_us,
                bytes,
            });
        }
        Ok(out)
    }
}

/// One slot of one device: its card, the command being put together and the one waiting.
#[derive(Default)]
struct Slot {
    present: bool,
    /// A card arrived (NotifySlotChange) and its ATR is yet to come.
    arriving: bool,
    command: Vec<u8>,
    /// A whole command waiting for its answer: bytes, time, packet number.
    waiting: Option<(Vec<u8>, u64, usize)>,
    /// The answer being put together (chained DataBlocks).
    response: Vec<u8>,
    /// The command asked of the slot: its message type.
    asked: u8,
}

#[derive(Default)]
struct Device {
    out: Stream,
    bulk_in: Stream,
    /// The bulk OUT stream turned out not to be CCID.
    not_ccid: bool,
    slots: BTreeMap<u8, Slot>,
}

fn reader_name(device: (u16, u16), slot: u8) -> String {
    format!("usb {}.{} slot {slot}", device.0, device.1)
}

/// PC_to_RDR message types.
fn is_pc_to_rdr(t: u8) -> bool {
    matches!(t, 0x61..=0x73)
}

/// Reads the USB packets of one interface of `linktype` (number, µs, bytes) into `raw`.
pub(super) fn read_usb(
    linktype: u16,
    packets: &[(usize, u64, &[u8])],
    raw: &mut RawTrace,
) -> Result<(), ParseError> {
    let mut devices: BTreeMap<(u16, u16), Device> = BTreeMap::new();
    for &(number, at_us, p) in packets {
        let Some(u) = urb(linktype, number, at_us, p)? else {
            continue;
        };
        let into_host = u.endpoint & 0x80 != 0;
        // OUT data travels with the submission, IN data with the completion.
        if u.data.is_empty()
            || into_host != u.completion
            || !u.ok
            || !matches!(u.transfer, BULK | INTERRUPT)
        {
            continue;
        }
        let d = devices.entry(u.device).or_default();
        if d.not_ccid {
            continue;
        }
        match (u.transfer, into_host) {
            (INTERRUPT, true) => notify(d, u.device, &u, raw),
            (BULK, false) => {
                if d.out.pending.is_empty() && !is_pc_to_rdr(u.data[0]) {
                    d.not_ccid = true;
                    continue;
                }
                for m in d.out.feed(u.data, u.number, u.at_us)? {
                    to_reader(d, u.device, m, raw);
                }
            }
            (BULK, true) => {
                for m in d.bulk_in.feed(u.data, u.number, u.at_us)? {
                    from_reader(d, u.device, m, raw);
                }
            }
            _ => {}
        }
    }
    // Commands the capture ended before the answer of.
    for (device, d) in devices.iter_mut().filter(|(_, d)| !d.not_ccid) {
        for (slot, s) in &mut d.slots {
            if let Some((command, at, number)) = s.waiting.take() {
                let name = reader_name(*device, *slot);
                raw.exchange(
                    Some(&name),
                    number,
                    Some(at),
                    command,
                    ExchangeOutcome::Nothing,
                    None,
                );
            }
        }
    }
    Ok(())
}

/// NotifySlotChange: two bits a slot, present and changed.
fn notify(d: &mut Device, device: (u16, u16), u: &Urb<'_>, raw: &mut RawTrace) {
    if u.data.first() != Some(&0x50) {
        return;
    }
    for (i, byte) in u.data[1..].iter().enumerate() {
        for k in 0..4u8 {
            let bits = byte >> (2 * k);
            if bits & 0b10 == 0 {
                continue;
            }
            let slot = (i * 4) as u8 + k;
            let s = d.slots.entry(slot).or_default();
            if bits & 1 == 1 {
                s.arriving = true;
            } else {
                removed(s, device, slot, u.number, u.at_us, raw);
            }
        }
    }
}

fn removed(
    s: &mut Slot,
    device: (u16, u16),
    slot: u8,
    number: usize,
    at_us: u64,
    raw: &mut RawTrace,
) {
    let name = reader_name(device, slot);
    if let Some((command, at, n)) = s.waiting.take() {
        let took = at_us.saturating_sub(at);
        raw.exchange(
            Some(&name),
            n,
            Some(at),
            command,
            ExchangeOutcome::Nothing,
            Some(took),
        );
    }
    if s.arriving && !s.present {
        // Tapped and gone before the host powered it: a visit without an ATR.
        raw.push(
            Some(&name),
            number,
            Some(at_us),
            What::Inserted { atr: None },
        );
    }
    if s.present || s.arriving {
        raw.push(Some(&name), number, Some(at_us), What::Removed);
    }
    *s = Slot::default();
}

fn arrive(
    s: &mut Slot,
    device: (u16, u16),
    slot: u8,
    m: &Message,
    atr: Option<Vec<u8>>,
    raw: &mut RawTrace,
) {
    if !s.present {
        let name = reader_name(device, slot);
        if let Some(a) = &atr {
            raw.atrs.push((Some(name.clone()), a.clone()));
        }
        raw.push(Some(&name), m.number, Some(m.at_us), What::Inserted { atr });
        s.present = true;
        s.arriving = false;
    }
}

fn to_reader(d: &mut Device, device: (u16, u16), m: Message, raw: &mut RawTrace) {
    let (kind, slot) = (m.bytes[0], m.bytes[5]);
    let s = d.slots.entry(slot).or_default();
    s.asked = kind;
    if kind != 0x6F {
        return;
    }
    let level = u16le(&m.bytes, 8);
    if level == 0x0010 {
        // "Send the next piece of the answer": no command bytes.
        return;
    }
    if s.command.is_empty() && s.waiting.is_some() {
        // A new command before the last one's answer: that one got nothing.
        let (command, at, n) = s.waiting.take().expect("checked");
        raw.exchange(
            Some(&reader_name(device, slot)),
            n,
            Some(at),
            command,
            ExchangeOutcome::Nothing,
            None,
        );
    }
    arrive(s, device, slot, &m, None, raw);
    if s.command.is_empty() {
        s.waiting = None;
    }
    let started = s.waiting.as_ref().map_or(m.at_us, |w| w.1);
    s.command.extend_from_slice(&m.bytes[10..]);
    if matches!(level, 0x0000 | 0x0002) {
        let command = std::mem::take(&mut s.command);
        s.waiting = Some((command, started, m.number));
        s.response.clear();
    } else if s.waiting.is_none() {
        s.waiting = Some((Vec::new(), m.at_us, m.number));
    }
}

fn from_reader(d: &mut Device, device: (u16, u16), m: Message, raw: &mut RawTrace) {
    let (kind, slot, status, error, chain) =
        (m.bytes[0], m.bytes[5], m.bytes[7], m.bytes[8], m.bytes[9]);
    let s = d.slots.entry(slot).or_default();
    let name = reader_name(device, slot);
    match (kind, status >> 6) {
        // Time extension: the reader is still working.
        (_, 2) => {}
        // IccPowerOn's answer: the ATR (a power-up again, a reset, keeps the card there).
        (0x80, 0) if s.asked == 0x62 => {
            let atr = m.bytes[10..].to_vec();
            arrive(s, device, slot, &m, Some(atr), raw);
        }
        (0x80, _) if s.asked == 0x62 => {}
        (0x80, 1) => {
            if let Some((command, at, n)) = s.waiting.take() {
                let outcome = if error == 0xFE {
                    ExchangeOutcome::Nothing
                } else {
                    ExchangeOutcome::Error(format!(
                        "the reader failed the exchange (CCID bError {error:02X})"
                    ))
                };
                let took = m.at_us.saturating_sub(at);
                raw.exchange(Some(&name), n, Some(at), command, outcome, Some(took));
            }
            s.command.clear();
        }
        (0x80, 0) => {
            if s.waiting.as_ref().is_none_or(|w| w.0.is_empty()) || chain == 0x10 {
                // An answer to a piece of a chained command ("send the next piece"), or to a
                // command the capture missed.
                return;
            }
            s.response.extend_from_slice(&m.bytes[10..]);
            if matches!(chain, 0x00 | 0x02) {
                let (command, at, n) = s.waiting.take().expect("checked above");
                let response = std::mem::take(&mut s.response);
                let took = m.at_us.saturating_sub(at);
                raw.exchange(
                    Some(&name),
                    n,
                    Some(at),
                    command,
                    ExchangeOutcome::Response(response),
                    Some(took),
                );
            }
        }
        // SlotStatus: bmICCStatus 2 is an empty slot.
        (0x81, _) if status & 0x03 == 2 && s.present => {
            removed(s, device, slot, m.number, m.at_us, raw);
        }
        _ => {}
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// A USBPcap packet: device 1.5, `endpoint`, `transfer`, a submission or completion.
    pub(crate) fn usbpcap(endpoint: u8, transfer: u8, completion: bool, data: &[u8]) -> Vec<u8> {
        let mut p = vec![27, 0];
        p.extend(0xA000_0000_0000_1010u64.to_le_bytes());
        p.extend(0u32.to_le_bytes());
        p.extend(9u16.to_le_bytes());
        p.push(u8::from(completion));
        p.extend(1u16.to_le_bytes());
        p.extend(5u16.to_le_bytes());
        p.push(endpoint);
        p.push(transfer);
        p.extend((data.len() as u32).to_le_bytes());
        p.extend_from_slice(data);
        p
    }

    /// The same URB as usbmon writes it (64-byte header).
    pub(crate) fn usbmon(endpoint: u8, transfer: u8, completion: bool, data: &[u8]) -> Vec<u8> {
        let mut p = 0xFFFF_8880_1234_5678u64.to_le_bytes().to_vec();
        p.push(if completion { b'C' } else { b'S' });
        p.push(transfer);
        p.push(endpoint);
        p.push(5);
        p.extend(1u16.to_le_bytes());
        p.extend([b'-', 0]);
        p.extend([0u8; 12]);
        p.extend((if completion { 0i32 } else { -115 }).to_le_bytes());
        p.extend((data.len() as u32).to_le_bytes());
        p.extend((data.len() as u32).to_le_bytes());
        p.extend([0u8; 24]);
        p.extend_from_slice(data);
        p
    }

    /// A CCID message.
    pub(crate) fn ccid(kind: u8, seq: u8, b7: u8, b8: u8, b9: u8, data: &[u8]) -> Vec<u8> {
        let mut m = vec![kind];
        m.extend((data.len() as u32).to_le_bytes());
        m.extend([0, seq, b7, b8, b9]);
        m.extend_from_slice(data);
        m
    }

    /// A reader session in URBs: a card arrives, powers up, a SELECT with a time extension,
    /// a chained command and a chained answer, a failed exchange, the card leaves.
    pub(crate) fn session(urb: fn(u8, u8, bool, &[u8]) -> Vec<u8>) -> Vec<Vec<u8>> {
        let out = |m: Vec<u8>| vec![urb(0x01, 3, false, &m), urb(0x01, 3, true, &[])];
        let inn = |m: Vec<u8>| vec![urb(0x82, 3, false, &[]), urb(0x82, 3, true, &m)];
        let atr = kazasu_sim::parse_hex("3B 88 80 01 00 00 05 E0 B3 81 A1 00 7F").unwrap();
        let select = kazasu_sim::parse_hex("00 A4 04 0C 0A D3 92 F0 00 26 01 00 00 00 01").unwrap();
        let mut urbs = vec![urb(0x83, 1, true, &[0x50, 0x03])];
        urbs.extend(out(ccid(0x62, 1, 0, 0, 0, &[])));
        urbs.extend(inn(ccid(0x80, 1, 0, 0, 0, &atr)));
        urbs.extend(out(ccid(0x6F, 2, 0, 0, 0, &select)));
        urbs.extend(inn(ccid(0x80, 2, 0x80, 1, 0, &[])));
        urbs.extend(inn(ccid(0x80, 2, 0, 0, 0, &[0x90, 0x00])));
        // A chained command: begins, "send more", ends; a chained answer: begins, "give more", ends.
        urbs.extend(out(ccid(0x6F, 3, 0, 1, 0, &[0x00, 0xB0, 0x00])));
        urbs.extend(inn(ccid(0x80, 3, 0, 0, 0x10, &[])));
        urbs.extend(out(ccid(0x6F, 4, 0, 2, 0, &[0x00, 0x00])));
        urbs.extend(inn(ccid(0x80, 4, 0, 0, 0x01, &[0x30, 0x82])));
        urbs.extend(out(ccid(0x6F, 5, 0, 0x10, 0, &[])));
        urbs.extend(inn(ccid(0x80, 5, 0, 0, 0x02, &[0x04, 0xD0, 0x90, 0x00])));
        urbs.extend(out(ccid(0x6F, 6, 0, 0, 0, &[0x00, 0xB0, 0x00, 0x00, 0x04])));
        urbs.extend(inn(ccid(0x80, 6, 0x41, 0xFE, 0, &[])));
        urbs.push(urb(0x83, 1, true, &[0x50, 0x02]));
        urbs
    }

    fn read(linktype: u16, urbs: &[Vec<u8>]) -> Vec<What> {
        let packets: Vec<(usize, u64, &[u8])> = urbs
            .iter()
            .enumerate()
            .map(|(i, p)| (i + 1, i as u64, &p[..]))
            .collect();
        let mut raw = RawTrace::default();
        read_usb(linktype, &packets, &mut raw).unwrap();
        raw.events.into_iter().map(|(_, e)| e.what).collect()
    }

    #[test]
    fn a_ccid_session_reads_the_same_from_usbpcap_and_usbmon() {
        for (linktype, events) in [
            (USBPCAP, read(USBPCAP, &session(usbpcap))),
            (USBMON_MMAPPED, read(USBMON_MMAPPED, &session(usbmon))),
        ] {
            let kinds: Vec<String> = events
                .iter()
                .map(|w| match w {
                    What::Inserted { atr } => format!("in {}", atr.as_ref().map_or(0, Vec::len)),
                    What::Removed => "out".into(),
                    What::Exchange {
                        command, outcome, ..
                    } => format!("{} {outcome:?}", kazasu_sim::hex_spaced(command)),
                })
                .collect();
            assert_eq!(
                kinds,
                [
                    "in 13",
                    "00 A4 04 0C 0A D3 92 F0 00 26 01 00 00 00 01 Response([144, 0])",
                    "00 B0 00 00 00 Response([48, 130, 4, 208, 144, 0])",
                    "00 B0 00 00 04 Nothing",
                    "out"
                ],
                "link type {linktype}"
            );
        }
    }

    #[test]
    fn a_usb_stick_beside_the_reader_is_left_out_and_a_short_packet_is_an_error() {
        let mut urbs = session(usbpcap);
        // Mass storage on device 1.5's neighbour: a bulk OUT that is no CCID message.
        let mut stick = usbpcap(0x02, 3, false, b"USBC\x01\x00\x00\x00");
        stick[19] = 6;
        urbs.insert(0, stick);
        assert_eq!(read(USBPCAP, &urbs).len(), 5);
        let mut raw = RawTrace::default();
        let e = read_usb(USBPCAP, &[(7, 0, &[27, 0, 1][..])], &mut raw).unwrap_err();
        assert_eq!(e.line, 7);
    }
}
