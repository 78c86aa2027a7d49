//! Request options: any JSON converts without panicking, and a request prepared with it is signed over
//! exactly what is sent, its placeholders confined to their segments.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use wechatpay::sign::{self, Authorization};
use wechatpay::{Method, Options};

mod common;

fuzz_target!(|data: &[u8]| {
    let value: Value = match serde_json::from_slice(data) {
        Ok(v) => v,
        Err(_) => Value::String(String::from_utf8_lossy(data).into_owned()),
    };
    let options = Options::from(value.clone());
    let _ = format!("{options:?}");
    let prepared = match common::client().prepare(Method::POST, "v3/things/{id}/{+rest}", options) {
        Ok(p) => p,
        Err(e) => {
            assert!(e.is_request() || e.is_path(), "{e}");
            return;
        }
    };
    let path = prepared.url().path();
    assert!(
        path.starts_with("/v3/things/") && path.split('/').count() == 5,
        "{path}"
    );
    assert!(prepared.url().fragment().is_none());
    let sent = match prepared.url().query() {
        Some(q) => format!("{path}?{q}"),
        None => path.to_owned(),
    };
    assert_eq!(prepared.target(), sent);

    let auth = prepared
        .headers
        .get(http::header::AUTHORIZATION)
        .expect("signed")
        .to_str()
        .unwrap();
    let auth = Authorization::parse(auth).expect("our own header parses");
    assert_eq!(
        (auth.mchid.as_str(), auth.serial_no.as_str()),
        (common::MCHID, common::MERCHANT_SERIAL)
    );
    let message = sign::request_message(
        "POST",
        &prepared.target(),
        auth.timestamp,
        &auth.nonce_str,
        &prepared.body(),
    );
    assert!(common::merchant_key().public_key().verify(&message, &auth.signature));
});
