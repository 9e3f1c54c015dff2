//! Why a step could not be made at all — a variable with no value, a command that cannot be
//! built, a step the backend or the service cannot do — as opposed to a step the card or the
//! service answered otherwise than expected (a mismatch, which `expect.rs` finds). The case's
//! result shows it as the step's error.

use crate::host::flows::{NotACertificate, OffsetTooFar};
use crate::onboarding::client::ServiceError;
use crate::scenario::variables::VariableError;
use kazasu_sim::LinkError;
use kazasu_sim::iso7816::apdu::{ApduError, MAX_COMMAND_LEN};

/// Why a step could not be made.
#[derive(Debug, thiserror::Error)]
pub enum StepError {
    /// A `${…}` variable.
    #[error(transparent)]
    Variable(#[from] VariableError),
    /// Text that should be hex bytes.
    #[error(transparent)]
    Hex(#[from] kazasu_sim::NotHex),
    /// A command the runner built that cannot be encoded.
    #[error("the command cannot be encoded: {0}")]
    Encode(#[from] ApduError),
    /// A file id that is not 4 hex digits.
    #[error("`{0}` is not a file id (4 hex digits)")]
    FileId(String),
    /// A command longer than any APDU.
    #[error(
        "the command is {0} bytes; no APDU is longer than {MAX_COMMAND_LEN} (an extended case 4 \
         with 65,535 data bytes)"
    )]
    TooLong(usize),
    /// `approve` on a card that is no phone.
    #[error("`approve`: the card profile `{0}` has no phone approval")]
    NoApproval(String),
    /// `verify_with` naming nothing saved.
    #[error("nothing was saved as `{0}` to verify with")]
    NothingToVerifyWith(String),
    /// A saved certificate that is none.
    #[error(transparent)]
    Certificate(#[from] NotACertificate),
    /// `atr` with no card activated.
    #[error("no ATR to read: {0} (tap the card first)")]
    NoAtr(LinkError),
    /// `uid` comparing with a UID never remembered.
    #[error("no UID remembered as `{0}`")]
    NoUid(String),
    /// A file longer than READ BINARY reaches.
    #[error("the file declares {total} bytes: {reason}")]
    FileTooLong {
        /// The length its header declares.
        total: usize,
        /// Where the reads stop.
        reason: OffsetTooFar,
    },
    /// A flow the host could not finish for a reason that is neither a status word nor the link.
    #[error("{0}")]
    Flow(crate::host::flows::FlowError),
    /// The onboarding service.
    #[error(transparent)]
    Service(#[from] ServiceError),
    /// Commissioning through a reader the account did not order.
    #[error(
        "commissioning reads through the case's reader `{case}`, but the account ordered a \
         `{ordered}` reader: give the case `reader: {ordered}`"
    )]
    OtherReader {
        /// The case's reader.
        case: String,
        /// The account's.
        ordered: String,
    },
    /// The case crossed its budget in total.
    #[error("{0}")]
    OverBudget(String),
    /// A control or attribute request the backend cannot carry to the reader model: the case
    /// does not apply there.
    #[error("{0}")]
    ReaderUnreachable(String),
    /// `verify_pin` on the pad with a `pin` of its own.
    #[error(
        "`verify_pin` with `on_pad: true` takes no `pin`: the PIN is typed on the pad; say \
         what the person there types with a `pin_pad` step before it"
    )]
    PinOnPad,
    /// `pin_pad` entering nothing.
    #[error(
        "`pin_pad` with `do: enter` needs the `pin` typed, e.g. pin: \"${{secrets.auth_pin}}\""
    )]
    NothingToEnter,
    /// Something only the in-process service can do, asked of a `--target` service.
    #[error("{0}")]
    NeedsLocalService(&'static str),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_error_says_what_and_how_to_fix_it() {
        let e = StepError::OtherReader {
            case: "typical-424k".into(),
            ordered: "fast-848k".into(),
        };
        assert!(
            e.to_string().contains("give the case `reader: fast-848k`"),
            "{e}"
        );
        let e = StepError::from(VariableError::NothingSaved("cert".into()));
        assert_eq!(
            e.to_string(),
            "nothing was saved as `cert` before this step"
        );
        let e = StepError::TooLong(70_000);
        assert!(e.to_string().contains("70000 bytes"), "{e}");
    }
}
