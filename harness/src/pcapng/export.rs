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
