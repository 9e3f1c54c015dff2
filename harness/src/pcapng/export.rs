//! A run as one pcapng file: per case (in the run's order) an air interface and an APDU
//! interface named after the case, its packets at the case's simulated times, the cases laid
//! end to end from a fixed date so that the same seed gives the same file.

use super::block::{self, linktype};
use super::tap::{CaseCapture, Link};
use std::io::Write;

/// Where a run's timeline starts: 2025-09-19 00:00:00 UTC, when smartphones became health
/// insurance cards. Any fixed date keeps files reproducible.
pub const EPOCH_NS: u64 = 1_758_240_000 * 1_000_000_000;

/// The pause between one case's last packet and the next case's first.
const BETWEEN_CASES_NS: u64 = 1_000_000;

/// A case to write: its name, a line about it (card and reader) and its capture.
pub struct CaseToWrite<'a> {
    /// The case's name.
    pub name: &'a str,
    /// Card, reader and verdict, for the interface's description.
    pub about: String,
    /// What it put on its links.
    pub capture: &'a CaseCapture,
}

/// What a file holds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Written {
    /// Cases with at least one packet.
    pub cases: usize,
    /// Air frames and field switches.
    pub air: usize,
    /// Command APDUs.
    pub commands: usize,
    /// Packets in all.
    pub packets: usize,
}

/// Writes `cases` to `out` as one pcapng section, by `application` (`kazasu 0.1.0`).
pub fn write(
    out: &mut impl Write,
    application: &str,
    cases: &[CaseToWrite<'_>],
) -> std::io::Result<Written> {
    out.write_all(&block::section_header(application))?;
    let mut written = Written::default();
    let (mut next_interface, mut start) = (0u32, EPOCH_NS);
    for (n, case) in cases.iter().enumerate() {
        let packets = &case.capture.packets;
        if packets.is_empty() {
            continue;
        }
        written.cases += 1;
        let mut interface_of = |link: Link, out: &mut dyn Write| -> std::io::Result<Option<u32>> {
            if !packets.iter().any(|p| p.link == link) {
                return Ok(None);
            }
            let (kind, linktype) = match link {
                Link::Air => ("air", linktype::ISO_14443),
                Link::Apdu => ("apdu", linktype::WIRESHARK_UPPER_PDU),
            };
            let name = format!("case {} {kind}", n + 1);
            let about = format!("{}: {}", case.name, case.about);
            out.write_all(&block::interface(linktype, &name, &about))?;
            next_interface += 1;
            Ok(Some(next_interface - 1))
        };
        let air = interface_of(Link::Air, out)?;
        let apdu = interface_of(Link::Apdu, out)?;
        for p in packets {
            let iface = match p.link {
                Link::Air => air,
                Link::Apdu => apdu,
            }
            .expect("an interface for every link with packets");
            let ts = start + p.at_ns;
            out.write_all(&block::packet(
                iface,
                ts,
                &p.data,
                p.way,
                p.comment.as_deref(),
            ))?;
            written.packets += 1;
            match p.link {
                Link::Air => written.air += 1,
                Link::Apdu => {}
            }
        }
        written.commands += case.capture.commands;
        let last = packets.iter().map(|p| p.at_ns).max().unwrap_or(0);
        start += last + BETWEEN_CASES_NS;
    }
    Ok(written)
}

/// A command of the USB view waiting for its answer: sent at, bytes, waits (time, WTXM).
type Pending<'a> = (u64, &'a [u8], Vec<(u64, u8)>);

/// One thing of a case in the USB view, in time order.
enum UsbItem<'a> {
    Arrived(&'a [u8]),
    Left,
    Command(&'a [u8]),
    Wait(u8),
    Response(&'a [u8]),
}

/// Writes `cases` to `out` as a USB CCID reader's traffic (link type 249) on one interface, the
/// cases laid end to end as in [`write`], as `reader` would carry them.
pub fn write_usb(
    out: &mut impl Write,
    application: &str,
    cases: &[CaseToWrite<'_>],
    reader: &super::usb::UsbReader,
) -> std::io::Result<Written> {
    use super::pdu::{ApduWay, read_apdu};
    use super::tap::Presence;
    use super::usb::UsbSession;
    out.write_all(&block::section_header(application))?;
    out.write_all(&block::interface(249, "usb", &reader.describe()))?;
    let mut session = UsbSession::new(EPOCH_NS, reader);
    let mut written = Written::default();
    let mut start = EPOCH_NS;
    for case in cases {
        let c = case.capture;
        if c.packets.is_empty() && c.presence.is_empty() {
            continue;
        }
        written.cases += 1;
        // In the order things happened: an arrival or departure before the packets recorded
        // after it (its place is the number of packets before it).
        let mut items: Vec<(usize, u64, UsbItem<'_>)> = c
            .presence
            .iter()
            .map(|(before, at, p)| match p {
                Presence::Arrived(atr) => (2 * before, *at, UsbItem::Arrived(atr)),
                Presence::Left => (2 * before, *at, UsbItem::Left),
            })
            .collect();
        for (i, p) in c.packets.iter().enumerate() {
            let item = match (p.link, read_apdu(&p.data)) {
                (Link::Apdu, Some((ApduWay::Command, a))) => UsbItem::Command(a),
                (Link::Apdu, Some((ApduWay::Response, a))) => UsbItem::Response(a),
                // S(WTX) from the card: the reader answers the host with a time extension.
                (Link::Air, _)
                    if p.data.len() >= 6 && p.data[1] == 0xFF && p.data[4] & 0xF7 == 0xF2 =>
                {
                    let inf = if p.data[4] & 0x08 != 0 { 6 } else { 5 };
                    UsbItem::Wait(p.data.get(inf).map_or(1, |b| b & 0x3F))
                }
                _ => continue,
            };
            items.push((2 * i + 1, p.at_ns, item));
        }
        items.sort_by_key(|(place, _, _)| *place);
        // The command waiting for its answer: when it was sent, its bytes, the card's waits.
        let mut pending: Option<Pending<'_>> = None;
        for (_, at, item) in items {
            let t = start + at;
            match item {
                UsbItem::Arrived(atr) => session.arrive(t, atr),
                UsbItem::Left => {
                    if let Some((sent, cmd, waits)) = pending.take() {
                        session.exchange(sent, cmd, &waits, None);
                    }
                    session.leave(t);
                }
                UsbItem::Command(cmd) => {
                    if let Some((sent, old, waits)) = pending.replace((t, cmd, Vec::new())) {
                        session.exchange(sent, old, &waits, None);
                    }
                    written.commands += 1;
                }
                UsbItem::Wait(m) => {
                    if let Some((_, _, waits)) = pending.as_mut() {
                        waits.push((t, m));
                    }
                }
                UsbItem::Response(r) => {
                    if let Some((sent, cmd, waits)) = pending.take() {
                        session.exchange(sent, cmd, &waits, Some((t, r)));
                    }
                }
            }
        }
        if let Some((sent, cmd, waits)) = pending.take() {
            session.exchange(sent, cmd, &waits, None);
        }
        let last = c
            .packets
            .iter()
            .map(|p| p.at_ns)
            .chain(c.presence.iter().map(|p| p.1))
            .max();
        start += last.unwrap_or(0) + BETWEEN_CASES_NS;
    }
    for (ts, record) in &session.records {
        out.write_all(&block::packet(0, *ts, record, None, None))?;
        written.packets += 1;
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pcapng::block::read;
    use crate::pcapng::pdu::{self, AirEvent, ApduWay};
    use crate::pcapng::tap::Captured;

    fn capture(packets: Vec<(u64, Link, Vec<u8>)>, commands: usize) -> CaseCapture {
        let mut c = CaseCapture::default();
        c.packets = packets
            .into_iter()
            .map(|(at_ns, link, data)| Captured {
                at_ns,
                link,
                data,
                way: None,
                comment: None,
            })
            .collect();
        c.commands = commands;
        c
    }

    #[test]
    fn cases_get_their_own_interfaces_and_follow_each_other_in_time() {
        let a = capture(
            vec![
                (0, Link::Air, pdu::air(AirEvent::FieldOn, &[])),
                (
                    10,
                    Link::Apdu,
                    pdu::apdu(ApduWay::Command, &[0, 0xA4, 4, 0]),
                ),
                (20, Link::Apdu, pdu::apdu(ApduWay::Response, &[0x90, 0])),
            ],
            1,
        );
        let empty = CaseCapture::default();
        let b = capture(
            vec![(5, Link::Apdu, pdu::apdu(ApduWay::Command, &[0, 0xB0, 0, 0]))],
            1,
        );
        let cases = [
            CaseToWrite {
                name: "a",
                about: "card, reader".into(),
                capture: &a,
            },
            CaseToWrite {
                name: "empty",
                about: String::new(),
                capture: &empty,
            },
            CaseToWrite {
                name: "b",
                about: String::new(),
                capture: &b,
            },
        ];
        let mut out = Vec::new();
        let w = write(&mut out, "kazasu test", &cases).unwrap();
        assert_eq!(
            w,
            Written {
                cases: 2,
                air: 1,
                commands: 2,
                packets: 4
            }
        );
        let f = read(&out).unwrap();
        let names: Vec<_> = f
            .interfaces
            .iter()
            .map(|i| i.name.clone().unwrap())
            .collect();
        assert_eq!(names, ["case 1 air", "case 1 apdu", "case 3 apdu"]);
        let times: Vec<u128> = f
            .packets
            .iter()
            .map(|p| p.ts_ns - u128::from(EPOCH_NS))
            .collect();
        assert_eq!(times, [0, 10, 20, 20 + 1_000_000 + 5]);
        assert_eq!(f.packets[3].interface, 2);
    }
}
