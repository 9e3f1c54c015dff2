//! The command line's pieces, one file per family of subcommands: running suites (`run`, `list`,
//! `validate`), serving cards (`serve`, `check-transcript`), field captures (`import`, `replay`), fuzzing host software (`fuzz-host`),
//! certification bundles (`certify`), the onboarding service, and information (`schema`, `profiles`, `gen-test-pki`). Each
//! subcommand's flags are declared once, as a `clap::Args` struct its handler takes whole.

/// Writes to stdout; a closed pipe (`kazasu list | head`) ends the program quietly, not with a panic.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        if let Err(e) = write!(std::io::stdout(), $($arg)*) {
            if e.kind() == std::io::ErrorKind::BrokenPipe {
                std::process::exit(0);
            }
        }
    }};
}

macro_rules! outln {
    ($($arg:tt)*) => {{
        out!($($arg)*);
        out!("\n");
    }};
}

pub mod calibrate;
pub mod capture;
pub mod certify;
pub mod device;
pub mod fuzz;
pub mod info;
pub mod onboarding;
pub mod run;
pub mod serve;
pub mod stack;

use std::path::Path;

/// Bad input or environment: exit code 2.
pub struct InputFailure(pub String);

/// Any typed error of kazasu's library reaching the command line is bad input or environment:
/// `?` turns it into an [`InputFailure`], shown with its causes.
impl<E: std::error::Error> From<E> for InputFailure {
    fn from(e: E) -> InputFailure {
        let mut message = e.to_string();
        let mut source = e.source();
        while let Some(cause) = source {
            let text = cause.to_string();
            if !message.contains(&text) {
                message.push_str(": ");
                message.push_str(&text);
            }
            source = cause.source();
        }
        InputFailure(message)
    }
}

/// Writes `text` to `path`, creating its folder.
pub fn write_file(path: &Path, text: &str) -> Result<(), InputFailure> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| InputFailure(format!("cannot create {}: {e}", dir.display())))?;
    }
    std::fs::write(path, text)
        .map_err(|e| InputFailure(format!("cannot write {}: {e}", path.display())))
}
