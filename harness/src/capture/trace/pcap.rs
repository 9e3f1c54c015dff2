//! pcap and pcapng captures (Wireshark, tshark, tcpdump, USBPcap, NFCGate, Flipper Zero,
//! Proxmark3 through text2pcap, kazasu's own `--pcap`) read by link type: ISO 14443 air frames
//! (264, [`super::air`]), exported ISO 7816 PDUs (252), USB CCID (249, 220, 189,
//! [`super::ccid`]). Each interface of a pcapng is a reader, named after its `if_name` (or
//! `interface N`), so a file of several needs a choice with `--reader`. Errors name the packet.

use super::air::{AirFrame, read_air};
use super::ccid::{USBMON, USBMON_MMAPPED, USBPCAP, UsbIdentity, read_descriptors, read_usb};
use super::model::{ExchangeOutcome, ParseError, RawTrace, err};
use crate::pcapng::block::linktype;
use crate::pcapng::pdu::{ApduWay, read_apdu};

/// NFCGate's second interface: the phone's NFC configuration, nothing kazasu replays.
const USER0: u16 = 147;

/// Whether `bytes` start like a pcap or pcapng file.
pub(super) fn looks_like_pcap(bytes: &[u8]) -> bool {
    crate::pcapng::classic::is_classic(bytes) || bytes.starts_with(&[0x0A, 0x0D, 0x0D, 0x0A])
}

/// The ISO 14443 frames of a pcap or pcapng file: of its one air interface, or of the one
/// whose name contains `reader`.
pub(super) fn pcap_air_frames(
    bytes: &[u8],
    reader: Option<&str>,
) -> Result<Vec<AirFrame>, ParseError> {
    let file = crate::pcapng::classic::read_any(bytes).map_err(|e| err(0, e.to_string()))?;
    let first = file.packets.iter().map(|p| p.ts_ns).min().unwrap_or(0);
    let air: Vec<(usize, String)> = file
        .interfaces
        .iter()
        .enumerate()
        .filter(|(_, i)| i.linktype == linktype::ISO_14443)
        .map(|(n, i)| {
            (
                n,
                i.name.clone().unwrap_or_else(|| format!("interface {n}")),
            )
        })
        .filter(|(_, name)| reader.is_none_or(|r| name.contains(r)))
        .collect();
    let (index, _) = match air.as_slice() {
        [] => {
            return Err(err(
                0,
                "no ISO 14443 air interface (link type 264) in the capture".to_string()
                    + reader
                        .map_or(String::new(), |r| format!(" named like `{r}`"))
                        .as_str(),
            ));
        }
        [one] => one.clone(),
        many => {
            let names: Vec<String> = many.iter().map(|(_, n)| format!("`{n}`")).collect();
            return Err(err(
                0,
                format!(
                    "the capture has {} air interfaces ({}); choose one with --reader",
                    many.len(),
                    names.join(", ")
                ),
            ));
        }
    };
    let mut frames = Vec::new();
    for p in file.packets.iter().filter(|p| p.interface == index) {
        frames.push(air_frame(p, first)?);
    }
    Ok(frames)
}

/// The CCID readers a pcap or pcapng file's USB interfaces show descriptors of.
pub(super) fn pcap_usb_identities(bytes: &[u8]) -> Result<Vec<UsbIdentity>, ParseError> {
    let file = crate::pcapng::classic::read_any(bytes).map_err(|e| err(0, e.to_string()))?;
    let mut found = Vec::new();
    for (n, i) in file.interfaces.iter().enumerate() {
        if !matches!(i.linktype, USBPCAP | USBMON | USBMON_MMAPPED) {
            continue;
        }
        let packets: Vec<(usize, u64, &[u8])> = file
            .packets
            .iter()
            .filter(|p| p.interface == n)
            .map(|p| (p.number, 0, p.data.as_slice()))
            .collect();
        found.extend(read_descriptors(i.linktype, &packets)?);
    }
    Ok(found)
}

/// Microseconds from the capture's first packet (`first`, ns) to `ts_ns`.
fn us_since(ts_ns: u128, first: u128) -> u64 {
    u64::try_from(ts_ns.saturating_sub(first) / 1000).unwrap_or(u64::MAX)
}

/// A link type 264 packet as an air frame.
fn air_frame(p: &crate::pcapng::block::Packet, first: u128) -> Result<AirFrame, ParseError> {
    let d = &p.data;
    if d.len() < 4 || d[0] != 0 {
        return Err(err(
            p.number,
            "an ISO 14443 packet without its 4-byte pseudo-header (version 0)",
        ));
    }
    let len = usize::from(u16::from_be_bytes([d[2], d[3]]));
    if len != d.len() - 4 {
        return Err(err(
            p.number,
            format!(
                "an ISO 14443 packet whose length field says {len} bytes and holds {}",
                d.len() - 4
            ),
        ));
    }
    let at_us = us_since(p.ts_ns, first);
    Ok(AirFrame {
        number: p.number,
        at_us,
        event: d[1],
        bytes: d[4..].to_vec(),
    })
}

/// Reads a pcap or pcapng file.
pub(super) fn parse_pcap_raw(bytes: &[u8]) -> Result<RawTrace, ParseError> {
    let file = crate::pcapng::classic::read_any(bytes).map_err(|e| err(0, e.to_string()))?;
    let first = file.packets.iter().map(|p| p.ts_ns).min().unwrap_or(0);
    let at_us = |ts: u128| us_since(ts, first);
    let mut raw = RawTrace::with_capacity(file.packets.len() / 2);
    let mut read_any = false;
    for (i, iface) in file.interfaces.iter().enumerate() {
        let name = iface
            .name
            .clone()
            .unwrap_or_else(|| format!("interface {i}"));
        let packets: Vec<_> = file.packets.iter().filter(|p| p.interface == i).collect();
        match iface.linktype {
            linktype::ISO_14443 => {
                let mut frames = Vec::with_capacity(packets.len());
                for p in packets {
                    frames.push(air_frame(p, first)?);
                }
                read_air(&frames, Some(&name), &mut raw);
            }
            linktype::WIRESHARK_UPPER_PDU => {
                let mut waiting: Option<(Vec<u8>, u64, usize)> = None;
                for p in packets {
                    let Some((way, apdu)) = read_apdu(&p.data) else {
                        // An exported PDU for another dissector.
                        continue;
                    };
                    let at = at_us(p.ts_ns);
                    match way {
                        ApduWay::Command => {
                            if let Some((c, t, n)) = waiting.replace((apdu.to_vec(), at, p.number))
                            {
                                raw.exchange(
                                    Some(&name),
                                    n,
                                    Some(t),
                                    c,
                                    ExchangeOutcome::Nothing,
                                    None,
                                );
                            }
                        }
                        ApduWay::Response => {
                            if let Some((c, t, n)) = waiting.take() {
                                let outcome = ExchangeOutcome::Response(apdu.to_vec());
                                raw.exchange(
                                    Some(&name),
                                    n,
                                    Some(t),
                                    c,
                                    outcome,
                                    Some(at.saturating_sub(t)),
                                );
                            }
                        }
                    }
                }
                if let Some((c, t, n)) = waiting {
                    raw.exchange(Some(&name), n, Some(t), c, ExchangeOutcome::Nothing, None);
                }
            }
            USBPCAP | USBMON | USBMON_MMAPPED => {
                let list: Vec<(usize, u64, &[u8])> = packets
                    .iter()
                    .map(|p| (p.number, at_us(p.ts_ns), &p.data[..]))
                    .collect();
                read_usb(iface.linktype, &list, &mut raw)?;
            }
            USER0 => continue,
            other => {
                return Err(err(
                    0,
                    format!(
                        "interface {i} ({name}) has link type {other}; kazasu reads ISO 14443 air frames (264), exported ISO 7816 PDUs (252) and USB captures of CCID readers (USBPcap 249, usbmon 220 and 189)"
                    ),
                ));
            }
        }
        read_any = true;
    }
    if !read_any {
        return Err(err(0, "the capture has no interface kazasu reads"));
    }
    Ok(raw)
}
