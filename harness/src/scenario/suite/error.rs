//! The error a scenario file gets when it cannot be loaded: the file, where in it, what is
//! wrong and how to fix it.

use std::fmt;

/// A problem with scenario input, located as precisely as the input allows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InputError {
    /// File (or `bundled:PATH`).
    pub file: String,
    /// 1-based line and column, when known.
    pub at: Option<(u64, u64)>,
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub hint: Option<String>,
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.at {
            Some((line, col)) => write!(f, "{}:{line}:{col}: {}", self.file, self.message)?,
            None => write!(f, "{}: {}", self.file, self.message)?,
        }
        if let Some(h) = &self.hint {
            write!(f, "\n  hint: {h}")?;
        }
        Ok(())
    }
}

impl std::error::Error for InputError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_reads_file_line_column_then_the_hint() {
        let e = InputError {
            file: "s.yaml".into(),
            at: Some((3, 7)),
            message: "unknown step `tapp`".into(),
            hint: Some("write `tap`".into()),
        };
        assert_eq!(
            e.to_string(),
            "s.yaml:3:7: unknown step `tapp`\n  hint: write `tap`"
        );
        let e = InputError {
            at: None,
            hint: None,
            ..e
        };
        assert_eq!(e.to_string(), "s.yaml: unknown step `tapp`");
    }
}
