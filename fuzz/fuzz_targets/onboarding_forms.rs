//! The onboarding rules through the sans-IO service: registration forms as the HTML form posts
//! them (URL-encoded), the website step and orders, in any order. No panic; an opened account
//! holds its fields normalised (normalising again changes nothing) and a valid institution
//! code; the same form again is a duplicate, never a second account; no error message echoes
//! the invitation code; an order's total is its price less a subsidy no larger than the price.
#![no_main]

use arbitrary::Arbitrary;
use kazasu_onboarding::normalize::normalize;
use kazasu_onboarding::program::{Day, Program, Registry};
use kazasu_onboarding::service::{Onboarding, Ordered, Registration, RegistrationForm};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

const PROGRAM: &str = include_str!("../../scenarios/onboarding/program.data.yaml");
const REGISTRY: &str = include_str!("../../scenarios/onboarding/registry.data.yaml");

#[derive(Arbitrary, Debug)]
enum Op<'a> {
    /// A registration form body (`name=…&postal_code=…`) from `client`.
    Register {
        body: &'a [u8],
        client: u8,
    },
    /// A registration from a valid form with fields replaced.
    Fields {
        name: &'a str,
        postal_code: &'a str,
        email: &'a str,
        business: &'a str,
        code: &'a str,
    },
    Website {
        account: u8,
        url: Option<&'a str>,
    },
    Order {
        account: u8,
        product: &'a str,
    },
    /// Time passes (seconds, for the wrong-code limiter).
    Wait(u16),
}

fn service() -> Onboarding {
    static PARTS: OnceLock<(Program, Registry)> = OnceLock::new();
    let (p, r) = PARTS.get_or_init(|| {
        (
            Program::from_yaml(PROGRAM, "program").expect("the bundled program"),
            Registry::from_yaml(REGISTRY, "registry").expect("the bundled registry"),
        )
    });
    Onboarding::new(p.clone(), r.clone())
}

fuzz_target!(|ops: Vec<Op<'_>>| {
    let mut s = service();
    let today = Day::parse("2025-10-01").expect("a day");
    let mut now = 1_000_000u64;
    let mut opened: Vec<String> = Vec::new();
    for op in ops.iter().take(32) {
        let form = match op {
            Op::Register { body, client: _ } => {
                kazasu_fuzz::planted(body);
                serde_urlencoded::from_bytes::<RegistrationForm>(body).ok()
            }
            Op::Fields {
                name,
                postal_code,
                email,
                business,
                code,
            } => {
                kazasu_fuzz::planted(name.as_bytes());
                serde_urlencoded::from_str::<RegistrationForm>(&format!(
                    "name={}&postal_code={}&contact_email={}&business_type={}&invitation_code={}",
                    enc(name),
                    enc(postal_code),
                    enc(email),
                    enc(business),
                    enc(code)
                ))
                .ok()
            }
            Op::Website { account, url } => {
                if let Some(id) = pick(&opened, *account) {
                    let _ = s.set_website(&id, *url);
                }
                None
            }
            Op::Order { account, product } => {
                if let Some(id) = pick(&opened, *account)
                    && let Ordered::Placed(o) = s.order(&id, product, today)
                {
                    assert!(o.subsidy_yen <= o.price_yen);
                    assert_eq!(o.total_yen, o.price_yen - o.subsidy_yen);
                }
                None
            }
            Op::Wait(secs) => {
                now += u64::from(*secs);
                None
            }
        };
        let Some(form) = form else { continue };
        let client = match op {
            Op::Register { client, .. } => format!("10.0.0.{client}"),
            _ => "10.0.0.1".into(),
        };
        let (result, _notes) = s.register(&form, &client, now, today);
        let code = form
            .invitation_code
            .as_ref()
            .map(|c| c.expose().clone())
            .unwrap_or_default();
        // A code with an upper-case letter and a digit cannot occur in the fixed messages
        // by chance: if a refusal shows it, the refusal echoes it.
        let distinctive = code.chars().count() >= 4
            && code.chars().any(|c| c.is_ascii_uppercase())
            && code.chars().any(|c| c.is_ascii_digit());
        if let (true, Registration::Rejected(errors)) = (distinctive, &result) {
            let shown = format!("{errors:?}");
            assert!(
                !shown.contains(&code),
                "the invitation code is echoed: {shown}"
            );
        }
        if let Registration::Opened(a) = &result {
            assert!(
                !opened.contains(&a.id),
                "account id {} handed out twice",
                a.id
            );
            assert_eq!(
                normalize("name", &a.name).text,
                a.name,
                "the stored name is not normalised"
            );
            kazasu_onboarding::codes::MedicalCode::parse(&a.institution_code)
                .expect("an opened account's institution code is valid");
            opened.push(a.id.clone());
            let (again, _) = s.register(&form, &client, now, today);
            assert!(
                matches!(
                    again,
                    Registration::Duplicate { .. } | Registration::RateLimited { .. }
                ),
                "the same form twice opened {again:?}"
            );
        }
    }
});

fn pick(opened: &[String], n: u8) -> Option<String> {
    (!opened.is_empty()).then(|| opened[usize::from(n) % opened.len()].clone())
}

fn enc(s: &str) -> String {
    serde_urlencoded::to_string([("v", s)]).expect("encodes")[2..].to_string()
}
