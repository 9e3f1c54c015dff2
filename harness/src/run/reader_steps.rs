//! The reader steps: `control` (SCardControl — a PC/SC part 10 feature by the control code the
//! reader's own feature list gives it, as reading software finds it; a PIN pad's commands;
//! escapes), `attribute` (SCardGetAttrib), `pin_pad` (what the person at the pad does) and the
//! pad's VERIFY of `verify_pin` — each turned into an outcome the expectations check.

use super::error::StepError;
use super::world::{StepOutcome, World};
use crate::record::Event;
use crate::scenario::{AttributeTag, Control, ControlTarget, PadAction, PinPadPlan};
use kazasu_sim::reader::pcsc::{self, ControlError, Operator, code};
use kazasu_sim::{SimDuration, StatusWord};

/// How long the person at the pad takes when the scenario does not say.
const TYPING: SimDuration = SimDuration::from_millis(1_000);

impl World {
    /// A `control` step.
    pub(super) fn control_step(&mut self, c: &Control) -> Result<StepOutcome, StepError> {
        self.reader_reachable()?;
        let data = match &c.data {
            Some(t) => self.expand(t)?.0,
            None => Vec::new(),
        };
        let control_code = match c.code {
            ControlTarget::FeatureList => code::GET_FEATURE_REQUEST,
            ControlTarget::Code(x) => x,
            ControlTarget::Feature(tag) => match self.feature_code(tag) {
                Ok(x) => x,
                Err(refused) => return Ok(refused),
            },
        };
        let pin_command = [code::VERIFY_PIN_DIRECT, code::MODIFY_PIN_DIRECT]
            .iter()
            .any(|t| c.code == ControlTarget::Feature(*t) || control_code == code::feature(*t));
        Ok(self.control(control_code, &data, pin_command))
    }

    /// An `attribute` step.
    pub(super) fn attribute_step(&mut self, tag: AttributeTag) -> Result<StepOutcome, StepError> {
        self.reader_reachable()?;
        let t0 = self.reader.now();
        let r = self.reader.attribute(tag.0);
        let took = self.reader.now().since(t0);
        let answered = r.as_ref().map(Vec::len).map_err(Clone::clone);
        self.transcript.record_event(
            Event::Attribute {
                tag: tag.0,
                answered,
            },
            took,
            &[],
        );
        Ok(outcome_of(r, false))
    }

    /// A `pin_pad` step: the operator's plan, its PINs kept as the case's secrets.
    pub(super) fn pin_pad_step(&mut self, p: &PinPadPlan) -> Result<StepOutcome, StepError> {
        let after = p.after.map_or(TYPING, |a| a.0);
        let (operator, plan) = match p.action {
            PadAction::Away => (Operator::Away, "is away".to_string()),
            PadAction::Cancel => (
                Operator::Cancels { after },
                format!("presses Cancel after {after}"),
            ),
            PadAction::Enter => {
                let pin = self.text_secret(p.pin.as_deref().ok_or(StepError::NothingToEnter)?)?;
                let new_pin = match &p.new_pin {
                    Some(t) => Some(self.text_secret(t)?),
                    None => None,
                };
                self.sent_secrets.push(pin.clone());
                self.sent_secrets.extend(new_pin.clone());
                let what = if new_pin.is_some() {
                    "enters a PIN and a new one"
                } else {
                    "enters a PIN"
                };
                (
                    Operator::Enters {
                        pin,
                        new_pin,
                        after,
                    },
                    format!("{what} after {after}"),
                )
            }
        };
        self.reader.set_operator(operator);
        self.transcript
            .record_event(Event::PinPad(plan), SimDuration::ZERO, &[]);
        Ok(StepOutcome::default())
    }

    /// `verify_pin` on the pad: VERIFY PIN DIRECT of ASCII digits to the selected PIN.
    pub(super) fn verify_on_pad(&mut self) -> Result<StepOutcome, StepError> {
        self.reader_reachable()?;
        let verify = match self.feature_code(code::VERIFY_PIN_DIRECT) {
            Ok(x) => x,
            Err(refused) => return Ok(refused),
        };
        Ok(self.control(verify, &pcsc::verify_ascii_pin(0x80, 4, 16), true))
    }

    fn reader_reachable(&self) -> Result<(), StepError> {
        match self.reader.reader_unreachable() {
            Some(why) => Err(StepError::ReaderUnreachable(why)),
            None => Ok(()),
        }
    }

    /// The control code the reader's GET_FEATURE_REQUEST answer gives `tag`, or the outcome
    /// of a reader that does not list it.
    fn feature_code(&mut self, tag: u8) -> Result<u32, StepOutcome> {
        match self.control_recorded(code::GET_FEATURE_REQUEST, &[]) {
            Ok(list) => pcsc::listed_code(&list, tag).ok_or_else(|| StepOutcome {
                refused: Some(Box::new(ControlError::Unsupported(code::feature(tag)))),
                ..StepOutcome::default()
            }),
            Err(e) => Err(outcome_of(Err(e), false)),
        }
    }

    fn control_recorded(
        &mut self,
        control_code: u32,
        data: &[u8],
    ) -> Result<Vec<u8>, ControlError> {
        let t0 = self.reader.now();
        let r = self.reader.control(control_code, data);
        let took = self.reader.now().since(t0);
        let answered = r.as_ref().map(Vec::len).map_err(Clone::clone);
        let event = Event::Control {
            code: control_code,
            sent: data.len(),
            answered,
        };
        self.transcript
            .record_event(event, took, &self.reader.last_frames());
        r
    }

    fn control(&mut self, control_code: u32, data: &[u8], pin_command: bool) -> StepOutcome {
        let r = self.control_recorded(control_code, data);
        outcome_of(r, pin_command)
    }
}

/// A reader request's outcome: a PIN-pad command's answer ends in the card's (or the pad's)
/// status word; a card lost during it is a transport error, any other refusal the reader's.
fn outcome_of(r: Result<Vec<u8>, ControlError>, ends_in_sw: bool) -> StepOutcome {
    match r {
        Ok(mut answer) if ends_in_sw && answer.len() >= 2 => {
            let sw = answer.split_off(answer.len() - 2);
            StepOutcome {
                sw: Some(StatusWord(u16::from_be_bytes([sw[0], sw[1]]))),
                data: answer,
                ..StepOutcome::default()
            }
        }
        Ok(answer) => StepOutcome {
            data: answer,
            ..StepOutcome::default()
        },
        Err(ControlError::Link(e)) => StepOutcome {
            error: Some(e),
            ..StepOutcome::default()
        },
        Err(e) => StepOutcome {
            refused: Some(Box::new(e)),
            ..StepOutcome::default()
        },
    }
}
