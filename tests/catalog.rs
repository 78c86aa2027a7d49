//! `wechatpay::catalog`: the embedded operations — counts, lookups, search, suggestions — and that the
//! committed data is what `scripts/catalog.py` makes of `../shared/catalog/operations.json` (when that file
//! is there; without it only the embedded data's integrity is checked).

use std::path::Path;
use std::process::Command;

use serde_json::Value;
use wechatpay::catalog::{self, find, lookup, normalize_path, operations, operations_at, search, suggest};

fn shared_catalog() -> Option<Vec<Value>> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/catalog/operations.json");
    let text = std::fs::read_to_string(path).ok()?;
    let mut ops: Vec<Value> = serde_json::from_str(&text).expect("operations.json is JSON");
    // The catalog's order, whatever the source's.
    ops.sort_by(|a, b| (a["path"].as_str(), a["method"].as_str()).cmp(&(b["path"].as_str(), b["method"].as_str())));
    Some(ops)
}

fn templates(ops: &[&catalog::Operation]) -> Vec<&'static str> {
    ops.iter().map(|op| op.template()).collect()
}

#[test]
fn the_counts_are_the_documented_ones() {
    let all = operations();
    let count = |f: fn(&catalog::Operation) -> bool| all.iter().filter(|op| f(op)).count();
    assert_eq!(all.len(), 1147);
    assert_eq!(count(|op| !op.is_apiv2()), 1018);
    assert_eq!(count(|op| op.is_apiv2()), 129);
    assert_eq!(count(|op| op.needs_client_certificate()), 57);
    assert_eq!(count(|op| op.is_nonceless()), 19);
    assert_eq!(count(|op| !op.encrypted_fields().is_empty()), 119);
    assert_eq!(count(|op| op.needs_client_certificate() && op.is_nonceless()), 7);
    // Flags belong to APIv2; each (method, template) is listed once, sorted.
    assert!(all
        .iter()
        .all(|op| op.is_apiv2() || !(op.needs_client_certificate() || op.is_nonceless())));
    assert!(all
        .windows(2)
        .all(|w| (w[0].template(), w[0].method()) < (w[1].template(), w[1].method())));
    for op in all {
        assert!(["GET", "POST", "PUT", "PATCH", "DELETE"].contains(&op.method()), "{op}");
        assert!(
            op.template().starts_with("v2/") || op.template().starts_with("v3/"),
            "{op}"
        );
        assert!(!op.title().is_empty(), "{op}");
        assert_eq!(op.encrypted_part().is_some(), !op.encrypted_fields().is_empty(), "{op}");
        assert!(
            matches!(op.encrypted_part(), None | Some("json" | "query" | "xml" | "body")),
            "{op}"
        );
        // Every operation is found by its own template, and by a concrete path made from it.
        assert_eq!(find(op.method(), op.template()), Some(op));
        assert_eq!(lookup(op.method(), op.template()), Some(op));
        assert_eq!(lookup(op.method(), &format!("/{}", op.template())), Some(op));
    }
}

#[test]
fn encrypted_fields_are_paths_inside_their_part() {
    let jsapi = find("POST", "v3/pay/transactions/jsapi").unwrap();
    assert_eq!(
        jsapi.encrypted_fields(),
        ["payer.identity.number", "payer.identity.name"]
    );
    assert_eq!(jsapi.encrypted_part(), Some("json"));
    let subject = find("POST", "v3/apply4subject/applyment").unwrap();
    assert!(subject.encrypted_fields().contains(&"contact_info.id_card_number"));
    assert!(subject
        .encrypted_fields()
        .contains(&"ubo_info_list[].ubo_id_doc_number"));
    let balance = find("GET", "v3/aggracct-bc/wb-channel/account/balance").unwrap();
    assert_eq!(
        (balance.encrypted_part(), balance.encrypted_fields()),
        (Some("query"), &["bal_account_no", "card_no"][..])
    );
    let bank = find("POST", "v2/mmpaysptrans/pay_bank").unwrap();
    assert_eq!(bank.encrypted_part(), Some("xml"));
    assert!(bank.needs_client_certificate());
    let receipts = find("POST", "v3/marketing/shopping-receipt/shoppingreceipts").unwrap();
    assert_eq!(receipts.encrypted_part(), Some("body"));
    assert_eq!(
        receipts.encrypted_fields(),
        ["meta.merchant_contact_information.consultation_phone_number"]
    );
    assert!(find("GET", "v3/certificates").unwrap().encrypted_fields().is_empty());
}

#[test]
fn lookup_matches_concrete_paths() {
    let template = |method: &str, path: &str| lookup(method, path).map(|op| op.template());
    assert_eq!(
        template("GET", "v3/pay/transactions/id/4200000000"),
        Some("v3/pay/transactions/id/{transaction_id}")
    );
    assert_eq!(
        template(
            "GET",
            "/v3/pay/transactions/out-trade-no/1217752501201407033233368018?mchid=1230000109"
        ),
        Some("v3/pay/transactions/out-trade-no/{out_trade_no}")
    );
    assert_eq!(
        template("DELETE", "v3/marketing/busifavor/stocks/1212/couponcodes/ABC123"),
        Some("v3/marketing/busifavor/stocks/{stock_id}/couponcodes/{coupon_code}")
    );
    assert_eq!(
        template("get", "https://api.mch.weixin.qq.com/v3/certificates"),
        Some("v3/certificates")
    );
    assert_eq!(
        template(wechatpay::Method::POST.as_str(), "v2/pay/unifiedorder"),
        Some("v2/pay/unifiedorder")
    );
    // `{empty}` is the trailing slash: with it the path matches, without it the operation is another (or none).
    assert_eq!(
        template("POST", "v3/ecommerce/applyments/"),
        Some("v3/ecommerce/applyments/{empty}")
    );
    assert_eq!(
        template("POST", "v3/applyment4sub/applyment/"),
        Some("v3/applyment4sub/applyment/{empty}")
    );
    assert_eq!(
        template("POST", "v3/ecommerce/applyments/{empty}"),
        Some("v3/ecommerce/applyments/{empty}")
    );
    assert_eq!(template("POST", "v3/ecommerce/applyments"), None);
    assert_eq!(
        template("GET", "v3/ecommerce/applyments/"),
        None,
        "a placeholder is never empty"
    );
    // A literal segment beats a placeholder where both match; the method decides between templates too.
    assert_eq!(
        template("GET", "v3/ecommerce/refunds/id/return-advance"),
        Some("v3/ecommerce/refunds/id/{refund_id}")
    );
    assert_eq!(
        template(
            "GET",
            "v3/ecommerce/refunds/50000000382019052709732678859/return-advance"
        ),
        Some("v3/ecommerce/refunds/{refund_id}/return-advance")
    );
    assert_eq!(
        template("POST", "v3/merchant-service/images/upload"),
        Some("v3/merchant-service/images/upload")
    );
    assert_eq!(
        template("GET", "v3/merchant-service/images/upload"),
        Some("v3/merchant-service/images/{media_id}")
    );
    assert_eq!(
        template("POST", "v3/ecommerce/applyments/submit-sign-verify-info"),
        Some("v3/ecommerce/applyments/submit-sign-verify-info")
    );
    // `{+name}` templates (a value holding `/`) are matched the same way; the documentation has none today,
    // so the module's unit tests cover them.
    assert_eq!(template("GET", "v3/pay/transactions/id/42/extra"), None);
    assert_eq!(template("PUT", "v3/pay/transactions/id/42"), None);
    assert_eq!(template("GET", ""), None);
}

#[test]
fn operations_at_lists_every_method_of_a_path() {
    let methods = |path: &str| operations_at(path).iter().map(|op| op.method()).collect::<Vec<_>>();
    assert_eq!(methods("v3/marketing/busifavor/stocks/{stock_id}"), ["GET", "PATCH"]);
    assert_eq!(methods("/v3/marketing/busifavor/stocks/1212"), ["GET", "PATCH"]);
    assert_eq!(methods("v3/marketing/busifavor/callbacks"), ["GET", "POST"]);
    // A concrete path can fit different templates for different methods, as `lookup` picks them.
    let at = operations_at("v3/merchant-service/images/upload");
    assert_eq!(
        at.iter().map(|op| op.to_string()).collect::<Vec<_>>(),
        [
            "GET v3/merchant-service/images/{media_id}",
            "POST v3/merchant-service/images/upload"
        ]
    );
    assert_eq!(methods("v3/ecommerce/applyments/{empty}"), ["POST"]);
    assert_eq!(methods("v3/ecommerce/applyments/"), ["POST"]);
    assert!(operations_at("v3/nowhere/at/all").is_empty());
}

#[test]
fn search_matches_titles_and_templates() {
    let refunds = search("退款");
    assert!(refunds.len() > 20, "{}", refunds.len());
    assert!(refunds.iter().all(|op| op.title().contains("退款")));
    let found = templates(&refunds);
    for expected in [
        "v3/refund/domestic/refunds",
        "v3/refund/domestic/refunds/{out_refund_no}",
        "v2/secapi/pay/refund",
    ] {
        assert!(found.contains(&expected), "{expected} not in {found:?}");
    }
    // Every word must match, in any case; whole segments first.
    let coupons = search("BusiFavor coupons");
    assert!(!coupons.is_empty());
    assert!(coupons
        .iter()
        .all(|op| op.template().contains("busifavor") && op.template().contains("coupons")));
    assert_eq!(coupons[0].template().split('/').nth(3), Some("coupons"));
    assert_eq!(
        search("v3/pay/transactions/jsapi")[0].template(),
        "v3/pay/transactions/jsapi"
    );
    assert_eq!(search("JSAPI下单")[0].title(), "JSAPI下单");
    // A chain spelling is a path too.
    assert!(templates(&search("pay->transactions->native")).contains(&"v3/pay/transactions/native"));
    assert!(search("").is_empty());
    assert!(search("退款 zzzz-no-such-thing").is_empty());
}

#[test]
fn suggest_finds_what_was_meant() {
    let first = |path: &str| suggest(path, 3).first().map(|op| op.template());
    // A singular for a plural.
    assert_eq!(
        first("v3/marketing/busifavor/coupon/use"),
        Some("v3/marketing/busifavor/coupons/use")
    );
    assert_eq!(first("/v3/pay/transaction/native"), Some("v3/pay/transactions/native"));
    // A typo, a dropped and an extra segment.
    assert_eq!(
        first("v3/marketing/busifavor/coupons/uze"),
        Some("v3/marketing/busifavor/coupons/use")
    );
    assert!(templates(&suggest("v3/refund/refunds", 6)).contains(&"v3/refund/domestic/refunds"));
    assert_eq!(
        first("v3/pay/transactions/native/create"),
        Some("v3/pay/transactions/native")
    );
    // camelCase and snake_case for kebab-case; a value where a placeholder is.
    assert_eq!(
        first("v3/pay/transactions/outTradeNo/1217752501201407033233368018"),
        Some("v3/pay/transactions/out-trade-no/{out_trade_no}")
    );
    assert_eq!(
        first("v3/pay/transactions/out_trade_no/{out_trade_no}/close"),
        Some("v3/pay/transactions/out-trade-no/{out_trade_no}/close")
    );
    // PHP and Node spellings.
    assert_eq!(
        first("v3->pay->transactions->native"),
        Some("v3/pay/transactions/native")
    );
    assert_eq!(first("v3.pay.transactions.native"), Some("v3/pay/transactions/native"));
    assert_eq!(
        first("$instance->v3->marketing->busifavor->coupon->use->post"),
        Some("v3/marketing/busifavor/coupons/use")
    );
    assert_eq!(
        first("v2->secapi->mch->addInstitutionsub"),
        Some("v2/secapi/mch/addInstitutionsub")
    );
    // n operations at most, nearest first; nothing far-fetched.
    assert_eq!(suggest("v3/marketing/busifavor/stocks/{stock_id}", 2).len(), 2);
    assert_eq!(suggest("v3/pay/transactions/native", 0).len(), 0);
    assert_eq!(suggest("v3/pay/transactions/native", 5).len(), 5);
    assert!(suggest("completely/unrelated/things/here/now", 5).is_empty());
}

#[test]
fn normalize_path_reads_php_node_and_urls() {
    for spelling in [
        "v3/pay/transactions/native",
        "/v3/pay/transactions/native",
        "v3->pay->transactions->native",
        "$instance->v3->pay->transactions->native->postAsync($options)",
        "v3.pay.transactions.native",
        "wxpay.v3.pay.transactions.native.post(data)",
        "https://api.mch.weixin.qq.com/v3/pay/transactions/native?x=1",
    ] {
        assert_eq!(normalize_path(spelling), "v3/pay/transactions/native", "{spelling}");
    }
    assert_eq!(
        normalize_path("v3->pay->transactions->id->_transaction_id_"),
        "v3/pay/transactions/id/{transaction_id}"
    );
    assert_eq!(
        normalize_path("v3.marketing.busifavor.coupons['use']"),
        "v3/marketing/busifavor/coupons/use"
    );
    // A path keeps its segments as written, and its trailing slash (`{empty}`).
    assert_eq!(
        normalize_path("v2/secapi/mch/addInstitutionsub"),
        "v2/secapi/mch/addInstitutionsub"
    );
    assert_eq!(normalize_path("v3/ecommerce/applyments/"), "v3/ecommerce/applyments/");
}

/// The dotted path of every field from the `depth` nesting, ancestors that are arrays marked `[]` — the
/// test's own reading of the rule, to check the generator's.
fn field_paths(fields: &[Value]) -> Vec<String> {
    let mut stack: Vec<String> = Vec::new();
    fields
        .iter()
        .map(|field| {
            let depth = field["depth"].as_u64().unwrap() as usize;
            let name = field["name"].as_str().unwrap();
            stack.truncate(depth);
            let path = stack
                .iter()
                .map(String::as_str)
                .chain([name])
                .collect::<Vec<_>>()
                .join(".");
            let array = field["type"].as_str().unwrap().ends_with("[]");
            stack.push(if array { format!("{name}[]") } else { name.to_owned() });
            path
        })
        .collect()
}

#[test]
fn the_embedded_catalog_is_the_shared_one() {
    let Some(shared) = shared_catalog() else {
        eprintln!("../shared/catalog/operations.json is absent: only the embedded data's integrity is checked");
        return;
    };
    let all = operations();
    assert_eq!(shared.len(), all.len(), "stale: run `python3 scripts/catalog.py`");
    for (source, op) in shared.iter().zip(all) {
        let stale = format!("stale at {op}: run `python3 scripts/catalog.py`");
        assert_eq!(source["method"], op.method(), "{stale}");
        assert_eq!(source["path"], op.template(), "{stale}");
        assert_eq!(source["title"], op.title(), "{stale}");
        let request = source["request"].as_array().unwrap();
        let top = |name: &str| request.iter().any(|f| f["depth"] == 0 && f["name"] == name);
        assert_eq!(top("security"), op.needs_client_certificate(), "{stale}");
        assert_eq!(top("nonceless"), op.is_nonceless(), "{stale}");
        let encrypted: Vec<String> = request
            .iter()
            .zip(field_paths(request))
            .filter(|(f, _)| f["encrypted"] == true)
            .map(|(_, path)| path)
            .collect();
        let embedded: Vec<String> = op
            .encrypted_fields()
            .iter()
            .map(|p| format!("{}.{p}", op.encrypted_part().unwrap()))
            .collect();
        assert_eq!(encrypted, embedded, "{stale}");
        #[cfg(feature = "catalog-fields")]
        for (side, fields) in [("request", op.request_fields()), ("response", op.response_fields())] {
            let documented = source[side].as_array().unwrap();
            assert_eq!(documented.len(), fields.len(), "{stale}: {side}");
            for ((doc, path), field) in documented.iter().zip(field_paths(documented)).zip(fields) {
                assert_eq!(doc["name"], field.name(), "{stale}: {side}");
                assert_eq!(path, field.path(), "{stale}: {side}");
                assert_eq!(doc["type"], field.ty(), "{stale}: {side} {path}");
                assert_eq!(doc["required"], field.is_required(), "{stale}: {side} {path}");
                assert_eq!(doc["depth"], field.depth(), "{stale}: {side} {path}");
                assert_eq!(doc["label"], field.label(), "{stale}: {side} {path}");
                assert_eq!(doc["encrypted"] == true, field.is_encrypted(), "{stale}: {side} {path}");
                let values: Vec<&str> = doc["enum"]
                    .as_array()
                    .map_or(Vec::new(), |v| v.iter().map(|v| v.as_str().unwrap()).collect());
                assert_eq!(values, field.enum_values(), "{stale}: {side} {path}");
            }
        }
    }
}

/// The committed files are byte for byte what the generator writes (this also covers `fields.tsv` in a
/// build without `catalog-fields`). Needs `python3` and `../shared`; skipped without either.
#[test]
fn the_committed_files_are_what_the_generator_writes() {
    if shared_catalog().is_none() {
        eprintln!("../shared is absent: skipped");
        return;
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/catalog.py");
    let out = match Command::new("python3").arg(&script).arg("--check").output() {
        Ok(out) => out,
        Err(why) => {
            eprintln!("python3 does not run ({why}): skipped");
            return;
        }
    };
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[cfg(feature = "catalog-fields")]
#[test]
fn field_tables_describe_requests_and_responses() {
    let jsapi = find("POST", "v3/pay/transactions/jsapi").unwrap();
    let request = jsapi.request_fields();
    assert_eq!(request[0].path(), "json");
    assert_eq!(request[0].depth(), 0);
    let field = |path: &str| {
        request
            .iter()
            .find(|f| f.path() == path)
            .unwrap_or_else(|| panic!("{path}"))
    };
    assert!(field("json.appid").is_required());
    assert_eq!(field("json.amount.currency").ty(), "string");
    assert!(field("json.payer.identity.number").is_encrypted());
    assert!(field("json.detail.goods_detail[].merchant_goods_id").depth() == 3);
    assert_eq!(field("json.detail.goods_detail").ty(), "object[]");
    assert!(jsapi
        .response_fields()
        .iter()
        .any(|f| f.path() == "prepay_id" && f.is_required()));
    // Enum values and the APIv2 flags as fields.
    let auth = find("GET", "v2/appauth/authindex").unwrap();
    let scope = auth
        .request_fields()
        .iter()
        .find(|f| f.path() == "query.scope")
        .unwrap();
    assert_eq!(scope.enum_values(), ["pay_identity", "pay_realname"]);
    assert_eq!(scope.label(), "应用授权作用域");
    let refund = find("POST", "v2/secapi/pay/refund").unwrap();
    assert!(refund
        .request_fields()
        .iter()
        .any(|f| f.path() == "security" && f.ty() == "true"));
    // Every encrypted request field is in `encrypted_fields`, and the other way round.
    for op in operations() {
        let from_fields: Vec<&str> = op
            .request_fields()
            .iter()
            .filter(|f| f.is_encrypted())
            .map(|f| f.path().split_once('.').unwrap().1)
            .collect();
        assert_eq!(from_fields, op.encrypted_fields(), "{op}");
    }
}
