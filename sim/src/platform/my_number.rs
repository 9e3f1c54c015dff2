//! The My Number (個人番号) check digit: 12 digits, the last a check digit over the first 11.

/// The check digit of an 11-digit base, or `None` if `base` is not 11 ASCII digits.
///
/// With Pn the n-th digit counted from the right and Qn = n + 1 (n ≤ 6) or n − 5 (n ≥ 7):
/// r = Σ Pn × Qn mod 11; the check digit is 0 when r ≤ 1, else 11 − r.
pub fn check_digit(base: &str) -> Option<u8> {
    let digits = base.as_bytes();
    if digits.len() != 11 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, d)| {
            let n = i as u32 + 1;
            let q = if n <= 6 { n + 1 } else { n - 5 };
            u32::from(d - b'0') * q
        })
        .sum();
    let r = sum % 11;
    Some(if r <= 1 { 0 } else { (11 - r) as u8 })
}

/// `true` when `number` is 12 ASCII digits whose last digit is the check digit of the others.
pub fn is_valid(number: &str) -> bool {
    number.len() == 12
        && check_digit(&number[..11]).is_some_and(|cd| number.as_bytes()[11] == b'0' + cd)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn worked_example_from_the_reference() {
        assert_eq!(check_digit("12345678901"), Some(8));
        assert!(is_valid("123456789018"));
        assert!(!is_valid("123456789017"));
        assert!(!is_valid("12345678901"));
        assert!(!is_valid("12345678901a"));
        assert_eq!(check_digit("1234567890"), None);
    }

    proptest! {
        #[test]
        fn every_single_digit_change_is_caught(base in "[0-9]{11}", pos in 0usize..12, delta in 1u8..10) {
            let cd = check_digit(&base).unwrap();
            let mut n: Vec<u8> = format!("{base}{cd}").into_bytes();
            prop_assert!(is_valid(std::str::from_utf8(&n).unwrap()));
            n[pos] = b'0' + (n[pos] - b'0' + delta) % 10;
            // mod 11 with weights 2..7 catches every single-digit change except those that land
            // on the r ≤ 1 fold (0 and 1 both give check digit 0).
            let changed = std::str::from_utf8(&n).unwrap();
            if is_valid(changed) {
                let new_cd = check_digit(&changed[..11]).unwrap();
                prop_assert_eq!(new_cd, 0);
            }
        }
    }
}
