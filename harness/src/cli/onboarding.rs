//! `onboarding serve`: the simulated account-onboarding service over HTTP.

use super::InputFailure;
use std::path::PathBuf;
use std::process::ExitCode;

/// `onboarding`'s subcommands.
#[derive(clap::Subcommand)]
pub enum OnboardingCmd {
    /// Serve the HTTP JSON API (/api/…, /openapi.yaml) and the HTML pages (/) until Ctrl-C.
    Serve(ServeArgs),
}

/// `onboarding serve`.
#[derive(clap::Args)]
pub struct ServeArgs {
    /// Address to listen on (loopback by default).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub addr: std::net::SocketAddr,
    /// The SQLite database that keeps accounts and orders across restarts.
    #[arg(long, default_value = "kazasu-onboarding.sqlite", value_name = "FILE")]
    pub db: PathBuf,
    /// Keep everything in memory instead (lost on exit).
    #[arg(long, conflicts_with = "db")]
    pub memory: bool,
    /// The service's calendar day, YYYY-MM-DD (default: today in Japan). The bundled
    /// program takes orders from 2025-09-19 to 2026-01-31.
    #[arg(long)]
    pub today: Option<String>,
    /// Program data (default: the bundled scenarios/onboarding/program.data.yaml).
    #[arg(long, value_name = "FILE")]
    pub program: Option<PathBuf>,
    /// Portal registry data (default: the bundled scenarios/onboarding/registry.data.yaml).
    #[arg(long, value_name = "FILE")]
    pub registry: Option<PathBuf>,
    /// Offer POST /api/test/reset, which forgets every account: for `kazasu run --target`.
    #[arg(long)]
    pub allow_reset: bool,
    /// No request log (by default one line per request on stderr: method, path, status).
    #[arg(long, short)]
    pub quiet: bool,
    /// Answer to this host name too (`name` or `name:port`; repeatable). By default only the
    /// listen address (and `localhost` on loopback) is accepted in the Host header, so that a
    /// web page whose DNS name was rebound to the service cannot read it.
    #[arg(long, value_name = "NAME")]
    pub allow_host: Vec<String>,
}

/// Runs an `onboarding` subcommand.
pub fn onboarding(cmd: OnboardingCmd) -> Result<ExitCode, InputFailure> {
    use kazasu::onboarding::{app, server, store::Store};
    use kazasu_onboarding::program::{Day, Program, Registry};
    let OnboardingCmd::Serve(ServeArgs {
        addr,
        db,
        memory,
        today,
        program,
        registry,
        allow_reset,
        quiet,
        allow_host,
    }) = cmd;
    let read = |p: &Option<PathBuf>, bundled: &str| -> Result<(String, String), InputFailure> {
        match p {
            Some(p) => Ok((
                kazasu::files::read_text(p, kazasu::files::SCENARIOS)?,
                p.display().to_string(),
            )),
            None => Ok((bundled.to_string(), "bundled".to_string())),
        }
    };
    let (ptext, porigin) = read(&program, app::PROGRAM_YAML)?;
    let (rtext, rorigin) = read(&registry, app::REGISTRY_YAML)?;
    let program = Program::from_yaml(&ptext, &porigin)?;
    let registry = Registry::from_yaml(&rtext, &rorigin)?;
    let today = today
        .map(|t| Day::parse(&t).map_err(|e| InputFailure(format!("--today: {e}"))))
        .transpose()?;
    // A service whose day is outside the program's window refuses every reader order: said at
    // start, with how to choose the day, rather than order after order.
    let day = today.unwrap_or_else(app::today_in_japan);
    if !program.window.contains(day) {
        eprintln!(
            "warning: the service's day, {day}{}, is outside the program's window ({} to {}): \
             every reader order will be refused (day.outside_window); start it with \
             --today {} (any day of the window), or give a program of your own with --program FILE",
            if today.is_none() {
                " (today in Japan)"
            } else {
                ""
            },
            program.window.opens,
            program.window.closes,
            program.window.opens
        );
    }
    let store = if memory {
        Store::memory()
    } else {
        Store::open(&db)?
    };
    let mut shared = app::Shared::new(program, registry, store, today)?;
    shared.allow_reset = allow_reset;
    shared.log_requests = !quiet;
    shared.extra_hosts = allow_host;
    let restored = shared.accounts().len();
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
    let running = server::Running::start(shared, addr, workers).map_err(InputFailure)?;
    eprintln!(
        "onboarding service on {} ({}; {} accounts restored); pages at {}/, API at {}/api/…, {}/openapi.yaml",
        running.addr,
        if memory {
            "in memory".to_string()
        } else {
            format!("database {}", db.display())
        },
        restored,
        running.url(),
        running.url(),
        running.url()
    );
    eprintln!("Ctrl-C stops it");
    let (tx, rx) = std::sync::mpsc::channel();
    ctrlc::set_handler(move || {
        let _ = tx.send(());
    })
    .map_err(|e| InputFailure(format!("cannot handle Ctrl-C: {e}")))?;
    let _ = rx.recv();
    drop(running);
    eprintln!("stopped");
    Ok(ExitCode::SUCCESS)
}
