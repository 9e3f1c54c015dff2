//! `kazasu`: the command-line face of kazasu.

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use kazasu::flows::{self, Host, ReadMode};
use kazasu_sim::profile::{AppletName, BUILTIN_CARD_PROFILES};
use kazasu_sim::reader_profile::BUILTIN_READER_PROFILES;
use kazasu_sim::{
    Card, CardProfile, Command, FaultPlan, Fixtures, Reader, ReaderProfile, readertest,
};
use rand_core::SeedableRng;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Parser)]
#[command(
    name = "kazasu",
    version,
    about = "Virtual My Number card and smartphone JPKI simulator and conformance harness"
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run the built-in flows of every card profile in-process and print their transcripts.
    Run {
        /// Only these profiles (names or YAML paths); default: every built-in profile.
        #[arg(long = "card")]
        cards: Vec<String>,
        /// The reader (name or YAML path).
        #[arg(long, default_value = "typical-424k")]
        reader: String,
        /// The test identity on the cards.
        #[arg(long, default_value = "yamada-taro")]
        identity: String,
        /// Seed for every random choice (UIDs, nonces).
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Print only the summary lines, not the transcripts.
        #[arg(long, short)]
        quiet: bool,
        /// Print every frame on the air under each APDU.
        #[arg(long)]
        frames: bool,
    },
    /// List the built-in card profiles, or print one as YAML.
    Profiles {
        /// A profile to print in full.
        name: Option<String>,
    },
    /// Generate the test PKI (test CAs, keys and certificates of every test identity) into the
    /// fixtures folder. The output is committed; run this only to renew the fixtures.
    GenTestPki {
        /// The fixtures folder holding identities.yaml.
        #[arg(long, default_value = "scenarios/fixtures")]
        fixtures: PathBuf,
    },
}

fn main() -> ExitCode {
    match real_main() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn real_main() -> anyhow::Result<ExitCode> {
    match Cli::parse().command {
        Cmd::Run {
            cards,
            reader,
            identity,
            seed,
            quiet,
            frames,
        } => run(&RunArgs {
            cards,
            reader,
            identity,
            seed,
            quiet,
            frames,
        }),
        Cmd::Profiles { name } => profiles(name.as_deref()),
        Cmd::GenTestPki { fixtures } => gen_test_pki(&fixtures).map(|()| ExitCode::SUCCESS),
    }
}

fn is_path(spec: &str) -> bool {
    spec.ends_with(".yaml") || spec.ends_with(".yml") || spec.contains('/')
}

fn load_profile(spec: &str) -> anyhow::Result<CardProfile> {
    if is_path(spec) {
        let text = std::fs::read_to_string(spec)
            .with_context(|| format!("cannot read card profile {spec}"))?;
        Ok(CardProfile::from_yaml(&text, spec)?)
    } else {
        Ok(CardProfile::builtin(spec)?)
    }
}

fn load_reader_profile(spec: &str) -> anyhow::Result<ReaderProfile> {
    if is_path(spec) {
        let text = std::fs::read_to_string(spec)
            .with_context(|| format!("cannot read reader profile {spec}"))?;
        Ok(ReaderProfile::from_yaml(&text, spec)?)
    } else {
        Ok(ReaderProfile::builtin(spec)?)
    }
}

fn profiles(name: Option<&str>) -> anyhow::Result<ExitCode> {
    match name {
        Some(name) => {
            let (_, text) = BUILTIN_CARD_PROFILES
                .iter()
                .chain(BUILTIN_READER_PROFILES)
                .find(|(n, _)| *n == name)
                .with_context(|| {
                    format!("no built-in profile `{name}`; run `kazasu profiles` for the list")
                })?;
            print!("{text}");
        }
        None => {
            println!("{:<22} {:<10} description", "card profile", "device");
            for (name, _) in BUILTIN_CARD_PROFILES {
                let p = CardProfile::builtin(name)?;
                println!(
                    "{:<22} {:<10} {}",
                    p.name,
                    format!("{:?}", p.device).to_lowercase(),
                    p.description
                );
            }
            println!("\n{:<22} description", "reader profile");
            for (name, _) in BUILTIN_READER_PROFILES {
                let p = ReaderProfile::builtin(name)?;
                println!("{:<22} {}", p.name, p.description);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn gen_test_pki(dir: &Path) -> anyhow::Result<()> {
    let ids_path = dir.join("identities.yaml");
    let text =
        std::fs::read(&ids_path).with_context(|| format!("cannot read {}", ids_path.display()))?;
    // Parse the identities through the same loader the cards use, minus the key files.
    #[derive(serde::Deserialize)]
    struct File {
        identities: Vec<kazasu_sim::Identity>,
    }
    let file: File = serde_saphyr::from_slice(&text)
        .with_context(|| format!("{} does not parse", ids_path.display()))?;
    let files = kazasu_sim::pki::generate(&file.identities).context("generating the test PKI")?;
    for f in &files {
        let path = dir.join(&f.path);
        std::fs::create_dir_all(path.parent().expect("files live in folders"))?;
        std::fs::write(&path, &f.contents)
            .with_context(|| format!("cannot write {}", path.display()))?;
        println!("wrote {}", path.display());
    }
    println!("{} files; rebuild kazasu to embed them.", files.len());
    Ok(())
}

struct RunArgs {
    cards: Vec<String>,
    reader: String,
    identity: String,
    seed: u64,
    quiet: bool,
    frames: bool,
}

fn run(args: &RunArgs) -> anyhow::Result<ExitCode> {
    let specs: Vec<String> = if args.cards.is_empty() {
        BUILTIN_CARD_PROFILES
            .iter()
            .map(|(n, _)| n.to_string())
            .collect()
    } else {
        args.cards.clone()
    };
    let reader_profile = Arc::new(load_reader_profile(&args.reader)?);
    let subject = Fixtures::embedded()
        .subject(&args.identity)
        .map_err(anyhow::Error::msg)?;
    let (mut passed, mut failed) = (0, 0);
    for spec in &specs {
        let profile = Arc::new(load_profile(spec)?);
        let card = Card::new(profile.clone(), subject.clone(), args.seed)?;
        let faults = FaultPlan::none(rand_chacha::ChaCha8Rng::seed_from_u64(args.seed));
        let mut reader = Reader::new(reader_profile.clone(), card, faults);
        let outcome = if profile.applets.contains(&AppletName::Jpki) {
            jpki_flow(&mut reader, &profile, args.seed)
        } else {
            test_card_flow(&mut reader, &profile)
        };
        match outcome {
            Ok((summary, transcript)) => {
                passed += 1;
                if !args.quiet {
                    println!("── {} on {} ──", profile.name, reader_profile.name);
                    if args.frames {
                        println!("{transcript:#}");
                    } else {
                        println!("{transcript}");
                    }
                }
                println!("PASS {:<22} {summary}", profile.name);
            }
            Err(e) => {
                failed += 1;
                println!("FAIL {:<22} {e:#}", profile.name);
            }
        }
    }
    println!("{passed} passed, {failed} failed");
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

type FlowResult = anyhow::Result<(String, kazasu::transcript::Transcript)>;

fn tap(reader: &mut Reader) -> anyhow::Result<()> {
    reader.tap().map_err(|e| anyhow::anyhow!("tap: {e}"))
}

fn jpki_flow(reader: &mut Reader, profile: &CardProfile, seed: u64) -> FlowResult {
    if profile.approval.is_some() {
        reader.approve();
    }
    tap(reader)?;
    let pin = reader.card().subject().identity.pins.auth.clone();
    let nonce = seed.to_be_bytes();
    let mut host = Host::new(reader);
    let out = flows::jpki_auth_flow(&mut host, profile.device, &pin, &nonce, ReadMode::Chunked)?;
    let cert = openssl::x509::X509::from_der(&out.certificate)
        .context("the certificate read from the card")?;
    let key = cert.public_key()?;
    let mut verifier = openssl::sign::Verifier::new(openssl::hash::MessageDigest::sha256(), &key)?;
    verifier.update(&nonce)?;
    if !verifier.verify(&out.signature)? {
        bail!("the signature does not verify with the certificate read from the card");
    }
    let transcript = host.transcript.clone();
    let total = reader.now().since(kazasu_sim::SimTime::START);
    Ok((
        format!(
            "auth flow: {} APDUs, certificate {} bytes, signature verified, {} from tap ({} in APDUs)",
            transcript.entries.len(),
            out.certificate.len(),
            total,
            transcript.total()
        ),
        transcript,
    ))
}

fn test_card_flow(reader: &mut Reader, profile: &CardProfile) -> FlowResult {
    tap(reader)?;
    let mut host = Host::new(reader);
    if profile.applets.contains(&AppletName::Readertest) {
        host.select_aid(&readertest::PACKAGE_AID)?;
        host.send_ok("case 1", Command::new(0x80, 0x30, 0x00, 0x00))?;
        let data = host.send_ok("case 2", Command::new(0x80, 0x34, 0x00, 0x10).with_le(16))?;
        anyhow::ensure!(
            data == readertest::pattern(16),
            "case 2 returned the wrong bytes"
        );
        host.send_ok(
            "case 3",
            Command::new(0x80, 0x32, 0x00, 0x00).with_data(&readertest::pattern(32)),
        )?;
        host.send_ok(
            "case 4",
            Command::new(0x80, 0x36, 0x00, 0x08)
                .with_data(&readertest::pattern(8))
                .with_le(8),
        )?;
    } else {
        let data = host.send_ok(
            "extended case 2",
            Command::new(0x80, 0x00, 0x04, 0x5A)
                .with_le(1000)
                .extended(),
        )?;
        anyhow::ensure!(
            data.len() == 1000 && data.iter().all(|b| *b == 0x5A),
            "extended case 2 returned the wrong bytes"
        );
        let payload = vec![0xA5u8; 2000];
        host.send_ok(
            "extended case 3",
            Command::new(0x80, 0x12, 0x01, 0x80)
                .with_data(&payload)
                .extended(),
        )?;
    }
    let transcript = host.transcript.clone();
    Ok((
        format!("test-card commands: {} APDUs", transcript.entries.len()),
        transcript,
    ))
}
