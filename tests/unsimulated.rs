//! Every documented path answers honestly: what the sandbox does not simulate is checked for its required
//! fields and answered `501 NOT_SIMULATED`; a wrong method gets `405`; a typo'd path gets `404` with the
//! closest documented paths.
#![cfg(feature = "mock")]

use serde_json::{json, Map, Value};
use wechatpay::catalog;
use wechatpay::mock::MockServer;
use wechatpay::Method;

/// The families the sandbox simulates: a sample of the others must be answered as unsimulated.
const SIMULATED: [&str; 12] = [
    "v3/marketing/busifavor/",
    "v3/pay/transactions/",
    "v3/pay/partner/transactions/",
    "v3/bill/tradebill",
    "v3/bill/fundflowbill",
    "v3/billdownload/",
    "v3/refund/domestic/refunds",
    "v3/certificates",
    "v3/merchant/media/",
    "v3/marketing/favor/media/",
    "v3/merchant-service/images/",
    "v2/",
];

/// A value of the documented type, for a required field.
fn sample(ty: &str) -> Value {
    match ty {
        "integer" | "number" => json!(1),
        "boolean" => json!(true),
        t if t.ends_with("[]") => json!([]),
        "object" => json!({}),
        _ => json!("1"),
    }
}

#[test]
fn a_sample_of_unsimulated_operations_is_checked_and_answered_not_simulated() {
    let server = MockServer::start().unwrap();
    let client = server.client().unwrap();
    let candidates: Vec<_> = catalog::operations()
        .iter()
        .filter(|op| !SIMULATED.iter().any(|p| op.template().starts_with(p)))
        .filter(|op| matches!(op.method(), "GET" | "POST" | "PUT" | "PATCH" | "DELETE"))
        // Uploads and downloads send or take other bodies; the sample is of JSON operations.
        .filter(|op| {
            op.request_fields()
                .iter()
                .all(|f| f.path() != "body" && !f.path().starts_with("body."))
        })
        .collect();
    assert!(candidates.len() > 800, "{}", candidates.len());
    // A fixed sample, spread over the catalog: every 41st, so reruns test the same operations.
    let (mut answered, mut refused) = (0, 0);
    for op in candidates.iter().step_by(41) {
        let method = Method::from_bytes(op.method().as_bytes()).unwrap();
        let mut options = Map::new();
        for placeholder in op
            .template()
            .split('/')
            .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
        {
            options.insert(placeholder.trim_start_matches('+').to_owned(), json!("1"));
        }
        let required: Vec<_> = op
            .request_fields()
            .iter()
            .filter(|f| f.depth() == 1 && f.is_required())
            .collect();
        let (mut body, mut query) = (Map::new(), Map::new());
        for field in &required {
            match field.path().split_once('.') {
                Some(("json", name)) => drop(body.insert(name.to_owned(), sample(field.ty()))),
                Some(("query", name)) => drop(query.insert(name.to_owned(), json!("1"))),
                _ => {}
            }
        }
        let call = |options: &Map<String, Value>| {
            client
                .chain(op.template())
                .request(method.clone(), Value::Object(options.clone()))
        };
        // Without its required fields (when it has any): 400 PARAM_ERROR naming one.
        if !body.is_empty() || !query.is_empty() {
            let mut bare = options.clone();
            if !body.is_empty() {
                bare.insert("json".into(), json!({}));
            }
            let e = call(&bare).unwrap_err();
            assert_eq!((e.status(), e.code()), (Some(400), Some("PARAM_ERROR")), "{op}: {e}");
            let field = e.detail().unwrap()["field"].as_str().unwrap().to_owned();
            assert!(body.contains_key(&field) || query.contains_key(&field), "{op}: {field}");
            refused += 1;
        }
        if !body.is_empty() || method == Method::POST || method == Method::PUT || method == Method::PATCH {
            options.insert("json".into(), Value::Object(body.clone()));
        }
        if !query.is_empty() {
            options.insert("query".into(), Value::Object(query.clone()));
        }
        let e = call(&options).unwrap_err();
        assert_eq!((e.status(), e.code()), (Some(501), Some("NOT_SIMULATED")), "{op}: {e}");
        let message = e.api_message().unwrap();
        assert!(
            message.contains(op.title().trim()) && message.contains("server.route"),
            "{op}: {message}"
        );
        answered += 1;
    }
    assert!(
        answered >= 20 && refused >= 10,
        "{answered} answered, {refused} refused for a missing field"
    );
}

#[test]
fn a_wrong_method_and_a_typo_are_answered_with_what_exists() {
    let server = MockServer::start().unwrap();
    let client = server.client().unwrap();
    let e = client["v3/pay/transactions/jsapi"].get(()).unwrap_err();
    assert_eq!(e.status(), Some(405), "{e}");
    assert!(e.api_message().unwrap().contains("POST"), "{e}");
    let use_body = json!({"json": {"stock_id": "100088", "coupon_code": "sxxe34343434"}});
    let e = client["v3/marketing/busifavor/coupon/use"].post(use_body).unwrap_err();
    assert_eq!((e.status(), e.code()), (Some(404), Some("RESOURCE_NOT_EXISTS")), "{e}");
    assert!(
        e.api_message().unwrap().contains("v3/marketing/busifavor/coupons/use"),
        "{e}"
    );
    assert_eq!(
        e.detail().unwrap()["suggestions"][0],
        "POST v3/marketing/busifavor/coupons/use"
    );
    let e = client["v3/nothing/like/this/at/all"].get(()).unwrap_err();
    assert_eq!(e.status(), Some(404));
}

#[test]
fn the_client_says_what_a_404_on_an_undocumented_path_probably_meant() {
    let server = MockServer::start().unwrap();
    let client = server.client().unwrap();
    // The catalog never blocks a request: the typo is sent, and WeChat Pay's 404 explained.
    let before = server.requests();
    let e = client["v3/marketing/busifavor/coupon/use"]
        .post(json!({"json": {}}))
        .unwrap_err();
    assert_eq!(server.requests(), before + 1);
    assert!(
        e.to_string()
            .contains("did you mean POST v3/marketing/busifavor/coupons/use"),
        "{e}"
    );
    // A documented path's 404 (no such stock) is WeChat Pay's alone.
    let e = client["v3/marketing/busifavor/stocks/{stock_id}"]
        .get(json!({"stock_id": "404404"}))
        .unwrap_err();
    assert_eq!(e.status(), Some(404));
    assert!(!e.to_string().contains("did you mean"), "{e}");
}
