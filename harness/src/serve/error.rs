//! Why cards cannot be served.

use crate::files::FileError;
use crate::profiles::LoadError;
use crate::serve::card_spec::CardSetupError;

/// Why cards cannot be served.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// A card.
    #[error(transparent)]
    Card(#[from] CardSetupError),
    /// The reader profile.
    #[error(transparent)]
    Reader(#[from] LoadError),
    /// A file that cannot be read.
    #[error(transparent)]
    Read(#[from] FileError),
    /// A file that cannot be used or written.
    #[error("{}: {reason}", path.display())]
    File {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        reason: String,
    },
    /// A vpcd address.
    #[error("{0}")]
    Address(String),
    /// Ctrl-C cannot be handled.
    #[error("cannot handle Ctrl-C: {0}")]
    Signal(ctrlc::Error),
    /// A script action this build or setup cannot perform.
    #[error("{0}")]
    Script(String),
    /// vpcd did not connect within the time-out.
    #[error(
        "slot {slot}: {what} within {waited}: is pcscd running with vsmartcard's vpcd driver \
         (`kazasu stack up`, or pcscd with vpcd in its reader.conf), and does it \
         have slot {slot}? (--connect-timeout waits longer)"
    )]
    Unreachable {
        /// The slot.
        slot: u16,
        /// What did not happen, with the address.
        what: String,
        /// How long serve waited.
        waited: String,
    },
}
