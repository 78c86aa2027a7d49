//! The sandbox as a product: certificate mode, a state dir that survives restarts, and `wxpay mock serve`.
#![cfg(feature = "mock")]

mod common;

use serde_json::{json, Value};
use wechatpay::mock::MockServer;
use wechatpay::Client;

fn send_coupon(client: &Client, code: &str, request_no: &str) -> Value {
    client["v3/marketing/busifavor/coupons/send"]
        .post(json!({"json": {
            "openid": "xsd3434454567676", "appid": "wx1234567889999", "stock_id": "100088",
            "out_request_no": request_no, "coupon_code": code,
        }}))
        .unwrap()
        .json()
        .unwrap()
}

fn coupon(client: &Client, code: &str) -> wechatpay::Result<Value> {
    client["v3/marketing/busifavor/users/{openid}/coupons/{coupon_code}/appids/{appid}"]
        .get(json!({"openid": "xsd3434454567676", "coupon_code": code, "appid": "wx1234567889999"}))?
        .json()
}

#[test]
fn certificate_mode_signs_with_the_certificate_serial() {
    let server = MockServer::builder().certificate_mode(true).start().unwrap();
    let client = server.client().unwrap();
    let res = client["v3/marketing/busifavor/stocks/{stock_id}"]
        .get(json!({"stock_id": "100088"}))
        .unwrap();
    assert_eq!(
        res.header("wechatpay-serial"),
        Some(server.platform_certificate_serial())
    );
    assert_eq!(server.platform_certificate_serial().len(), 40);

    // A client that only knows the public-key id cannot verify certificate-mode answers.
    let pk_only = Client::builder()
        .mchid(server.mchid())
        .serial(server.merchant_serial())
        .private_key_loaded(server.merchant_key().clone())
        .cert_loaded(server.public_key_id(), server.platform_key().public_key())
        .base_uri(&server.base_uri())
        .build()
        .unwrap();
    let e = pk_only["v3/marketing/busifavor/stocks/{stock_id}"]
        .get(json!({"stock_id": "100088"}))
        .unwrap_err();
    assert_eq!(e.verification(), Some(wechatpay::Verification::UnknownSerial), "{e}");

    // The migration case: a keyring holding both verifies either mode.
    let both = server
        .client_builder()
        .cert_loaded(server.public_key_id(), server.platform_key().public_key())
        .build()
        .unwrap();
    both["v3/marketing/busifavor/stocks/{stock_id}"]
        .get(json!({"stock_id": "100088"}))
        .unwrap();
}

#[test]
fn a_restarted_sandbox_keeps_its_state_and_keys() {
    let dir = common::temp_dir("state");
    let (apiv3, cert_serial, key_pem) = {
        let server = MockServer::builder().state_dir(&dir).start().unwrap();
        let client = server.client().unwrap();
        send_coupon(&client, "KEEP0001", "REQ-KEEP-0001");
        assert_eq!(coupon(&client, "KEEP0001").unwrap()["coupon_state"], "SENDED");
        (
            server.apiv3_key().to_owned(),
            server.platform_certificate_serial().to_owned(),
            server.merchant_key().to_pkcs8_pem(),
        )
    };
    #[cfg(unix)]
    for secret in ["merchant_key.pem", "platform_key.pem", "identity.json"] {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.join(secret)).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{secret} is the owner's alone");
    }
    let server = MockServer::builder().state_dir(&dir).start().unwrap();
    assert_eq!(server.apiv3_key(), apiv3);
    assert_eq!(server.platform_certificate_serial(), cert_serial);
    assert_eq!(server.merchant_key().to_pkcs8_pem(), key_pem);
    let client = server.client().unwrap();
    assert_eq!(coupon(&client, "KEEP0001").unwrap()["coupon_state"], "SENDED");
    // The idempotency record survived too: the same request number with the same body is the same answer.
    assert_eq!(
        send_coupon(&client, "KEEP0001", "REQ-KEEP-0001")["coupon_code"],
        "KEEP0001"
    );

    drop(server);

    // A state dir an earlier version wrote (the family's state inside `state.json`) is read as it was.
    let state: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.join("busifavor.json")).unwrap()).unwrap();
    std::fs::remove_file(dir.join("busifavor.json")).unwrap();
    std::fs::write(
        dir.join("state.json"),
        serde_json::json!({"busifavor": state}).to_string(),
    )
    .unwrap();
    let server = MockServer::builder().state_dir(&dir).start().unwrap();
    assert_eq!(
        coupon(&server.client().unwrap(), "KEEP0001").unwrap()["coupon_state"],
        "SENDED"
    );

    // A sandbox without the dir knows nothing of it.
    let fresh = MockServer::start().unwrap();
    let e = coupon(&fresh.client().unwrap(), "KEEP0001").unwrap_err();
    assert_eq!(e.code(), Some("RESOURCE_NOT_EXISTS"), "{e}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A JSAPI order of `mchid`, placed and queried by `client`; the query's answer.
fn order_and_query(client: &Client, mchid: &str, out_trade_no: &str) -> wechatpay::Result<Value> {
    client["v3/pay/transactions/jsapi"].post(json!({"json": {"appid": "wxd678efh567hg6787", "mchid": mchid,
        "description": "Image形象店-深圳腾大-QQ公仔", "out_trade_no": out_trade_no,
        "notify_url": "https://www.weixin.qq.com/wxpay/pay.php", "amount": {"total": 100, "currency": "CNY"},
        "payer": {"openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"}}}))?;
    client["v3/pay/transactions/out-trade-no/{out_trade_no}"]
        .get(json!({"out_trade_no": out_trade_no, "query": {"mchid": mchid}}))?
        .json()
}

#[test]
fn a_sandbox_serves_the_merchant_it_is_given_and_refuses_strangers() {
    let dir = common::temp_dir("mchid");
    let server = MockServer::builder()
        .mchid("1888888888")
        .state_dir(&dir)
        .tls(true)
        .start()
        .unwrap();
    assert_eq!(server.mchid(), "1888888888");
    let client = server.client().unwrap();
    let found = order_and_query(&client, "1888888888", "1217752501201407033233368018").unwrap();
    assert_eq!(
        (found["mchid"].as_str(), found["trade_state"].as_str()),
        (Some("1888888888"), Some("NOTPAY"))
    );
    // Its stock, its certificate (`apiclient_cert.p12`, whose passphrase is the mchid) and its connection info.
    let stock: Value = client["v3/marketing/busifavor/stocks/100088"]
        .get(())
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(stock["belong_merchant"], "1888888888", "{stock}");
    Client::builder()
        .mchid("1888888888")
        .apiv2_key(server.apiv2_key())
        .merchant_p12(server.merchant_p12().unwrap(), None)
        .build()
        .unwrap();
    assert_eq!(server.connection_info().unwrap()["mchid"], "1888888888");

    // Another merchant signing with the same key is refused as WeChat Pay refuses it: 401 SIGN_ERROR on the
    // `Authorization` header's mchid, as the default sandbox refuses any id it does not answer to.
    for sandbox in [&server, &MockServer::start().unwrap()] {
        let stranger = sandbox.client_builder().mchid("1999999999").build().unwrap();
        let e = order_and_query(&stranger, "1999999999", "1217752501201407033233368019").unwrap_err();
        assert_eq!((e.status(), e.code()), (Some(401), Some("SIGN_ERROR")), "{e}");
        assert_eq!(e.detail().unwrap()["field"], "mchid", "{e}");
    }
    // Its own signature over another merchant's order: that body field is refused.
    let e = order_and_query(&client, "1999999999", "1217752501201407033233368019").unwrap_err();
    assert_eq!((e.status(), e.code()), (Some(400), Some("PARAM_ERROR")), "{e}");
    assert_eq!(e.detail().unwrap()["field"], "mchid", "{e}");
    // The docs' sample ids answer, whatever merchant the sandbox serves.
    let docs = server.client_builder().mchid("1230000109").build().unwrap();
    let found = order_and_query(&docs, "1230000109", "1217752501201407033233368020").unwrap();
    assert_eq!(found["mchid"], "1230000109");
    // openapi/v3/marketing/busifavor/callbacks.md's merchant, verbatim; a stranger's id is refused.
    let callbacks = |mchid: &str| {
        client["v3/marketing/busifavor/callbacks"]
            .post(json!({"json": {"mchid": mchid, "notify_url": "https://pay.weixin.qq.com"}}))
    };
    let set: Value = callbacks("10000098").unwrap().json().unwrap();
    assert_eq!(set["mchid"], "10000098", "{set}");
    let e = callbacks("1999999999").unwrap_err();
    assert_eq!(
        (e.code(), e.detail().unwrap()["field"].as_str()),
        (Some("PARAM_ERROR"), Some("mchid")),
        "{e}"
    );

    // A restart keeps the merchant; a given one replaces it.
    drop(server);
    let again = MockServer::builder().state_dir(&dir).start().unwrap();
    assert_eq!(again.mchid(), "1888888888");
    drop(again);
    assert_eq!(
        MockServer::builder()
            .mchid("1777777777")
            .state_dir(&dir)
            .start()
            .unwrap()
            .mchid(),
        "1777777777"
    );
    let e = MockServer::builder().mchid("1888 888").start().unwrap_err();
    assert!(e.is_config(), "{e}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_corrupt_state_dir_is_a_clear_error() {
    let dir = common::temp_dir("corrupt");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("state.json"), b"{not json").unwrap();
    let e = MockServer::builder().state_dir(&dir).start().unwrap_err();
    assert!(e.is_config() && e.to_string().contains("state.json"), "{e}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[cfg(all(feature = "cli", unix))]
#[test]
fn wxpay_mock_serve_prints_one_json_line_and_serves_until_sigterm() {
    use std::process::Command;

    let dir = common::temp_dir("serve");
    let (mut child, line) = common::serve([
        "--addr".as_ref(),
        "127.0.0.1:0".as_ref(),
        "--state-dir".as_ref(),
        dir.as_os_str(),
    ]);
    let info: Value = serde_json::from_str(&line).expect("one JSON line");
    for key in [
        "base_uri",
        "mchid",
        "serial",
        "private_key",
        "public_key_id",
        "public_key",
        "apiv3_key",
    ] {
        assert!(info[key].is_string(), "{key} in {info}");
    }
    let s = |k: &str| info[k].as_str().unwrap().to_owned();
    // A client configured only from what was printed, as a client in any language would be.
    let client = Client::builder()
        .mchid(s("mchid"))
        .serial(s("serial"))
        .private_key(&format!("file://{}", s("private_key")))
        .cert(&s("public_key_id"), &format!("file://{}", s("public_key")))
        .base_uri(&s("base_uri"))
        .build()
        .unwrap();
    let sent = send_coupon(&client, "PROC0001", "REQ-PROC-0001");
    assert_eq!(sent["coupon_code"], "PROC0001");

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = child.wait().unwrap();
    assert!(exit.success(), "exits 0 on SIGTERM: {exit:?}");
    assert!(client["v3/marketing/busifavor/stocks/{stock_id}"]
        .get(json!({"stock_id": "100088"}))
        .is_err());
    let _ = std::fs::remove_dir_all(&dir);
}

#[cfg(all(feature = "cli", unix))]
#[test]
fn wxpay_mock_serve_serves_the_mchid_it_is_given() {
    let dir = common::temp_dir("serve-mchid");
    let (mut child, line) = common::serve([
        "--mchid".as_ref(),
        "1888888888".as_ref(),
        "--state-dir".as_ref(),
        dir.as_os_str(),
    ]);
    let info: Value = serde_json::from_str(&line).expect("one JSON line");
    assert_eq!(info["mchid"], "1888888888", "{info}");
    let mut keys: Vec<&str> = info.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "apiv2_key",
            "apiv3_key",
            "base_uri",
            "mchid",
            "private_key",
            "public_key",
            "public_key_id",
            "serial"
        ],
        "the line's keys are as ever: {info}"
    );
    let s = |k: &str| info[k].as_str().unwrap().to_owned();
    let client = Client::builder()
        .mchid(s("mchid"))
        .serial(s("serial"))
        .private_key(&format!("file://{}", s("private_key")))
        .cert(&s("public_key_id"), &format!("file://{}", s("public_key")))
        .base_uri(&s("base_uri"))
        .build()
        .unwrap();
    let found = order_and_query(&client, "1888888888", "1217752501201407033233368018").unwrap();
    assert_eq!(found["mchid"], "1888888888");
    common::stop(&mut child);

    // An id that fits no header is a configuration error, before anything listens.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_wxpay"))
        .args(["mock", "serve", "--mchid", "1888 888", "--addr", "127.0.0.1:0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.stdout.is_empty());
    let _ = std::fs::remove_dir_all(&dir);
}
