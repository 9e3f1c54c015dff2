//! The physical card's MF level, outside every application: the GET DATA objects (`00 CA <tag>`)
//! a card answers there — issuer and card identification, GlobalPlatform card recognition data,
//! the issuing municipality, the expiry date, the links of the card's CV certificate chain and
//! the contact ATR — and the one MF elementary file, 001E, that selects but cannot be read.
//!
//! Which objects a card answers differs between card generations (older cards lack 7F21): a
//! card profile lists them (`mf_objects`). Objects longer than a short Le can ask for answer
//! 67 00 to a short Le and come whole with an extended one (reported: `00 CA 00 F8 00 00 00`
//! returns 575 bytes).

use crate::iso7816::apdu::{Command, Response};
use crate::iso7816::status::StatusWord as Sw;
use crate::platform::cv_cert::{self, KeyId};
use crate::platform::identity::Subject;
pub use crate::platform::mf_object::MfObject as Object;
use crate::platform::os::Session;

/// The key id of the CA whose stand-in signs 00F8: `6000020`/001 (JPKI's test hierarchy).
pub fn root_key_id() -> KeyId {
    KeyId::new("6000020", "001").expect("seven and three digits")
}

/// The key id of the key 7F21 certifies: `0000050`/001.
pub fn leaf_key_id() -> KeyId {
    KeyId::new("0000050", "001").expect("seven and three digits")
}

/// The key id of the municipality's MF-chain key: `<code>30`/002.
pub fn chain_key_id(subject: &Subject) -> KeyId {
    KeyId::municipal(&subject.identity.municipality_code, "30", "002")
        .expect("identities are checked to have 5-digit municipality codes")
}

/// GlobalPlatform card recognition data (`66 { 73 { … } }`): the recognition-data OID, card
/// management type GP 2.1.1, the card identification scheme and SCP02 (i = 15). Which values a
/// real card writes is not public: this is kazasu's model.
fn card_recognition_data() -> Vec<u8> {
    const GP: [u8; 6] = [0x2A, 0x86, 0x48, 0x86, 0xFC, 0x6B]; // 1.2.840.114283
    let oid = |arc: &[u8]| {
        let mut v = vec![0x06, (GP.len() + arc.len()) as u8];
        v.extend_from_slice(&GP);
        v.extend_from_slice(arc);
        v
    };
    let tagged = |tag: u8, value: Vec<u8>| {
        let mut v = vec![tag, value.len() as u8];
        v.extend(value);
        v
    };
    let mut recognition = oid(&[0x01]);
    recognition.extend(tagged(0x60, oid(&[0x02, 0x02, 0x01, 0x01])));
    recognition.extend(tagged(0x63, oid(&[0x03])));
    recognition.extend(tagged(0x64, oid(&[0x04, 0x02, 0x15])));
    tagged(0x66, tagged(0x73, recognition))
}

/// The values of every MF object for one card holder (the signatures made once per holder).
#[derive(Debug)]
pub struct Objects(Vec<(Object, Vec<u8>)>);

impl Objects {
    /// Every object of `subject`'s card.
    pub fn new(subject: &Subject) -> Objects {
        let id = &subject.identity;
        let chain = &subject.mf_chain;
        let values = Object::ALL.map(|object| {
            let value = match object {
                Object::IssuerId => root_key_id().0.to_vec(),
                Object::CardId => id.card_serial.as_bytes().to_vec(),
                Object::CardRecognition => card_recognition_data(),
                Object::Municipality => id.municipality_code.as_bytes().to_vec(),
                Object::Expiry => id.card_expiry_yyyymmdd().into_bytes(),
                Object::ChainKeyId => chain_key_id(subject).0.to_vec(),
                Object::CvCertificate => cv_cert::mf_object(
                    root_key_id(),
                    &chain.root,
                    chain_key_id(subject),
                    &subject.keys.mf_key,
                ),
                Object::NextCvCertificate => cv_cert::mf_object(
                    chain_key_id(subject),
                    &subject.keys.mf_key,
                    leaf_key_id(),
                    &chain.leaf,
                ),
            };
            (object, value)
        });
        Objects(values.into())
    }

    /// The value of `object`.
    pub fn get(&self, object: Object) -> &[u8] {
        self.0
            .iter()
            .find(|(o, _)| *o == object)
            .map_or(&[], |(_, v)| v)
    }
}

/// What the card offers at MF level, from its profile.
pub(crate) struct Offer<'a> {
    /// The stored contact ATR (`5F 51`), if the card gives it.
    pub contact_atr: Option<&'a [u8]>,
    /// The objects the card answers.
    pub objects: &'a [Object],
}

/// GET DATA `00 CA P1 P2 Le` at MF level: the object P1 P2 names, if the card offers it (else
/// 6A 88); command data, or an Le shorter than the object, answer 67 00.
pub(crate) fn get_data(cmd: &Command<'_>, offer: &Offer<'_>, subject: &Subject) -> Response {
    let tag = [cmd.p1, cmd.p2];
    let value = if tag == [0x5F, 0x51] {
        match offer.contact_atr {
            Some(atr) => atr.to_vec(),
            None => return Response::status(Sw::DATA_NOT_FOUND),
        }
    } else {
        match Object::from_tag(&tag).filter(|o| offer.objects.contains(o)) {
            Some(object) => subject
                .derived
                .get_or_init(|| Objects::new(subject))
                .get(object)
                .to_vec(),
            None => return Response::status(Sw::DATA_NOT_FOUND),
        }
    };
    match cmd.le {
        Some(le) if cmd.data.is_empty() && le as usize >= value.len() => Response::ok(value),
        _ => Response::status(Sw::WRONG_LENGTH),
    }
}

/// The file id of the MF's one EF.
const EF_001E: u16 = 0x001E;

/// The one EF of the physical card's MF: `001E` selects by its file id (90 00), and READ
/// BINARY or READ RECORD of it answer 69 81; no other MF EF exists (reported by myna-card's
/// author). `None`: the command is not about it.
pub(crate) fn ef_001e(cmd: &Command<'_>, session: &mut Session) -> Option<Sw> {
    match (cmd.cla, cmd.ins) {
        (0x00, 0xA4) if matches!(cmd.p1, 0x00 | 0x02) && cmd.data == EF_001E.to_be_bytes() => {
            session.current_ef = Some(EF_001E);
            Some(Sw::OK)
        }
        (0x00, 0xA4) => {
            session.current_ef = None;
            None
        }
        (0x00, 0xB0 | 0xB2) if cmd.p1 & 0x80 == 0 && session.current_ef == Some(EF_001E) => {
            Some(Sw::INCOMPATIBLE_WITH_FILE)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn card_recognition_data_is_well_formed_ber() {
        let data = card_recognition_data();
        assert_eq!(data[0], 0x66);
        assert_eq!(usize::from(data[1]), data.len() - 2);
        assert_eq!(data[2], 0x73);
        assert_eq!(usize::from(data[3]), data.len() - 4);
        assert_eq!(
            data[4..13],
            [0x06, 0x07, 0x2A, 0x86, 0x48, 0x86, 0xFC, 0x6B, 0x01]
        );
    }
}
