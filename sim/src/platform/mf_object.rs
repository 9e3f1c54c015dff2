//! The names of the physical card's GET DATA objects at MF level, as a card profile lists them
//! (`mf_objects: ["0042", "00F8", …]`); `applets/mf.rs` gives their values.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A data object of the MF level.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MfObject {
    /// `0042`: the issuer identification, a 16-byte key reference.
    IssuerId,
    /// `0045`: the card identification number, ASCII.
    CardId,
    /// `0066`: GlobalPlatform card recognition data.
    CardRecognition,
    /// `00F0`: the issuing municipality's code, 5 ASCII digits.
    Municipality,
    /// `00F2`: the expiry date, 8 ASCII digits.
    Expiry,
    /// `00F7`: the key id of the municipality's key that signs `7F21`.
    ChainKeyId,
    /// `00F8`: the CV certificate of that key by the CA `6000020` (575 bytes).
    CvCertificate,
    /// `7F21`: the next link, the certificate of the `0000050` key by the municipality's key.
    NextCvCertificate,
}

impl MfObject {
    /// Every object, in tag order.
    pub const ALL: [MfObject; 8] = [
        MfObject::IssuerId,
        MfObject::CardId,
        MfObject::CardRecognition,
        MfObject::Municipality,
        MfObject::Expiry,
        MfObject::ChainKeyId,
        MfObject::CvCertificate,
        MfObject::NextCvCertificate,
    ];

    /// Its tag: GET DATA's P1 P2.
    pub fn tag(self) -> u16 {
        match self {
            MfObject::IssuerId => 0x0042,
            MfObject::CardId => 0x0045,
            MfObject::CardRecognition => 0x0066,
            MfObject::Municipality => 0x00F0,
            MfObject::Expiry => 0x00F2,
            MfObject::ChainKeyId => 0x00F7,
            MfObject::CvCertificate => 0x00F8,
            MfObject::NextCvCertificate => 0x7F21,
        }
    }

    /// The object a two-byte tag names.
    pub fn from_tag(tag: &[u8]) -> Option<MfObject> {
        let tag = u16::from_be_bytes(tag.try_into().ok()?);
        MfObject::ALL.into_iter().find(|o| o.tag() == tag)
    }
}

impl Serialize for MfObject {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("{:04X}", self.tag()))
    }
}

impl schemars::JsonSchema for MfObject {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "MfObject".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let tags: Vec<String> = MfObject::ALL
            .iter()
            .map(|o| format!("{:04X}", o.tag()))
            .collect();
        schemars::json_schema!({
            "type": "string",
            "description": "A data object GET DATA answers at MF level, by its tag",
            "enum": tags
        })
    }
}

impl<'de> Deserialize<'de> for MfObject {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        crate::parse_hex(&text)
            .ok()
            .and_then(|tag| MfObject::from_tag(&tag))
            .ok_or_else(|| {
                serde::de::Error::custom(format!(
                    "`{text}` is no MF object kazasu models: write one of 0042, 0045, 0066, \
                     00F0, 00F2, 00F7, 00F8, 7F21"
                ))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_tag_names_its_object_and_no_other() {
        for object in MfObject::ALL {
            assert_eq!(
                MfObject::from_tag(&object.tag().to_be_bytes()),
                Some(object)
            );
        }
        assert_eq!(MfObject::from_tag(&[0x5F, 0x51]), None);
        assert_eq!(MfObject::from_tag(&[0x00]), None);
    }

    #[test]
    fn objects_read_and_write_as_four_hex_digits() {
        let objects: Vec<MfObject> = serde_saphyr::from_str("[\"0042\", \"7F 21\"]").unwrap();
        assert_eq!(objects, [MfObject::IssuerId, MfObject::NextCvCertificate]);
        let written = serde_saphyr::to_string(&objects).unwrap();
        assert!(
            written.contains("0042") && written.contains("7F21"),
            "{written}"
        );
        let err = serde_saphyr::from_str::<Vec<MfObject>>("[\"5F51\"]").unwrap_err();
        assert!(err.to_string().contains("no MF object"), "{err}");
    }
}
