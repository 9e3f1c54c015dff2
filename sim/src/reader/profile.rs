//! Reader profiles: what distinguishes one PC/SC contactless reader from another — bit rates,
//! frame size, extended-APDU support, the host-side (USB/CCID) cost of an exchange, its retry
//! policy, what it says of itself through PC/SC and its PIN pad — as data under `sim/data/profiles/readers/`, each value with its sureness.

use crate::platform::bit_rate::BitRate;
use crate::platform::profile::{Millis, ProfileError, Sourced};
use serde::{Deserialize, Serialize};

/// How a reader treats an extended-length APDU.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ExtendedApdus {
    /// Passed to the card.
    Supported,
    /// Answered by the reader itself with 67 00.
    WrongLength,
    /// The transmit fails (PC/SC: SCARD_E_NOT_TRANSACTED).
    TransportError,
}

/// As a profile writes it (`supported`, `wrong-length`, `transport-error`).
impl std::fmt::Display for ExtendedApdus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ExtendedApdus::Supported => "supported",
            ExtendedApdus::WrongLength => "wrong-length",
            ExtendedApdus::TransportError => "transport-error",
        })
    }
}

/// What the reader does with two cards in the field.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum CollisionHandling {
    /// Anticollision picks one card (costs another round).
    Resolve,
    /// The reader reports no usable card.
    Refuse,
}

/// Which ATR the reader reports to PC/SC for a contactless card.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum AtrForm {
    /// PC/SC part 3: `3B 8n 80 01` with the ATS historical bytes (Type A) or the ATQB
    /// application data and protocol info (Type B), then TCK.
    Part3,
    /// A short generic ATR whatever the card, `3B 80 80 01 01` (reported for an ACR122U).
    Generic,
    /// SCM Microsystems' proprietary T=1 ATR (`3B F5 91 00 FF 91 81 71 FE 40 00 42 00 01 …`)
    /// with the PUPI stripped, as dual-interface SCM/Identiv readers report a Type B card; Type A
    /// cards get the part-3 ATR (their layout in this form is not public).
    Scm,
    /// The same with the PUPI in it (`3B F9 … 42 04 <PUPI> 01 …`): a new ATR at every tap of a
    /// card with a random PUPI (inferred from the manual's layout).
    ScmWithPupi,
}

/// The longest a reader's host overhead or card-detect time may be.
pub const MAX_READER_TIME: crate::SimDuration = crate::SimDuration::from_millis(10_000);

/// The short generic ATR some readers report for every ISO/IEC 14443-4 card.
pub const GENERIC_ATR: [u8; 5] = [0x3B, 0x80, 0x80, 0x01, 0x01];

/// A reader profile.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReaderProfile {
    /// Its name (`typical-424k`).
    pub name: String,
    /// What it models.
    pub description: String,
    /// Bit rates the reader supports, kbit/s.
    pub bit_rates: Sourced<Vec<u32>>,
    /// The reader's frame size index FSDI (8 = 256 bytes).
    pub fsdi: Sourced<u8>,
    /// Extended-length APDUs.
    pub extended_apdus: Sourced<ExtendedApdus>,
    /// Host-side cost of one exchange: USB/CCID command and answer, driver.
    pub host_overhead: Sourced<Millis>,
    /// From the card entering the field to the start of activation (polling period).
    pub card_detect: Sourced<Millis>,
    /// Retransmissions / R-blocks per block before the reader gives up.
    pub retries: Sourced<u8>,
    /// Waiting-time extensions granted per exchange; none = unlimited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("x-if-absent" = "unlimited: every S(WTX) the card asks for is granted"))]
    pub max_wtx: Option<Sourced<u32>>,
    /// Two cards in the field.
    pub collision: Sourced<CollisionHandling>,
    /// The ATR form the reader reports; absent: PC/SC part 3.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("x-if-absent" = "`part3`"))]
    pub atr_form: Option<Sourced<AtrForm>>,
    /// What the reader says of itself on USB (its device and CCID class descriptors), for the
    /// USB view of a run (`run --pcap-usb`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend(
        "x-if-absent" = "a synthetic reader: `1209:0001` (pid.codes' test id), 522-byte messages, IFSD 254"
    ))]
    pub usb: Option<Sourced<UsbCcid>>,
    /// What the reader says of itself through PC/SC (`SCardGetAttrib`: vendor, model,
    /// version, serial number).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend(
        "x-if-absent" = "vendor `kazasu`, the profile's name as the model, version 1.0.0, no serial number"
    ))]
    pub attributes: Option<Sourced<Attributes>>,
    /// A PIN pad (PC/SC part 10: VERIFY PIN DIRECT, and MODIFY PIN DIRECT when it changes PINs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("x-if-absent" = "no PIN pad: the reader offers no PIN feature"))]
    pub pin_pad: Option<Sourced<PinPad>>,
    /// Vendor escape commands the reader answers (`SCardControl` with `SCARD_CTL_CODE(1)`,
    /// PC/SC part 10's FEATURE_CCID_ESC_COMMAND), each command with its answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("x-if-absent" = "no escape commands: the feature is not offered"))]
    pub escapes: Option<Sourced<Vec<Escape>>>,
}

/// The reader's own description, as `SCardGetAttrib` gives it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Attributes {
    /// SCARD_ATTR_VENDOR_NAME.
    #[schemars(example = &"SONY")]
    pub vendor: String,
    /// SCARD_ATTR_VENDOR_IFD_TYPE: the model.
    #[schemars(example = &"RC-S300/P")]
    pub model: String,
    /// SCARD_ATTR_VENDOR_IFD_VERSION as major.minor.build (a DWORD 0xMMmmbbbb).
    #[schemars(example = &"1.0.0")]
    pub version: String,
    /// SCARD_ATTR_VENDOR_IFD_SERIAL_NO.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serial: Option<String>,
}

impl Attributes {
    /// The version as PC/SC's DWORD `0xMMmmbbbb`, or `None` when it is not `major.minor.build`
    /// within 255.255.65535.
    pub fn version_dword(&self) -> Option<u32> {
        let mut parts = self.version.split('.');
        let major: u8 = parts.next()?.trim().parse().ok()?;
        let minor: u8 = parts.next()?.trim().parse().ok()?;
        let build: u16 = parts.next().map_or(Some(0), |b| b.trim().parse().ok())?;
        if parts.next().is_some() {
            return None;
        }
        Some(u32::from(major) << 24 | u32::from(minor) << 16 | u32::from(build))
    }
}

/// A PIN pad: the digits it takes and how long it waits for them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PinPad {
    /// The fewest digits it accepts (GET_TLV_PROPERTIES bMinPINSize).
    #[schemars(example = 4)]
    pub min_digits: u8,
    /// The most digits it accepts (bMaxPINSize).
    #[schemars(example = 8)]
    pub max_digits: u8,
    /// How long it waits for the PIN when the command leaves the time-out to the reader
    /// (bTimerOut 0).
    #[schemars(with = "String", example = &"30s")]
    pub timeout: Millis,
    /// Whether it changes PINs too (MODIFY PIN DIRECT).
    #[serde(default)]
    pub modify: bool,
}

/// A vendor escape command and the reader's answer to it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Escape {
    /// The command, hex.
    #[schemars(with = "String", example = &"FF 00 48 00 00")]
    pub command: crate::platform::profile::HexBytes,
    /// The answer, hex.
    #[schemars(with = "String", example = &"90 00")]
    pub answer: crate::platform::profile::HexBytes,
}

/// A USB CCID reader's identity and sizes, as its descriptors give them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UsbCcid {
    /// idVendor:idProduct in hex, as `lsusb` prints it.
    #[schemars(example = "054c:0dc8")]
    pub id: String,
    /// dwMaxCCIDMessageLength: the largest CCID message, its 10-byte header included.
    #[schemars(example = 522)]
    pub max_message: u32,
    /// dwMaxIFSD: the largest information field the reader takes from a card.
    #[schemars(example = 254)]
    pub max_ifsd: u32,
}

impl UsbCcid {
    /// The synthetic reader kazasu writes when a profile says nothing: pid.codes' test id, the
    /// 522-byte messages of the Sony RC-S300 and the ACS ACR1252.
    pub fn synthetic() -> UsbCcid {
        UsbCcid {
            id: "1209:0001".into(),
            max_message: 522,
            max_ifsd: 254,
        }
    }

    /// (idVendor, idProduct), or `None` when `id` is not two hex numbers.
    pub fn vendor_product(&self) -> Option<(u16, u16)> {
        let (v, p) = self.id.split_once(':')?;
        Some((
            u16::from_str_radix(v, 16).ok()?,
            u16::from_str_radix(p, 16).ok()?,
        ))
    }
}

macro_rules! builtin_reader_profiles {
    ($($name:literal),* $(,)?) => {
        /// Names and YAML text of the built-in reader profiles.
        pub const BUILTIN_READER_PROFILES: &[(&str, &str)] = &[
            $(($name, include_str!(concat!("../../data/profiles/readers/", $name, ".yaml")))),*
        ];
    };
}

builtin_reader_profiles!(
    "basic-106k",
    "typical-424k",
    "fast-848k",
    "scm-dual-424k",
    "pinpad-424k"
);

impl ReaderProfile {
    /// Parses a reader profile; `origin` names the source in errors.
    pub fn from_yaml(text: &str, origin: &str) -> Result<ReaderProfile, ProfileError> {
        let p: ReaderProfile = crate::platform::profile::parse_yaml(text, origin)?;
        p.check(origin)?;
        Ok(p)
    }

    /// A built-in reader profile by name (parsed once per process, then copied).
    pub fn builtin(name: &str) -> Result<ReaderProfile, ProfileError> {
        static PARSED: crate::platform::profile::BuiltinCache<ReaderProfile> =
            crate::platform::profile::BuiltinCache::new();
        PARSED.get(BUILTIN_READER_PROFILES, name, ReaderProfile::from_yaml)
    }

    /// Checks that values are in range.
    pub fn check(&self, origin: &str) -> Result<(), ProfileError> {
        let invalid = |message: String, hint: &str| ProfileError::Invalid {
            origin: origin.to_string(),
            message,
            hint: hint.to_string(),
        };
        if let Some(bad) = self
            .bit_rates
            .value
            .iter()
            .find(|r| BitRate::from_kbps(**r).is_err())
        {
            return Err(invalid(
                format!("bit_rates has {bad}"),
                "bit rates are 106, 212, 424 or 848 kbit/s",
            ));
        }
        if !self.bit_rates.value.contains(&106) {
            return Err(invalid(
                "bit_rates lacks 106".into(),
                "every ISO 14443 reader supports 106 kbit/s",
            ));
        }
        if self.fsdi.value > 12 {
            return Err(invalid(
                format!("fsdi is {}", self.fsdi.value),
                "FSDI is 0..=12 (8 = 256 bytes)",
            ));
        }
        if let Some(usb) = &self.usb {
            if usb.value.vendor_product().is_none() {
                return Err(invalid(
                    format!("usb.id is {:?}", usb.value.id),
                    "write the USB id as lsusb prints it: vendor:product in hex, e.g. 054c:0dc8",
                ));
            }
            if !(64..=65_554).contains(&usb.value.max_message) {
                return Err(invalid(
                    format!("usb.max_message is {}", usb.value.max_message),
                    "a CCID message is 64 to 65,554 bytes long (dwMaxCCIDMessageLength)",
                ));
            }
        }
        if let Some(a) = &self.attributes
            && a.value.version_dword().is_none()
        {
            return Err(invalid(
                format!("attributes.version is {:?}", a.value.version),
                "write the reader's version as major.minor.build, e.g. 1.2.0 (at most 255.255.65535)",
            ));
        }
        if let Some(p) = &self.pin_pad {
            let p = &p.value;
            if p.min_digits == 0 || p.min_digits > p.max_digits || p.max_digits > 16 {
                return Err(invalid(
                    format!("pin_pad takes {} to {} digits", p.min_digits, p.max_digits),
                    "a PIN pad takes 1 to 16 digits, min_digits at most max_digits",
                ));
            }
            if p.timeout.0 > crate::SimDuration::from_millis(255_000)
                || p.timeout.0 == crate::SimDuration::ZERO
            {
                return Err(invalid(
                    format!("pin_pad.timeout is {}", p.timeout.0),
                    "a PIN pad waits 1 to 255 seconds (bTimerOut is a byte of seconds)",
                ));
            }
        }
        for (name, d) in [
            ("host_overhead", &self.host_overhead),
            ("card_detect", &self.card_detect),
        ] {
            if d.value.0 > MAX_READER_TIME {
                return Err(invalid(
                    format!("{name} is {}, longer than {MAX_READER_TIME}", d.value.0),
                    "a reader's overhead and polling period are milliseconds; write e.g. 1ms or 50ms",
                ));
            }
        }
        Ok(())
    }

    /// What the reader says of itself on USB (the synthetic reader when the profile is silent).
    pub fn usb(&self) -> UsbCcid {
        self.usb
            .as_ref()
            .map_or_else(UsbCcid::synthetic, |u| u.value.clone())
    }

    /// The ATR form this reader reports.
    pub fn atr_form(&self) -> AtrForm {
        self.atr_form.as_ref().map_or(AtrForm::Part3, |f| f.value)
    }

    /// The ATR this reader reports for `card`: a test card's own ATR as it is; otherwise the
    /// part-3 ATR built from the card's activation answer, the reader's generic one, or SCM's
    /// proprietary form.
    pub fn atr_for(&self, card: &crate::Card) -> Vec<u8> {
        match (self.atr_form(), &card.profile().atr) {
            (_, Some(own)) => own.value.0.clone(),
            (AtrForm::Part3, None) => card.atr().to_vec(),
            (AtrForm::Generic, None) => GENERIC_ATR.to_vec(),
            (AtrForm::Scm, None) => crate::iso14443::atr::scm_contactless_atr(card.profile(), None)
                .unwrap_or_else(|| card.atr().to_vec()),
            (AtrForm::ScmWithPupi, None) => {
                crate::iso14443::atr::scm_contactless_atr(card.profile(), Some(card.uid()))
                    .unwrap_or_else(|| card.atr().to_vec())
            }
        }
    }

    /// The reader's frame size in bytes.
    pub fn frame_size(&self) -> usize {
        crate::iso14443::atr::frame_size(self.fsdi.value)
    }
}
