//! The sample captures kazasu ships (`scenarios/traces/`), built in so that the walkthroughs run
//! with the installed binary alone: a path that names one and does not exist here —
//! `scenarios/traces/phone-pulled-away.pcscd.log`, or with `bundled:` for `scenarios/` — reads
//! the built-in copy.

use std::path::Path;

macro_rules! samples {
    ($($name:literal),* $(,)?) => {
        /// (path under `scenarios/`, bytes) of every built-in sample capture.
        pub const SAMPLES: &[(&str, &[u8])] = &[
            $((concat!("traces/", $name), include_bytes!(concat!("../../../scenarios/traces/", $name)))),*
        ];
    };
}

samples!(
    "opensc-read-cert.apdu4j.dump",
    "opensc-read-cert.opensc.log",
    "opensc-read-cert.pcscd.log",
    "phone-pulled-away.pcscd.log",
    "pkcs11-sign.kazasu.jsonl",
    "scriptor-readertest.pcsc-spy-decoded.txt",
    "scriptor-readertest.pcsc-spy.log",
);

/// The built-in sample a path names, when no file of that name exists here.
pub fn sample_named(path: &Path) -> Option<&'static [u8]> {
    if path.exists() {
        return None;
    }
    let name = crate::files::bundled_name(path)?;
    SAMPLES.iter().find(|(p, _)| *p == name).map(|(_, b)| *b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sample_is_found_by_its_path_in_a_checkout_or_by_bundled() {
        let a = sample_named(Path::new("bundled:traces/phone-pulled-away.pcscd.log")).unwrap();
        assert!(std::str::from_utf8(a).unwrap().contains("APDU:"));
        assert!(sample_named(Path::new("bundled:traces/none.log")).is_none());
        assert!(sample_named(Path::new("elsewhere/traces/phone-pulled-away.pcscd.log")).is_none());
        // Every sample is a capture kazasu reads (those of two readers with the reader chosen).
        use crate::capture::trace::{Format, parse};
        for (name, bytes) in SAMPLES {
            let text = String::from_utf8_lossy(bytes);
            let read = parse(Format::Auto, &text, None)
                .or_else(|_| parse(Format::Auto, &text, Some("PCD 00 00")));
            assert!(read.is_ok_and(|t| t.exchanges() > 0), "{name}");
        }
    }
}
