//! `calibrate`: measures a reader with the readertest applet on it through PC/SC and writes a
//! reader profile whose timing values are `sure: measured` (the estimating is in
//! `kazasu::calibrate`); or, `--from-capture`, writes a card profile from what an air capture
//! shows (`kazasu::capture::card_from_air`), or a reader profile from a capture of a readertest
//! session through the reader (a USB capture: the same estimate from the capture's times).

use super::InputFailure;
use std::path::PathBuf;
use std::process::ExitCode;

/// Measure a reader (with a readertest card on it) through PC/SC and write its profile; or
/// write a card's profile from an air capture of it.
#[derive(clap::Args)]
pub struct CalibrateArgs {
    /// The reader to measure (any part of its PC/SC name).
    #[arg(long, value_name = "NAME", required_unless_present = "from_capture")]
    pub device: Option<String>,
    /// Instead: an air capture of a card or phone (pcap/pcapng with ISO 14443 frames, a
    /// Proxmark3 trace) to write its card profile from — type, frame size, FWI, SFGI, bit
    /// rates, historical bytes, processing times by command, WTX use; or a capture of a reader
    /// with a readertest card (a USB capture of `calibrate --device`: GET DATA FF CA and the
    /// answer-length sweep) to write its reader profile from — host overhead, bit rate.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["device", "baseline"])]
    pub from_capture: Option<PathBuf>,
    /// With --from-capture: the capture's format.
    #[arg(long, value_enum, default_value = "auto", requires = "from_capture")]
    pub format: kazasu::capture::trace::Format,
    /// With --from-capture: the interface or reader to read (any part of its name), when the
    /// file has several (kazasu's own --pcap has two a case).
    #[arg(long, value_name = "NAME", requires = "from_capture")]
    pub interface: Option<String>,
    /// Write the profile here (default: print it).
    #[arg(long, short = 'o', value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// The profile's name (default: from the device's name).
    #[arg(long)]
    pub name: Option<String>,
    /// The profile the values not measured come from (default: typical-424k for a reader;
    /// for a capture, mynumber-card for a Type B card, iphone-jpki for Type A).
    #[arg(long)]
    pub base: Option<String>,
    /// Round trips per point of the sweep.
    #[arg(long, default_value_t = 15)]
    pub reps: usize,
    /// A reader whose card answers at once (e.g. `kazasu serve --card readertest` at
    /// `--pace fast`): its round trips — the PC/SC stack's own cost — are measured in the same
    /// run and subtracted.
    #[arg(long, value_name = "NAME")]
    pub baseline: Option<String>,
}

/// `calibrate`: from a capture, or a device through PC/SC.
pub fn calibrate(a: CalibrateArgs) -> Result<ExitCode, InputFailure> {
    match &a.from_capture {
        Some(file) => from_capture(file, &a),
        None => calibrate_device(a),
    }
}

/// A card profile from an air capture.
fn from_capture(file: &std::path::Path, a: &CalibrateArgs) -> Result<ExitCode, InputFailure> {
    use kazasu::capture::card_from_air::{
        capture_source, card_facts, default_base, profile_yaml, wtx_use,
    };
    let bytes = kazasu::files::read_bounded(file, kazasu::files::CAPTURES)?;
    // No air in it (a USB capture, a pcscd log): a reader's capture.
    let Ok(frames) = kazasu::capture::trace::air_frames(a.format, &bytes, a.interface.as_deref())
    else {
        return reader_from_capture(file, &bytes, a);
    };
    let facts = card_facts(&frames);
    let exchanges: usize = facts.samples.values().map(Vec::len).sum();
    if facts.nfc.is_none() && exchanges == 0 {
        return Err(InputFailure(format!(
            "{}: no activation and no exchange in its {} frames: nothing to calibrate from",
            file.display(),
            frames.len()
        )));
    }
    let base = a
        .base
        .clone()
        .unwrap_or_else(|| default_base(&facts).to_string());
    let base_text = kazasu::profiles::card_profile_text(&base)
        .map_err(|e| InputFailure(format!("--base {base}: {e}")))?;
    let name = a.name.clone().unwrap_or_else(|| name_from(file));
    let source = capture_source(file, &bytes);
    let yaml = profile_yaml(&base_text, &name, &facts, &source);
    // What kazasu wrote must load as a card profile.
    kazasu_sim::CardProfile::from_yaml(&yaml, "calibrated").map_err(|e| {
        InputFailure(format!(
            "the calibrated profile does not load (a kazasu bug): {e}\n{yaml}"
        ))
    })?;
    eprintln!(
        "calibrated from {}: {} frames, {exchanges} exchanges, Type {}; WTX: {}",
        file.display(),
        frames.len(),
        facts.nfc.map_or("?".into(), |n| format!("{n:?}")),
        {
            let w = wtx_use(&facts);
            if w.is_empty() {
                "never asked".to_string()
            } else {
                w.join("; ")
            }
        }
    );
    write_profile(a, &yaml)
}

/// A reader profile from a capture of a readertest card's session through it (a USB capture
/// of `kazasu calibrate --device`, say): host overhead from the GET DATA `FF CA` round trips, the
/// effective bit rate from the answer-length sweep, each exchange timed by the capture.
fn reader_from_capture(
    file: &std::path::Path,
    bytes: &[u8],
    a: &CalibrateArgs,
) -> Result<ExitCode, InputFailure> {
    use kazasu::calibrate as cal;
    use kazasu::capture::trace::{ExchangeOutcome, What};
    let trace = kazasu::capture::session::TraceFile {
        path: file.to_path_buf(),
        format: a.format,
        reader: a.interface.clone(),
    }
    .load()?;
    let exchanges: Vec<(Vec<u8>, Vec<u8>, f64)> = trace
        .events
        .iter()
        .filter_map(|e| match &e.what {
            What::Exchange {
                command,
                outcome: ExchangeOutcome::Response(r),
                took_us: Some(t),
                ..
            } => Some((command.clone(), r.clone(), *t as f64 / 1e6)),
            _ => None,
        })
        .collect();
    let source = kazasu::capture::card_from_air::capture_source(file, bytes);
    let device = match &trace.reader {
        Some(r) => format!("{r} in {source}"),
        None => source,
    };
    let date = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
    let atr = trace
        .atr
        .as_deref()
        .map(hex::encode_upper)
        .unwrap_or_default();
    let mut m = cal::measured_from_exchanges(&exchanges, &device, &atr, &date).map_err(|e| {
        InputFailure(format!(
            "{}: {e}. A reader calibrates from a capture of a readertest card's session through it \
             (what `kazasu calibrate --device` sends); a card from an air capture of it",
            file.display()
        ))
    })?;
    // The reader's USB identity and sizes, where the capture has its descriptors.
    let identity = kazasu::capture::trace::usb_identity(bytes, trace.reader.as_deref());
    m.usb = identity
        .as_ref()
        .map(|u| kazasu_sim::reader::profile::UsbCcid {
            id: format!("{:04x}:{:04x}", u.id.0, u.id.1),
            max_message: u.max_message,
            max_ifsd: u.max_ifsd,
        });
    let (base, base_text) = reader_base(a)?;
    let readertest = kazasu_sim::CardProfile::builtin("readertest").expect("built-in");
    let e = cal::estimate(&m, &base, &readertest).map_err(InputFailure)?;
    let name = a.name.clone().unwrap_or_else(|| name_from(file));
    let yaml = cal::profile_yaml(&base_text, &name, &e, &m);
    kazasu_sim::ReaderProfile::from_yaml(&yaml, "calibrated profile").map_err(|err| {
        InputFailure(format!(
            "the calibrated profile does not load (a kazasu bug): {err}"
        ))
    })?;
    eprintln!(
        "calibrated the reader of {}: {} exchanges; host overhead {:.0} µs (GET DATA FF CA, spread {:.1} %); effective bit rate {:.0} kbit/s (nearest {} kbit/s; sweep spread {:.1} %); extended APDUs not in the capture (from --base)",
        file.display(),
        exchanges.len(),
        e.host_overhead * 1e6,
        m.get_data_spread * 100.0,
        e.kbps,
        e.nominal_kbps,
        m.sweep_spread * 100.0
    );
    match &identity {
        Some(u) => eprintln!(
            "USB: {:04x}:{:04x}, {}-byte messages, IFSD {}, {} APDU level",
            u.id.0,
            u.id.1,
            u.max_message,
            u.max_ifsd,
            if u.extended { "extended" } else { "short" }
        ),
        None => eprintln!(
            "USB: no descriptors in the capture (USBPcap: --inject-descriptors); the profile's USB identity stays the base's"
        ),
    }
    write_profile(a, &yaml)
}

/// Writes a calibrated profile to `-o`, or prints it.
fn write_profile(a: &CalibrateArgs, yaml: &str) -> Result<ExitCode, InputFailure> {
    match &a.out {
        Some(p) => {
            super::write_file(p, yaml)?;
            eprintln!("wrote {}", p.display());
        }
        None => outln!("{}", yaml.trim_end()),
    }
    Ok(ExitCode::SUCCESS)
}

/// A profile's name from its capture's file name: `clinic.pcapng` → `clinic-calibrated`.
fn name_from(file: &std::path::Path) -> String {
    let stem = file
        .file_stem()
        .map_or("captured".into(), |s| s.to_string_lossy().into_owned());
    format!(
        "{}-calibrated",
        stem.replace(|c: char| !c.is_ascii_alphanumeric() && c != '-', "-")
    )
}

/// The reader profile the values not measured come from (`--base`, default typical-424k), and
/// its text.
fn reader_base(a: &CalibrateArgs) -> Result<(kazasu_sim::ReaderProfile, String), InputFailure> {
    let base_name = a.base.clone().unwrap_or_else(|| "typical-424k".into());
    let base = kazasu::profiles::reader_profile(&base_name, None)
        .map_err(|e| InputFailure(format!("--base {base_name}: {e}")))?;
    let base_text = if kazasu::profiles::is_path(&base_name) {
        kazasu::files::read_text(std::path::Path::new(&base_name), kazasu::files::SMALL_YAML)?
    } else {
        kazasu_sim::reader::profile::BUILTIN_READER_PROFILES
            .iter()
            .find(|(n, _)| *n == base.name)
            .map(|(_, t)| t.to_string())
            .ok_or_else(|| InputFailure(format!("--base {base_name}: no built-in profile")))?
    };
    Ok((base, base_text))
}

#[cfg(not(feature = "pcsc"))]
fn calibrate_device(_: CalibrateArgs) -> Result<ExitCode, InputFailure> {
    Err(InputFailure(
        "this kazasu was built without PC/SC; build it with `cargo build --release --features pcsc` (needs Debian's libpcsclite-dev)".into(),
    ))
}

#[cfg(feature = "pcsc")]
fn calibrate_device(a: CalibrateArgs) -> Result<ExitCode, InputFailure> {
    use kazasu::calibrate::{self as cal, Measured};
    use std::time::Instant;
    if a.reps < 3 {
        return Err(InputFailure("--reps must be at least 3".into()));
    }
    let (base, base_text) = reader_base(&a)?;
    let card_profile = kazasu_sim::CardProfile::builtin("readertest").expect("built-in");
    let ctx = pcsc::Context::establish(pcsc::Scope::User)
        .map_err(|e| InputFailure(format!("pcscd is not reachable ({e}); start it")))?;
    let open = |part: &str| -> Result<(pcsc::Card, String, Vec<u8>), InputFailure> {
        let name = kazasu::link::device::find_reader(&ctx, part).map_err(InputFailure)?;
        let card = ctx
            .connect(
                name.as_c_str(),
                pcsc::ShareMode::Shared,
                pcsc::Protocols::ANY,
            )
            .map_err(|e| {
                InputFailure(format!(
                    "no card on {} ({e}): put the readertest card on it",
                    name.to_string_lossy()
                ))
            })?;
        let atr = card
            .status2_owned()
            .map(|s| s.atr().to_vec())
            .unwrap_or_default();
        let mut buf = [0u8; 258];
        let answer = card
            .transmit(&cal::READERTEST_SELECT, &mut buf)
            .map_err(|e| InputFailure(format!("SELECT on {}: {e}", name.to_string_lossy())))?;
        if answer != [0x90, 0x00] {
            return Err(InputFailure(format!(
                "the card on {} has no readertest applet (SELECT answered {}); calibrate needs a test card with pcsc-lite's readertest applet: a JavaCard with it installed (GlobalPlatformPro: gp --install readertest.cap), or, to try calibrate without one, a virtual card on a vpcd slot (kazasu serve --card readertest)",
                name.to_string_lossy(),
                hex::encode_upper(answer)
            )));
        }
        Ok((card, name.to_string_lossy().into_owned(), atr))
    };
    let (card, device, atr) = open(a.device.as_deref().unwrap_or_default())?;
    let baseline = a.baseline.as_deref().map(open).transpose()?;
    let mut buf = vec![0u8; pcsc::MAX_BUFFER_SIZE_EXTENDED];
    // One round trip in seconds, or a clear error.
    let mut time = |card: &pcsc::Card, apdu: &[u8]| -> Result<f64, InputFailure> {
        let t = Instant::now();
        let r = card
            .transmit(apdu, &mut buf)
            .map_err(|e| InputFailure(format!("transmit {}: {e}", hex::encode_upper(apdu))))?;
        let took = t.elapsed().as_secs_f64();
        if r.len() < 2 || r[r.len() - 2..] != [0x90, 0x00] {
            return Err(InputFailure(format!(
                "{} answered {}",
                hex::encode_upper(apdu),
                hex::encode_upper(r)
            )));
        }
        Ok(took)
    };
    let get_data = [0xFF, 0xCA, 0x00, 0x00, 0x00];
    eprintln!(
        "calibrating {device}: {} round trips a point{}",
        a.reps,
        if baseline.is_some() {
            ", with the stack baseline"
        } else {
            ""
        }
    );
    // Warm-up, then every point in turn (device and baseline alternating), so that drift of a
    // shared machine spreads over all points alike.
    for _ in 0..3 {
        time(&card, &cal::case2(1))?;
    }
    let mut gd = (Vec::new(), Vec::new());
    let mut sweep: Vec<(Vec<f64>, Vec<f64>)> = vec![(Vec::new(), Vec::new()); cal::SWEEP.len()];
    for _ in 0..a.reps {
        gd.0.push(time(&card, &get_data)?);
        if let Some((b, _, _)) = &baseline {
            gd.1.push(time(b, &get_data)?);
        }
        for (i, n) in cal::SWEEP.iter().enumerate() {
            sweep[i].0.push(time(&card, &cal::case2(*n))?);
            if let Some((b, _, _)) = &baseline {
                sweep[i].1.push(time(b, &cal::case2(*n))?);
            }
        }
    }
    let med = |v: &[f64]| cal::median(v).unwrap_or(0.0);
    let get_data_s = med(&gd.0) - med(&gd.1);
    let points: Vec<(f64, f64)> = cal::SWEEP
        .iter()
        .zip(&sweep)
        .map(|(n, (d, b))| (*n as f64, med(d) - med(b)))
        .collect();
    let answers =
        cal::fit(&points).ok_or_else(|| InputFailure("no line through the sweep".into()))?;
    // Extended case 2: how the reader carries it, and the largest answer that comes through.
    use kazasu_sim::reader::profile::ExtendedApdus;
    let mut extended = (ExtendedApdus::Supported, 0usize);
    for n in [256usize, 1024, 4096, 16384, 65533] {
        let apdu = [
            0x80,
            0x34,
            (n >> 8) as u8,
            n as u8,
            0x00,
            (n >> 8) as u8,
            n as u8,
        ];
        match card.transmit(&apdu, &mut buf) {
            Ok(r) if r.len() == n + 2 && r[n..] == [0x90, 0x00] => extended.1 = n,
            Ok(r) if extended.1 == 0 && r == [0x67, 0x00] => {
                extended.0 = ExtendedApdus::WrongLength;
                break;
            }
            Ok(_) => break,
            Err(_) if extended.1 == 0 => {
                extended.0 = ExtendedApdus::TransportError;
                break;
            }
            Err(_) => break,
        }
    }
    let m = Measured {
        get_data: get_data_s,
        get_data_spread: cal::relative_spread(&gd.0),
        answers,
        samples: a.reps,
        sweep_spread: sweep
            .iter()
            .map(|(d, _)| cal::relative_spread(d))
            .fold(0.0, f64::max),
        extended: Some(extended),
        device: device.clone(),
        atr: hex::encode_upper(&atr),
        date: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
        baseline: baseline.as_ref().map(|(_, n, _)| n.clone()),
        usb: None,
    };
    let e = cal::estimate(&m, &base, &card_profile).map_err(InputFailure)?;
    let name = a.name.clone().unwrap_or_else(|| {
        device
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '-'
                }
            })
            .collect::<String>()
            .split('-')
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join("-")
    });
    let yaml = cal::profile_yaml(&base_text, &name, &e, &m);
    kazasu_sim::ReaderProfile::from_yaml(&yaml, "calibrated profile")
        .map_err(|err| InputFailure(format!("the calibrated profile does not load: {err}")))?;
    eprintln!(
        "host overhead {:.0} µs (GET DATA FF CA, spread {:.1} %); effective bit rate {:.0} kbit/s (nearest {} kbit/s; sweep spread {:.1} %); extended APDUs {}, largest answer {} bytes",
        e.host_overhead * 1e6,
        m.get_data_spread * 100.0,
        e.kbps,
        e.nominal_kbps,
        m.sweep_spread * 100.0,
        extended.0,
        extended.1
    );
    write_profile(&a, &yaml)
}
