//! The same exchanges as a USB CCID reader's traffic, as USBPcap records it on a Windows PC
//! (link type 249): a synthetic device and configuration descriptor first (a CCID interface and
//! its class descriptor, so Wireshark names the traffic USBCCID with no setting), then for each
//! tap NotifySlotChange and IccPowerOn with the ATR, each APDU as XfrBlock and DataBlock (chained
//! past the reader's message size, with time-extension answers where the card asked for waiting
//! time on the air), and NotifySlotChange when the card leaves. Every transfer is a request and
//! its completion, OUT data on the request and IN data on the completion, as USBPcap writes them.

/// The synthetic reader's USB address: bus 1, device 5.
const BUS: u16 = 1;
const DEVICE: u16 = 5;
/// The reader the USB view shows: what its descriptors say (from the run's reader profile, or
/// the synthetic reader: pid.codes' test id 1209:0001, 522-byte messages as on the Sony RC-S300
/// and the ACS ACR1252) and its APDU level.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UsbReader {
    /// idVendor.
    pub vendor: u16,
    /// idProduct.
    pub product: u16,
    /// dwMaxCCIDMessageLength (header included).
    pub max_message: usize,
    /// dwMaxIFSD.
    pub max_ifsd: u32,
    /// The extended APDU level (short only otherwise).
    pub extended: bool,
}

impl UsbReader {
    /// The reader a reader profile describes.
    pub fn of(profile: &kazasu_sim::ReaderProfile) -> UsbReader {
        UsbReader::from_descriptors(
            &profile.usb(),
            profile.extended_apdus.value == kazasu_sim::reader::profile::ExtendedApdus::Supported,
        )
    }

    /// The synthetic reader with extended APDUs.
    pub fn synthetic() -> UsbReader {
        UsbReader::from_descriptors(&kazasu_sim::reader::profile::UsbCcid::synthetic(), true)
    }

    fn from_descriptors(usb: &kazasu_sim::reader::profile::UsbCcid, extended: bool) -> UsbReader {
        // A profile's id is checked at load; the synthetic one's is pid.codes' test id.
        let (vendor, product) = usb.vendor_product().unwrap_or((0x1209, 0x0001));
        UsbReader {
            vendor,
            product,
            max_message: usb.max_message as usize,
            max_ifsd: usb.max_ifsd,
            extended,
        }
    }

    /// In a line, for the pcapng interface's description.
    pub fn describe(&self) -> String {
        format!(
            "a USB CCID reader {:04x}:{:04x} ({}-byte messages, {} APDUs) carrying the run's APDUs",
            self.vendor,
            self.product,
            self.max_message,
            if self.extended {
                "short and extended"
            } else {
                "short"
            }
        )
    }
}

const CONTROL: u8 = 2;
const INTERRUPT: u8 = 1;
const BULK: u8 = 3;
const BULK_OUT: u8 = 0x01;
const BULK_IN: u8 = 0x82;
const INTERRUPT_IN: u8 = 0x83;

/// The CCID reader's traffic being written: USBPcap records with their times.
pub struct UsbSession {
    irp: u64,
    seq: u8,
    /// The data a message holds.
    room: usize,
    /// (time in ns, record) in order.
    pub records: Vec<(u64, Vec<u8>)>,
}

/// USBPcap's header: 27 bytes (28 with a control stage), then the data.
fn record(
    irp: u64,
    completion: bool,
    function: u16,
    endpoint: u8,
    transfer: u8,
    stage: Option<u8>,
    data: &[u8],
) -> Vec<u8> {
    let header: u16 = if stage.is_some() { 28 } else { 27 };
    let mut r = Vec::with_capacity(usize::from(header) + data.len());
    r.extend(header.to_le_bytes());
    r.extend(irp.to_le_bytes());
    r.extend(0u32.to_le_bytes());
    r.extend(function.to_le_bytes());
    r.push(u8::from(completion));
    r.extend(BUS.to_le_bytes());
    r.extend(DEVICE.to_le_bytes());
    r.push(endpoint);
    r.push(transfer);
    r.extend((data.len() as u32).to_le_bytes());
    if let Some(s) = stage {
        r.push(s);
    }
    r.extend_from_slice(data);
    r
}

/// A CCID message: type, dwLength, slot 0, bSeq, three type-specific bytes, the data.
fn message(kind: u8, seq: u8, specific: [u8; 3], data: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(10 + data.len());
    m.push(kind);
    m.extend((data.len() as u32).to_le_bytes());
    m.extend([0, seq]);
    m.extend(specific);
    m.extend_from_slice(data);
    m
}

/// The CCID class descriptor (54 bytes): one slot, T=1, `features` and the message size.
fn ccid_descriptor(reader: &UsbReader) -> Vec<u8> {
    let mut d = vec![0x36, 0x21, 0x10, 0x01, 0x00, 0x07];
    d.extend(2u32.to_le_bytes()); // T=1
    d.extend(4000u32.to_le_bytes());
    d.extend(4000u32.to_le_bytes());
    d.push(0);
    d.extend(115_200u32.to_le_bytes());
    d.extend(921_600u32.to_le_bytes());
    d.push(0);
    d.extend(reader.max_ifsd.to_le_bytes());
    d.extend(0u32.to_le_bytes());
    d.extend(0u32.to_le_bytes());
    // Automatic parameters, activation, voltage, clock, baud rate and negotiation; the APDU
    // exchange level, short and extended or short only.
    let level: u32 = if reader.extended {
        0x0004_0000
    } else {
        0x0002_0000
    };
    d.extend((0x7E | level).to_le_bytes());
    d.extend((reader.max_message as u32).to_le_bytes());
    d.extend([0x00, 0x00, 0x00, 0x00, 0x00, 0x01]);
    d
}

fn configuration(reader: &UsbReader) -> Vec<u8> {
    let mut body = vec![0x09, 0x04, 0x00, 0x00, 0x03, 0x0B, 0x00, 0x00, 0x00];
    body.extend(ccid_descriptor(reader));
    for (ep, kind, size, interval) in [
        (BULK_OUT, 2u8, 64u16, 0u8),
        (BULK_IN, 2, 64, 0),
        (INTERRUPT_IN, 3, 8, 16),
    ] {
        body.extend([0x07, 0x05, ep, kind]);
        body.extend(size.to_le_bytes());
        body.push(interval);
    }
    let total = (9 + body.len()) as u16;
    let mut c = vec![0x09, 0x02];
    c.extend(total.to_le_bytes());
    c.extend([0x01, 0x01, 0x00, 0x80, 0x32]);
    c.extend(body);
    c
}

fn device(reader: &UsbReader) -> Vec<u8> {
    let mut d = vec![0x12, 0x01, 0x00, 0x02, 0x00, 0x00, 0x00, 0x40];
    d.extend(reader.vendor.to_le_bytes());
    d.extend(reader.product.to_le_bytes());
    d.extend([0x00, 0x01, 0x01, 0x02, 0x03, 0x01]);
    d
}

/// A message cut into pieces of `room` bytes (an empty one is one empty piece).
fn cut(bytes: &[u8], room: usize) -> Vec<&[u8]> {
    if bytes.is_empty() {
        vec![bytes]
    } else {
        bytes.chunks(room).collect()
    }
}

/// CCID's chaining code of piece `i` of `n` — wLevelParameter of XfrBlock and bChainParameter of
/// DataBlock alike: 0 whole, 1 begins, 2 ends, 3 goes on.
fn chain_code(i: usize, n: usize) -> u8 {
    match (i, n) {
        (_, 1) => 0x00,
        (0, _) => 0x01,
        (i, n) if i + 1 == n => 0x02,
        _ => 0x03,
    }
}

impl UsbSession {
    /// A session of `reader` that opens with its descriptors at `at` ns.
    pub fn new(at: u64, reader: &UsbReader) -> UsbSession {
        let mut s = UsbSession {
            irp: 0xA000_0000_0000_1000,
            seq: 0,
            room: reader.max_message - 10,
            records: Vec::new(),
        };
        for (kind, descriptor) in [(1u8, device(reader)), (2, configuration(reader))] {
            let setup = [
                0x80,
                0x06,
                0x00,
                kind,
                0x00,
                0x00,
                descriptor.len() as u8,
                (descriptor.len() >> 8) as u8,
            ];
            let irp = s.next_irp();
            s.records
                .push((at, record(irp, false, 0x0B, 0x80, CONTROL, Some(0), &setup)));
            s.records.push((
                at,
                record(irp, true, 0x08, 0x80, CONTROL, Some(3), &descriptor),
            ));
        }
        s
    }

    fn next_irp(&mut self) -> u64 {
        self.irp += 0x10;
        self.irp
    }

    fn out(&mut self, at: u64, m: &[u8]) {
        let irp = self.next_irp();
        self.records
            .push((at, record(irp, false, 0x09, BULK_OUT, BULK, None, m)));
        self.records
            .push((at, record(irp, true, 0x09, BULK_OUT, BULK, None, &[])));
    }

    fn inn(&mut self, at: u64, m: &[u8]) {
        let irp = self.next_irp();
        self.records
            .push((at, record(irp, false, 0x09, BULK_IN, BULK, None, &[])));
        self.records
            .push((at, record(irp, true, 0x09, BULK_IN, BULK, None, m)));
    }

    fn next_seq(&mut self) -> u8 {
        self.seq = self.seq.wrapping_add(1);
        self.seq
    }

    /// NotifySlotChange on the interrupt endpoint: slot 0 changed, a card `present` or not.
    fn notify(&mut self, at: u64, present: bool) {
        let irp = self.next_irp();
        let change = [0x50, 0x02 | u8::from(present)];
        for (completion, data) in [(false, &[][..]), (true, &change[..])] {
            let r = record(irp, completion, 0x09, INTERRUPT_IN, INTERRUPT, None, data);
            self.records.push((at, r));
        }
    }

    /// The card arrives (NotifySlotChange) and the host powers it up: the ATR.
    pub fn arrive(&mut self, at: u64, atr: &[u8]) {
        self.notify(at, true);
        let seq = self.next_seq();
        self.out(at, &message(0x62, seq, [0, 0, 0], &[]));
        self.inn(at, &message(0x80, seq, [0, 0, 0], atr));
    }

    /// The card leaves.
    pub fn leave(&mut self, at: u64) {
        self.notify(at, false);
    }

    /// A command sent at `sent`, the card's waiting-time requests at `waits` (time, WTXM),
    /// and its answer at `answered` (`None`: the card never answered, the slot reports it mute).
    pub fn exchange(
        &mut self,
        sent: u64,
        command: &[u8],
        waits: &[(u64, u8)],
        answered: Option<(u64, &[u8])>,
    ) {
        let room = self.room;
        // The command, chained past the message size: 0001 begins, 0003 goes on, 0002 ends.
        let pieces = cut(command, room);
        let mut seq = 0;
        for (i, piece) in pieces.iter().enumerate() {
            let level = u16::from(chain_code(i, pieces.len()));
            seq = self.next_seq();
            let [lo, hi] = level.to_le_bytes();
            self.out(sent, &message(0x6F, seq, [0, lo, hi], piece));
            if i + 1 < pieces.len() {
                // "Send the next piece."
                self.inn(sent, &message(0x80, seq, [0, 0, 0x10], &[]));
            }
        }
        for &(at, wtxm) in waits {
            self.inn(at, &message(0x80, seq, [0x80, wtxm.max(1), 0], &[]));
        }
        let Some((at, response)) = answered else {
            // Failed, ICC mute.
            self.inn(sent, &message(0x80, seq, [0x41, 0xFE, 0], &[]));
            return;
        };
        // The answer, chained the same way: 01 begins, 03 goes on, 02 ends; the host asks for
        // each further piece with an empty XfrBlock of level 0010.
        let pieces = cut(response, room);
        for (i, piece) in pieces.iter().enumerate() {
            let chain = chain_code(i, pieces.len());
            if i > 0 {
                seq = self.next_seq();
                self.out(at, &message(0x6F, seq, [0, 0x10, 0x00], &[]));
            }
            self.inn(at, &message(0x80, seq, [0, 0, chain], piece));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_descriptors_have_their_usb_and_ccid_lengths() {
        let reader = UsbReader::synthetic();
        assert_eq!(device(&reader).len(), 18);
        let c = configuration(&reader);
        assert_eq!(c.len(), 93);
        assert_eq!(u16::from_le_bytes([c[2], c[3]]), 93);
        assert_eq!(c[14], 0x0B, "interface class: smart card");
        let d = ccid_descriptor(&reader);
        assert_eq!(d.len(), 54);
        assert_eq!(
            u32::from_le_bytes([d[40], d[41], d[42], d[43]]),
            0x0004_007E
        );
        assert_eq!(u32::from_le_bytes([d[44], d[45], d[46], d[47]]), 522);
        let short = ccid_descriptor(&UsbReader {
            extended: false,
            ..reader
        });
        assert_eq!(
            u32::from_le_bytes([short[40], short[41], short[42], short[43]]),
            0x0002_007E,
            "a reader without extended APDUs: the short APDU level"
        );
    }

    #[test]
    fn a_long_answer_is_chained_in_pieces_the_host_asks_for() {
        let mut s = UsbSession::new(0, &UsbReader::synthetic());
        let before = s.records.len();
        let answer = vec![0xAB; 1_200];
        s.exchange(
            10,
            &[0x00, 0xB0, 0x00, 0x00, 0x00, 0x04, 0xB0],
            &[(20, 3)],
            Some((30, &answer)),
        );
        // XfrBlock, time extension, then 3 pieces (512, 512, 176) with 2 requests between.
        let messages: Vec<&[u8]> = s.records[before..]
            .iter()
            .map(|(_, r)| &r[usize::from(r[0])..])
            .filter(|d| !d.is_empty())
            .collect();
        let kinds: Vec<(u8, u8)> = messages.iter().map(|m| (m[0], m[9])).collect();
        assert_eq!(
            kinds,
            [
                (0x6F, 0),
                (0x80, 0),
                (0x80, 0x01),
                (0x6F, 0),
                (0x80, 0x03),
                (0x6F, 0),
                (0x80, 0x02)
            ]
        );
        assert_eq!(messages[1][7], 0x80, "time extension");
        assert_eq!(messages[1][8], 3, "its multiplier");
        assert_eq!(messages[3][8], 0x10, "the host asks for the next piece");
    }
}
