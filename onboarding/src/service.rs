//! The onboarding service's rules, sans IO: registration (the name with its institution code,
//! the business-type branch, the invitation code that the form calls optional but the program
//! requires), the optional website step, orders with the subsidy, commissioning, and the
//! per-client limit on wrong invitation codes. Time is given by the caller; storage is the
//! caller's (the state here can be saved and restored whole).

use super::codes::{CodeError, FeeType, MedicalCode, check_corporate_number};
use super::normalize::{normalize, normalize_code};
use super::program::{BusinessType, Day, Program, Registry, Stock};
use kazasu_sim::Secret;
use std::collections::{BTreeMap, HashMap, VecDeque};

/// Longest accepted input, characters, per field.
pub const MAX_FIELD: usize = 200;
/// Longest accepted website URL.
pub const MAX_URL: usize = 2_000;

/// A field that failed, with messages in Japanese and English. Never holds the input itself.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct FieldError {
    /// The form field.
    pub field: String,
    /// A stable code (`name.code_check_digit`).
    pub code: String,
    /// Japanese message.
    pub ja: String,
    /// English message.
    pub en: String,
}

fn field_error(field: &str, code: &str, ja: &str, en: &str) -> FieldError {
    FieldError {
        field: field.into(),
        code: format!("{field}.{code}"),
        ja: ja.into(),
        en: en.into(),
    }
}

/// How the applicant proves eligibility.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verification {
    /// The program's invitation code.
    InvitationCode,
    /// Upload documents (tax return, registry extract) for a manual review.
    Documents,
}

/// The registration form as submitted (before normalisation).
#[derive(Clone, Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistrationForm {
    /// 法人名・個人事業主名・屋号: the registered name followed by the 10-digit code.
    #[serde(default)]
    pub name: String,
    /// 7-digit postal code (a hyphen is fine).
    #[serde(default)]
    pub postal_code: String,
    /// A contact e-mail address.
    #[serde(default)]
    pub contact_email: String,
    /// `corporation` or `sole_proprietor`.
    #[serde(default)]
    pub business_type: Option<String>,
    /// How eligibility is shown (default: the invitation code).
    #[serde(default)]
    pub verification: Option<Verification>,
    /// The invitation code (optional on the form, required by the program).
    #[serde(default)]
    pub invitation_code: Option<Secret<String>>,
    /// 法人番号, corporations only (optional).
    #[serde(default)]
    pub corporate_number: Option<String>,
}

/// Where an account stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountStatus {
    /// Registered with the invitation code: may order.
    Active,
    /// Registered without the code: documents await a manual review; may not order yet.
    PendingDocumentReview,
    /// A reader was bought and read a phone: onboarding is complete.
    Ready,
}

/// A business account.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Account {
    /// `A000001`…
    pub id: String,
    /// The institution's code.
    pub institution_code: String,
    /// The name as registered (normalised).
    pub name: String,
    /// Corporation or sole proprietor.
    pub business_type: BusinessType,
    /// Where it stands.
    pub status: AccountStatus,
    /// The website step: `None` not answered yet, `Some("")` skipped, else the URL.
    pub website: Option<String>,
    /// The day it was opened.
    pub opened: Day,
}

/// An order of a reader.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Order {
    /// `O000001`…
    pub id: String,
    /// The account.
    pub account_id: String,
    /// The product.
    pub product_id: String,
    /// Price, yen.
    pub price_yen: u32,
    /// Subsidy applied, yen.
    pub subsidy_yen: u32,
    /// What the institution pays, yen.
    pub total_yen: u32,
    /// The day.
    pub day: Day,
    /// The kazasu reader profile of the product.
    pub reader_profile: String,
}

/// What a registration came to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Registration {
    /// An account was opened (active, or pending document review).
    Opened(Account),
    /// Refused, with every field that failed.
    Rejected(Vec<FieldError>),
    /// The institution already has an account.
    Duplicate {
        /// Its account.
        account_id: String,
    },
    /// Too many wrong invitation codes from this client: try again after this many seconds.
    RateLimited {
        /// Seconds to wait.
        retry_after_s: u64,
    },
}

/// What an order came to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ordered {
    /// Placed.
    Placed(Order),
    /// Refused.
    Rejected(Vec<FieldError>),
    /// No such account.
    NoAccount,
}

/// The id after the highest of `ids` (`A000007` after `A000006`): never one in use, whatever
/// was forgotten in between.
///
/// `highest` keeps the highest number between calls (`None`: not known, found by looking at
/// every id), so that a service with many accounts does not look at them all for each new one;
/// whoever removes an id sets it back to `None`.
fn next_id<'a>(
    prefix: char,
    ids: impl Iterator<Item = &'a String>,
    highest: &mut Option<u64>,
) -> String {
    let h = highest.unwrap_or_else(|| {
        ids.filter_map(|id| id.strip_prefix(prefix)?.parse::<u64>().ok())
            .max()
            .unwrap_or(0)
    });
    *highest = Some(h + 1);
    format!("{prefix}{:06}", h + 1)
}

/// Wrong-code attempts per client in a sliding window.
#[derive(Clone, Debug)]
pub struct Limiter {
    /// Wrong codes allowed in the window.
    pub max_wrong: usize,
    /// The window, seconds.
    pub window_s: u64,
    attempts: HashMap<String, VecDeque<u64>>,
}

impl Limiter {
    /// A limiter allowing `max_wrong` wrong codes per `window_s` seconds per client.
    pub fn new(max_wrong: usize, window_s: u64) -> Limiter {
        Limiter {
            max_wrong,
            window_s,
            attempts: HashMap::new(),
        }
    }
    fn prune(&mut self, client: &str, now_s: u64) -> Option<&mut VecDeque<u64>> {
        let q = self.attempts.get_mut(client)?;
        while q.front().is_some_and(|t| now_s >= t + self.window_s) {
            q.pop_front();
        }
        Some(q)
    }
    /// `Err(seconds)` when `client` must wait before trying a code again.
    pub fn check(&mut self, client: &str, now_s: u64) -> Result<(), u64> {
        let (max, window) = (self.max_wrong, self.window_s);
        match self.prune(client, now_s) {
            Some(q) if q.len() >= max => {
                let oldest = *q.front().expect("a full queue");
                Err((oldest + window).saturating_sub(now_s).max(1))
            }
            _ => Ok(()),
        }
    }
    /// Counts a wrong code.
    pub fn wrong(&mut self, client: &str, now_s: u64) {
        self.prune(client, now_s);
        let q = self.attempts.entry(client.to_string()).or_default();
        q.push_back(now_s);
        // Bounded memory per client: only the newest attempts matter.
        while q.len() > self.max_wrong.max(1) {
            q.pop_front();
        }
        // Bounded memory overall: forget clients whose attempts have all expired.
        if self.attempts.len() > 100_000 {
            let window = self.window_s;
            self.attempts
                .retain(|_, q| q.back().is_some_and(|t| now_s < t + window));
        }
    }
}

/// The service state.
#[derive(Clone, Debug)]
pub struct Onboarding {
    /// The program.
    pub program: Program,
    /// The portal registry.
    pub registry: Registry,
    accounts: BTreeMap<String, Account>,
    by_institution: HashMap<String, String>,
    orders: BTreeMap<String, Order>,
    /// The highest account and order numbers, when known (see `next_id`).
    highest_account: Option<u64>,
    highest_order: Option<u64>,
    /// The wrong-code limiter.
    pub limiter: Limiter,
}

/// Notes about input that was normalised, for the user.
pub type Notes = Vec<String>;

impl Onboarding {
    /// A service with no accounts; 5 wrong codes per client per 10 minutes.
    pub fn new(program: Program, registry: Registry) -> Onboarding {
        Onboarding {
            program,
            registry,
            accounts: BTreeMap::new(),
            by_institution: HashMap::new(),
            orders: BTreeMap::new(),
            highest_account: None,
            highest_order: None,
            limiter: Limiter::new(5, 600),
        }
    }

    /// Puts back saved accounts and orders (after a restart).
    pub fn restore(&mut self, accounts: Vec<Account>, orders: Vec<Order>) {
        (self.highest_account, self.highest_order) = (None, None);
        for a in accounts {
            self.by_institution
                .insert(a.institution_code.clone(), a.id.clone());
            self.accounts.insert(a.id.clone(), a);
        }
        for o in orders {
            self.orders.insert(o.id.clone(), o);
        }
    }

    /// Forgets every account, order and wrong-code attempt (a test service's reset).
    pub fn reset(&mut self) {
        (self.highest_account, self.highest_order) = (None, None);
        self.accounts.clear();
        self.by_institution.clear();
        self.orders.clear();
        self.limiter = Limiter::new(self.limiter.max_wrong, self.limiter.window_s);
    }

    /// Takes back an account that could not be saved.
    pub fn forget(&mut self, account_id: &str) {
        self.highest_account = None;
        if let Some(a) = self.accounts.remove(account_id) {
            self.by_institution.remove(&a.institution_code);
        }
    }

    /// Takes back an order that could not be saved.
    pub fn forget_order(&mut self, order_id: &str) {
        self.highest_order = None;
        self.orders.remove(order_id);
    }

    /// Every account, in id order.
    pub fn accounts(&self) -> impl Iterator<Item = &Account> {
        self.accounts.values()
    }
    /// An account.
    pub fn account(&self, id: &str) -> Option<&Account> {
        self.accounts.get(id)
    }
    /// The orders of an account.
    pub fn orders_of(&self, account_id: &str) -> Vec<&Order> {
        self.orders
            .values()
            .filter(|o| o.account_id == account_id)
            .collect()
    }

    /// Registers a business account for `client` (the caller's address, for the code limiter)
    /// at `now_s` (seconds) on `today`.
    pub fn register(
        &mut self,
        form: &RegistrationForm,
        client: &str,
        now_s: u64,
        today: Day,
    ) -> (Registration, Notes) {
        let mut notes = Vec::new();
        let mut errors = Vec::new();
        // Every input is bounded before anything else looks at it.
        let too_long = |field: &str, v: &str, max: usize| {
            (v.chars().count() > max).then(|| {
                field_error(
                    field,
                    "too_long",
                    &format!("{max}文字以内で入力してください。"),
                    &format!("at most {max} characters"),
                )
            })
        };
        let code_text = form.invitation_code.as_ref().map(|c| c.expose().as_str());
        for (field, v) in [
            ("name", Some(form.name.as_str())),
            ("postal_code", Some(form.postal_code.as_str())),
            ("contact_email", Some(form.contact_email.as_str())),
            ("business_type", form.business_type.as_deref()),
            ("invitation_code", code_text),
            ("corporate_number", form.corporate_number.as_deref()),
        ] {
            if let Some(e) = v.and_then(|v| too_long(field, v, MAX_FIELD)) {
                errors.push(e);
            }
        }
        if !errors.is_empty() {
            return (Registration::Rejected(errors), notes);
        }

        // The name: as registered on the portal, then the 10-digit institution code.
        let name = normalize("name", &form.name);
        notes.extend(name.notes);
        let (registered_name, code) = match name.text.rsplit_once(' ') {
            Some((n, c)) if c.len() == 10 && c.bytes().all(|b| b.is_ascii_digit()) => {
                (n.to_string(), Some(c.to_string()))
            }
            _ => {
                // The code run into the name without a space.
                let t = &name.text;
                let tail: String = t.chars().rev().take_while(char::is_ascii_digit).collect();
                if tail.len() == 10 {
                    let n = t[..t.len() - 10].trim().to_string();
                    (n, Some(tail.chars().rev().collect()))
                } else {
                    (t.clone(), None)
                }
            }
        };
        let mut institution = None;
        match &code {
            None => errors.push(field_error(
                "name",
                "code_missing",
                "ポータルの登録名の後に10桁の医療機関コードを続けて入力してください。",
                "write the name as registered on the portal followed by the 10-digit medical institution code",
            )),
            Some(c) => match MedicalCode::parse(c) {
                Err(CodeError::Shape) => unreachable!("ten digits were checked above"),
                Err(CodeError::CheckDigit) => errors.push(field_error(
                    "name",
                    "code_check_digit",
                    "医療機関コードの検証番号が一致しません。入力を確認してください。",
                    "the medical institution code's check digit does not match: check for a typo",
                )),
                Ok(mc) => {
                    notes.extend(mc.warnings().into_iter().map(|w| format!("name: {w}")));
                    match self.registry.find(c) {
                        None => errors.push(field_error(
                            "name",
                            "code_unknown",
                            "この医療機関コードはポータルに登録されていません。",
                            "no institution with this code is registered on the portal",
                        )),
                        Some(i) => {
                            if normalize("registry", &i.name).text != registered_name {
                                errors.push(field_error(
                                    "name",
                                    "mismatch",
                                    "名称がポータルの登録名と一致しません。",
                                    "the name differs from the name registered on the portal",
                                ));
                            }
                            if !self.program.eligible.contains(&mc.fee_type())
                                || mc.fee_type() == FeeType::Other
                            {
                                errors.push(field_error(
                                    "name",
                                    "ineligible",
                                    "この種別の機関は本事業の対象外です。",
                                    "institutions of this kind are not eligible for the program",
                                ));
                            }
                            institution = Some(i.clone());
                        }
                    }
                }
            },
        }

        // `100-0001` is how postal codes are written: the hyphen goes without a note.
        let written = normalize("postal_code", &form.postal_code);
        notes.extend(written.notes);
        let postal = normalize_code("postal_code", &written.text.replace('-', ""));
        notes.extend(postal.notes);
        if postal.text.len() != 7 || !postal.text.bytes().all(|b| b.is_ascii_digit()) {
            errors.push(field_error(
                "postal_code",
                "invalid",
                "郵便番号は7桁の数字で入力してください。",
                "the postal code is 7 digits",
            ));
        }
        let email = normalize("contact_email", &form.contact_email);
        notes.extend(email.notes);
        let valid_email = email
            .text
            .split_once('@')
            .is_some_and(|(l, d)| !l.is_empty() && d.contains('.') && !d.starts_with('.'))
            && !email.text.contains(' ');
        if !valid_email {
            errors.push(field_error(
                "contact_email",
                "invalid",
                "連絡先メールアドレスを確認してください。",
                "the contact e-mail address is not valid",
            ));
        }

        let business = match form
            .business_type
            .as_deref()
            .map(|b| normalize("business_type", b).text)
        {
            Some(b) if b == "corporation" || b == "法人" => Some(BusinessType::Corporation),
            Some(b) if b == "sole_proprietor" || b == "個人事業主" => {
                Some(BusinessType::SoleProprietor)
            }
            _ => {
                errors.push(field_error(
                    "business_type",
                    "required",
                    "事業形態（法人・個人事業主）を選択してください。",
                    "choose the business type: corporation or sole proprietor",
                ));
                None
            }
        };
        if let (Some(b), Some(i)) = (business, &institution)
            && b != i.business
        {
            errors.push(field_error(
                "business_type",
                "mismatch",
                "事業形態がポータルの登録内容と一致しません。",
                "the business type differs from the portal's record",
            ));
        }
        if let Some(n) = &form.corporate_number {
            let n = normalize_code("corporate_number", n);
            notes.extend(n.notes);
            if business == Some(BusinessType::SoleProprietor) {
                errors.push(field_error(
                    "corporate_number",
                    "not_for_sole_proprietors",
                    "個人事業主は法人番号を入力しません。",
                    "sole proprietors have no corporate number",
                ));
            } else if check_corporate_number(&n.text).is_err() {
                errors.push(field_error(
                    "corporate_number",
                    "check_digit",
                    "法人番号（13桁）の検査用数字が一致しません。",
                    "the 13-digit corporate number's check digit does not match",
                ));
            } else if institution
                .as_ref()
                .and_then(|i| i.corporate_number.as_ref())
                .is_some_and(|c| *c != n.text)
            {
                errors.push(field_error(
                    "corporate_number",
                    "mismatch",
                    "法人番号が登録内容と一致しません。",
                    "the corporate number differs from the portal's record",
                ));
            }
        }

        // The invitation code: optional on the form, required by the program.
        let verification = form.verification.unwrap_or(Verification::InvitationCode);
        let mut pending = false;
        let given = form
            .invitation_code
            .as_ref()
            .map(|c| normalize_code("invitation_code", c.expose()))
            .filter(|c| !c.text.is_empty());
        match (&given, verification) {
            (None, Verification::Documents) => pending = true,
            (None, Verification::InvitationCode) => errors.push(field_error(
                "invitation_code",
                "required",
                "この事業では招待コードの入力が必須です（フォーム上は任意と表示されます）。",
                "the invitation code is required for this program, although the form marks it optional",
            )),
            (Some(c), _) => {
                notes.extend(c.notes.iter().cloned());
                if let Err(wait) = self.limiter.check(client, now_s) {
                    return (
                        Registration::RateLimited {
                            retry_after_s: wait,
                        },
                        notes,
                    );
                }
                let shaped = c.text.len() == 6 && c.text.bytes().all(|b| b.is_ascii_alphanumeric());
                if !shaped || !self.program.invitation_code.matches(&Secret::new(c.text.clone())) {
                    // One answer for every wrong code: nothing says how close it was.
                    self.limiter.wrong(client, now_s);
                    errors.push(field_error(
                        "invitation_code",
                        "invalid",
                        "招待コードが正しくありません。",
                        "the invitation code is not valid",
                    ));
                }
            }
        }
        if !errors.is_empty() {
            return (Registration::Rejected(errors), notes);
        }
        let (Some(institution), Some(business)) = (institution, business) else {
            unreachable!("no errors means an institution and a business type");
        };
        if let Some(id) = self.by_institution.get(&institution.code) {
            return (
                Registration::Duplicate {
                    account_id: id.clone(),
                },
                notes,
            );
        }
        let account = Account {
            id: next_id('A', self.accounts.keys(), &mut self.highest_account),
            institution_code: institution.code.clone(),
            name: registered_name,
            business_type: business,
            status: if pending {
                AccountStatus::PendingDocumentReview
            } else {
                AccountStatus::Active
            },
            website: None,
            opened: today,
        };
        self.by_institution
            .insert(institution.code, account.id.clone());
        self.accounts.insert(account.id.clone(), account.clone());
        (Registration::Opened(account), notes)
    }

    /// The optional website step: a URL, or `None` to skip it.
    pub fn set_website(
        &mut self,
        account_id: &str,
        url: Option<&str>,
    ) -> Result<&Account, Vec<FieldError>> {
        let Some(account) = self.accounts.get_mut(account_id) else {
            return Err(vec![field_error(
                "account",
                "unknown",
                "アカウントが見つかりません。",
                "no such account",
            )]);
        };
        match url.map(|u| normalize("website", u).text) {
            None => account.website = Some(String::new()),
            Some(u) if u.chars().count() > MAX_URL => {
                return Err(vec![field_error(
                    "website",
                    "too_long",
                    &format!("{MAX_URL}文字以内で入力してください。"),
                    &format!("at most {MAX_URL} characters"),
                )]);
            }
            Some(u)
                if (u.starts_with("https://") || u.starts_with("http://"))
                    && !u.contains(' ')
                    && u.len() > 10 =>
            {
                account.website = Some(u)
            }
            Some(_) => {
                return Err(vec![field_error(
                    "website",
                    "invalid",
                    "URLは http:// または https:// で始めてください。",
                    "the URL starts with http:// or https://",
                )]);
            }
        }
        Ok(account)
    }

    /// Orders a reader for an account on `today`, with the subsidy when the account still has
    /// one.
    pub fn order(&mut self, account_id: &str, product_id: &str, today: Day) -> Ordered {
        let Some(account) = self.accounts.get(account_id) else {
            return Ordered::NoAccount;
        };
        let mut errors = Vec::new();
        if account.status == AccountStatus::PendingDocumentReview {
            errors.push(field_error(
                "account",
                "pending_review",
                "書類審査が完了するまで購入できません。",
                "the account cannot order until its documents have been reviewed",
            ));
        }
        if !self.program.window.contains(today) {
            errors.push(field_error(
                "day",
                "outside_window",
                &format!(
                    "受付期間（{}〜{}）外です。",
                    self.program.window.opens, self.program.window.closes
                ),
                &format!(
                    "orders are taken from {} to {}",
                    self.program.window.opens, self.program.window.closes
                ),
            ));
        }
        let product = self.program.product(product_id);
        match product {
            None => errors.push(field_error(
                "product_id",
                "unknown",
                "この製品は対象製品ではありません。",
                "no such product on the dedicated page",
            )),
            Some(p) if p.stock == Stock::Withdrawn => errors.push(field_error(
                "product_id",
                "withdrawn",
                "この製品は一時的に販売を停止しています。本体のみの製品をご検討ください。",
                "this product is temporarily withdrawn from sale (a part is out of stock); a body-only product is on sale",
            )),
            Some(_) => {}
        }
        if !errors.is_empty() {
            return Ordered::Rejected(errors);
        }
        let product = product.expect("checked above");
        let subsidised = self
            .orders
            .values()
            .filter(|o| o.account_id == account_id && o.subsidy_yen > 0)
            .count();
        let subsidy = if subsidised < self.program.subsidy.per_institution as usize {
            self.program.subsidy.on(product.price_yen)
        } else {
            0
        };
        let order = Order {
            id: next_id('O', self.orders.keys(), &mut self.highest_order),
            account_id: account_id.to_string(),
            product_id: product.id.clone(),
            price_yen: product.price_yen,
            subsidy_yen: subsidy,
            total_yen: product.price_yen - subsidy,
            day: today,
            reader_profile: product.reader_profile.clone(),
        };
        self.orders.insert(order.id.clone(), order.clone());
        Ordered::Placed(order)
    }

    /// The reader profile commissioning uses: the account's latest order's.
    pub fn commissioning_reader(&self, account_id: &str) -> Result<String, FieldError> {
        self.orders_of(account_id)
            .last()
            .map(|o| o.reader_profile.clone())
            .ok_or_else(|| {
                field_error(
                    "account",
                    "no_order",
                    "カードリーダーの購入後に動作確認をしてください。",
                    "order a reader before commissioning it",
                )
            })
    }

    /// The bought reader read a phone (`passed`) or not: a pass makes the account ready.
    pub fn commissioned(&mut self, account_id: &str, passed: bool) -> Option<&Account> {
        let account = self.accounts.get_mut(account_id)?;
        if passed && account.status == AccountStatus::Active {
            account.status = AccountStatus::Ready;
        }
        Some(account)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PROGRAM: &str = include_str!("../../scenarios/onboarding/program.data.yaml");
    const REGISTRY: &str = include_str!("../../scenarios/onboarding/registry.data.yaml");
    const CODE: &str = "KZ7Q2M";

    fn service() -> Onboarding {
        Onboarding::new(
            Program::from_yaml(PROGRAM, "program").unwrap(),
            Registry::from_yaml(REGISTRY, "registry").unwrap(),
        )
    }
    fn day(s: &str) -> Day {
        Day::parse(s).unwrap()
    }
    fn form(name: &str, business: &str, code: Option<&str>) -> RegistrationForm {
        RegistrationForm {
            name: name.into(),
            postal_code: "100-0001".into(),
            contact_email: "desk@example.jp".into(),
            business_type: Some(business.into()),
            verification: None,
            invitation_code: code.map(|c| Secret::new(c.into())),
            corporate_number: None,
        }
    }
    fn codes(r: &Registration) -> Vec<String> {
        match r {
            Registration::Rejected(e) => e.iter().map(|e| e.code.clone()).collect(),
            other => vec![format!("{other:?}")],
        }
    }

    #[test]
    fn both_business_types_open_active_accounts() {
        let mut s = service();
        let (r, notes) = s.register(
            &form(
                "かざす内科クリニック 1310123458",
                "sole_proprietor",
                Some(CODE),
            ),
            "c",
            0,
            day("2025-10-01"),
        );
        assert!(
            matches!(&r, Registration::Opened(a) if a.status == AccountStatus::Active),
            "{r:?}"
        );
        assert!(notes.is_empty(), "{notes:?}");
        let mut f = form(
            "医療法人社団かざす会 かざす歯科 1330132349",
            "corporation",
            Some(CODE),
        );
        f.corporate_number = Some("9010401012345".into());
        let (r, _) = s.register(&f, "c", 0, day("2025-10-01"));
        assert!(
            matches!(&r, Registration::Opened(a) if a.business_type == BusinessType::Corporation),
            "{r:?}"
        );
        // The same institution again: a duplicate, not a second account.
        let (r, _) = s.register(&f, "c", 0, day("2025-10-02"));
        assert_eq!(
            r,
            Registration::Duplicate {
                account_id: "A000002".into()
            }
        );
    }

    #[test]
    fn the_code_is_required_though_the_form_says_optional() {
        let mut s = service();
        let f = form("なにわ眼科 2710111119", "sole_proprietor", None);
        let (r, _) = s.register(&f, "c", 0, day("2025-10-01"));
        assert_eq!(codes(&r), ["invitation_code.required"]);
        // Without a code, the documents path: an account pending review that cannot order.
        let mut f = f;
        f.verification = Some(Verification::Documents);
        let (r, _) = s.register(&f, "c", 0, day("2025-10-01"));
        let Registration::Opened(a) = r else {
            panic!("{r:?}")
        };
        assert_eq!(a.status, AccountStatus::PendingDocumentReview);
        let o = s.order(&a.id, "sanwa-body", day("2025-10-01"));
        assert!(
            matches!(&o, Ordered::Rejected(e) if e[0].code == "account.pending_review"),
            "{o:?}"
        );
    }

    #[test]
    fn full_width_and_lowercase_input_is_normalised_and_said() {
        let mut s = service();
        let f = form(
            "かざす内科クリニック　１３１０１２３４５８",
            "個人事業主",
            Some("ｋｚ７ｑ２ｍ"),
        );
        let (r, notes) = s.register(&f, "c", 0, day("2025-10-01"));
        assert!(matches!(r, Registration::Opened(_)), "{r:?}");
        assert!(notes.iter().any(|n| n.starts_with("name:")), "{notes:?}");
        assert!(notes.iter().any(|n| n.contains("upper-cased")), "{notes:?}");
    }

    #[test]
    fn name_and_number_errors_are_per_field() {
        let mut s = service();
        let t = day("2025-10-01");
        let r = |s: &mut Onboarding, f: RegistrationForm| codes(&s.register(&f, "c", 0, t).0);
        assert_eq!(
            r(
                &mut s,
                form("かざす内科クリニック", "sole_proprietor", Some(CODE))
            ),
            ["name.code_missing"]
        );
        assert_eq!(
            r(
                &mut s,
                form(
                    "かざす内科クリニック 1310123459",
                    "sole_proprietor",
                    Some(CODE)
                )
            ),
            ["name.code_check_digit"]
        );
        assert_eq!(
            r(
                &mut s,
                form("どこか医院 2710222221", "sole_proprietor", Some(CODE))
            ),
            ["name.code_unknown"]
        );
        assert_eq!(
            r(
                &mut s,
                form("かざす内科 1310123458", "sole_proprietor", Some(CODE))
            ),
            ["name.mismatch"]
        );
        assert_eq!(
            r(
                &mut s,
                form(
                    "かざす訪問看護ステーション 1360112344",
                    "corporation",
                    Some(CODE)
                )
            ),
            ["name.ineligible"]
        );
        assert_eq!(
            r(
                &mut s,
                form("かざす内科クリニック 1310123458", "corporation", Some(CODE))
            ),
            ["business_type.mismatch"]
        );
        let mut f = form(
            "医療法人かざす会 かざす病院 1310223456",
            "corporation",
            Some(CODE),
        );
        f.corporate_number = Some("8123456789012".into());
        assert_eq!(r(&mut s, f), ["corporate_number.check_digit"]);
        let mut f = form(
            "かざす内科クリニック 1310123458",
            "sole_proprietor",
            Some(CODE),
        );
        f.name = "x".repeat(MAX_FIELD + 1);
        assert_eq!(r(&mut s, f), ["name.too_long"]);
    }

    #[test]
    fn wrong_codes_are_limited_per_client_and_say_nothing_of_closeness() {
        let mut s = service();
        let t = day("2025-10-01");
        let f = |code: &str| {
            form(
                "かざす内科クリニック 1310123458",
                "sole_proprietor",
                Some(code),
            )
        };
        let (near, _) = s.register(&f("KZ7Q2N"), "a", 0, t);
        let (far, _) = s.register(&f("000000"), "a", 1, t);
        assert_eq!(near, far, "a near miss looks like any miss");
        for i in 2..5 {
            let (r, _) = s.register(&f("AAAAAA"), "a", i, t);
            assert_eq!(codes(&r), ["invitation_code.invalid"]);
        }
        // The sixth try within the window: refused before the code is even looked at, the right
        // code included.
        let (r, _) = s.register(&f(CODE), "a", 10, t);
        assert_eq!(r, Registration::RateLimited { retry_after_s: 590 });
        // Another client is not affected; the first may try again after the window.
        assert!(matches!(
            s.register(&f(CODE), "b", 10, t).0,
            Registration::Opened(_)
        ));
        let (r, _) = s.register(&f(CODE), "a", 600, t);
        assert!(matches!(r, Registration::Duplicate { .. }), "{r:?}");
        let text = format!("{near:?}");
        assert!(!text.contains("KZ7Q2N"), "the code is never echoed: {text}");
    }

    proptest::proptest! {
        /// Whatever a form holds, registration answers — an account or field errors naming the
        /// fields — and never echoes the code it was given.
        #[test]
        fn any_form_gets_an_answer_not_a_panic(
            name in "\\PC{0,40}( [0-9０-９]{10})?",
            postal in "\\PC{0,12}",
            email in "\\PC{0,20}",
            business in proptest::option::of("(corporation|sole_proprietor|法人|個人事業主|\\PC{0,8})"),
            code in proptest::option::of("[A-Za-z0-9ａ-ｚ０-９ ]{0,10}"),
            corporate in proptest::option::of("[0-9０-９]{0,14}"),
            documents in proptest::bool::ANY,
        ) {
            let mut s = service();
            let f = RegistrationForm {
                name,
                postal_code: postal,
                contact_email: email,
                business_type: business,
                verification: documents.then_some(Verification::Documents),
                invitation_code: code.clone().map(Secret::new),
                corporate_number: corporate,
            };
            let (r, notes) = s.register(&f, "p", 0, day("2025-10-01"));
            match &r {
                Registration::Rejected(errors) => proptest::prop_assert!(!errors.is_empty()),
                Registration::Opened(a) => proptest::prop_assert!(s.account(&a.id).is_some()),
                other => proptest::prop_assert!(false, "{other:?}"),
            }
            if let Some(c) = code.filter(|c| c.trim().len() >= 6) {
                let shown = format!("{r:?} {notes:?}");
                proptest::prop_assert!(!shown.contains(c.trim()), "{shown}");
            }
        }
    }

    #[test]
    fn orders_apply_the_subsidy_once_in_the_window_and_not_for_withdrawn_sets() {
        let mut s = service();
        let (Registration::Opened(a), _) = s.register(
            &form(
                "かざす内科クリニック 1310123458",
                "sole_proprietor",
                Some(CODE),
            ),
            "c",
            0,
            day("2025-10-01"),
        ) else {
            panic!()
        };
        let o = s.order(&a.id, "sanwa-set", day("2025-10-01"));
        assert!(matches!(&o, Ordered::Rejected(e) if e[0].code == "product_id.withdrawn"));
        let o = s.order(&a.id, "sanwa-body", day("2026-02-01"));
        assert!(matches!(&o, Ordered::Rejected(e) if e[0].code == "day.outside_window"));
        let Ordered::Placed(o) = s.order(&a.id, "elecom-set", day("2025-10-02")) else {
            panic!()
        };
        assert_eq!(
            (o.price_yen, o.subsidy_yen, o.total_yen),
            (12_800, 5_500, 7_300)
        );
        let Ordered::Placed(o) = s.order(&a.id, "sony-body", day("2025-10-03")) else {
            panic!()
        };
        assert_eq!(
            (o.subsidy_yen, o.total_yen),
            (0, 7_980),
            "one subsidised reader per institution"
        );
        assert_eq!(s.commissioning_reader(&a.id).unwrap(), "fast-848k");
        assert_eq!(
            s.commissioned(&a.id, true).unwrap().status,
            AccountStatus::Ready
        );
    }
}
