//! Expectations: what a card step's outcome is checked against (status words, data, transport
//! errors, time), and how an outcome is described when it does not match.

use super::world::{StepOutcome, World};
use crate::scenario::{CardExpect, CardStep, Mismatch, RefusalKind, TransportErrorKind};
use kazasu_sim::reader::pcsc::ControlError;
use kazasu_sim::{LinkError, SimDuration, hex_spaced};

pub(super) fn kind_matches(kind: TransportErrorKind, e: LinkError) -> bool {
    matches!(
        (kind, e),
        (TransportErrorKind::Any, _)
            | (TransportErrorKind::CardRemoved, LinkError::CardRemoved)
            | (TransportErrorKind::NoAnswer, LinkError::NoAnswer)
            | (TransportErrorKind::NoCard, LinkError::NoCard)
            | (TransportErrorKind::TooManyWtx, LinkError::TooManyWtx)
            | (TransportErrorKind::Collision, LinkError::Collision)
            | (
                TransportErrorKind::ExtendedApduUnsupported,
                LinkError::ExtendedApduUnsupported
            )
            | (
                TransportErrorKind::ReaderUnplugged,
                LinkError::ReaderUnplugged
            )
            | (TransportErrorKind::Unresponsive, LinkError::Unresponsive)
    )
}

/// Whether a reader's refusal is of the kind a step expects.
pub(super) fn refusal_matches(kind: RefusalKind, e: &ControlError) -> bool {
    match kind {
        RefusalKind::Any => true,
        RefusalKind::Unsupported => matches!(
            e,
            ControlError::Unsupported(_) | ControlError::Malformed { .. }
        ),
        RefusalKind::Failed => matches!(
            e,
            ControlError::EscapeRefused(_) | ControlError::Failed(_) | ControlError::Link(_)
        ),
    }
}

pub(super) fn describe(o: &StepOutcome) -> String {
    if let Some(r) = o.refused.as_deref() {
        return format!("the reader refused: {r}");
    }
    match (&o.error, o.sw) {
        (Some(e), _) => format!("transport error: {e}"),
        (None, Some(sw)) if o.data.is_empty() => format!("SW {sw} ({})", sw.name()),
        (None, Some(sw)) if o.data_secret => format!(
            "SW {sw} ({}) with {} bytes ** (they hold a secret the case sent)",
            sw.name(),
            o.data.len()
        ),
        (None, Some(sw)) => format!(
            "SW {sw} ({}) with {} bytes {}",
            sw.name(),
            o.data.len(),
            short_hex(&o.data)
        ),
        (None, None) if !o.data.is_empty() => {
            format!("{} bytes {}", o.data.len(), short_hex(&o.data))
        }
        (None, None) => "no response (not an APDU step)".into(),
    }
}

pub(super) fn short_hex(d: &[u8]) -> String {
    if d.len() <= 24 {
        hex_spaced(d)
    } else {
        format!("{} …", hex_spaced(&d[..24]))
    }
}

pub(super) fn check(
    step: &CardStep,
    o: &StepOutcome,
    took: SimDuration,
    w: &World,
) -> Result<(), Mismatch> {
    let e = &step.expect;
    if let Some(bytes) = &o.malformed {
        return Err(Mismatch::new(
            "a response with a status word",
            format!(
                "{} bytes without one: {}",
                bytes.len(),
                if bytes.is_empty() {
                    "(nothing)".to_string()
                } else {
                    hex_spaced(bytes)
                }
            ),
        ));
    }
    if let Some(kind) = e.refused {
        return match o.refused.as_deref() {
            Some(r) if refusal_matches(kind, r) => within(e, took),
            _ => Err(Mismatch::new(
                format!("the reader to refuse the request ({kind:?})"),
                describe(o),
            )),
        };
    }
    if let Some(r) = &o.refused {
        return Err(Mismatch::new(
            "the reader to answer",
            format!("the reader refused: {r}"),
        ));
    }
    if let Some(kind) = e.transport_error {
        return match o.error {
            Some(err) if kind_matches(kind, err) => within(e, took),
            _ => Err(Mismatch::new(
                format!("a transport error ({kind:?})"),
                describe(o),
            )),
        };
    }
    if let Some(err) = o.error {
        let wanted = match &e.sw {
            Some(sw) => format!(
                "SW {}",
                sw.0.iter()
                    .map(|p| p.to_string())
                    .collect::<Vec<_>>()
                    .join(" or ")
            ),
            None => "the step to complete".into(),
        };
        return Err(Mismatch::new(wanted, format!("transport error: {err}")));
    }
    if let Some(m) = &o.own_check {
        return Err(m.clone());
    }
    let patterns = match &e.sw {
        Some(sw) => Some(sw.0.clone()),
        None if step.action.wants_ok() => Some(vec![
            crate::scenario::SwPattern::parse("9000").expect("valid"),
        ]),
        None => None,
    };
    if let (Some(patterns), Some(sw)) = (&patterns, o.sw)
        && !patterns.iter().any(|p| p.matches(sw))
    {
        let wanted = patterns
            .iter()
            .map(|p| p.to_string())
            .collect::<Vec<_>>()
            .join(" or ");
        return Err(Mismatch::new(format!("SW {wanted}"), describe(o)));
    }
    let expand = |t: &str| w.expand(t).map_err(|m| Mismatch::new(t, m.to_string()));
    // An expected value made from a secret is shown as the template, never as its bytes.
    let shown = |t: &str, want: &[u8], secret: bool| {
        if secret {
            format!("*** ({t})")
        } else {
            short_hex(want)
        }
    };
    if let Some(d) = &e.data {
        let (want, secret) = expand(d)?;
        if want != o.data {
            return Err(Mismatch::new(
                format!("data {}", shown(d, &want, secret)),
                describe(o),
            ));
        }
    }
    if let Some(d) = &e.data_prefix {
        let (want, secret) = expand(d)?;
        if !o.data.starts_with(&want) {
            return Err(Mismatch::new(
                format!("data starting {}", shown(d, &want, secret)),
                describe(o),
            ));
        }
    }
    if let Some(r) = &e.data_regex {
        let re = regex::Regex::new(r).map_err(|x| Mismatch::new(r.clone(), x.to_string()))?;
        if !re.is_match(&hex::encode_upper(&o.data)) {
            return Err(Mismatch::new(format!("data matching /{r}/"), describe(o)));
        }
    }
    if let Some(n) = e.data_len
        && o.data.len() != n
    {
        return Err(Mismatch::new(format!("{n} bytes of data"), describe(o)));
    }
    within(e, took)
}

pub(super) fn within(e: &CardExpect, took: SimDuration) -> Result<(), Mismatch> {
    match e.within {
        Some(limit) if took > limit.0 => Err(Mismatch::new(
            format!("the step within {}", limit.0),
            format!("it took {took}"),
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kazasu_sim::StatusWord;
    use kazasu_sim::platform::profile::Millis;

    fn answered(sw: u16, data: &[u8]) -> StepOutcome {
        StepOutcome {
            sw: Some(StatusWord(sw)),
            data: data.to_vec(),
            ..StepOutcome::default()
        }
    }

    #[test]
    fn a_transport_error_kind_matches_itself_and_any_only() {
        assert!(kind_matches(TransportErrorKind::Any, LinkError::NoAnswer));
        assert!(kind_matches(
            TransportErrorKind::NoAnswer,
            LinkError::NoAnswer
        ));
        assert!(!kind_matches(
            TransportErrorKind::CardRemoved,
            LinkError::NoAnswer
        ));
        assert!(kind_matches(
            TransportErrorKind::TooManyWtx,
            LinkError::TooManyWtx
        ));
    }

    #[test]
    fn a_step_slower_than_its_limit_fails_with_both_times() {
        let e = CardExpect {
            within: Some(Millis(SimDuration::from_millis(10))),
            ..CardExpect::default()
        };
        assert!(within(&e, SimDuration::from_millis(10)).is_ok());
        let m = within(&e, SimDuration::from_millis(11)).expect_err("too slow");
        assert_eq!(
            m,
            Mismatch::new("the step within 10.000 ms", "it took 11.000 ms")
        );
    }

    #[test]
    fn an_answer_holding_a_secret_is_described_without_its_bytes() {
        let mut o = answered(0x9000, b"1234-secret");
        assert!(describe(&o).contains("31 32 33 34"), "{}", describe(&o));
        o.data_secret = true;
        let d = describe(&o);
        assert!(!d.contains("31 32") && d.contains("11 bytes **"), "{d}");
        let long = answered(0x9000, &[0xAA; 40]);
        assert!(describe(&long).ends_with("AA …"), "{}", describe(&long));
    }
}
