//! `GET v3/certificates`: the platform certificates the sandbox serves (the current one, and during a
//! rotation's overlap the previous one too), each sealed with the APIv3 key as WeChat Pay does
//! (`AEAD_AES_256_GCM`, a 12-character nonce, `associated_data` `certificate`). The gateway signs the
//! answer like any other, with the certificate. In public-key mode it answers 404 `RESOURCE_NOT_EXISTS`, as
//! WeChat Pay does for a merchant onboarded with a WeChat Pay public key.

use std::sync::{Arc, Weak};

use http::Method;
use serde_json::{json, Value};

use super::clock::rfc3339;
use super::gateway::Identity;
use super::{Answer, Room, Shared};
use crate::crypto::aes::AesGcm;
use crate::crypto::aes::AEAD_AES_256_GCM;

/// Registers `GET v3/certificates`.
pub(crate) fn install(room: &Room<'_>) -> crate::error::Result<()> {
    let server = room.server;
    // Weak: the route table lives inside `Shared`.
    let shared: Weak<Shared> = Arc::downgrade(&server.shared);
    server.route(Method::GET, crate::certificates::PATH, move |_req| {
        match shared.upgrade() {
            Some(shared) => listing(&shared.identity),
            None => Answer::error(500, "SYSTEM_ERROR", "系统错误"),
        }
    });
    Ok(())
}

/// The `{"data": [...]}` answer; in public-key mode the 404 a merchant onboarded with a WeChat Pay public key
/// gets, since it has no platform certificate.
fn listing(identity: &Identity) -> Answer {
    if !identity.certificate_mode {
        return Answer::error(
            404,
            "RESOURCE_NOT_EXISTS",
            "无可用的平台证书，请在商户平台-API安全申请使用微信支付公钥",
        );
    }
    let mut data: Vec<Value> = Vec::new();
    for cert in identity.served_certificates() {
        let nonce = crate::protocol::formatter::nonce_of_len(12);
        let associated_data = "certificate";
        let Ok(ciphertext) = AesGcm::encrypt(cert.pem().as_bytes(), &identity.apiv3_key, &nonce, associated_data)
        else {
            return Answer::error(500, "SYSTEM_ERROR", "系统错误");
        };
        data.push(json!({
            "serial_no": cert.serial,
            "effective_time": rfc3339(cert.not_before),
            "expire_time": rfc3339(cert.not_after),
            "encrypt_certificate": {
                "algorithm": AEAD_AES_256_GCM,
                "nonce": nonce,
                "associated_data": associated_data,
                "ciphertext": ciphertext,
            },
        }));
    }
    Answer::json(200, &json!({ "data": data }))
}
