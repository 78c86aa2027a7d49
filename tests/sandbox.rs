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
