//! `${…}` variables in scenario text: the one scanner every reader of a template uses, so that a
//! name kazasu does not know is an error wherever it is written — in hex, in text, at load and
//! at run time — and never silently becomes nothing or stays literal.
//!
//! - `${secrets.NAME}`: a secret of the scenario (or its identity's PINs, or the environment
//!   variable `KAZASU_SECRET_NAME`); never printed.
//! - `${saved.NAME}`: data a card step saved earlier in the case (hex templates only).
//! - `${account}`: the account the case registered last (onboarding `http` paths only).

/// A template that cannot be read or filled in: what is wrong, and what may be written instead.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum VariableError {
    /// `${` with no `}` after it.
    #[error("`{template}`: `${{` without a closing `}}`")]
    Unclosed {
        /// The template.
        template: String,
    },
    /// A name that is no variable.
    #[error("unknown variable `${{{name}}}`: here you can write {}", list(allowed))]
    Unknown {
        /// What was written between `${` and `}`.
        name: String,
        /// What the place accepts.
        allowed: &'static [Kind],
    },
    /// `${secrets.}` or `${saved.}`.
    #[error("`${{{name}}}` names nothing: write {}", list(allowed))]
    Empty {
        /// What was written.
        name: String,
        /// What the place accepts.
        allowed: &'static [Kind],
    },
    /// A variable the place does not accept.
    #[error(
        "`${{{name}}}` cannot be used here: here you can write {}",
        list(allowed)
    )]
    NotHere {
        /// What was written.
        name: String,
        /// What the place accepts.
        allowed: &'static [Kind],
    },
    /// A secret given nowhere.
    #[error(
        "no secret `{name}`: give it in the scenario's `secrets` or as the environment variable \
         KAZASU_SECRET_{}; known: {}",
        name.to_ascii_uppercase(),
        known.join(", ")
    )]
    NoSecret {
        /// Its name.
        name: String,
        /// The secrets the case has.
        known: Vec<String>,
    },
    /// `${saved.NAME}` before any step saved NAME.
    #[error("nothing was saved as `{0}` before this step")]
    NothingSaved(String),
    /// `${account}` before any account was registered.
    #[error("no account yet: register one in an earlier step, or name it")]
    NoAccount,
}

/// A variable named in a template.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Var<'a> {
    /// `${secrets.NAME}`.
    Secret(&'a str),
    /// `${saved.NAME}`.
    Saved(&'a str),
    /// `${account}`.
    Account,
}

impl Var<'_> {
    fn kind(&self) -> Kind {
        match self {
            Var::Secret(_) => Kind::Secret,
            Var::Saved(_) => Kind::Saved,
            Var::Account => Kind::Account,
        }
    }
}

/// Which variables a place accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `${secrets.NAME}`.
    Secret,
    /// `${saved.NAME}`.
    Saved,
    /// `${account}`.
    Account,
}

impl Kind {
    fn written(self) -> &'static str {
        match self {
            Kind::Secret => "${secrets.NAME}",
            Kind::Saved => "${saved.NAME}",
            Kind::Account => "${account}",
        }
    }
}

/// Where a template is written, and so which variables it may use.
pub mod place {
    use super::Kind;
    /// APDU hex, AIDs, `digest_of`, expected data.
    pub const HEX: &[Kind] = &[Kind::Secret, Kind::Saved];
    /// PINs and onboarding form fields and bodies.
    pub const TEXT: &[Kind] = &[Kind::Secret];
    /// The path of an onboarding `http` step.
    pub const PATH: &[Kind] = &[Kind::Account];
}

/// A piece of a template.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Part<'a> {
    /// Text as written.
    Text(&'a str),
    /// A variable.
    Var(Var<'a>),
}

/// Splits `template` into text and variables, refusing an unclosed `${`, an empty name, and any
/// variable that `allowed` does not list.
pub fn parse<'a>(
    template: &'a str,
    allowed: &'static [Kind],
) -> Result<Vec<Part<'a>>, VariableError> {
    let mut parts = Vec::new();
    let mut rest = template;
    while let Some(i) = rest.find("${") {
        if i > 0 {
            parts.push(Part::Text(&rest[..i]));
        }
        let Some(len) = rest[i..].find('}') else {
            return Err(VariableError::Unclosed {
                template: template.to_owned(),
            });
        };
        let name = &rest[i + 2..i + len];
        let var = if let Some(n) = name.strip_prefix("secrets.") {
            Var::Secret(n)
        } else if let Some(n) = name.strip_prefix("saved.") {
            Var::Saved(n)
        } else if name == "account" {
            Var::Account
        } else {
            return Err(VariableError::Unknown {
                name: name.to_owned(),
                allowed,
            });
        };
        if matches!(var, Var::Secret("") | Var::Saved("")) {
            return Err(VariableError::Empty {
                name: name.to_owned(),
                allowed,
            });
        }
        if !allowed.contains(&var.kind()) {
            return Err(VariableError::NotHere {
                name: name.to_owned(),
                allowed,
            });
        }
        parts.push(Part::Var(var));
        rest = &rest[i + len + 1..];
    }
    if !rest.is_empty() {
        parts.push(Part::Text(rest));
    }
    Ok(parts)
}

fn list(allowed: &[Kind]) -> String {
    if allowed.is_empty() {
        return "no variables".into();
    }
    allowed
        .iter()
        .map(|k| k.written())
        .collect::<Vec<_>>()
        .join(" or ")
}

/// Replaces each variable of `template` with what `resolve` gives for it.
pub fn substitute(
    template: &str,
    allowed: &'static [Kind],
    mut resolve: impl FnMut(Var<'_>) -> Result<String, VariableError>,
) -> Result<String, VariableError> {
    let mut out = String::with_capacity(template.len());
    for part in parse(template, allowed)? {
        match part {
            Part::Text(t) => out.push_str(t),
            Part::Var(v) => out.push_str(&resolve(v)?),
        }
    }
    Ok(out)
}

/// Whether `template` names a secret (it is then shown as `***`). A template that does not
/// parse names none that could be substituted.
pub fn names_secret(template: &str) -> bool {
    parse(template, &[Kind::Secret, Kind::Saved, Kind::Account])
        .is_ok_and(|parts| parts.iter().any(|p| matches!(p, Part::Var(Var::Secret(_)))))
}

/// The template with everything but its variables removed: what must be hex in a hex template.
pub fn without_vars(template: &str, allowed: &'static [Kind]) -> Result<String, VariableError> {
    Ok(parse(template, allowed)?
        .into_iter()
        .filter_map(|p| match p {
            Part::Text(t) => Some(t),
            Part::Var(_) => None,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_text_and_variables() {
        assert_eq!(
            parse("00 20 ${secrets.pin} ${saved.x}", place::HEX).unwrap(),
            vec![
                Part::Text("00 20 "),
                Part::Var(Var::Secret("pin")),
                Part::Text(" "),
                Part::Var(Var::Saved("x")),
            ]
        );
        assert_eq!(parse("", place::HEX).unwrap(), vec![]);
    }

    #[test]
    fn unknown_and_misplaced_variables_are_errors_everywhere() {
        for allowed in [place::HEX, place::TEXT, place::PATH] {
            let e = parse("a ${nope} b", allowed).unwrap_err();
            assert!(e.to_string().contains("unknown variable `${nope}`"), "{e}");
            assert!(matches!(
                parse("${secrets.x", allowed),
                Err(VariableError::Unclosed { .. })
            ));
        }
        assert!(
            parse("${saved.x}", place::TEXT)
                .unwrap_err()
                .to_string()
                .contains("cannot be used here")
        );
        assert!(parse("${account}", place::HEX).is_err());
        assert!(matches!(
            parse("${secrets.}", place::TEXT),
            Err(VariableError::Empty { .. })
        ));
    }

    #[test]
    fn substitutes_and_tells_secrets() {
        let out = substitute("/api/accounts/${account}/website", place::PATH, |v| {
            assert_eq!(v, Var::Account);
            Ok("A000001".into())
        })
        .unwrap();
        assert_eq!(out, "/api/accounts/A000001/website");
        assert!(names_secret("x ${secrets.code}"));
        assert!(!names_secret("${saved.code}"));
        assert_eq!(
            without_vars("00 ${saved.a} 01", place::HEX).unwrap(),
            "00  01"
        );
    }
}
