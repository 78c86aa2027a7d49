//! What the sandbox does to every request and answer, as WeChat Pay does (sans-IO): authenticate the
//! request, and sign the answer.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use elsa::sync::FrozenVec;
use http::{HeaderMap, HeaderValue};
use serde_json::json;

use super::certificate::PlatformCert;
use super::Answer;
use crate::crypto::keys::{PrivateKey, PublicKey};
use crate::protocol::sign::{request_message, Authorization};
use crate::protocol::verify::{answer_message, MAX_SKEW_SECS};

/// Who the sandbox is and who it accepts: one merchant (which answers to the docs' sample ids too, see
/// `merchant`); one platform public key (`PUB_KEY_ID_…`) and platform certificates that can rotate.
pub(crate) struct Identity {
    /// The merchant it serves ([`crate::mock::MockBuilder::mchid`]).
    pub(crate) mchid: String,
    pub(crate) merchant_serial: String,
    pub(crate) merchant_key: PrivateKey,
    pub(crate) merchant_public: PublicKey,
    /// The key behind `public_key_id`, which signs in public-key mode.
    pub(crate) platform_key: PrivateKey,
    pub(crate) public_key_id: String,
    /// Platform certificates, oldest first, never empty; the newest signs in certificate mode. Append-only,
    /// so a rotation never invalidates a borrow of an older one.
    certs: FrozenVec<Box<PlatformCert>>,
    /// The oldest certificate `v3/certificates` still serves (an index into `certs`).
    served_from: AtomicUsize,
    /// The certificate that signs (an index into `certs`); newer ones are issued but do not sign yet.
    signing: AtomicUsize,
    /// Sign answers naming the certificate serial instead of the `PUB_KEY_ID_…`.
    pub(crate) certificate_mode: bool,
    pub(crate) apiv3_key: String,
    /// The merchant's APIv2 key, shared with its client.
    pub(crate) apiv2_key: String,
    /// The merchant's API certificate (the TLS client certificate of APIv2 `security` calls), PEM.
    pub(crate) merchant_cert_pem: String,
}

/// What an [`Identity`] is made of.
pub(crate) struct IdentityParts {
    pub(crate) mchid: String,
    pub(crate) merchant_serial: String,
    pub(crate) merchant_key: PrivateKey,
    pub(crate) platform_key: PrivateKey,
    pub(crate) public_key_id: String,
    pub(crate) certificate: PlatformCert,
    pub(crate) certificate_mode: bool,
    pub(crate) apiv3_key: String,
    pub(crate) apiv2_key: String,
}

impl Identity {
    pub(crate) fn new(parts: IdentityParts) -> Self {
        let merchant_cert_pem =
            crate::mock::certificate::to_pem(&crate::mock::certificate::self_signed(&parts.merchant_key, 3650).0);
        let certs = FrozenVec::new();
        certs.push(Box::new(parts.certificate));
        Identity {
            mchid: parts.mchid,
            merchant_serial: parts.merchant_serial,
            merchant_public: parts.merchant_key.public_key(),
            merchant_key: parts.merchant_key,
            platform_key: parts.platform_key,
            public_key_id: parts.public_key_id,
            certs,
            served_from: AtomicUsize::new(0),
            signing: AtomicUsize::new(0),
            certificate_mode: parts.certificate_mode,
            apiv3_key: parts.apiv3_key,
            merchant_cert_pem,
            apiv2_key: parts.apiv2_key,
        }
    }

    /// The platform certificate that signs in certificate mode.
    pub(crate) fn certificate(&self) -> &PlatformCert {
        let signing = self.signing.load(Ordering::Acquire);
        self.certs.get(signing).expect("an identity always has a certificate")
    }

    /// The certificates `v3/certificates` serves, oldest first.
    pub(crate) fn served_certificates(&self) -> Vec<&PlatformCert> {
        let from = self.served_from.load(Ordering::Acquire);
        self.certs.iter().skip(from).collect()
    }

    /// Serves `cert` in `v3/certificates` without signing with it yet, as WeChat Pay issues a new
    /// certificate some days before it signs with it.
    pub(crate) fn issue(&self, cert: PlatformCert) -> &PlatformCert {
        let index = self.certs.push_get_index(Box::new(cert));
        self.certs.get(index).expect("just pushed")
    }

    /// Signs with the next issued certificate, if one is waiting; the previous one is still served until
    /// [`Identity::retire_old`].
    pub(crate) fn switch(&self) -> Option<&PlatformCert> {
        let old = self.signing.load(Ordering::Acquire);
        let next = self.certs.get(old + 1)?;
        self.signing.store(old + 1, Ordering::Release);
        self.served_from.fetch_max(old, Ordering::AcqRel);
        Some(next)
    }

    /// Stops serving every certificate older than the signing one.
    pub(crate) fn retire_old(&self) {
        self.served_from
            .fetch_max(self.signing.load(Ordering::Acquire), Ordering::AcqRel);
    }

    /// The id answers name in `Wechatpay-Serial`.
    pub(crate) fn signing_serial(&self) -> &str {
        if self.certificate_mode {
            &self.certificate().serial
        } else {
            &self.public_key_id
        }
    }

    /// The private key behind `serial` (a certificate serial or the public key id); for an id it does not
    /// know (an injected fault), the key it signs with now.
    pub(crate) fn key_for(&self, serial: &str) -> &PrivateKey {
        if serial == self.public_key_id {
            return &self.platform_key;
        }
        match self.certs.iter().find(|c| c.serial == serial) {
            Some(cert) => &cert.key,
            None if self.certificate_mode => &self.certificate().key,
            None => &self.platform_key,
        }
    }
}

/// Nonces seen inside the window, so a replayed request is refused.
#[derive(Default)]
pub(crate) struct Nonces {
    seen: HashMap<String, i64>,
}

impl Nonces {
    /// Records `nonce` at `ts`; false if it was already seen inside the window.
    fn fresh(&mut self, nonce: &str, ts: i64, now: i64) -> bool {
        if self.seen.len() >= 4096 {
            self.seen.retain(|_, &mut seen| now - seen <= MAX_SKEW_SECS);
        }
        match self.seen.get(nonce) {
            Some(&seen) if now - seen <= MAX_SKEW_SECS => false,
            _ => {
                self.seen.insert(nonce.to_owned(), ts.max(now));
                true
            }
        }
    }
}

fn sign_error(field: &str, issue: String) -> Answer {
    Answer::error_with_detail(
        401,
        "SIGN_ERROR",
        "错误的签名，验签失败",
        json!({"location": "authorization", "field": field, "issue": issue}),
    )
}

/// Checks a request's `Authorization` exactly as WeChat Pay does; any failure is a 401 `SIGN_ERROR`.
pub(crate) fn authenticate(
    identity: &Identity,
    nonces: &std::sync::Mutex<Nonces>,
    method: &str,
    target: &str,
    headers: &HeaderMap,
    body: &[u8],
    now: i64,
) -> Result<(), Answer> {
    let header = headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| sign_error("authorization", "the Authorization header is missing".into()))?;
    let auth = Authorization::parse(header).map_err(|e| sign_error("authorization", e.to_string()))?;
    // The merchant's own id or a docs' sample one: the same merchant key and serial sign for each.
    if !super::merchant::answers_to(&identity.mchid, &auth.mchid) {
        return Err(sign_error(
            "mchid",
            format!("mchid {} is not this merchant", auth.mchid),
        ));
    }
    if auth.serial_no != identity.merchant_serial {
        return Err(sign_error(
            "serial_no",
            format!("serial_no {} is not the merchant certificate serial", auth.serial_no),
        ));
    }
    if crate::protocol::verify::skew(auth.timestamp, now) > MAX_SKEW_SECS {
        return Err(sign_error(
            "timestamp",
            format!(
                "timestamp {} is more than {MAX_SKEW_SECS} s from the server clock",
                auth.timestamp
            ),
        ));
    }
    let message = request_message(method, target, auth.timestamp, &auth.nonce_str, body);
    if !identity.merchant_public.verify(&message, &auth.signature) {
        return Err(sign_error(
            "signature",
            "the signature does not match the request".into(),
        ));
    }
    let mut nonces = nonces.lock().unwrap_or_else(|p| p.into_inner());
    if !nonces.fresh(&auth.nonce_str, auth.timestamp, now) {
        return Err(sign_error("nonce_str", "nonce_str was already used".into()));
    }
    Ok(())
}

/// How an answer's signature should be made, normally or (under a fault) wrongly.
pub(crate) struct Signing {
    pub(crate) timestamp: i64,
    pub(crate) serial: String,
    pub(crate) signed_body: Option<Bytes>,
    pub(crate) corrupt: bool,
}

/// The `Wechatpay-*` headers for an answer.
pub(crate) fn sign_answer(identity: &Identity, signing: &Signing, body: &[u8]) -> Vec<(&'static str, HeaderValue)> {
    let nonce = crate::protocol::formatter::nonce();
    let ts = signing.timestamp.to_string();
    let signed: &[u8] = signing.signed_body.as_deref().unwrap_or(body);
    let key = identity.key_for(&signing.serial);
    let mut signature = key.sign(&answer_message(&ts, &nonce, signed));
    if signing.corrupt {
        // Same length, still base64, wrong bytes.
        signature = key.sign(&answer_message(&ts, &nonce, b"corrupted"));
    }
    let value = |s: &str| HeaderValue::from_str(s).expect("ASCII header value");
    vec![
        (crate::protocol::verify::TIMESTAMP, value(&ts)),
        (crate::protocol::verify::NONCE, value(&nonce)),
        (crate::protocol::verify::SIGNATURE, value(&signature)),
        (crate::protocol::verify::SERIAL, value(&signing.serial)),
        // As WeChat Pay's answers and callbacks carry it (wechatpayv3 for Python refuses answers without).
        (
            crate::protocol::verify::SIGNATURE_TYPE,
            HeaderValue::from_static(crate::protocol::verify::SIGNATURE_SCHEME),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// A fixed clock: the window's edges are checked exactly here, with no real time in between.
    const NOW: i64 = 1_700_000_000;

    fn identity() -> Identity {
        let merchant_key = PrivateKey::load(include_str!("../../tests/fixtures/merchant_key.pem")).unwrap();
        let platform_key = PrivateKey::load(include_str!("../../tests/fixtures/platform_key.pem")).unwrap();
        Identity::new(IdentityParts {
            mchid: "1900000109".into(),
            merchant_serial: "3775B6A45ACD588826D15E583A95F5DD00000001".into(),
            certificate: PlatformCert::generate(platform_key.clone(), 365),
            merchant_key,
            platform_key,
            public_key_id: "PUB_KEY_ID_0114232134912410000000000000".into(),
            certificate_mode: false,
            apiv3_key: "0123456789abcdef0123456789abcdef".into(),
            apiv2_key: "fedcba9876543210fedcba9876543210".into(),
        })
    }

    /// Authenticates a `GET /v3/echo` signed at `ts` with `nonce`, as the sandbox would at `now`.
    fn check(identity: &Identity, nonces: &Mutex<Nonces>, ts: i64, nonce: &str, now: i64) -> Result<(), Answer> {
        check_as(identity, &identity.mchid, nonces, ts, nonce, now)
    }

    /// [`check`], the `Authorization` naming `mchid`.
    fn check_as(
        identity: &Identity,
        mchid: &str,
        nonces: &Mutex<Nonces>,
        ts: i64,
        nonce: &str,
        now: i64,
    ) -> Result<(), Answer> {
        let auth = Authorization::sign_at(
            &identity.merchant_key,
            mchid,
            &identity.merchant_serial,
            "GET",
            "/v3/echo",
            b"",
            ts,
            nonce.to_owned(),
        );
        let mut headers = HeaderMap::new();
        headers.insert(http::header::AUTHORIZATION, auth.to_string().parse().unwrap());
        authenticate(identity, nonces, "GET", "/v3/echo", &headers, b"", now)
    }

    #[test]
    fn the_merchant_key_signs_for_the_merchant_and_the_docs_sample_ids_only() {
        let identity = identity();
        let nonces = Mutex::default();
        for (i, mchid) in crate::mock::SAMPLE_MCHIDS.iter().enumerate() {
            check_as(&identity, mchid, &nonces, NOW, &format!("sample{i}"), NOW)
                .unwrap_or_else(|a| panic!("{mchid}: {:?}", a.body));
        }
        let refused = check_as(&identity, "1999999999", &nonces, NOW, "stranger", NOW).unwrap_err();
        let body: serde_json::Value = serde_json::from_slice(&refused.body).unwrap();
        assert_eq!(
            (refused.status, body["code"].as_str(), body["detail"]["field"].as_str()),
            (401, Some("SIGN_ERROR"), Some("mchid")),
            "{body}"
        );
    }

    #[test]
    fn the_request_window_is_300_seconds_either_way_edges_included() {
        let identity = identity();
        let nonces = Mutex::default();
        for skew in [-MAX_SKEW_SECS, 0, MAX_SKEW_SECS] {
            check(&identity, &nonces, NOW + skew, &format!("inside{skew}"), NOW)
                .unwrap_or_else(|a| panic!("{skew} s off: {:?}", a.body));
        }
        for skew in [-MAX_SKEW_SECS - 1, MAX_SKEW_SECS + 1, -NOW, i64::MAX - NOW] {
            let refused = check(&identity, &nonces, NOW + skew, &format!("outside{skew}"), NOW).unwrap_err();
            assert_eq!(refused.status, 401, "{skew} s off");
            let body: serde_json::Value = serde_json::from_slice(&refused.body).unwrap();
            assert_eq!(
                (body["code"].as_str(), body["detail"]["field"].as_str()),
                (Some("SIGN_ERROR"), Some("timestamp")),
                "{skew} s off: {body}"
            );
        }
    }
}
