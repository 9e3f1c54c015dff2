//! The binary capture importers: pcap and pcapng (ISO 14443 air frames, exported ISO 7816 PDUs,
//! USB CCID from USBPcap and usbmon) and Proxmark3 traces. The first byte picks the format
//! (pcap, proxmark or auto) and the reader (any, or one named like `air` or `apdu`, as kazasu's
//! own exports have both); the rest is the file. No panic, no unbounded allocation; a capture
//! that imports becomes a scenario kazasu loads and checks.
#![no_main]

use kazasu::capture::trace::{Format, parse_bytes};
use libfuzzer_sys::fuzz_target;

const FORMATS: [Format; 3] = [Format::Pcap, Format::Proxmark, Format::Auto];

fuzz_target!(|data: &[u8]| {
    kazasu_fuzz::planted(data);
    let Some((&pick, file)) = data.split_first() else {
        return;
    };
    let format = FORMATS[usize::from(pick) % FORMATS.len()];
    let reader = [None, Some("air"), Some("apdu")][usize::from(pick / 3) % 3];
    let Ok(trace) = parse_bytes(format, file, reader) else {
        return;
    };
    kazasu_fuzz::import_reads_back(&trace);
});
