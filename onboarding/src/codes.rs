//! The identifiers of the onboarding flow and their check digits: the 10-digit medical
//! institution code (医療機関コード) and the 13-digit corporate number (法人番号), as
//! `docs/onboarding.md` gives them.

use std::fmt;

/// Why an identifier is not valid.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CodeError {
    /// Not the right number of digits (or not digits at all).
    #[error("has not the right number of digits")]
    Shape,
    /// The check digit does not match the other digits.
    #[error("fails its check digit")]
    CheckDigit,
}

/// The kind of practice a medical institution code names (its 3rd digit).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FeeType {
    /// 1: medical (医科).
    Medical,
    /// 3: dental (歯科).
    Dental,
    /// 4: pharmacy (調剤).
    Pharmacy,
    /// Any other digit: not an insurance medical institution or pharmacy.
    Other,
}

impl FeeType {
    fn of(digit: u8) -> FeeType {
        match digit {
            1 => FeeType::Medical,
            3 => FeeType::Dental,
            4 => FeeType::Pharmacy,
            _ => FeeType::Other,
        }
    }
}

impl fmt::Display for FeeType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FeeType::Medical => "medical",
            FeeType::Dental => "dental",
            FeeType::Pharmacy => "pharmacy",
            FeeType::Other => "other",
        })
    }
}

/// A valid medical institution code.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct MedicalCode {
    digits: [u8; 10],
}

/// The check digit of the first nine digits of a medical institution code: weights 2,1,2,…
/// from the rightmost of the nine, two-digit products replaced by their digit sum, then
/// (10 − sum mod 10) mod 10.
pub fn medical_check_digit(nine: &[u8; 9]) -> u8 {
    let mut sum = 0u32;
    for (i, d) in nine.iter().rev().enumerate() {
        let p = u32::from(*d) * if i % 2 == 0 { 2 } else { 1 };
        sum += if p >= 10 { p / 10 + p % 10 } else { p };
    }
    ((10 - sum % 10) % 10) as u8
}

fn digits<const N: usize>(text: &str) -> Result<[u8; N], CodeError> {
    let bytes = text.as_bytes();
    if bytes.len() != N || !bytes.iter().all(u8::is_ascii_digit) {
        return Err(CodeError::Shape);
    }
    let mut out = [0u8; N];
    for (o, b) in out.iter_mut().zip(bytes) {
        *o = b - b'0';
    }
    Ok(out)
}

impl MedicalCode {
    /// Parses and checks a 10-digit code (ASCII digits; normalise full-width input first).
    pub fn parse(text: &str) -> Result<MedicalCode, CodeError> {
        let d: [u8; 10] = digits(text)?;
        let nine: [u8; 9] = d[..9].try_into().expect("nine digits");
        if medical_check_digit(&nine) != d[9] {
            return Err(CodeError::CheckDigit);
        }
        Ok(MedicalCode { digits: d })
    }
    /// The prefecture code (01–47, or 51–97 where a prefecture ran out of numbers).
    pub fn prefecture(&self) -> u8 {
        self.digits[0] * 10 + self.digits[1]
    }
    /// The kind of practice.
    pub fn fee_type(&self) -> FeeType {
        FeeType::of(self.digits[2])
    }
    /// Published rules with historical exceptions: notes, not rejections.
    pub fn warnings(&self) -> Vec<String> {
        let mut w = Vec::new();
        let p = self.prefecture();
        if !(1..=47).contains(&p) && !(51..=97).contains(&p) {
            w.push(format!("prefecture code {p:02} is outside 01–47 and 51–97"));
        }
        let number = self.digits[5..9]
            .iter()
            .fold(0u32, |n, d| n * 10 + u32::from(*d));
        let range = match self.fee_type() {
            FeeType::Medical => Some(1000..=2999),
            FeeType::Dental => Some(3000..=3999),
            FeeType::Pharmacy => Some(4000..=4999),
            FeeType::Other => None,
        };
        if let Some(r) = range
            && !r.contains(&number)
        {
            w.push(format!(
                "institution number {number:04} is outside the usual {}–{} for {}",
                r.start(),
                r.end(),
                self.fee_type()
            ));
        }
        if self.digits[6..8] == [9, 0] || self.digits[7..9] == [9, 0] {
            w.push("institution numbers with 90 in them are not normally issued".into());
        }
        w
    }
}

impl fmt::Display for MedicalCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for d in self.digits {
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

/// The check digit (the first digit) of a corporate number from its 12-digit base:
/// 9 − (Σ Pn × Qn mod 9), Pn the n-th digit from the right, Qn 1 for odd n and 2 for even n.
pub fn corporate_check_digit(base: &[u8; 12]) -> u8 {
    let sum: u32 = base
        .iter()
        .rev()
        .enumerate()
        .map(|(i, d)| u32::from(*d) * if i % 2 == 0 { 1 } else { 2 })
        .sum();
    (9 - sum % 9) as u8
}

/// Checks a 13-digit corporate number (法人番号).
pub fn check_corporate_number(text: &str) -> Result<(), CodeError> {
    let d: [u8; 13] = digits(text)?;
    let base: [u8; 12] = d[1..].try_into().expect("twelve digits");
    if corporate_check_digit(&base) != d[0] {
        return Err(CodeError::CheckDigit);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_published_examples() {
        assert_eq!(medical_check_digit(&[3, 4, 1, 0, 7, 1, 2, 3, 6]), 2);
        let c = MedicalCode::parse("3410712362").unwrap();
        assert_eq!((c.prefecture(), c.fee_type()), (34, FeeType::Medical));
        assert!(MedicalCode::parse("0110113719").is_ok());
        assert_eq!(MedicalCode::parse("3410712363"), Err(CodeError::CheckDigit));
        assert_eq!(MedicalCode::parse("341071236"), Err(CodeError::Shape));
        assert_eq!(MedicalCode::parse("34107123６2"), Err(CodeError::Shape));
        for n in ["7123456789012", "4011001098993", "2120901007402"] {
            assert_eq!(check_corporate_number(n), Ok(()), "{n}");
        }
        assert_eq!(
            check_corporate_number("8123456789012"),
            Err(CodeError::CheckDigit)
        );
    }

    fn medical_code() -> impl Strategy<Value = [u8; 10]> {
        proptest::array::uniform9(0u8..10).prop_map(|nine| {
            let mut d = [0u8; 10];
            d[..9].copy_from_slice(&nine);
            d[9] = medical_check_digit(&nine);
            d
        })
    }

    fn text(d: &[u8]) -> String {
        d.iter().map(|x| char::from(b'0' + x)).collect()
    }

    proptest! {
        #[test]
        fn every_generated_medical_code_passes(d in medical_code()) {
            prop_assert!(MedicalCode::parse(&text(&d)).is_ok());
        }

        #[test]
        fn every_single_digit_change_fails(d in medical_code(), at in 0usize..10, by in 1u8..10) {
            let mut changed = d;
            changed[at] = (d[at] + by) % 10;
            prop_assert_eq!(MedicalCode::parse(&text(&changed)), Err(CodeError::CheckDigit));
        }

        /// The Luhn-like weights catch every adjacent transposition except 0↔9 (whose weighted
        /// digit sums are equal): those are the ones the algorithm can catch.
        #[test]
        fn adjacent_transpositions_are_caught(d in medical_code(), at in 0usize..9) {
            let (a, b) = (d[at], d[at + 1]);
            prop_assume!(a != b && !(a.min(b) == 0 && a.max(b) == 9));
            let mut swapped = d;
            swapped.swap(at, at + 1);
            prop_assert_eq!(MedicalCode::parse(&text(&swapped)), Err(CodeError::CheckDigit));
        }

        #[test]
        fn corporate_numbers(base in proptest::array::uniform12(0u8..10), at in 0usize..13, by in 1u8..10) {
            let mut d = [0u8; 13];
            d[1..].copy_from_slice(&base);
            d[0] = corporate_check_digit(&base);
            prop_assert_eq!(check_corporate_number(&text(&d)), Ok(()));
            let mut changed = d;
            changed[at] = (d[at] + by) % 10;
            // Turning a 0 into a 9 (or back) moves the sum by 9 or 18: invisible modulo 9, the
            // algorithm's one blind spot for single changes.
            prop_assume!(!(at > 0 && d[at].min(changed[at]) == 0 && d[at].max(changed[at]) == 9));
            prop_assert_eq!(check_corporate_number(&text(&changed)), Err(CodeError::CheckDigit));
        }
    }
}
