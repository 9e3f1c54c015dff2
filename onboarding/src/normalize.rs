//! Form input as Japanese forms receive it — full-width digits and letters (０-９, Ａ-Ｚ),
//! ideographic spaces, stray blanks — brought to one form (Unicode NFKC, trimmed, inner runs of
//! blanks made one space) with a note of what changed, so that a user is told, not surprised.

use unicode_normalization::UnicodeNormalization;

/// Normalised text and what was done to it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Normalized {
    /// The text after normalisation.
    pub text: String,
    /// What changed, for the user (English); empty when nothing did.
    pub notes: Vec<String>,
}

/// NFKC, trimmed, runs of blanks made one space.
pub fn normalize(field: &str, input: &str) -> Normalized {
    let mut notes = Vec::new();
    let nfkc: String = input.nfkc().collect();
    if nfkc != input {
        notes.push(format!(
            "{field}: full-width or compatibility characters were converted (NFKC)"
        ));
    }
    let mut text = String::with_capacity(nfkc.len());
    for word in nfkc.split_whitespace() {
        if !text.is_empty() {
            text.push(' ');
        }
        text.push_str(word);
    }
    if text != nfkc.trim() {
        notes.push(format!("{field}: runs of spaces were made one"));
    } else if text.len() != nfkc.len() {
        notes.push(format!("{field}: leading or trailing spaces were removed"));
    }
    Normalized { text, notes }
}

/// A code field (no spaces at all, upper case): `ａｂ１２ ３４` → `AB1234`.
pub fn normalize_code(field: &str, input: &str) -> Normalized {
    let mut n = normalize(field, input);
    let compact: String = n
        .text
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .collect();
    if compact != n.text {
        n.notes
            .push(format!("{field}: spaces and hyphens were removed"));
    }
    let upper = compact.to_ascii_uppercase();
    if upper != compact {
        n.notes
            .push(format!("{field}: lower-case letters were upper-cased"));
    }
    n.text = upper;
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_width_input_is_converted_and_said() {
        let n = normalize("name", "　かざす医院　３４１０７１２３６２ ");
        assert_eq!(n.text, "かざす医院 3410712362");
        assert!(n.notes.iter().any(|m| m.contains("NFKC")), "{:?}", n.notes);
        let c = normalize_code("invitation_code", "ｋｚ７ｑ ２ｍ");
        assert_eq!(c.text, "KZ7Q2M");
        assert_eq!(c.notes.len(), 3, "{:?}", c.notes);
        assert!(normalize("name", "plain").notes.is_empty());
    }
}
