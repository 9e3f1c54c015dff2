//! `kazasu stack up` / `kazasu stack down`: pcscd with vsmartcard's vpcd readers for `serve`,
//! `run --backend pcsc` and any PC/SC program, started from the installed binary.

use crate::cli::InputFailure;
use clap::{Args, Subcommand};
use kazasu::stack::{self, Down, StackOptions, Up};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// `up` or `down`.
#[derive(Subcommand)]
pub enum StackCmd {
    /// Start pcscd with N slots (vpcd's, or kazasu's driver's) in the background and return once every slot waits for a
    /// card; prints the reader names. A pcscd already running with the slots is used as it is.
    Up(UpArgs),
    /// Stop the pcscd `kazasu stack up` started.
    Down(DownArgs),
}

/// `stack up`'s options.
#[derive(Args)]
pub struct UpArgs {
    /// Slots: an even number from 2 to 16 (serve's --slot and run's --slots count them).
    #[arg(long, default_value_t = 16)]
    slots: u16,
    /// The stack's folder: pcscd's reader.conf, driver copies, log and process id.
    #[arg(long)]
    dir: Option<PathBuf>,
    /// pcscd logs every APDU (`--debug --apdu`) to DIR/pcscd.log, which `kazasu import pcscd`
    /// reads.
    #[arg(long)]
    debug: bool,
    /// The reader driver pcscd loads: kazasu's own (cards seen as they come and go, not at
    /// pcscd's 400 ms poll), vsmartcard's vpcd, or `auto`: kazasu's where its library is
    /// beside this binary (as cargo builds them), vpcd otherwise.
    #[arg(long, value_enum, default_value = "auto")]
    driver: stack::Driver,
    /// The driver's library (default: vpcd's from /etc/reader.conf.d/vpcd; kazasu's
    /// libkazasu_ifd.so beside this binary).
    #[arg(long, value_name = "SO")]
    library: Option<PathBuf>,
    /// How long to wait for pcscd to open every slot.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "10s")]
    timeout: Duration,
}

/// `stack down`'s options.
#[derive(Args)]
pub struct DownArgs {
    /// The folder `stack up` used.
    #[arg(long)]
    dir: Option<PathBuf>,
}

pub fn stack(cmd: StackCmd) -> Result<ExitCode, InputFailure> {
    match cmd {
        StackCmd::Up(a) => {
            let opts = StackOptions {
                slots: a.slots,
                dir: a.dir.unwrap_or_else(stack::default_dir),
                debug: a.debug,
                driver: a.driver,
                library: a.library,
                timeout: a.timeout,
            };
            match stack::up(&opts)? {
                Up::Started { pid, log, driver } => {
                    eprintln!(
                        "pcscd {pid} is up with {} {} slots (log: {})",
                        opts.slots,
                        driver.name(),
                        log.display()
                    );
                }
                Up::AlreadyUp => {
                    eprintln!("a pcscd with {} slots is running; using it", opts.slots);
                }
            }
            for name in stack::reader_names(opts.slots) {
                outln!("{name}");
            }
            // A person at a terminal gets the next steps; a script's log does not.
            if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
                eprintln!(
                    "serve a card on a slot: kazasu serve --card mynumber-card --slot 0; stop \
                     the stack: kazasu stack down"
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        StackCmd::Down(a) => {
            match stack::down(&a.dir.unwrap_or_else(stack::default_dir))? {
                Down::Stopped(pid) => eprintln!("stopped pcscd {pid}"),
                Down::NotRunning => eprintln!("no pcscd of kazasu stack up is running"),
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
