//! `wxpay` and the catalog of documented operations: `endpoints`, `describe`, the checks the verbs make
//! before sending (`--strict`), PHP/Node spellings of PATH, and shell completion of PATH arguments. Nothing
//! here reaches the internet: dry runs print the request, refusals happen before sending, and the calls
//! that are sent go to a sandbox on this machine.
#![cfg(all(feature = "cli", unix))]

mod common;

use common::{assert_exit, stderr, stdout, Sandbox};

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{json, Map, Value};
use wechatpay::apiv2::{self, SignType};
use wechatpay::catalog::{self, Operation};
use wechatpay::mock::MockServer;
use wechatpay::{Method, Options, RetryPolicy};

const WXPAY: &str = env!("CARGO_BIN_EXE_wxpay");
const MCHID: &str = "1900000109";
const APIV2_KEY: &str = "exposed_your_key_here_have_risks";
/// Where a dry run's URL points: nothing is ever sent there.
const NOWHERE: &str = "http://127.0.0.1:9/";

/// Runs `wxpay` with a clean environment (no WECHATPAY_*/WXPAY_* but `env`), piped stdio.
fn wxpay(args: &[&str], env: &[(&str, String)], stdin: Option<&[u8]>) -> Output {
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    common::run_wxpay(args, &env, stdin, "cli-catalog")
}

/// `wxpay ARGS` that must succeed, its stdout parsed as JSON.
#[track_caller]
fn ok_json(args: &[&str]) -> Value {
    let out = wxpay(args, &[], None);
    assert_exit(&out, 0);
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", stdout(&out)))
}

/// An APIv2-only configuration whose requests would go nowhere, from the environment.
fn v2_env() -> Vec<(&'static str, String)> {
    vec![
        ("WECHATPAY_MCHID", MCHID.to_owned()),
        ("WECHATPAY_APIV2_KEY", APIV2_KEY.to_owned()),
        ("WECHATPAY_BASE_URI", NOWHERE.to_owned()),
    ]
}

/// A complete APIv3 configuration (the test fixtures' keys) whose requests would go to `base_uri`.
fn v3_env(base_uri: &str) -> Vec<(&'static str, String)> {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let file = |name: &str| fixtures.join(name).display().to_string();
    vec![
        ("WECHATPAY_MCHID", MCHID.to_owned()),
        (
            "WECHATPAY_SERIAL",
            "5157F09EFDC096DE15EBE81A47057A7232F1B8E1".to_owned(),
        ),
        ("WECHATPAY_PRIVATE_KEY", file("merchant_key.pem")),
        (
            "WECHATPAY_PUBLIC_KEY_ID",
            "PUB_KEY_ID_0114232134912410000000000000".to_owned(),
        ),
        ("WECHATPAY_PUBLIC_KEY", file("platform_pub.pem")),
        ("WECHATPAY_BASE_URI", base_uri.to_owned()),
    ]
}

// ---- endpoints ----

#[test]
fn endpoints_lists_every_operation_one_a_line() {
    let out = wxpay(&["endpoints"], &[], None);
    assert_exit(&out, 0);
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), catalog::operations().len());
    // METHOD, template, title; the templates padded to one column.
    let jsapi = lines
        .iter()
        .find(|l| l.starts_with("POST   v3/pay/transactions/jsapi "))
        .expect("the jsapi line");
    assert!(jsapi.trim_end().ends_with("JSAPI下单"), "{jsapi}");
    // The titles start in one column (the templates are ASCII).
    let column = |line: &str| line.find(line.split_whitespace().nth(2).unwrap()).unwrap();
    assert!(lines.iter().all(|l| column(l) == column(jsapi)), "{text}");
    let v2 = wxpay(&["endpoints", "--v2"], &[], None);
    let v3 = wxpay(&["endpoints", "--v3"], &[], None);
    assert_eq!(stdout(&v2).lines().count(), 129);
    assert_eq!(stdout(&v3).lines().count(), 1018);
    assert!(stdout(&v2)
        .lines()
        .all(|l| l.split_whitespace().nth(1).unwrap().starts_with("v2/")));
    assert!(stdout(&v3)
        .lines()
        .all(|l| l.split_whitespace().nth(1).unwrap().starts_with("v3/")));
    assert_exit(&wxpay(&["endpoints", "--v2", "--v3"], &[], None), 2);
}

#[test]
fn endpoints_searches_templates_titles_and_chain_spellings() {
    let out = wxpay(&["endpoints", "退款"], &[], None);
    assert_exit(&out, 0);
    let text = stdout(&out);
    assert!(text.lines().count() > 5, "{text}");
    assert!(text.lines().all(|l| l.contains("退款")), "{text}");
    assert!(
        text.lines()
            .any(|l| l.split_whitespace().nth(1) == Some("v3/refund/domestic/refunds")),
        "{text}"
    );
    // Every word must match; a PHP or a Node chain reads as a path.
    for query in [
        &["busifavor", "coupons"][..],
        &["v3->marketing->busifavor"],
        &["v3.marketing.busifavor"],
    ] {
        let mut args = vec!["endpoints"];
        args.extend_from_slice(query);
        let out = wxpay(&args, &[], None);
        assert_exit(&out, 0);
        let text = stdout(&out);
        assert!(
            !text.is_empty() && text.lines().all(|l| l.contains("busifavor")),
            "{query:?}: {text}"
        );
    }
    // Nothing found: nothing on stdout, a note on stderr, success.
    let out = wxpay(&["endpoints", "no-such-thing-anywhere"], &[], None);
    assert_exit(&out, 0);
    assert!(out.stdout.is_empty() && stderr(&out).contains("no documented operation"));
    let none = ok_json(&["endpoints", "no-such-thing-anywhere", "--json"]);
    assert_eq!(none, json!([]));
}

#[test]
fn endpoints_json_carries_flags_and_encrypted_fields() {
    let all = ok_json(&["endpoints", "--json"]);
    let all = all.as_array().unwrap();
    assert_eq!(all.len(), catalog::operations().len());
    for entry in all {
        let keys: Vec<&str> = entry.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "method",
                "path",
                "title",
                "security",
                "nonceless",
                "encrypted_fields",
                "simulated"
            ]
        );
    }
    let find = |method: &str, path: &str| {
        all.iter()
            .find(|e| e["method"] == method && e["path"] == path)
            .unwrap_or_else(|| panic!("{method} {path}"))
    };
    let jsapi = find("POST", "v3/pay/transactions/jsapi");
    assert_eq!(jsapi["title"], "JSAPI下单");
    assert_eq!(
        jsapi["encrypted_fields"],
        json!(["payer.identity.number", "payer.identity.name"])
    );
    assert_eq!(jsapi["simulated"], true);
    let refund = find("POST", "v2/secapi/pay/refund");
    assert_eq!(
        (&refund["security"], &refund["nonceless"]),
        (&json!(true), &json!(false))
    );
    let contract = find("POST", "v2/papay/deletecontract");
    assert_eq!(contract["nonceless"], true);
    let v2 = ok_json(&["endpoints", "--v2", "--json", "pay"]);
    assert!(v2
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["path"].as_str().unwrap().starts_with("v2/")));
    let simulated = ok_json(&["endpoints", "--simulated", "--json"]);
    assert!(simulated.as_array().unwrap().iter().all(|e| e["simulated"] == true));
    assert!(simulated.as_array().unwrap().len() >= 40, "{simulated}");
}

// ---- describe ----

#[test]
fn describe_shows_fields_twins_flags_and_the_sandbox() {
    let out = wxpay(&["describe", "v3/pay/transactions/jsapi"], &[], None);
    assert_exit(&out, 0);
    let text = stdout(&out);
    assert!(
        text.starts_with("POST v3/pay/transactions/jsapi  JSAPI下单\n"),
        "{text}"
    );
    for needle in [
        "$instance->v3->pay->transactions->jsapi->post([...]);",
        "$instance->chain('v3/pay/transactions/jsapi')->post([...]);",
        "client[\"v3/pay/transactions/jsapi\"].post(json!({...}))?;",
        "client.chain(\"v3/pay/transactions/jsapi\").post(json!({...}))?;",
        "payer.identity.number, payer.identity.name (in json;",
        "simulated by the embedded sandbox",
        "Request fields:",
        "Answer fields:",
    ] {
        assert!(text.contains(needle), "{needle} in {text}");
    }
    // The table: one row a field, the name indented by its depth, then type, required, encrypted.
    let row = |name: &str| -> Vec<String> {
        let line = text
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("{name} ")))
            .unwrap_or_else(|| panic!("{name} in {text}"));
        let indent = line.len() - line.trim_start().len();
        let mut cells = vec![indent.to_string()];
        cells.extend(line.split_whitespace().map(str::to_owned));
        cells
    };
    let header = text.lines().find(|l| l.contains("FIELD")).unwrap();
    assert!(header.contains("TYPE") && header.contains("REQUIRED") && header.contains("ENCRYPTED"));
    assert_eq!(row("json")[..4], ["4", "json", "object", "yes"]);
    assert_eq!(row("notify_url")[..4], ["6", "notify_url", "string", "yes"]);
    assert_eq!(row("attach")[..3], ["6", "attach", "string"]);
    assert!(!row("attach").contains(&"yes".to_owned()));
    // `number`: depth 3, required (within `identity`), encrypted.
    assert_eq!(row("number")[..5], ["10", "number", "string", "yes", "yes"]);
    let limit_pay = text.lines().find(|l| l.trim_start().starts_with("limit_pay ")).unwrap();
    assert!(
        limit_pay.contains("one of: no_balance, no_credit, no_debit, balance_only"),
        "{limit_pay}"
    );
    assert!(text.lines().any(|l| l.trim_start().starts_with("prepay_id ")), "{text}");

    // APIv2: its flags, its XML fields, a twin without `{...}` placeholders.
    let out = wxpay(&["describe", "v2/secapi/pay/refund"], &[], None);
    assert_exit(&out, 0);
    let text = stdout(&out);
    for needle in [
        "APIv2 (XML",
        "needs the merchant's TLS client certificate",
        "$instance->v2->secapi->pay->refund->post([...]);",
        "wxpay post v2/secapi/pay/refund --xml",
        "simulated by the embedded sandbox",
    ] {
        assert!(text.contains(needle), "{needle} in {text}");
    }
    let text = stdout(&wxpay(&["describe", "v2/papay/deletecontract"], &[], None));
    assert!(text.contains("nonceless"), "{text}");
    assert!(
        text.contains("not simulated: the embedded sandbox answers 501 NOT_SIMULATED"),
        "{text}"
    );
}

#[test]
fn describe_reads_templates_concrete_paths_and_php_and_node_spellings() {
    let template = ok_json(&[
        "describe",
        "v3/pay/transactions/out-trade-no/{out_trade_no}/close",
        "--json",
    ]);
    let op = &template["operations"][0];
    assert_eq!(op["path"], "v3/pay/transactions/out-trade-no/{out_trade_no}/close");
    assert_eq!(
        op["php"],
        json!([
            "$instance->v3->pay->transactions->outTradeNo->_out_trade_no_->close->post([...]);",
            "$instance->chain('v3/pay/transactions/out-trade-no/{out_trade_no}/close')->post([...]);"
        ])
    );
    for spelling in [
        "/v3/pay/transactions/out-trade-no/1217752501201407033233368018/close",
        "v3->pay->transactions->outTradeNo->_out_trade_no_->close",
        "$instance->v3->pay->transactions->outTradeNo->_out_trade_no_->close->post([...])",
        "v3.pay.transactions.outTradeNo._out_trade_no_.close",
        "wxpay.v3.pay.transactions.outTradeNo._out_trade_no_.close.post({})",
    ] {
        let described = ok_json(&["describe", spelling, "--json"]);
        let ops = described["operations"].as_array().unwrap();
        assert_eq!(ops.len(), 1, "{spelling}: {described}");
        assert_eq!(ops[0]["path"], op["path"], "{spelling}");
    }
    // Every method at a path, or one.
    let both = ok_json(&["describe", "v3/marketing/busifavor/stocks/100088", "--json"]);
    let methods: Vec<&Value> = both["operations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| &o["method"])
        .collect();
    assert_eq!(methods, [&json!("GET"), &json!("PATCH")]);
    assert_eq!(both["path"], "v3/marketing/busifavor/stocks/100088");
    let patch = ok_json(&[
        "describe",
        "v3/marketing/busifavor/stocks/100088",
        "-X",
        "patch",
        "--json",
    ]);
    assert_eq!(patch["operations"].as_array().unwrap().len(), 1);
    assert_eq!(patch["operations"][0]["simulated"], false);
    let out = wxpay(
        &["describe", "v3/marketing/busifavor/stocks/100088", "-X", "DELETE"],
        &[],
        None,
    );
    assert_exit(&out, 2);
    assert!(stderr(&out).contains("GET, PATCH"), "{}", stderr(&out));
    let text = stdout(&wxpay(&["describe", "v3/pay/transactions/id/4200000000"], &[], None));
    assert!(
        text.starts_with("GET v3/pay/transactions/id/{transaction_id}"),
        "{text}"
    );
    assert!(
        text.contains("`v3/pay/transactions/id/4200000000` is this template"),
        "{text}"
    );
}

#[test]
fn describe_json_has_the_fields_of_the_text() {
    let described = ok_json(&["describe", "v3/pay/transactions/jsapi", "--json"]);
    let op = &described["operations"][0];
    for (key, value) in [
        ("method", json!("POST")),
        ("title", json!("JSAPI下单")),
        ("api", json!("v3")),
        ("security", json!(false)),
        ("nonceless", json!(false)),
        ("encrypted_part", json!("json")),
        ("simulated", json!(true)),
    ] {
        assert_eq!(op[key], value, "{key}");
    }
    let number = op["request"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"] == "json.payer.identity.number")
        .unwrap();
    assert_eq!(
        number,
        &json!({"name": "number", "path": "json.payer.identity.number", "type": "string", "required": true,
            "depth": 3, "label": "加密后的证件号", "enum": [], "encrypted": true})
    );
    assert_eq!(op["response"][0]["path"], "prepay_id");
    assert_eq!(
        op["rust"][0],
        "client[\"v3/pay/transactions/jsapi\"].post(json!({...}))?;"
    );
    let catalog_op = catalog::find("POST", "v3/pay/transactions/jsapi").unwrap();
    assert_eq!(
        op["request"].as_array().unwrap().len(),
        catalog_op.request_fields().len()
    );
}

#[test]
fn describe_says_which_operations_the_sandbox_simulates() {
    let simulated = |method: &str, path: &str| {
        let described = ok_json(&["describe", path, "-X", method, "--json"]);
        described["operations"][0]["simulated"].as_bool().unwrap()
    };
    for (method, path) in [
        ("POST", "v3/marketing/busifavor/coupons/use"),
        ("GET", "v3/marketing/busifavor/stocks/{stock_id}"),
        ("GET", "v3/certificates"),
        ("POST", "v3/merchant/media/upload"),
        ("POST", "v3/pay/transactions/native"),
        ("GET", "v3/pay/transactions/out-trade-no/{out_trade_no}"),
        ("POST", "v3/refund/domestic/refunds"),
        ("POST", "v2/pay/micropay"),
        ("POST", "v2/secapi/pay/refund"),
        ("POST", "v2/mmpaymkttransfers/sendredpack"),
    ] {
        assert!(simulated(method, path), "{method} {path}");
    }
    for (method, path) in [
        ("POST", "v3/marketing/busifavor/coupons/return"),
        ("PATCH", "v3/marketing/busifavor/stocks/{stock_id}"),
        ("POST", "v3/pay/transactions/codepay"),
        ("POST", "v3/refund/domestic/refunds/{refund_id}/apply-abnormal-refund"),
        ("POST", "v2/pay/refundqueryv2"),
        ("POST", "v3/ecommerce/applyments/{empty}"),
    ] {
        assert!(!simulated(method, path), "{method} {path}");
    }
}

#[test]
fn describe_refuses_an_undocumented_path_with_the_nearest_ones() {
    let out = wxpay(&["describe", "v3/pay/transactions/nativ"], &[], None);
    assert_exit(&out, 2);
    assert!(out.stdout.is_empty());
    let err = stderr(&out);
    assert!(
        err.contains("`v3/pay/transactions/nativ` is not a documented path"),
        "{err}"
    );
    let suggested: Vec<&str> = err
        .lines()
        .filter_map(|l| {
            let mut words = l.split_whitespace();
            let method = words.next()?;
            ["GET", "POST", "PUT", "PATCH", "DELETE"]
                .contains(&method)
                .then(|| words.next())
                .flatten()
        })
        .collect();
    assert_eq!(suggested.len(), 5, "{err}");
    assert_eq!(suggested[0], "v3/pay/transactions/native", "{err}");
    let out = wxpay(&["describe", "v3.pay.transactions.nativ"], &[], None);
    assert_exit(&out, 2);
    assert!(stderr(&out).contains("v3/pay/transactions/native"), "{}", stderr(&out));
    let out = wxpay(&["describe", "nothing/like/this/at/all"], &[], None);
    assert_exit(&out, 2);
    assert!(stderr(&out).contains("wxpay endpoints"), "{}", stderr(&out));
    // Neither command takes configuration.
    let out = wxpay(&["--mchid", MCHID, "describe", "v3/certificates"], &[], None);
    assert_exit(&out, 2);
    assert!(
        stderr(&out).contains("`--mchid` does not apply to `wxpay describe`"),
        "{}",
        stderr(&out)
    );
}

// ---- the checks before sending ----

/// The `<name>value</name>` children of a flat `<xml>` (no CDATA here).
fn xml_fields(xml: &str) -> Vec<(String, String)> {
    let inner = xml
        .strip_prefix("<xml>")
        .and_then(|x| x.strip_suffix("</xml>"))
        .expect("<xml>");
    let mut fields = Vec::new();
    let mut rest = inner;
    while let Some(open) = rest.strip_prefix('<') {
        let (name, after) = open.split_once('>').unwrap();
        let (value, after) = after.split_once(format!("</{name}>").as_str()).unwrap();
        fields.push((name.to_owned(), value.to_owned()));
        rest = after;
    }
    fields
}

#[test]
fn a_missing_required_field_warns_on_stderr_and_leaves_stdout_alone() {
    // `--nonceless`: no random nonce, so the dry run is exactly predictable.
    let fields = json!({"appid": "wx8888888888888888", "mch_id": MCHID});
    let out = wxpay(
        &[
            "post",
            "v2/pay/orderquery",
            "--xml",
            &fields.to_string(),
            "--nonceless",
            "--dry-run",
        ],
        &v2_env(),
        None,
    );
    assert_exit(&out, 0);
    let err = stderr(&out);
    assert!(
        err.contains("wxpay: warning: POST v2/pay/orderquery (查询订单) is missing a documented required field: one of `transaction_id`, `out_trade_no` in --xml"),
        "{err}"
    );
    let text = stdout(&out);
    let sign = apiv2::sign(
        SignType::Md5,
        [("appid", "wx8888888888888888"), ("mch_id", MCHID)],
        APIV2_KEY,
    );
    let body = format!("<xml><appid>wx8888888888888888</appid><mch_id>{MCHID}</mch_id><sign>{sign}</sign></xml>");
    assert!(text.starts_with(&format!("POST {NOWHERE}pay/orderquery\n")), "{text}");
    assert!(text.contains(&format!("\n\n{body}\n")), "{text}");
    assert!(!text.contains("warning") && !text.contains("transaction_id"), "{text}");
    assert_eq!(xml_fields(&body).len(), 3);

    // Either identifier will do; so will an alternative of the refund query's four.
    for fields in [
        json!({"appid": "wx1", "mch_id": MCHID, "out_trade_no": "1217752501201407033233368018"}),
        json!({"appid": "wx1", "mch_id": MCHID, "transaction_id": "4200000000"}),
    ] {
        let out = wxpay(
            &[
                "post",
                "v2/pay/orderquery",
                "--xml",
                &fields.to_string(),
                "--dry-run",
                "--strict",
            ],
            &v2_env(),
            None,
        );
        assert_exit(&out, 0);
        assert_eq!(stderr(&out), "");
    }
    let fields = json!({"appid": "wx1", "mch_id": MCHID, "refund_id": "50000000"});
    let out = wxpay(
        &[
            "post",
            "v2/pay/refundquery",
            "--xml",
            &fields.to_string(),
            "--dry-run",
            "--strict",
        ],
        &v2_env(),
        None,
    );
    assert_exit(&out, 0);
    assert_eq!(stderr(&out), "");

    // APIv3: a field of --json; the query of a GET; `Wechatpay-Serial` is never asked for.
    let env = v3_env(NOWHERE);
    let order = json!({"appid": "wxd678efh567hg6787", "mchid": MCHID, "description": "Image形象店-深圳腾大-QQ公仔",
        "out_trade_no": "1217752501201407033233368018", "amount": {"total": 100, "currency": "CNY"}});
    let out = wxpay(
        &[
            "post",
            "v3/pay/transactions/native",
            "--json",
            &order.to_string(),
            "--dry-run",
        ],
        &env,
        None,
    );
    assert_exit(&out, 0);
    let err = stderr(&out);
    assert!(
        err.contains("`notify_url` in --json") && !err.contains("Wechatpay-Serial"),
        "{err}"
    );
    assert!(stdout(&out).starts_with(&format!("POST {NOWHERE}v3/pay/transactions/native\n")));
    assert!(!stdout(&out).contains("warning"));
    let out = wxpay(
        &[
            "get",
            "v3/pay/transactions/id/{transaction_id}",
            "-p",
            "transaction_id=4200000000",
            "--dry-run",
        ],
        &env,
        None,
    );
    assert_exit(&out, 0);
    assert!(stderr(&out).contains("`mchid` in --query"), "{}", stderr(&out));
    let out = wxpay(
        &[
            "get",
            "v3/pay/transactions/id/{transaction_id}",
            "-p",
            "transaction_id=4200000000",
            "-q",
            &format!("mchid={MCHID}"),
            "--dry-run",
            "--strict",
        ],
        &env,
        None,
    );
    assert_exit(&out, 0);
    assert_eq!(stderr(&out), "");
}

#[test]
fn an_undocumented_path_warns_with_the_nearest_and_strict_refuses_before_sending() {
    // A port nothing listens on: had anything been sent, the exit code would be 6 (transport).
    let closed = common::closed_port();
    let base = format!("http://127.0.0.1:{}/", closed.port);
    let env = v3_env(&base);
    let order = json!({"appid": "wx1", "mchid": MCHID});
    let out = wxpay(
        &["post", "v3/pay/transactions/nativ", "--json", &order.to_string()],
        &env,
        None,
    );
    assert_exit(&out, 6);
    let err = stderr(&out);
    assert!(
        err.contains("wxpay: warning: v3/pay/transactions/nativ is not a documented path"),
        "{err}"
    );
    assert!(err.contains("POST   v3/pay/transactions/native"), "{err}");
    let out = wxpay(
        &[
            "post",
            "v3/pay/transactions/nativ",
            "--json",
            &order.to_string(),
            "--strict",
        ],
        &env,
        None,
    );
    assert_exit(&out, 2);
    assert!(out.stdout.is_empty());
    let err = stderr(&out);
    assert!(
        err.contains("not a documented path") && err.contains("--strict"),
        "{err}"
    );
    // The dry run is refused alike, and prints nothing.
    let out = wxpay(
        &[
            "post",
            "v3/pay/transactions/nativ",
            "--json",
            "{}",
            "--strict",
            "--dry-run",
        ],
        &env,
        None,
    );
    assert_exit(&out, 2);
    assert!(out.stdout.is_empty(), "{}", stdout(&out));
    // A documented path with another method.
    let out = wxpay(&["get", "v3/pay/transactions/native", "--strict"], &env, None);
    assert_exit(&out, 2);
    assert!(
        stderr(&out).contains("`v3/pay/transactions/native` is documented for POST"),
        "{}",
        stderr(&out)
    );
    // A missing field under --strict: refused before sending too.
    let out = wxpay(
        &["post", "v3/pay/transactions/native", "--json", "{}", "--strict"],
        &env,
        None,
    );
    assert_exit(&out, 2);
    assert!(stderr(&out).contains("`appid` in --json"), "{}", stderr(&out));
}

#[test]
fn php_and_node_spellings_of_path_are_read_as_the_path() {
    let fields = json!({"appid": "wx1", "mch_id": MCHID, "out_trade_no": "1217752501201407033233368018"});
    let mut seen = BTreeSet::new();
    for spelling in [
        "v2/pay/orderquery",
        "v2->pay->orderquery",
        "v2.pay.orderquery",
        "$instance->v2->pay->orderquery->post([...])",
    ] {
        let out = wxpay(
            &[
                "post",
                spelling,
                "--xml",
                &fields.to_string(),
                "--nonceless",
                "--dry-run",
                "--strict",
            ],
            &v2_env(),
            None,
        );
        assert_exit(&out, 0);
        seen.insert(stdout(&out));
    }
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert!(seen
        .first()
        .unwrap()
        .starts_with(&format!("POST {NOWHERE}pay/orderquery\n")));
    // A chain's `_name_` is a placeholder, given with --param.
    let env = v3_env(NOWHERE);
    let out = wxpay(
        &[
            "get",
            "v3.pay.transactions.outTradeNo._out_trade_no_",
            "-p",
            "out_trade_no=1217752501201407033233368018",
            "-q",
            &format!("mchid={MCHID}"),
            "--dry-run",
            "--strict",
        ],
        &env,
        None,
    );
    assert_exit(&out, 0);
    assert!(
        stdout(&out).starts_with(&format!(
            "GET {NOWHERE}v3/pay/transactions/out-trade-no/1217752501201407033233368018?mchid={MCHID}\n"
        )),
        "{}",
        stdout(&out)
    );
}

#[test]
fn strict_passes_complete_requests_to_the_sandbox() {
    let sandbox = Sandbox::start("cli-catalog-strict");
    let ok = |args: &[&str]| -> Value {
        let out = sandbox.run(&[args, &["--strict"]].concat());
        assert_exit(&out, 0);
        assert_eq!(stderr(&out), "", "{args:?}");
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", stdout(&out)))
    };
    let send = json!({"openid": "xsd3434454567676", "appid": "wx1234567889999", "stock_id": "100088",
        "out_request_no": "1002600620019090123143254435", "coupon_code": "sxxe34343434"});
    let sent = ok(&[
        "post",
        "v3/marketing/busifavor/coupons/send",
        "--json",
        &send.to_string(),
    ]);
    assert_eq!(sent["coupon_code"], "sxxe34343434");
    let stock = ok(&[
        "get",
        "v3.marketing.busifavor.stocks._stock_id_",
        "-p",
        "stock_id=100088",
    ]);
    assert_eq!(stock["stock_id"], "100088");
    let list = ok(&[
        "get",
        "v3/marketing/busifavor/users/{openid}/coupons",
        "-p",
        "openid=xsd3434454567676",
        "-q",
        "appid=wx1234567889999",
    ]);
    assert!(list["data"].as_array().is_some_and(|d| !d.is_empty()), "{list}");
    let info: Value = serde_json::from_slice(&std::fs::read(&sandbox.config).unwrap()).unwrap();
    let mchid = info["mchid"].as_str().unwrap();
    let order = json!({"appid": "wxd678efh567hg6787", "mchid": mchid, "description": "Image形象店-深圳腾大-QQ公仔",
        "out_trade_no": "CATALOG-STRICT-1", "notify_url": "https://www.weixin.qq.com/wxpay/pay.php",
        "amount": {"total": 100, "currency": "CNY"}});
    let placed = ok(&["post", "v3->pay->transactions->native", "--json", &order.to_string()]);
    assert!(placed["code_url"].as_str().is_some(), "{placed}");
    let found = ok(&[
        "get",
        "v3/pay/transactions/out-trade-no/CATALOG-STRICT-1",
        "-q",
        &format!("mchid={mchid}"),
    ]);
    assert_eq!(found["trade_state"], "NOTPAY");
}

// ---- the sandbox list, against the sandbox ----

/// A value for a required field of a probe: its first documented value, or a placeholder text.
fn probe_value(field: &wechatpay::catalog::Field) -> String {
    match field.enum_values().first() {
        Some(value) => (*value).to_owned(),
        None if field.name() == "sign_type" => "MD5".to_owned(),
        None => "1".to_owned(),
    }
}

/// Whether the sandbox simulates `op`: a request carrying every documented required top-level field (so
/// that an unsimulated one gets past its field check to `NOT_SIMULATED`) is answered without NOT_SIMULATED.
fn sandbox_simulates(client: &wechatpay::Client, mchid: &str, op: &Operation) -> Result<bool, String> {
    let mut options = Options::new().retry(RetryPolicy::none());
    for p in wechatpay::template::placeholders(op.template()).unwrap() {
        if p.name != wechatpay::template::EMPTY {
            options = options.param(p.name, "1");
        }
    }
    let fields = op.request_fields();
    let mut json_part: Option<Map<String, Value>> = None;
    let mut xml_part: Map<String, Value> = Map::new();
    let mut part = "";
    for f in fields {
        if f.depth() == 0 {
            part = f.name();
            if part == "json" {
                json_part.get_or_insert_with(Map::new);
            }
            continue;
        }
        if f.depth() != 1 || !f.is_required() || ["nonce_str", "sign"].contains(&f.name()) {
            continue;
        }
        let value = if ["mch_id", "mchid", "combine_mch_id", "sp_mchid"].contains(&f.name()) {
            mchid.to_owned()
        } else {
            probe_value(f)
        };
        match (part, op.is_apiv2()) {
            ("json", _) => {
                json_part
                    .get_or_insert_with(Map::new)
                    .insert(f.name().to_owned(), json!(value));
            }
            ("xml" | "query", true) => {
                xml_part.insert(f.name().to_owned(), json!(value));
            }
            ("query", false) => options = options.query(f.name(), value),
            _ => {}
        }
    }
    if let Some(body) = json_part {
        options = options.json(&body);
    }
    if op.is_apiv2() {
        if !xml_part
            .keys()
            .any(|k| ["mch_id", "mchid", "combine_mch_id"].contains(&k.as_str()))
        {
            xml_part.insert("mch_id".into(), json!(mchid));
        }
        // An APIv2 GET takes its fields as the (signed) query.
        if op.method() == "GET" {
            for (name, value) in &xml_part {
                options = options.query(name, value.as_str().unwrap());
            }
        } else {
            options = options.xml(&xml_part);
        }
    }
    let method = Method::from_bytes(op.method().as_bytes()).unwrap();
    let answer = match client.chain(op.template()).request(method, options) {
        Ok(response) => String::from_utf8_lossy(response.bytes()).into_owned(),
        Err(e) if e.is_api() => format!("{e} {}", e.body().map(String::from_utf8_lossy).unwrap_or_default()),
        Err(e) if e.is_verification() && e.to_string().contains("NOT_SIMULATED") => e.to_string(),
        Err(e) => return Err(format!("{op}: {e}")),
    };
    Ok(!answer.contains("NOT_SIMULATED"))
}

#[test]
fn the_simulated_list_is_what_the_sandbox_simulates() {
    let listed: BTreeSet<(String, String)> = ok_json(&["endpoints", "--simulated", "--json"])
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["method"].as_str().unwrap().to_owned(),
                e["path"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let server = MockServer::builder().tls(true).start().unwrap();
    let client = server.client_builder().retry(RetryPolicy::none()).build().unwrap();
    let mut wrong = Vec::new();
    let mut unknown = Vec::new();
    for op in catalog::operations() {
        match sandbox_simulates(&client, server.mchid(), op) {
            Ok(simulates) => {
                let says = listed.contains(&(op.method().to_owned(), op.template().to_owned()));
                if simulates != says {
                    wrong.push(format!(
                        "{op}: the sandbox simulates it: {simulates}; `wxpay` says: {says}"
                    ));
                }
            }
            Err(why) => unknown.push(why),
        }
    }
    assert!(
        wrong.is_empty(),
        "update SIMULATED in src/bin/wxpay/explore.rs:\n{}",
        wrong.join("\n")
    );
    // A probe that fails before an answer would say nothing.
    assert!(unknown.is_empty(), "{unknown:#?}");
}

// ---- completion ----

/// The directory of the binary, first on PATH, for the completion scripts (which run `wxpay`).
fn path_with_wxpay() -> String {
    let dir = Path::new(WXPAY).parent().unwrap().display().to_string();
    format!("{dir}:{}", std::env::var("PATH").unwrap_or_default())
}

fn script(shell: &str) -> PathBuf {
    let out = wxpay(&["completions", shell], &[], None);
    assert_exit(&out, 0);
    let file = common::temp_dir(&format!("completion-{shell}"));
    std::fs::write(&file, &out.stdout).unwrap();
    file
}

fn have(shell: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {shell}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Runs `shell -c program` with the binary on PATH; its stdout lines.
fn run_shell(shell: &str, program: &str) -> Vec<String> {
    let out = Command::new(shell)
        .args(["-c", program])
        .env("PATH", path_with_wxpay())
        .env(
            "WXPAY_CONFIG_DIR",
            std::env::temp_dir().join("wxpay-cli-catalog-no-profiles"),
        )
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{shell}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn complete_path_prints_matching_templates_only_at_a_path() {
    let lines = |args: &[&str]| {
        let out = wxpay(args, &[], None);
        (
            out.status.code(),
            stdout(&out).lines().map(str::to_owned).collect::<Vec<_>>(),
        )
    };
    let (code, found) = lines(&["__complete-path", "v3/pay/transactions/"]);
    assert_eq!(code, Some(0));
    assert!(found.contains(&"v3/pay/transactions/native".to_owned()), "{found:?}");
    assert!(
        found.contains(&"v3/pay/transactions/id/{transaction_id}".to_owned()),
        "{found:?}"
    );
    assert!(found.iter().all(|t| t.starts_with("v3/pay/transactions/")));
    // With the command line: only the templates of the verb's method, only at PATH.
    let (code, found) = lines(&["__complete-path", "v3/pay/transactions/", "--", "wxpay", "get"]);
    assert_eq!(code, Some(0));
    assert!(!found.contains(&"v3/pay/transactions/native".to_owned()), "{found:?}");
    assert!(
        found.contains(&"v3/pay/transactions/id/{transaction_id}".to_owned()),
        "{found:?}"
    );
    let (code, found) = lines(&[
        "__complete-path",
        "v3/pay",
        "--",
        "wxpay",
        "post",
        "v3/pay/transactions/native",
    ]);
    assert_eq!((code, found.len()), (Some(1), 0));
    let (code, _) = lines(&["__complete-path", "v3/pay", "--", "wxpay", "post", "--json"]);
    assert_eq!(code, Some(1));
    let (code, found) = lines(&[
        "__complete-path",
        "v2/pay/orderq",
        "--",
        "wxpay",
        "--config",
        "x.json",
        "post",
        "-q",
        "a=1",
    ]);
    assert_eq!((code, found), (Some(0), vec!["v2/pay/orderquery".to_owned()]));
    // Hidden from help.
    assert!(!stdout(&wxpay(&["--help"], &[], None)).contains("__complete-path"));
}

#[test]
fn bash_completes_path_arguments_from_the_catalog() {
    if !have("bash") {
        println!("bash is not installed: skipped");
        return;
    }
    let file = script("bash");
    let complete = |words: &[&str]| {
        let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
        let program = format!(
            "source '{}'; COMP_WORDS=({}); COMP_CWORD={}; COMPREPLY=(); \
             _wxpay wxpay \"${{COMP_WORDS[COMP_CWORD]}}\" \"${{COMP_WORDS[COMP_CWORD-1]}}\"; \
             printf '%s\\n' \"${{COMPREPLY[@]}}\"",
            file.display(),
            quoted.join(" "),
            words.len() - 1
        );
        run_shell("bash", &program)
            .into_iter()
            .filter(|l| !l.is_empty())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        complete(&["wxpay", "get", "v3/pay/tra"]),
        [
            "v3/pay/transactions/id/{transaction_id}",
            "v3/pay/transactions/out-trade-no/{out_trade_no}"
        ]
    );
    assert_eq!(
        complete(&["wxpay", "post", "--json", "{}", "v3/pay/transactions/nat"]),
        ["v3/pay/transactions/native"]
    );
    assert_eq!(
        complete(&["wxpay", "describe", "v2/secapi/pay/ref"]),
        ["v2/secapi/pay/refund", "v2/secapi/pay/refundv2"]
    );
    // Elsewhere, clap's completion: subcommands and flags.
    assert!(complete(&["wxpay", "desc"]).contains(&"describe".to_owned()));
    assert!(complete(&["wxpay", "get", "--js"]).contains(&"--json".to_owned()));
    let _ = std::fs::remove_file(file);
}

#[test]
fn zsh_completes_path_arguments_from_the_catalog() {
    if !have("zsh") {
        println!("zsh is not installed: skipped");
        return;
    }
    let file = script("zsh");
    // Outside a completion widget: `compadd` and `compdef` stand in, and `words`, `CURRENT` and `PREFIX`
    // are set as zsh sets them.
    let complete = |words: &[&str]| {
        let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
        let program = format!(
            "compdef() {{ : }}; compadd() {{ while [[ $1 != -- ]]; do shift; done; shift; print -rl -- \"$@\" }}; \
             _arguments() {{ print -r -- clap }}; source '{}'; words=({}); CURRENT={}; PREFIX='{}'; _wxpay",
            file.display(),
            quoted.join(" "),
            words.len(),
            words[words.len() - 1]
        );
        run_shell("zsh", &program)
    };
    assert_eq!(
        complete(&["wxpay", "get", "v3/pay/tra"]),
        [
            "v3/pay/transactions/id/{transaction_id}",
            "v3/pay/transactions/out-trade-no/{out_trade_no}"
        ]
    );
    assert_eq!(
        complete(&["wxpay", "-v", "post", "v3/pay/transactions/nat"]),
        ["v3/pay/transactions/native"]
    );
    // Elsewhere, clap's `_arguments`.
    assert_eq!(complete(&["wxpay", "get", "--js"]), ["clap"]);
    let _ = std::fs::remove_file(file);
}

#[test]
fn fish_completes_path_arguments_from_the_catalog() {
    if !have("fish") {
        println!("fish is not installed: skipped");
        return;
    }
    let file = script("fish");
    let complete = |line: &str| {
        let program = format!("source '{}'; complete -C '{line}'", file.display());
        run_shell("fish", &program)
            .into_iter()
            .map(|l| l.split('\t').next().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        complete("wxpay get v3/pay/tra"),
        [
            "v3/pay/transactions/id/{transaction_id}",
            "v3/pay/transactions/out-trade-no/{out_trade_no}"
        ]
    );
    assert_eq!(
        complete("wxpay post --json {} v3/pay/transactions/nat"),
        ["v3/pay/transactions/native"]
    );
    assert!(complete("wxpay desc").contains(&"describe".to_owned()));
    assert!(complete("wxpay get --js").contains(&"--json".to_owned()));
    let _ = std::fs::remove_file(file);
}
