//! The onboarding service's HTML pages: plain server-rendered forms for the program and its
//! products, registration (with the business-type branch), the account with its optional
//! website step, the reader order and commissioning. No script; every value is escaped; the
//! invitation code is never written back into a page.

use kazasu_onboarding::program::{Day, Program, Stock, Variant};
use kazasu_onboarding::service::{Account, AccountStatus, FieldError, Order};

fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn page(title: &str, body: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"ja\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{t} — kazasu onboarding</title>\
         <style>body{{font-family:sans-serif;max-width:52rem;margin:2rem auto;padding:0 1rem;line-height:1.5}}\
         table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:.3rem .6rem;text-align:left}}\
         .error{{color:#a00}}.note{{color:#555}}label{{display:block;margin-top:.8rem}}\
         input[type=text],input[type=email],input[type=url]{{width:100%;max-width:32rem}}</style>\
         </head><body>\n<h1>{t}</h1>\n{body}\n<p class=\"note\">kazasu — a simulated onboarding service for conformance tests.</p></body></html>\n",
        t = esc(title)
    )
}

fn yen(n: u32) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    format!("¥{out}")
}

fn products_table(p: &Program, with_order: bool) -> String {
    let mut rows = String::new();
    for prod in &p.products {
        let variant = match prod.variant {
            Variant::BodyOnly => "本体のみ / body only",
            Variant::Set => "セット / set",
        };
        let (stock, on_sale) = match prod.stock {
            Stock::InStock => ("販売中 / on sale", true),
            Stock::Withdrawn => ("一時販売停止 / temporarily withdrawn", false),
        };
        let choose = if with_order {
            format!(
                "<td><input type=\"radio\" name=\"product_id\" value=\"{}\" id=\"p-{}\"{}></td>",
                esc(&prod.id),
                esc(&prod.id),
                if on_sale { "" } else { " disabled" }
            )
        } else {
            String::new()
        };
        rows.push_str(&format!(
            "<tr>{choose}<td>{}</td><td><label for=\"p-{}\" style=\"display:inline;margin:0\">{}</label></td><td>{variant}</td><td>{}</td><td>{}</td><td>{stock}</td></tr>\n",
            esc(&prod.maker),
            esc(&prod.id),
            esc(&prod.name),
            yen(prod.price_yen),
            yen(p.subsidy.on(prod.price_yen)),
        ));
    }
    format!(
        "<table><tr>{}<th>メーカー / maker</th><th>製品 / product</th><th>種別 / variant</th><th>価格 / price</th><th>補助 / subsidy</th><th>在庫 / stock</th></tr>\n{rows}</table>",
        if with_order { "<th></th>" } else { "" }
    )
}

/// The program and its products.
pub fn program(p: &Program, today: Day) -> String {
    let body = format!(
        "<p>{name}</p>\
         <p>受付期間 / orders taken: {opens} – {closes} (today: {today}).\
         補助: 価格の{rate}%（上限{cap}、1医療機関{per}台）/ subsidy: {rate}% of the price, at most {cap}, {per} per institution.</p>\
         {table}\
         <p><a href=\"/register\" id=\"start\">STEP 1: ビジネスアカウントを作成する / create a business account</a></p>\
         <p class=\"note\">API: <a href=\"/openapi.yaml\">/openapi.yaml</a></p>",
        name = esc(&p.name),
        opens = p.window.opens,
        closes = p.window.closes,
        rate = p.subsidy.rate_percent,
        cap = yen(p.subsidy.cap_yen),
        per = p.subsidy.per_institution,
        table = products_table(p, false),
    );
    page(
        "スマホ対応カードリーダー購入 / smartphone-capable readers",
        &body,
    )
}

/// What the registration form shows back after a failed attempt (never the code).
#[derive(Default)]
pub struct FormValues {
    /// Name.
    pub name: String,
    /// Postal code.
    pub postal_code: String,
    /// E-mail.
    pub contact_email: String,
    /// `corporation` or `sole_proprietor`.
    pub business_type: String,
    /// `invitation_code` or `documents`.
    pub verification: String,
    /// Corporate number.
    pub corporate_number: String,
}

fn errors_for(errors: &[FieldError], field: &str) -> String {
    errors
        .iter()
        .filter(|e| e.field == field)
        .map(|e| {
            format!(
                "<div class=\"error\" data-code=\"{}\">{} / {}</div>",
                esc(&e.code),
                esc(&e.ja),
                esc(&e.en)
            )
        })
        .collect()
}

/// The registration form, with errors and notes from a failed attempt.
pub fn register_form(
    p: &Program,
    v: &FormValues,
    errors: &[FieldError],
    notes: &[String],
) -> String {
    let checked = |cond: bool| if cond { " checked" } else { "" };
    let corp = v.business_type == "corporation";
    let docs = v.verification == "documents";
    let notes_html: String = notes
        .iter()
        .map(|n| format!("<li>{}</li>", esc(n)))
        .collect();
    let body = format!(
        "<p>{program}</p>\
         {summary}\
         {notes}\
         <form method=\"post\" action=\"/register\" id=\"register\">\
         <label for=\"name\">法人名・個人事業主名・屋号（ポータル登録名＋10桁の医療機関コード）/ name as registered on the portal, then the 10-digit institution code</label>\
         <input type=\"text\" id=\"name\" name=\"name\" maxlength=\"200\" value=\"{name}\" placeholder=\"かざす内科クリニック 1310123458\">{e_name}\
         <label for=\"postal_code\">郵便番号 / postal code</label>\
         <input type=\"text\" id=\"postal_code\" name=\"postal_code\" maxlength=\"200\" value=\"{postal}\">{e_postal}\
         <label for=\"contact_email\">連絡先メールアドレス / contact e-mail</label>\
         <input type=\"email\" id=\"contact_email\" name=\"contact_email\" maxlength=\"200\" value=\"{email}\">{e_email}\
         <fieldset><legend>事業形態 / business type</legend>\
         <label><input type=\"radio\" name=\"business_type\" value=\"corporation\" id=\"bt-corporation\"{c1}> 法人 / corporation</label>\
         <label><input type=\"radio\" name=\"business_type\" value=\"sole_proprietor\" id=\"bt-sole\"{c2}> 個人事業主 / sole proprietor</label>{e_bt}</fieldset>\
         <fieldset><legend>確認方法 / verification</legend>\
         <label><input type=\"radio\" name=\"verification\" value=\"invitation_code\" id=\"v-code\"{c3}> 招待コード / invitation code</label>\
         <label><input type=\"radio\" name=\"verification\" value=\"documents\" id=\"v-docs\"{c4}> 書類提出 / documents (manual review)</label></fieldset>\
         <label for=\"invitation_code\">招待コード（任意と表示されますが、本事業では必須です）/ invitation code (the form says optional; this program requires it)</label>\
         <input type=\"password\" id=\"invitation_code\" name=\"invitation_code\" maxlength=\"200\" autocomplete=\"off\" value=\"\">{e_code}\
         <label for=\"corporate_number\">法人番号（法人のみ・任意）/ corporate number (corporations, optional)</label>\
         <input type=\"text\" id=\"corporate_number\" name=\"corporate_number\" maxlength=\"200\" value=\"{corpno}\">{e_corp}\
         <p><button type=\"submit\" id=\"submit\">登録する / register</button></p></form>",
        program = esc(&p.name),
        summary = if errors.is_empty() {
            String::new()
        } else {
            format!(
                "<p class=\"error\" id=\"errors\">{} 件のエラーがあります / {} field(s) to fix</p>",
                errors.len(),
                errors.len()
            )
        },
        notes = if notes.is_empty() {
            String::new()
        } else {
            format!("<ul class=\"note\" id=\"notes\">{notes_html}</ul>")
        },
        name = esc(&v.name),
        e_name = errors_for(errors, "name"),
        postal = esc(&v.postal_code),
        e_postal = errors_for(errors, "postal_code"),
        email = esc(&v.contact_email),
        e_email = errors_for(errors, "contact_email"),
        c1 = checked(corp),
        c2 = checked(v.business_type == "sole_proprietor"),
        e_bt = errors_for(errors, "business_type"),
        c3 = checked(!docs),
        c4 = checked(docs),
        e_code = errors_for(errors, "invitation_code"),
        corpno = esc(&v.corporate_number),
        e_corp = errors_for(errors, "corporate_number"),
    );
    page("ビジネスアカウント作成 / create a business account", &body)
}

/// An account: its status, the website step, orders, the order form and commissioning.
pub fn account(
    p: &Program,
    a: &Account,
    orders: &[&Order],
    errors: &[FieldError],
    message: Option<&str>,
) -> String {
    let status = match a.status {
        AccountStatus::Active => "有効 / active",
        AccountStatus::PendingDocumentReview => "書類審査待ち / pending document review",
        AccountStatus::Ready => "利用準備完了 / ready: the reader has read a phone",
    };
    let website = match &a.website {
        None => format!(
            "<form method=\"post\" action=\"/accounts/{id}/website\" id=\"website\">\
             <label for=\"url\">ウェブサイト・SNS（任意）/ website or SNS (optional)</label>\
             <input type=\"url\" id=\"url\" name=\"url\" maxlength=\"2000\">{e}\
             <button type=\"submit\" id=\"save-url\">保存 / save</button> \
             <button type=\"submit\" name=\"skip\" value=\"1\" id=\"skip-url\">スキップ / skip</button></form>",
            id = esc(&a.id),
            e = errors_for(errors, "website")
        ),
        Some(u) if u.is_empty() => "<p>ウェブサイト: スキップ / website: skipped</p>".into(),
        Some(u) => format!("<p>ウェブサイト / website: {}</p>", esc(u)),
    };
    let order_rows: String = orders
        .iter()
        .map(|o| {
            format!(
                "<tr class=\"order\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&o.id),
                esc(&o.product_id),
                yen(o.price_yen),
                yen(o.subsidy_yen),
                yen(o.total_yen),
                o.day
            )
        })
        .collect();
    let orders_html = if orders.is_empty() {
        "<p>注文なし / no orders yet</p>".to_string()
    } else {
        format!(
            "<table id=\"orders\"><tr><th>注文 / order</th><th>製品 / product</th><th>価格 / price</th><th>補助 / subsidy</th><th>お支払い / total</th><th>日付 / day</th></tr>{order_rows}</table>"
        )
    };
    let order_form = if a.status == AccountStatus::PendingDocumentReview {
        "<p>書類審査の完了後に購入できます / orders open once the documents are reviewed</p>"
            .to_string()
    } else {
        // The page follows the account: the first reader is STEP 2; once one is ordered, more
        // readers are an option, not a step.
        let heading = if orders.is_empty() {
            "STEP 2: カードリーダーの購入 / buy a reader"
        } else {
            "カードリーダーの追加購入 / order another reader"
        };
        format!(
            "<h2 id=\"order-heading\">{heading}</h2>\
             <form method=\"post\" action=\"/accounts/{id}/order\" id=\"order\">{table}{e1}{e2}{e3}\
             <p><button type=\"submit\" id=\"buy\">購入する / order</button></p></form>",
            id = esc(&a.id),
            table = products_table(p, true),
            e1 = errors_for(errors, "product_id"),
            e2 = errors_for(errors, "day"),
            e3 = errors_for(errors, "account"),
        )
    };
    let commission = if a.status == AccountStatus::Ready {
        "<p id=\"done\">動作確認が完了しました。スマートフォンでの資格確認を始められます / \
         commissioned: the bought reader reads phones, and the account is ready</p>"
            .to_string()
    } else if orders.is_empty() {
        String::new()
    } else {
        format!(
            "<h2>STEP 3: 動作確認 / commissioning</h2><form method=\"post\" action=\"/accounts/{}/commission\" id=\"commission\">\
             <p>購入したリーダーでスマートフォンを読み取ります / read a phone with the bought reader</p>\
             <button type=\"submit\" id=\"commission-run\">読み取る / read a phone</button></form>",
            esc(&a.id)
        )
    };
    let body = format!(
        "{msg}<table><tr><th>アカウント / account</th><td id=\"account-id\">{id}</td></tr>\
         <tr><th>名称 / name</th><td>{name}</td></tr>\
         <tr><th>医療機関コード / institution code</th><td>{code}</td></tr>\
         <tr><th>状態 / status</th><td id=\"status\">{status}</td></tr></table>\
         {website}<h2>注文 / orders</h2>{orders_html}{order_form}{commission}",
        msg = message
            .map(|m| format!("<p id=\"message\">{}</p>", esc(m)))
            .unwrap_or_default(),
        id = esc(&a.id),
        name = esc(&a.name),
        code = esc(&a.institution_code),
    );
    page("ビジネスアカウント / business account", &body)
}

/// A page with one message and a way back to the start.
pub fn message_page(message: &str) -> String {
    page(
        "kazasu onboarding",
        &format!(
            "<p class=\"error\" id=\"message\">{}</p><p><a href=\"/\">トップへ / start</a></p>",
            esc(message)
        ),
    )
}

/// 404.
pub fn not_found() -> String {
    page(
        "見つかりません / not found",
        "<p><a href=\"/\">トップへ / to the start</a></p>",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_escaped_and_yen_grouped() {
        assert_eq!(
            esc("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
        assert_eq!(yen(12800), "¥12,800");
        assert_eq!(yen(980), "¥980");
    }

    /// The account page follows the account: STEP 2 before the first order, commissioning
    /// (STEP 3) after it, and once commissioned no step left, only another reader to order.
    #[test]
    fn the_account_page_follows_the_accounts_state() {
        use kazasu_onboarding::program::{BusinessType, Day};
        use kazasu_onboarding::service::AccountStatus;
        let program = Program::from_yaml(crate::onboarding::app::PROGRAM_YAML, "program").unwrap();
        let day = Day::parse("2025-10-01").unwrap();
        let mut account = Account {
            id: "A000001".into(),
            institution_code: "1310110006".into(),
            name: "テスト医院".into(),
            business_type: BusinessType::SoleProprietor,
            status: AccountStatus::Active,
            website: Some(String::new()),
            opened: day,
        };
        let order = Order {
            id: "O000001".into(),
            account_id: account.id.clone(),
            product_id: program.products[0].id.clone(),
            price_yen: 20_000,
            subsidy_yen: 10_000,
            total_yen: 10_000,
            day,
            reader_profile: program.products[0].reader_profile.clone(),
        };
        let fresh = account_page_text(&program, &account, &[]);
        assert!(
            fresh.contains("STEP 2") && !fresh.contains("STEP 3"),
            "{fresh}"
        );
        let ordered = account_page_text(&program, &account, &[&order]);
        assert!(
            !ordered.contains("STEP 2") && ordered.contains("STEP 3"),
            "{ordered}"
        );
        account.status = AccountStatus::Ready;
        let ready = account_page_text(&program, &account, &[&order]);
        assert!(
            !ready.contains("STEP")
                && ready.contains("id=\"done\"")
                && ready.contains("order another reader"),
            "{ready}"
        );
    }

    fn account_page_text(p: &Program, a: &Account, orders: &[&Order]) -> String {
        account(p, a, orders, &[], None)
    }
}
