//! `schema`, `profiles` and `gen-test-pki`: what kazasu knows, for editors and profile authors.

use anyhow::Context;
use kazasu_sim::platform::profile::BUILTIN_CARD_PROFILES;
use kazasu_sim::reader::profile::BUILTIN_READER_PROFILES;
use kazasu_sim::{CardProfile, ReaderProfile};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// List the built-in card and reader profiles, or print one as YAML.
#[derive(clap::Args)]
pub struct ProfilesArgs {
    /// A profile to print in full.
    pub name: Option<String>,
    /// Print, as Markdown, how sure each built-in profile's values are (confirmed / reported /
    /// modelled) and every modelled value with its note: what a measurement would settle.
    #[arg(long, conflicts_with = "name")]
    pub sureness: bool,
}

use kazasu::profiles::sourced_values;

/// The Markdown sureness report of the built-in profiles.
pub fn sureness_report() -> anyhow::Result<String> {
    let mut profiles: Vec<(String, serde_json::Value)> = Vec::new();
    for (name, _) in BUILTIN_CARD_PROFILES {
        profiles.push((
            name.to_string(),
            serde_json::to_value(CardProfile::builtin(name)?)?,
        ));
    }
    for (name, _) in BUILTIN_READER_PROFILES {
        profiles.push((
            format!("{name} (reader)"),
            serde_json::to_value(ReaderProfile::builtin(name)?)?,
        ));
    }
    let mut table =
        String::from("| profile | confirmed | reported | modelled |\n|---|---|---|---|\n");
    let mut modelled = String::new();
    for (name, value) in &profiles {
        let mut values = Vec::new();
        sourced_values(value, "", &mut values);
        let count = |s: &str| values.iter().filter(|(_, sure, _)| sure == s).count();
        table.push_str(&format!(
            "| `{name}` | {} | {} | {} |\n",
            count("confirmed"),
            count("reported"),
            count("modelled")
        ));
        for (path, sure, note) in &values {
            if sure == "modelled" {
                let note = if note.is_empty() {
                    "—"
                } else {
                    note.as_str()
                };
                modelled.push_str(&format!("| `{name}` | `{path}` | {note} |\n"));
            }
        }
    }
    Ok(format!(
        "# What kazasu models and how sure it is\n\n\
         Generated from the built-in profiles by `kazasu profiles --sureness` (a test keeps this \
         file current). Every value of a profile says how sure it is: **confirmed** (several \
         independent implementations agree), **reported** (one public source, tested on real \
         cards), **modelled** (no public source: kazasu's own reasonable model).\n\n\
         {table}\n## Modelled values\n\n\
         No public source; the note, where there is one, says why this value or what would \
         settle it.\n\n| profile | value | note |\n|---|---|---|\n{modelled}"
    ))
}

/// Generate the test PKI (test CAs, keys and certificates of every test identity) into the
/// fixtures folder. The output is committed; run this only to renew the fixtures.
#[derive(clap::Args)]
pub struct GenTestPkiArgs {
    /// The fixtures folder holding identities.yaml.
    #[arg(long, default_value = "sim/data/fixtures")]
    pub fixtures: PathBuf,
}

/// Prints the scenario schema.
/// Which format `kazasu schema` describes.
#[derive(Clone, Copy, clap::ValueEnum)]
pub enum ProfileKind {
    /// Reader profiles (`--reader FILE`, `kazasu calibrate`'s output).
    Reader,
    /// Card profiles (`--card FILE`).
    Card,
}

/// `kazasu schema`'s options.
#[derive(clap::Args)]
pub struct SchemaArgs {
    /// A profile format instead of scenario files.
    #[arg(long, value_enum)]
    pub profile: Option<ProfileKind>,
    /// The format's reference page (Markdown: every field, its type, whether it is required,
    /// what it means) instead of the JSON Schema.
    #[arg(long, requires = "profile")]
    pub markdown: bool,
}

pub fn schema(a: &SchemaArgs) -> ExitCode {
    use kazasu::profile_schema as ps;
    match (a.profile, a.markdown) {
        (None, _) => out!("{}", kazasu::scenario::json_schema()),
        (Some(ProfileKind::Reader), false) => out!("{}", ps::reader_schema_text()),
        (Some(ProfileKind::Reader), true) => out!(
            "{}",
            ps::reference_markdown("Reader profiles", "reader", &ps::reader_schema())
        ),
        (Some(ProfileKind::Card), false) => out!("{}", ps::schema_text(&ps::card_schema())),
        (Some(ProfileKind::Card), true) => out!(
            "{}",
            ps::reference_markdown("Card profiles", "card", &ps::card_schema())
        ),
    }
    ExitCode::SUCCESS
}

pub fn profiles(name: Option<&str>, sureness: bool) -> anyhow::Result<ExitCode> {
    if sureness {
        out!("{}", sureness_report()?);
        return Ok(ExitCode::SUCCESS);
    }
    match name {
        Some(name) => {
            let (_, text) = BUILTIN_CARD_PROFILES
                .iter()
                .chain(BUILTIN_READER_PROFILES)
                .find(|(n, _)| *n == name)
                .with_context(|| {
                    format!("no built-in profile `{name}`; run `kazasu profiles` for the list")
                })?;
            out!("{text}");
        }
        None => {
            outln!("{:<22} {:<10} description", "card profile", "device");
            for (name, _) in BUILTIN_CARD_PROFILES {
                let p = CardProfile::builtin(name)?;
                outln!(
                    "{:<22} {:<10} {}",
                    p.name,
                    format!("{:?}", p.device).to_lowercase(),
                    p.description
                );
            }
            outln!("\n{:<22} description", "reader profile");
            for (name, _) in BUILTIN_READER_PROFILES {
                let p = ReaderProfile::builtin(name)?;
                outln!("{:<22} {}", p.name, p.description);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn gen_test_pki(dir: &Path) -> anyhow::Result<()> {
    let ids_path = dir.join("identities.yaml");
    let text =
        std::fs::read(&ids_path).with_context(|| format!("cannot read {}", ids_path.display()))?;
    #[derive(serde::Deserialize)]
    struct File {
        identities: Vec<kazasu_sim::Identity>,
    }
    let file: File = serde_saphyr::from_slice(&text)
        .with_context(|| format!("{} does not parse", ids_path.display()))?;
    let files =
        kazasu_sim::platform::pki::generate(&file.identities).context("generating the test PKI")?;
    for f in &files {
        let path = dir.join(&f.path);
        std::fs::create_dir_all(path.parent().expect("files live in folders"))?;
        std::fs::write(&path, &f.contents)
            .with_context(|| format!("cannot write {}", path.display()))?;
        outln!("wrote {}", path.display());
    }
    outln!("{} files; rebuild kazasu to embed them.", files.len());
    Ok(())
}

/// The test identities a virtual card can carry, with their PINs (test data: every virtual card
/// of an identity has them), the default first.
pub fn identities() -> ExitCode {
    let fixtures = kazasu_sim::Fixtures::embedded();
    outln!(
        "{:<16} {:<10} {:<5} {:<16} {:<9} {:<5} {:<6} name",
        "identity",
        "born",
        "auth",
        "sign",
        "card-info",
        "juki",
        "common"
    );
    for (i, id) in fixtures.ids().iter().enumerate() {
        let Ok(s) = fixtures.subject(id) else {
            continue;
        };
        let who = &s.identity;
        let p = &who.pins;
        outln!(
            "{:<16} {:<10} {:<5} {:<16} {:<9} {:<5} {:<6} {}{}",
            who.id,
            who.birth_date,
            p.auth.expose(),
            p.sign.expose(),
            p.card_info.expose(),
            p.juki().expose(),
            p.common().expose(),
            who.name,
            if i == 0 { "  (the default)" } else { "" }
        );
    }
    eprintln!(
        "PINs of the virtual cards (test data): auth 利用者証明用, sign 署名用, card-info \
         券面事項入力補助用, juki 住基AP, common 共通カードAP; choose one with \
         `--card PROFILE:IDENTITY`, e.g. `kazasu serve --card android-jpki:{}`",
        fixtures.ids().get(1).map_or("yamada-taro", String::as_str)
    );
    ExitCode::SUCCESS
}
