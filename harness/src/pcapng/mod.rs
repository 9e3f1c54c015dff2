//! pcapng, the file Wireshark and tshark open: kazasu writes what a run put on the simulated
//! air (ISO 14443 frames, link type 264) and every APDU (exported PDUs for the ISO 7816
//! dissector, link type 252), one pair of interfaces per case, with comments naming the case
//! and step; and it reads pcapng and classic pcap files (field captures) back. `block` is the
//! file format, `classic` libpcap's older one, `pdu` what each link type's packet holds, `tap`
//! the listening post on a case's backend (secrets out), `export` the file of a run, `usb` the
//! same exchanges as a USB CCID reader's traffic, `served` the file `serve` writes as it goes.

pub mod block;
pub mod classic;
pub mod export;
pub mod pdu;
pub mod served;
pub mod tap;
pub mod usb;
