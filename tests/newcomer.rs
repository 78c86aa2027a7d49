//! A newcomer's traps, each shown closed: application errors through the promise chain, `post(&payload)`,
//! a typo'd option key with an object value, errors that print their cause on request, and configuration
//! mix-ups the builder refuses.
#![cfg(feature = "mock")]

mod common;

use serde_json::{json, Value};
use wechatpay::mock::MockServer;
use wechatpay::Options;

const STOCK: &str = "v3/marketing/busifavor/stocks/{stock_id}";

#[test]
fn application_errors_flow_through_then_and_otherwise() {
    let server = MockServer::start().unwrap();
    let client = server.client().unwrap();
    let dir = common::temp_dir("then");
    std::fs::create_dir_all(&dir).unwrap();

    // `?` on an io::Error inside `then`: a directory cannot be written as a file.
    let target = dir.clone();
    let e = client[STOCK]
        .get_async(json!({"stock_id": "100088"}))
        .then(move |res| {
            std::fs::write(&target, res.bytes())?;
            Ok(())
        })
        .wait()
        .unwrap_err();
    assert!(e.is_other(), "{e}");
    assert!(e.downcast_ref::<std::io::Error>().is_some());
    assert_eq!(e.outcome(), wechatpay::Outcome::Applied, "the call itself succeeded");

    // Any error, wrapped; `otherwise` sees it and may recover.
    #[derive(Debug)]
    struct Mine;
    impl std::fmt::Display for Mine {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("mine")
        }
    }
    impl std::error::Error for Mine {}
    let recovered = client[STOCK]
        .get_async(json!({"stock_id": "100088"}))
        .then(|_| Err::<u32, _>(wechatpay::Error::other(Mine)))
        .otherwise(|e| {
            if e.downcast_ref::<Mine>().is_some() {
                Ok(7)
            } else {
                Err(e)
            }
        })
        .wait()
        .unwrap();
    assert_eq!(recovered, 7);

    // A wechatpay::Error given to `other` comes back as it was.
    let api = client["v3/nowhere"].get(()).unwrap_err();
    let again = wechatpay::Error::other(api);
    assert!(again.is_api() && again.status() == Some(404), "{again}");

    // Writing the answer to a file, as the README shows.
    let file = dir.join("stock.json");
    let target = file.clone();
    client[STOCK]
        .get_async(json!({"stock_id": "100088"}))
        .then(move |res| {
            std::fs::write(&target, res.bytes())?;
            Ok(())
        })
        .wait()
        .unwrap();
    let written: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    assert_eq!(written["stock_id"], "100088");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_borrowed_payload_is_options_too() {
    let server = MockServer::start().unwrap();
    let client = server.client().unwrap();
    let payload = json!({"stock_id": "100088"});
    client[STOCK].get(&payload).unwrap();
    client[STOCK].get(&payload).unwrap();
    let _: Options = (&payload).into();
}

#[test]
fn a_typod_option_key_is_an_unknown_option_whatever_its_value() {
    let server = MockServer::start().unwrap();
    let client = server.client().unwrap();
    let e = client["v3/marketing/busifavor/coupons/use"]
        .post(json!({"jsno": {"coupon_code": "x"}}))
        .unwrap_err();
    assert!(e.is_request(), "{e}");
    assert!(e.to_string().contains("unknown option `jsno`"), "{e}");
    // A real placeholder given an object still says what is wrong with it.
    let e = client[STOCK].get(json!({"stock_id": {"a": 1}})).unwrap_err();
    assert!(
        e.to_string()
            .contains("placeholder value `stock_id` must be a string or number"),
        "{e}"
    );
}

#[test]
fn the_alternate_form_prints_the_cause_chain() {
    let server = MockServer::start().unwrap();
    // Held closed for the whole test: no other test can start listening there.
    let dead = common::closed_port();
    let client = server
        .client_builder()
        .base_uri(&format!("http://127.0.0.1:{}/", dead.port))
        .retry(wechatpay::RetryPolicy::none())
        .build()
        .unwrap();
    let e = client[STOCK].get(json!({"stock_id": "100088"})).unwrap_err();
    let plain = e.to_string();
    let full = format!("{e:#}");
    assert_eq!(
        plain, "transport error: could not connect",
        "Display never repeats the source"
    );
    assert!(full.starts_with(&plain) && full.len() > plain.len(), "{full}");
    assert!(!full.contains("100088"), "no URL with values in the chain: {full}");
}

#[test]
fn configuration_mix_ups_are_refused() {
    let server = MockServer::start().unwrap();
    // The merchant serial given as a platform `cert` id, in another letter case.
    let e = server
        .client_builder()
        .cert_loaded(
            &server.merchant_serial().to_ascii_lowercase(),
            server.platform_key().public_key(),
        )
        .build()
        .unwrap_err();
    assert!(e.is_config() && e.to_string().contains("merchant serial"), "{e}");
    // A base URI ending in /v3 would send everything to /v3/v3/….
    for base in [
        format!("{}v3", server.base_uri()),
        format!("{}v3/", server.base_uri()),
        format!("{}V3/", server.base_uri()),
    ] {
        let e = server.client_builder().base_uri(&base).build().unwrap_err();
        assert!(
            e.is_config() && e.to_string().to_lowercase().contains("/v3/v3/"),
            "{base}: {e}"
        );
    }
    server
        .client_builder()
        .base_uri(&format!("{}hk/", server.base_uri()))
        .build()
        .unwrap();
}
