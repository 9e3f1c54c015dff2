//! The onboarding steps' arguments and actions: register, website, order, account status,
//! commission and raw HTTP requests to the onboarding service.
use super::expect::OnboardingExpect;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::json;

/// `register` arguments: the onboarding service's registration form (every field may use
/// `${secrets.NAME}`; omitted fields are not sent).
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterStep {
    /// The name as registered on the portal, a space, the 10-digit institution code.
    #[serde(default)]
    pub name: Option<String>,
    /// Postal code (default 100-0001).
    #[serde(default)]
    pub postal_code: Option<String>,
    /// Contact e-mail (default desk@example.jp).
    #[serde(default)]
    pub contact_email: Option<String>,
    /// `corporation` or `sole_proprietor`.
    #[serde(default)]
    pub business_type: Option<String>,
    /// `invitation_code` (default) or `documents`.
    #[serde(default)]
    pub verification: Option<String>,
    /// The invitation code, usually `${secrets.invitation_code}`.
    #[serde(default)]
    pub invitation_code: Option<String>,
    /// 法人番号.
    #[serde(default)]
    pub corporate_number: Option<String>,
}

/// `order` arguments.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderStep {
    /// The product id (`sanwa-body`).
    pub product: String,
    /// The account (default: the one the case registered last).
    #[serde(default)]
    pub account: Option<String>,
}

/// `website` arguments: a URL, or `skip: true`.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WebsiteStep {
    /// The URL.
    #[serde(default)]
    pub url: Option<String>,
    /// Skip the optional step.
    #[serde(default)]
    pub skip: bool,
}

/// `http` arguments: a raw request to the onboarding service.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HttpStep {
    /// GET, POST, PUT.
    pub method: String,
    /// The path, `/api/…` (`${account}` is the account the case registered last).
    pub path: String,
    /// A JSON body (YAML here); strings may use `${secrets.NAME}`.
    #[serde(default)]
    pub json: Option<serde_json::Value>,
    /// A raw body (sent as given, as application/json).
    #[serde(default)]
    pub body: Option<String>,
}

/// What an onboarding step does: it talks to the onboarding service.
///
/// The onboarding steps' vocabulary, read by the parser and the schema as [`CardAction`] is:
/// a new step kind is a variant here and its arm in the onboarding client.
///
/// [`CardAction`]: super::CardAction
#[derive(Clone, Debug, Deserialize, JsonSchema, strum::IntoStaticStr, strum::VariantNames)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum OnboardingAction {
    /// Register a business account.
    Register(
        #[schemars(example = json!({ "name": "かざす内科クリニック 1310123458", "business_type": "sole_proprietor", "invitation_code": "${secrets.invitation_code}" }))]
         RegisterStep,
    ),
    /// The optional website step.
    Website(
        #[schemars(example = json!({ "url": "https://clinic.example.jp" }))]
        WebsiteStep,
    ),
    /// Order a reader.
    Order(#[schemars(example = json!({ "product": "sanwa-body" }))] OrderStep),
    /// Read an account's status (default: the one the case registered last).
    AccountStatus(Option<String>),
    /// The bought reader's first read of a phone.
    Commission,
    /// A raw HTTP request.
    Http(
        #[schemars(example = json!({ "method": "GET", "path": "/api/accounts/${account}" }))]
        HttpStep,
    ),
}

impl OnboardingAction {
    /// The step's keyword.
    pub fn keyword(&self) -> &'static str {
        self.into()
    }
}

/// An onboarding step: a request to the onboarding service and what to expect of its answer.
#[derive(Clone, Debug)]
pub struct OnboardingStep {
    /// What the step does.
    pub action: OnboardingAction,
    /// What it must produce.
    pub expect: OnboardingExpect,
    /// A name for reports.
    pub name: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_onboarding_action_has_its_keyword() {
        assert_eq!(OnboardingAction::Commission.keyword(), "commission");
        assert_eq!(
            OnboardingAction::AccountStatus(None).keyword(),
            "account_status"
        );
        let order: OrderStep = serde_saphyr::from_str("{ product: sanwa-body }").expect("order");
        assert_eq!(OnboardingAction::Order(order).keyword(), "order");
    }
}
