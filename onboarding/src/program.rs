//! The subsidy program and the portal registry as data (`scenarios/onboarding/*.data.yaml`):
//! the window, the eligible kinds of practice, the subsidy rule, the makers' products with their
//! variants and stock, the invitation code (held only as a salted SHA-256 hash), and the
//! institutions registered on the portal.

use super::codes::{FeeType, MedicalCode, check_corporate_number};
use kazasu_sim::Secret;
use std::fmt;

/// A calendar day, `YYYY-MM-DD`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Day {
    /// Year.
    pub year: u16,
    /// Month 1–12.
    pub month: u8,
    /// Day 1–31.
    pub day: u8,
}

/// Text that is not a calendar day.
#[derive(Debug, thiserror::Error)]
#[error("`{0}` is not a day (write YYYY-MM-DD, e.g. 2025-09-19)")]
pub struct NotADay(pub String);

/// Program or registry data that cannot be used: which file, and why.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// Not YAML of the expected shape.
    #[error("{origin}: {source}")]
    Yaml {
        /// The file.
        origin: String,
        /// The parser's reason, with its position.
        source: Box<serde_saphyr::Error>,
    },
    /// Readable, but against one of the data's rules.
    #[error("{origin}: {rule}")]
    Rule {
        /// The file.
        origin: String,
        /// The rule broken, with the value that breaks it.
        rule: String,
    },
}

impl Day {
    /// Parses `YYYY-MM-DD`.
    pub fn parse(text: &str) -> Result<Day, NotADay> {
        let bad = || NotADay(text.to_owned());
        let mut it = text.trim().split('-');
        let (y, m, d) = (it.next(), it.next(), it.next());
        if it.next().is_some() {
            return Err(bad());
        }
        let num = |s: Option<&str>, len: usize| {
            s.filter(|s| s.len() == len && s.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|s| s.parse::<u16>().ok())
        };
        let (Some(year), Some(month), Some(day)) = (num(y, 4), num(m, 2), num(d, 2)) else {
            return Err(bad());
        };
        let days_in = match month {
            1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
            4 | 6 | 9 | 11 => 30,
            2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
            2 => 28,
            _ => return Err(bad()),
        };
        if day == 0 || day > days_in {
            return Err(bad());
        }
        Ok(Day {
            year,
            month: month as u8,
            day: day as u8,
        })
    }
}

impl fmt::Display for Day {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

impl<'de> serde::Deserialize<'de> for Day {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Day::parse(&s).map_err(serde::de::Error::custom)
    }
}

impl serde::Serialize for Day {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// When orders are taken (both days included).
#[derive(Clone, Debug, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Window {
    /// First day.
    pub opens: Day,
    /// Last day.
    pub closes: Day,
}

impl Window {
    /// Whether `day` is in the window.
    pub fn contains(&self, day: Day) -> bool {
        self.opens <= day && day <= self.closes
    }
}

/// How much of a reader's price the subsidy covers.
#[derive(Clone, Debug, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Subsidy {
    /// Percent of the price.
    pub rate_percent: u32,
    /// At most this many yen.
    pub cap_yen: u32,
    /// Subsidised readers per institution.
    pub per_institution: u32,
}

impl Subsidy {
    /// The subsidy on a reader of `price` yen (whole yen, rounded down).
    pub fn on(&self, price: u32) -> u32 {
        (u64::from(price) * u64::from(self.rate_percent) / 100).min(u64::from(self.cap_yen)) as u32
    }
}

/// Body only, or a set with a cable or hub.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Variant {
    /// The reader alone.
    BodyOnly,
    /// The reader with a USB cable or hub; withdrawn when a part is out of stock.
    Set,
}

/// Whether a product can be bought now.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Stock {
    /// On sale.
    InStock,
    /// Temporarily withdrawn from sale.
    Withdrawn,
}

/// A reader on the dedicated sales page.
#[derive(Clone, Debug, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Product {
    /// A short id (`sanwa-body`).
    pub id: String,
    /// The maker.
    pub maker: String,
    /// The product name.
    pub name: String,
    /// Body only or set.
    pub variant: Variant,
    /// Price in yen, tax included.
    pub price_yen: u32,
    /// On sale or withdrawn.
    pub stock: Stock,
    /// The kazasu reader profile that models it (for commissioning).
    pub reader_profile: String,
}

/// The invitation code as the service holds it: a salt and SHA-256(salt ‖ code), hex.
#[derive(Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CodeHash {
    /// Salt, hex.
    pub salt: String,
    /// SHA-256 of the salt bytes followed by the code's ASCII, hex.
    pub sha256: String,
}

impl fmt::Debug for CodeHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CodeHash(…)")
    }
}

impl CodeHash {
    /// The hash of `code` with `salt`.
    pub fn of(salt: &[u8], code: &str) -> CodeHash {
        CodeHash {
            salt: hex::encode(salt),
            sha256: hex::encode(digest(salt, code)),
        }
    }

    /// Whether `candidate` is the code, compared in constant time over the digests.
    pub fn matches(&self, candidate: &Secret<String>) -> bool {
        let (Ok(salt), Ok(want)) = (hex::decode(&self.salt), hex::decode(&self.sha256)) else {
            return false;
        };
        let got = digest(&salt, candidate.expose());
        want.len() == got.len() && openssl::memcmp::eq(&want, &got)
    }
}

fn digest(salt: &[u8], code: &str) -> Vec<u8> {
    let mut h = openssl::sha::Sha256::new();
    h.update(salt);
    h.update(code.as_bytes());
    h.finish().to_vec()
}

/// The program's parameters.
#[derive(Clone, Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Program {
    /// Its name.
    pub name: String,
    /// When orders are taken.
    pub window: Window,
    /// Kinds of practice that may join.
    pub eligible: Vec<FeeType>,
    /// The subsidy.
    pub subsidy: Subsidy,
    /// The invitation code, hashed.
    pub invitation_code: CodeHash,
    /// Products on the dedicated page.
    pub products: Vec<Product>,
}

/// Corporation or sole proprietor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BusinessType {
    /// 法人.
    Corporation,
    /// 個人事業主.
    SoleProprietor,
}

/// An institution as registered on the portal.
#[derive(Clone, Debug, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Institution {
    /// 10-digit medical institution code.
    pub code: String,
    /// The name as registered.
    pub name: String,
    /// Corporation or sole proprietor.
    pub business: BusinessType,
    /// The corporate number, for corporations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub corporate_number: Option<String>,
}

/// The portal registry.
#[derive(Clone, Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Registry {
    /// Registered institutions.
    pub institutions: Vec<Institution>,
    /// Each code's place in `institutions` (a registry of a whole prefecture is looked up on
    /// every registration).
    #[serde(skip)]
    by_code: std::collections::HashMap<String, usize>,
}

impl Registry {
    /// `n` synthetic medical institutions (`テスト医院0`…, codes 13 1 01 1000+i with their check
    /// digit), for load and concurrency tests.
    pub fn synthetic(n: usize) -> Registry {
        Registry {
            institutions: (0..n)
                .map(|i| {
                    let mut nine = [0u8; 9];
                    for (d, b) in nine.iter_mut().zip(format!("1310{:05}", 1000 + i).bytes()) {
                        *d = b - b'0';
                    }
                    let cd = super::codes::medical_check_digit(&nine);
                    let code: String = nine
                        .iter()
                        .chain(std::iter::once(&cd))
                        .map(|d| char::from(b'0' + d))
                        .collect();
                    Institution {
                        code,
                        name: format!("テスト医院{i}"),
                        business: BusinessType::SoleProprietor,
                        corporate_number: None,
                    }
                })
                .collect(),
            by_code: Default::default(),
        }
        .indexed()
    }

    /// The registry with its index by code.
    fn indexed(mut self) -> Registry {
        self.by_code = self
            .institutions
            .iter()
            .enumerate()
            .map(|(n, i)| (i.code.clone(), n))
            .collect();
        self
    }

    /// The institution with `code`.
    pub fn find(&self, code: &str) -> Option<&Institution> {
        // The index answers when it holds the code; a registry whose list was changed after it
        // was indexed is searched whole, so the answer is always the list's.
        self.by_code
            .get(code)
            .and_then(|&n| self.institutions.get(n))
            .filter(|i| i.code == code)
            .or_else(|| self.institutions.iter().find(|i| i.code == code))
    }
}

fn yaml<T: serde::de::DeserializeOwned>(text: &str, origin: &str) -> Result<T, DataError> {
    serde_saphyr::from_str(text).map_err(|source| DataError::Yaml {
        origin: origin.to_owned(),
        source: Box::new(source),
    })
}

/// A broken rule of the data in `origin`.
fn rule(origin: &str, rule: String) -> DataError {
    DataError::Rule {
        origin: origin.to_owned(),
        rule,
    }
}

impl Program {
    /// Reads and checks program data.
    pub fn from_yaml(text: &str, origin: &str) -> Result<Program, DataError> {
        let p: Program = yaml(text, origin)?;
        if p.window.opens > p.window.closes {
            return Err(rule(origin, "the window closes before it opens".into()));
        }
        if p.subsidy.rate_percent > 100 {
            return Err(rule(origin, "subsidy.rate_percent is over 100".into()));
        }
        if hex::decode(&p.invitation_code.salt).is_err()
            || hex::decode(&p.invitation_code.sha256).map(|h| h.len()) != Ok(32)
        {
            return Err(rule(
                origin,
                "invitation_code needs a hex salt and a 64-hex-digit sha256".into(),
            ));
        }
        let mut ids = std::collections::HashSet::new();
        for prod in &p.products {
            if !ids.insert(&prod.id) {
                return Err(rule(
                    origin,
                    format!("two products have the id `{}`", prod.id),
                ));
            }
        }
        Ok(p)
    }
    /// The product with `id`.
    pub fn product(&self, id: &str) -> Option<&Product> {
        self.products.iter().find(|p| p.id == id)
    }
}

impl Registry {
    /// Reads and checks a registry: every code and corporate number valid, no code twice.
    pub fn from_yaml(text: &str, origin: &str) -> Result<Registry, DataError> {
        let r: Registry = yaml(text, origin)?;
        let mut seen = std::collections::HashSet::new();
        for i in &r.institutions {
            MedicalCode::parse(&i.code)
                .map_err(|e| rule(origin, format!("institution {}: the code {e}", i.code)))?;
            if !seen.insert(&i.code) {
                return Err(rule(
                    origin,
                    format!("institution {} is listed twice", i.code),
                ));
            }
            if let Some(n) = &i.corporate_number {
                check_corporate_number(n).map_err(|e| {
                    rule(
                        origin,
                        format!("institution {}: the corporate number {e}", i.code),
                    )
                })?;
            }
        }
        Ok(r.indexed())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_and_windows() {
        let w = Window {
            opens: Day::parse("2025-09-19").unwrap(),
            closes: Day::parse("2026-01-31").unwrap(),
        };
        assert!(w.contains(Day::parse("2025-12-31").unwrap()));
        assert!(!w.contains(Day::parse("2026-02-01").unwrap()));
        assert!(Day::parse("2025-02-29").is_err());
        assert!(Day::parse("2024-02-29").is_ok());
        assert!(Day::parse("2025-9-19").is_err());
    }

    #[test]
    fn the_code_is_only_a_hash() {
        let h = CodeHash::of(b"salt", "KZ7Q2M");
        assert!(!format!("{h:?}").contains("KZ7Q2M"));
        assert!(!h.sha256.contains("KZ7Q2M"));
        assert!(h.matches(&Secret::new("KZ7Q2M".into())));
        assert!(!h.matches(&Secret::new("KZ7Q2N".into())));
        assert!(!h.matches(&Secret::new(String::new())));
    }

    #[test]
    fn subsidy_arithmetic() {
        let s = Subsidy {
            rate_percent: 50,
            cap_yen: 5_500,
            per_institution: 1,
        };
        assert_eq!(s.on(9_801), 4_900);
        assert_eq!(s.on(14_000), 5_500);
        assert_eq!(s.on(0), 0);
    }
}
