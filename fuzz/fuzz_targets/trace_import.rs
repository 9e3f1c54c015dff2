//! Every trace importer and the format detection. The first byte picks the format (pcscd,
//! pcsc-spy raw, pcsc-spy decoded, apdu4j, OpenSC, kazasu JSONL, or auto); the rest is the
//! capture. No panic; a capture that imports becomes a scenario that kazasu loads and checks
//! (an import never writes a scenario kazasu itself refuses).
#![no_main]

use kazasu::capture::trace::{Format, parse};
use libfuzzer_sys::fuzz_target;

const FORMATS: [Format; 7] = [
    Format::Pcscd,
    Format::PcscSpy,
    Format::PcscSpyDecoded,
    Format::Apdu4j,
    Format::Opensc,
    Format::Kazasu,
    Format::Auto,
];

fuzz_target!(|data: &[u8]| {
    kazasu_fuzz::planted(data);
    let Some((&pick, text)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(text) else {
        return;
    };
    let format = FORMATS[usize::from(pick) % FORMATS.len()];
    let _ = Format::detect(text);
    let Ok(trace) = parse(format, text, None) else {
        return;
    };
    kazasu_fuzz::import_reads_back(&trace);
});
