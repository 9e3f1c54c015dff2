//! Showing text that came from outside (a bundle, a profile, a request's path) on a terminal or a
//! page: control characters and bidirectional overrides escaped, so that it cannot move the
//! cursor, colour a line or reorder what is around it.

/// `text` with every control character (and every bidirectional override) escaped, so that
/// what a bundle says cannot move the cursor, colour a line or reorder it on a terminal.
pub fn shown(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        let bidi = matches!(c, '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}');
        if c.is_control() || bidi {
            out.extend(c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_and_bidi_overrides_are_escaped_and_the_rest_kept() {
        assert_eq!(shown("ok\x1b[32m ok"), "ok\\u{1b}[32m ok");
        assert_eq!(shown("a\u{202E}b\nc"), "a\\u{202e}b\\u{a}c");
        assert_eq!(shown("a\0b\u{200F}"), "a\\u{0}b\\u{200f}");
        assert_eq!(shown("typical-424k 読み取り"), "typical-424k 読み取り");
    }
}
