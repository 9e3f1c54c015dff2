//! The card steps: tap, remove, APDUs, selects, whole-file reads, PIN checks, signatures, the
//! JPKI auth flow, ATR and UID — each turned into an outcome the expectations check.

use super::error::StepError;
use super::world::{StepOutcome, World, encode, parse_fid};
use crate::host::flows::{self, Host, ReadMode, apdu};
use crate::host::read::{FileRead, read_whole};
use crate::record::Event;
use crate::scenario::{CardAction, CardStep, Mismatch, ReadHow, SelectTarget};
use kazasu_sim::platform::profile::Device;
use kazasu_sim::{StatusWord, hex_spaced};
use rand_core::RngCore;

impl World {
    pub(super) fn card_step(&mut self, step: &CardStep) -> Result<StepOutcome, StepError> {
        Ok(match &step.action {
            CardAction::Tap => {
                let t0 = self.reader.now();
                let r = self.reader.tap();
                let took = self.reader.now().since(t0);
                let what = match &r {
                    Ok(()) => Event::Tap {
                        kbps: self.reader.bit_rate(),
                    },
                    Err(e) => Event::TapFailed(*e),
                };
                self.transcript
                    .record_event(what, took, &self.reader.last_frames());
                self.link(r)
            }
            CardAction::Remove => {
                self.reader.remove();
                StepOutcome::default()
            }
            CardAction::Approve => {
                if !self.reader.approve() {
                    return Err(StepError::NoApproval(self.reader.card_name()));
                }
                StepOutcome::default()
            }
            CardAction::Deselect => {
                let t0 = self.reader.now();
                let r = self.reader.disconnect();
                let took = self.reader.now().since(t0);
                self.transcript
                    .record_event(Event::Deselect, took, &self.reader.last_frames());
                self.link(r)
            }
            CardAction::WarmReset => {
                let t0 = self.reader.now();
                let r = self.reader.warm_reset();
                let took = self.reader.now().since(t0);
                self.transcript
                    .record_event(Event::WarmReset, took, &self.reader.last_frames());
                self.link(r)
            }
            CardAction::Wait(d) => {
                self.reader.wait(d.0);
                StepOutcome::default()
            }
            CardAction::Apdu(t) => {
                let (bytes, secret) = self.expand(t)?;
                if bytes.len() > kazasu_sim::iso7816::apdu::MAX_COMMAND_LEN {
                    return Err(StepError::TooLong(bytes.len()));
                }
                self.apdu_outcome(&bytes, secret)
            }
            CardAction::Select(target) => {
                let (aid, p2) = match target {
                    SelectTarget::Jpki => (kazasu_sim::applets::jpki::AID.to_vec(), 0x0C),
                    SelectTarget::CardInfo => (kazasu_sim::applets::card_info::AID.to_vec(), 0x0C),
                    SelectTarget::CardFace => (kazasu_sim::applets::card_face::AID.to_vec(), 0x0C),
                    SelectTarget::CommonCard => {
                        (kazasu_sim::applets::common_card::AID.to_vec(), 0x0C)
                    }
                    SelectTarget::Juki => {
                        (kazasu_sim::applets::common_card::JUKI_AID.to_vec(), 0x0C)
                    }
                    SelectTarget::Readertest => {
                        (kazasu_sim::applets::readertest::PACKAGE_AID.to_vec(), 0x00)
                    }
                    SelectTarget::Aid(hex) => (self.expand(hex)?.0, 0x0C),
                };
                let cmd = encode(apdu::select_aid(&aid, p2))?;
                self.apdu_outcome(&cmd, false)
            }
            CardAction::SelectEf(fid) => {
                let cmd = encode(apdu::select_ef(&parse_fid(fid)?))?;
                self.apdu_outcome(&cmd, false)
            }
            CardAction::ReadFile(r) => self.read_file(&r.ef, r.how)?,
            CardAction::VerifyPin(v) => {
                if v.on_pad && v.pin.is_some() {
                    return Err(StepError::PinOnPad);
                }
                let select = encode(apdu::select_ef(&parse_fid(&v.ef)?))?;
                if let Err(o) = self.send_step(&select, false) {
                    return Ok(o);
                }
                if v.on_pad {
                    return self.verify_on_pad();
                }
                match &v.pin {
                    Some(pin) => {
                        let pin = self.text_secret(pin)?;
                        let cmd = encode(apdu::verify(pin.expose().as_bytes()))?;
                        self.apdu_outcome(&cmd, true)
                    }
                    None => self.apdu_outcome(&encode(apdu::retry_counter())?, false),
                }
            }
            CardAction::Sign(g) => {
                let select = encode(apdu::select_ef(&parse_fid(&g.key)?))?;
                if let Err(o) = self.send_step(&select, false) {
                    return Ok(o);
                }
                let message = if g.digest_of == "nonce" {
                    let mut n = vec![0u8; 32];
                    self.rng.fill_bytes(&mut n);
                    n
                } else {
                    self.expand(&g.digest_of)?.0
                };
                let di = flows::digest_info_sha256(&message);
                let cmd = encode(apdu::sign(&di))?;
                let mut o = self.apdu_outcome(&cmd, false);
                if let (Some(cert), Some(sw)) = (&g.verify_with, o.sw)
                    && sw.is_ok()
                {
                    let der = self
                        .saved
                        .get(cert)
                        .ok_or_else(|| StepError::NothingToVerifyWith(cert.clone()))?;
                    if !flows::signature_verifies(der, &message, &o.data)? {
                        o.own_check = Some(Mismatch::new(
                            format!("a signature that verifies with `{cert}`"),
                            "a signature that does not verify",
                        ));
                    }
                }
                o
            }
            CardAction::JpkiAuthFlow(a) => {
                if self.device == Device::Iphone && a.approve != Some(false) {
                    self.reader.approve();
                }
                let pin = self.text_secret(a.pin.as_deref().unwrap_or("${secrets.auth_pin}"))?;
                let mut nonce = vec![0u8; 32];
                self.rng.fill_bytes(&mut nonce);
                let mode = match a.how {
                    ReadHow::Extended => ReadMode::Extended,
                    _ => ReadMode::Chunked,
                };
                let device = self.device;
                let mut host = Host::new(&mut *self.reader);
                let result = flows::jpki_auth_flow(&mut host, device, &pin, &nonce, mode);
                let t = std::mem::take(&mut host.transcript);
                self.transcript.extend(t);
                match result {
                    Ok(out) => {
                        let mut o = StepOutcome {
                            sw: Some(StatusWord::OK),
                            data: out.signature.clone(),
                            ..StepOutcome::default()
                        };
                        if !flows::signature_verifies(&out.certificate, &nonce, &out.signature)? {
                            o.own_check = Some(Mismatch::new(
                                "a signature that verifies with the certificate read",
                                "one that does not",
                            ));
                        }
                        o
                    }
                    Err(flows::FlowError::Status { sw, .. }) => StepOutcome {
                        sw: Some(sw),
                        ..StepOutcome::default()
                    },
                    Err(flows::FlowError::Transport { source, .. }) => StepOutcome {
                        error: Some(source),
                        ..StepOutcome::default()
                    },
                    Err(e) => return Err(StepError::Flow(e)),
                }
            }
            CardAction::Control(c) => self.control_step(c)?,
            CardAction::Attribute(tag) => self.attribute_step(*tag)?,
            CardAction::PinPad(p) => self.pin_pad_step(p)?,
            CardAction::Atr => {
                let atr = self.reader.atr().map_err(StepError::NoAtr)?;
                StepOutcome {
                    data: atr,
                    ..StepOutcome::default()
                }
            }
            CardAction::Uid(u) => {
                let uid = self.reader.uid();
                let mut o = StepOutcome {
                    data: uid.clone(),
                    ..StepOutcome::default()
                };
                if let Some(name) = &u.differs_from {
                    let old = self
                        .uids
                        .get(name)
                        .ok_or_else(|| StepError::NoUid(name.clone()))?;
                    if *old == uid {
                        o.own_check = Some(Mismatch::new(
                            format!("a UID other than `{name}` ({})", hex_spaced(old)),
                            format!("the same UID {}", hex_spaced(&uid)),
                        ));
                    }
                }
                if let Some(name) = &u.same_as {
                    let old = self
                        .uids
                        .get(name)
                        .ok_or_else(|| StepError::NoUid(name.clone()))?;
                    if *old != uid {
                        o.own_check = Some(Mismatch::new(
                            format!("the UID `{name}` ({})", hex_spaced(old)),
                            format!("UID {}", hex_spaced(&uid)),
                        ));
                    }
                }
                if let Some(name) = &u.save {
                    self.uids.insert(name.clone(), uid);
                }
                o
            }
        })
    }

    /// A whole file through the host's read loop: the outcome of the first command the card
    /// refuses, or the file with 90 00.
    pub(super) fn read_file(&mut self, ef: &str, how: ReadHow) -> Result<StepOutcome, StepError> {
        let fid = parse_fid(ef)?;
        let header = if how == ReadHow::Sfi {
            apdu::read_header(Some(fid[1]))
        } else {
            if let Err(o) = self.send_step(&encode(apdu::select_ef(&fid))?, false) {
                return Ok(o);
            }
            apdu::read_header(None)
        };
        // The read stops at an outcome to report, or at an error of the step.
        let read = read_whole(header, how == ReadHow::Extended, |_, cmd| {
            let bytes = encode(cmd).map_err(Err)?;
            self.send_step(&bytes, false).map(|r| r.data).map_err(Ok)
        });
        Ok(match read {
            FileRead::Whole(data) => StepOutcome {
                sw: Some(StatusWord::OK),
                data,
                ..StepOutcome::default()
            },
            FileRead::Stopped { at, .. } => return at,
            FileRead::NoHeader(e) => StepOutcome {
                sw: Some(StatusWord::OK),
                data: e.0.clone(),
                own_check: Some(Mismatch::new("a DER header", e.to_string())),
                ..StepOutcome::default()
            },
            FileRead::Empty { data } => StepOutcome {
                sw: Some(StatusWord::OK),
                data,
                own_check: Some(Mismatch::new("the rest of the file", "an empty answer")),
                ..StepOutcome::default()
            },
            FileRead::TooFar { total, reason } => {
                return Err(StepError::FileTooLong { total, reason });
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::world::tests::world;
    use super::*;
    use crate::scenario::{CardExpect, VerifyPin};

    fn step(action: CardAction) -> CardStep {
        CardStep {
            action,
            name: None,
            save: None,
            expect: CardExpect::default(),
        }
    }

    #[test]
    fn a_whole_certificate_is_read_to_its_der_length_in_either_mode() {
        for how in [ReadHow::Chunked, ReadHow::Extended] {
            let mut w = world("mynumber-card");
            w.card_step(&step(CardAction::Tap)).expect("tap");
            w.card_step(&step(CardAction::Select(SelectTarget::Jpki)))
                .expect("select");
            let o = w.read_file("000A", how).expect("runs");
            assert_eq!(o.sw, Some(StatusWord::OK), "{how:?}");
            assert!(o.own_check.is_none() && o.error.is_none());
            assert_eq!(o.data[0], 0x30, "a DER SEQUENCE");
            assert_eq!(flows::der_total_length(&o.data), Ok(o.data.len()));
        }
    }

    #[test]
    fn a_read_stops_at_the_first_status_the_card_refuses_with() {
        let mut w = world("mynumber-card");
        w.card_step(&step(CardAction::Tap)).expect("tap");
        // No application selected: the file is not found.
        let o = w.read_file("000A", ReadHow::Chunked).expect("runs");
        assert_eq!(o.sw, Some(StatusWord::FILE_NOT_FOUND));
        assert!(o.data.is_empty());
    }

    #[test]
    fn a_pin_check_without_a_pin_asks_for_the_retry_counter() {
        let mut w = world("mynumber-card");
        w.card_step(&step(CardAction::Tap)).expect("tap");
        w.card_step(&step(CardAction::Select(SelectTarget::Jpki)))
            .expect("select");
        let verify = |pin: Option<&str>| {
            CardAction::VerifyPin(VerifyPin {
                ef: "0018".into(),
                pin: pin.map(str::to_string),
                on_pad: false,
            })
        };
        let o = w.card_step(&step(verify(None))).expect("runs");
        assert_eq!(o.sw, Some(StatusWord(0x63C3)));
        let o = w
            .card_step(&step(verify(Some("${secrets.auth_pin}"))))
            .expect("runs");
        assert_eq!(o.sw, Some(StatusWord::OK));
        let shown = format!("{:#}", w.transcript);
        let pin = w.secrets["auth_pin"].expose().clone();
        assert!(
            !shown.contains(&hex::encode_upper(pin.as_bytes())),
            "{shown}"
        );
    }
}
