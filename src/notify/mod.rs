//! Callbacks (回调通知) from WeChat Pay, framework-agnostic: hand over the headers and the raw body, get a
//! verified, decrypted, typed [`Event`] back — and answer WeChat Pay with a [`Reply`].
//!
//! A callback is signed exactly like an answer (`Wechatpay-Timestamp`, `-Nonce`, `-Signature`, `-Serial`
//! over `TIMESTAMP\nNONCE\nBODY\n`, at most 300 s off this machine's clock, the key picked from the same
//! [`Keyring`] by platform certificate serial or `PUB_KEY_ID_…`). Its `resource` is sealed with the
//! merchant's 32-byte APIv3 key (`AEAD_AES_256_GCM`); the plaintext is JSON that deserializes into any `T`.
//!
//! The two steps fail differently: a callback that does not verify is a verification error
//! ([`Error::is_verification`], with [`Error::verification`] naming the step), one that verifies but does not
//! decrypt or parse is a decode error ([`Error::is_decode`]).
//!
//! ```
//! use serde::Deserialize;
//! use wechatpay::notify::{Notifier, Reply};
//! # use wechatpay::{aes::AesGcm, keys::PrivateKey, verify, Keyring};
//! # let platform = PrivateKey::generate();
//! # let keyring = Keyring::new([("PUB_KEY_ID_0114232134912410000000000000".to_owned(), platform.public_key())]);
//! # let apiv3_key = "0123456789abcdef0123456789abcdef";
//! # let sealed = AesGcm::encrypt(br#"{"coupon_code":"123446565767","stock_id":"100088"}"#, apiv3_key, "0123456789ab", "coupon")?;
//! # let body = serde_json::json!({"id": "EV-2018022511223320873", "create_time": "2015-05-20T13:29:35+08:00",
//! #     "event_type": "COUPON.SEND", "resource_type": "encrypt-resource", "summary": "商家券领券通知",
//! #     "resource": {"original_type": "coupon", "algorithm": "AEAD_AES_256_GCM", "ciphertext": sealed,
//! #     "associated_data": "coupon", "nonce": "0123456789ab"}}).to_string();
//! # let ts = wechatpay::formatter::timestamp().to_string();
//! # let mut headers = http::HeaderMap::new();
//! # headers.insert(verify::TIMESTAMP, ts.parse().unwrap());
//! # headers.insert(verify::NONCE, "nonce".parse().unwrap());
//! # headers.insert(verify::SERIAL, "PUB_KEY_ID_0114232134912410000000000000".parse().unwrap());
//! # headers.insert(verify::SIGNATURE, platform.sign(&verify::answer_message(&ts, "nonce", body.as_bytes())).parse().unwrap());
//!
//! #[derive(Deserialize)]
//! struct CouponSend {
//!     coupon_code: String,
//!     stock_id: String,
//! }
//!
//! let notifier = Notifier::new(keyring, apiv3_key)?;
//! // `headers: &http::HeaderMap` and `body: &[u8]`, as the web framework received them.
//! let reply = match notifier.open::<CouponSend>(&headers, body.as_bytes()) {
//!     Ok(event) => {
//!         assert_eq!(event.event_type, "COUPON.SEND");
//!         assert_eq!(event.resource.coupon_code, "123446565767");
//!         Reply::success() // 204, no body
//!     }
//!     Err(e) => Reply::from_error(&e), // 401/400/500 with {"code":"FAIL","message":"…"}
//! };
//! assert_eq!(reply.status(), 204);
//! # Ok::<(), wechatpay::Error>(())
//! ```

pub mod apiv2;

use std::fmt;

use http::HeaderMap;
use serde::de::DeserializeOwned;
use serde::Deserialize;

use crate::crypto::aes::AesGcm;
use crate::crypto::apiv3_key::ApiV3Key;
use crate::crypto::keyring::Keyring;
use crate::error::{Error, Result};
use crate::protocol::verify::{self, Policy};

pub use crate::crypto::aes::AEAD_AES_256_GCM;

/// A verified, decrypted callback.
///
/// `T` is what the decrypted `resource` deserializes into: a struct of the fields you need, or the default
/// [`serde_json::Value`].
///
/// ```
/// # use wechatpay::{aes::AesGcm, notify};
/// # let apiv3_key = "0123456789abcdef0123456789abcdef";
/// # let sealed = AesGcm::encrypt(br#"{"coupon_code":"123446565767","stock_id":"100088"}"#, apiv3_key, "0123456789ab", "coupon")?;
/// # let body = serde_json::json!({"id": "EV-2018022511223320873", "create_time": "2015-05-20T13:29:35+08:00",
/// #     "event_type": "COUPON.SEND", "resource_type": "encrypt-resource", "summary": "商家券领券通知",
/// #     "resource": {"original_type": "coupon", "algorithm": "AEAD_AES_256_GCM", "ciphertext": sealed,
/// #     "associated_data": "coupon", "nonce": "0123456789ab"}}).to_string();
/// // `body` verified already (`Notifier::open` does both steps):
/// let event: notify::Event = notify::decrypt(apiv3_key, body.as_bytes())?;
/// assert_eq!((event.event_type.as_str(), event.original_type.as_str()), ("COUPON.SEND", "coupon"));
/// assert_eq!(event.resource["stock_id"], "100088"); // `Value` by default; any `Deserialize` type works
/// # Ok::<(), wechatpay::Error>(())
/// ```
#[non_exhaustive]
#[derive(Clone)]
pub struct Event<T = serde_json::Value> {
    /// The notification's unique `id` (the same on every retry of one notification).
    pub id: String,
    /// `create_time`, RFC 3339.
    pub create_time: String,
    /// `event_type`, e.g. `COUPON.SEND`, `COUPON.USE`, `TRANSACTION.SUCCESS`.
    pub event_type: String,
    /// `resource_type`, e.g. `encrypt-resource`.
    pub resource_type: String,
    /// `summary`, e.g. `商家券领券通知`.
    pub summary: String,
    /// `resource.original_type`, e.g. `coupon`, `transaction`.
    pub original_type: String,
    /// `resource.associated_data` (empty when absent).
    pub associated_data: String,
    /// The decrypted resource, deserialized.
    pub resource: T,
    /// The decrypted resource as WeChat Pay sent it (JSON text).
    pub plaintext: String,
}

impl<T> std::fmt::Debug for Event<T> {
    /// The envelope only: the decrypted resource is personal data and stays out of logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Event")
            .field("id", &self.id)
            .field("create_time", &self.create_time)
            .field("event_type", &self.event_type)
            .field("resource_type", &self.resource_type)
            .field("summary", &self.summary)
            .field("original_type", &self.original_type)
            .field("plaintext_len", &self.plaintext.len())
            .finish_non_exhaustive()
    }
}

/// The raw envelope; every field optional so that a missing one is named, not a generic serde error.
#[derive(Deserialize)]
struct Envelope {
    id: Option<String>,
    create_time: Option<String>,
    event_type: Option<String>,
    resource_type: Option<String>,
    summary: Option<String>,
    resource: Option<Resource>,
}

#[derive(Deserialize)]
struct Resource {
    original_type: Option<String>,
    algorithm: Option<String>,
    ciphertext: Option<String>,
    associated_data: Option<String>,
    nonce: Option<String>,
}

fn need(field: Option<String>, name: &str) -> Result<String> {
    field.ok_or_else(|| Error::decode(format!("the callback body has no `{name}`")))
}

/// Verifies and decrypts callbacks with a [`Keyring`] and the merchant's APIv3 key. Cheap to clone.
///
/// Its `Debug` never shows the APIv3 key.
///
/// ```
/// use wechatpay::{notify::Notifier, Keyring, PublicKey};
///
/// let platform = PublicKey::load(include_str!("../../tests/fixtures/platform_pub.pem"))?;
/// let keyring = Keyring::new([("PUB_KEY_ID_0114232134912410000000000000".to_owned(), platform)]);
/// // Once, at start-up; clone it into each handler, then `notifier.open(&headers, &body)`.
/// let notifier = Notifier::new(keyring, "0123456789abcdef0123456789abcdef")?;
/// assert!(Notifier::new(notifier.keyring().clone(), "too short").unwrap_err().is_key());
/// # Ok::<(), wechatpay::Error>(())
/// ```
#[derive(Clone)]
pub struct Notifier {
    keyring: Keyring,
    apiv3_key: ApiV3Key,
}

impl fmt::Debug for Notifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Notifier")
            .field("keyring", &self.keyring.ids().collect::<Vec<_>>())
            .field("apiv3_key", &"<redacted>")
            .finish()
    }
}

impl Notifier {
    /// A notifier verifying with `keyring` (the same keys that verify answers) and decrypting with the
    /// 32-byte `apiv3_key`; a key error if the APIv3 key is not 32 bytes.
    pub fn new(keyring: Keyring, apiv3_key: impl AsRef<str>) -> Result<Self> {
        let apiv3_key = ApiV3Key::new(apiv3_key.as_ref())?;
        Ok(Notifier { keyring, apiv3_key })
    }

    pub(crate) fn with_key(keyring: Keyring, apiv3_key: ApiV3Key) -> Self {
        Notifier { keyring, apiv3_key }
    }

    /// The keys it verifies with.
    pub fn keyring(&self) -> &Keyring {
        &self.keyring
    }

    /// Verifies `headers` + `body` at the current time, then decrypts the resource into `T`.
    pub fn open<T: DeserializeOwned>(&self, headers: &HeaderMap, body: &[u8]) -> Result<Event<T>> {
        self.open_at(headers, body, crate::protocol::formatter::timestamp())
    }

    /// [`Notifier::open`] at Unix time `now` (sans-IO: for tests and replays).
    pub fn open_at<T: DeserializeOwned>(&self, headers: &HeaderMap, body: &[u8], now: i64) -> Result<Event<T>> {
        verify::verify_signed(&self.keyring, Policy::Verify, headers, body, now)?;
        decrypt_with(&self.apiv3_key, body)
    }
}

// The client's twin of `Notifier`, here so the client does not depend on the features built on it.
#[cfg(feature = "client")]
impl crate::Client {
    /// Verifies and decrypts a callback (回调通知) from its headers and raw body, against the keyring as
    /// it is now (refreshed certificates included) and the APIv3 key of [`crate::ClientBuilder::apiv3_key`].
    /// See [this module](self) for the event and for answering WeChat Pay.
    pub fn open_notification<T: serde::de::DeserializeOwned>(
        &self,
        headers: &http::HeaderMap,
        body: &[u8],
    ) -> Result<Event<T>> {
        let key =
            self.inner().apiv3_key.clone().ok_or_else(|| {
                Error::config("opening callbacks needs the APIv3 key: set `ClientBuilder::apiv3_key`")
            })?;
        Notifier::with_key(self.inner().keyring.load(), key).open(headers, body)
    }
}

/// Verifies a callback with `keyring` at the current time and decrypts it with `apiv3_key` into `T`: the
/// one-shot form of [`Notifier::open`].
pub fn open<T: DeserializeOwned>(
    keyring: &Keyring,
    apiv3_key: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Event<T>> {
    open_at(
        keyring,
        apiv3_key,
        headers,
        body,
        crate::protocol::formatter::timestamp(),
    )
}

/// [`open`] at Unix time `now`.
pub fn open_at<T: DeserializeOwned>(
    keyring: &Keyring,
    apiv3_key: &str,
    headers: &HeaderMap,
    body: &[u8],
    now: i64,
) -> Result<Event<T>> {
    let apiv3_key = ApiV3Key::new(apiv3_key)?;
    verify::verify_signed(keyring, Policy::Verify, headers, body, now)?;
    decrypt_with(&apiv3_key, body)
}

/// Decrypts an (already verified) callback body with `apiv3_key` into `T`. Every failure is a decode error
/// (a key error for an APIv3 key that is not 32 bytes).
pub fn decrypt<T: DeserializeOwned>(apiv3_key: &str, body: &[u8]) -> Result<Event<T>> {
    decrypt_with(&ApiV3Key::new(apiv3_key)?, body)
}

fn decrypt_with<T: DeserializeOwned>(apiv3_key: &ApiV3Key, body: &[u8]) -> Result<Event<T>> {
    let envelope: Envelope = match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(value @ serde_json::Value::Object(_)) => serde_json::from_value(value)
            .map_err(|e| Error::decode("the callback body is not a valid notification").with_source(e))?,
        Ok(_) => return Err(Error::decode("the callback body is not a JSON object")),
        Err(e) => return Err(Error::decode("the callback body is not JSON").with_source(e)),
    };
    let resource = envelope
        .resource
        .ok_or_else(|| Error::decode("the callback body has no `resource`"))?;
    let algorithm = need(resource.algorithm, "resource.algorithm")?;
    if algorithm != AEAD_AES_256_GCM {
        return Err(Error::decode(format!(
            "the callback resource is sealed with `{algorithm}`; only `{AEAD_AES_256_GCM}` is supported"
        )));
    }
    let ciphertext = need(resource.ciphertext, "resource.ciphertext")?;
    let nonce = need(resource.nonce, "resource.nonce")?;
    let associated_data = resource.associated_data.unwrap_or_default();
    let original_type = resource.original_type.unwrap_or_default();
    let id = need(envelope.id, "id")?;
    let create_time = need(envelope.create_time, "create_time")?;
    let event_type = need(envelope.event_type, "event_type")?;
    let resource_type = need(envelope.resource_type, "resource_type")?;

    let plain = AesGcm::open(&ciphertext, apiv3_key, &nonce, &associated_data)?;
    let plaintext =
        String::from_utf8(plain).map_err(|_| Error::decode("the decrypted callback resource is not UTF-8 text"))?;
    // Not the serde error itself, in the message or as a source: its text may quote the (personal)
    // plaintext. Where it failed is enough to fix a type.
    let resource: T = serde_json::from_str(&plaintext).map_err(|e| {
        Error::decode(format!(
            "the decrypted `{event_type}` resource does not deserialize into `{}` ({:?} error at line {} column {})",
            std::any::type_name::<T>(),
            e.classify(),
            e.line(),
            e.column()
        ))
    })?;
    Ok(Event {
        id,
        create_time,
        event_type,
        resource_type,
        summary: envelope.summary.unwrap_or_default(),
        original_type,
        associated_data,
        resource,
        plaintext,
    })
}

/// The answer to give WeChat Pay for a callback, as documented: on success HTTP 204 with no body; on
/// failure a 4xx/5xx with `{"code":"FAIL","message":"…"}`, after which WeChat Pay sends the callback again.
///
/// ```
/// use wechatpay::notify::Reply;
///
/// let res: http::Response<Vec<u8>> = Reply::fail(500, "库存系统繁忙").into_response(); // for axum, hyper, …
/// assert_eq!(res.status(), 500);
/// assert_eq!(res.body(), r#"{"code":"FAIL","message":"库存系统繁忙"}"#.as_bytes());
/// assert_eq!(Reply::success().status(), 204);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    status: u16,
    body: Vec<u8>,
}

impl Reply {
    /// Received and handled: 204, no body.
    pub fn success() -> Self {
        Reply {
            status: 204,
            body: Vec::new(),
        }
    }

    /// Not handled: `status` (4xx or 5xx; anything else becomes 500) with `{"code":"FAIL","message":message}`.
    pub fn fail(status: u16, message: &str) -> Self {
        let status = if (400..600).contains(&status) { status } else { 500 };
        let body = serde_json::json!({"code": "FAIL", "message": message})
            .to_string()
            .into_bytes();
        Reply { status, body }
    }

    /// The failure answer for an error of [`Notifier::open`]: 401 for a verification error, 400 for a decode
    /// error, 500 otherwise. The message is generic: it tells the sender nothing about keys or plaintext.
    pub fn from_error(error: &Error) -> Self {
        if error.is_verification() {
            Reply::fail(401, "签名验证失败")
        } else if error.is_decode() {
            Reply::fail(400, "通知解密或解析失败")
        } else {
            Reply::fail(500, "通知处理失败")
        }
    }

    /// The HTTP status.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The body (empty on success).
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// The `Content-Type` to send with the body, if there is one.
    pub fn content_type(&self) -> Option<&'static str> {
        (!self.body.is_empty()).then_some("application/json")
    }

    /// As an [`http::Response`], for frameworks built on the `http` crate.
    pub fn into_response(self) -> http::Response<Vec<u8>> {
        let content_type = self.content_type();
        let mut res = http::Response::new(self.body);
        *res.status_mut() = http::StatusCode::from_u16(self.status).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
        if let Some(ct) = content_type {
            res.headers_mut()
                .insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static(ct));
        }
        res
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::keys::PrivateKey;
    use serde_json::{json, Value};

    const KEY: &str = "0123456789abcdef0123456789abcdef";
    const ID: &str = "PUB_KEY_ID_1";

    fn platform() -> PrivateKey {
        PrivateKey::load(include_str!("../../tests/fixtures/platform_key.pem")).unwrap()
    }

    fn notifier() -> Notifier {
        Notifier::new(Keyring::new([(ID.to_owned(), platform().public_key())]), KEY).unwrap()
    }

    fn sealed(plain: &str) -> Value {
        json!({
            "original_type": "coupon", "algorithm": AEAD_AES_256_GCM, "associated_data": "coupon",
            "nonce": "0123456789ab",
            "ciphertext": AesGcm::encrypt(plain.as_bytes(), KEY, "0123456789ab", "coupon").unwrap(),
        })
    }

    fn envelope(resource: Value) -> Value {
        json!({"id": "EV-1", "create_time": "2015-05-20T13:29:35+08:00", "event_type": "COUPON.SEND",
            "resource_type": "encrypt-resource", "summary": "商家券领券通知", "resource": resource})
    }

    fn signed(body: &[u8], now: i64) -> HeaderMap {
        let ts = now.to_string();
        let mut h = HeaderMap::new();
        h.insert(verify::TIMESTAMP, ts.parse().unwrap());
        h.insert(verify::NONCE, "n".parse().unwrap());
        h.insert(verify::SERIAL, ID.parse().unwrap());
        h.insert(
            verify::SIGNATURE,
            platform()
                .sign(&verify::answer_message(&ts, "n", body))
                .parse()
                .unwrap(),
        );
        h
    }

    fn open_body(body: &Value) -> Result<Event> {
        let bytes = body.to_string().into_bytes();
        let now = 1_700_000_000;
        notifier().open_at(&signed(&bytes, now), &bytes, now)
    }

    #[test]
    fn opens_a_well_formed_callback() {
        let event = open_body(&envelope(sealed(r#"{"coupon_code":"c1"}"#))).unwrap();
        assert_eq!(event.id, "EV-1");
        assert_eq!(event.event_type, "COUPON.SEND");
        assert_eq!(event.original_type, "coupon");
        assert_eq!(event.associated_data, "coupon");
        assert_eq!(event.resource, json!({"coupon_code": "c1"}));
        assert_eq!(event.plaintext, r#"{"coupon_code":"c1"}"#);
    }

    #[test]
    fn malformed_bodies_are_decode_errors_naming_what_is_missing() {
        let cases: Vec<(Value, &str)> = vec![
            (json!([1]), "not a JSON object"),
            (json!({"id": 5}), "not a valid notification"),
            (
                {
                    let mut b = envelope(sealed("{}"));
                    b.as_object_mut().unwrap().remove("resource");
                    b
                },
                "`resource`",
            ),
            (
                {
                    let mut b = envelope(sealed("{}"));
                    b.as_object_mut().unwrap().remove("id");
                    b
                },
                "`id`",
            ),
            (
                {
                    let mut b = envelope(sealed("{}"));
                    b.as_object_mut().unwrap().remove("event_type");
                    b
                },
                "`event_type`",
            ),
            (
                {
                    let mut b = envelope(sealed("{}"));
                    b["resource"].as_object_mut().unwrap().remove("ciphertext");
                    b
                },
                "`resource.ciphertext`",
            ),
            (
                {
                    let mut b = envelope(sealed("{}"));
                    b["resource"].as_object_mut().unwrap().remove("nonce");
                    b
                },
                "`resource.nonce`",
            ),
            (
                {
                    let mut b = envelope(sealed("{}"));
                    b["resource"].as_object_mut().unwrap().remove("algorithm");
                    b
                },
                "`resource.algorithm`",
            ),
        ];
        for (body, says) in cases {
            let e = open_body(&body).unwrap_err();
            assert!(e.is_decode(), "{body}: {e:?}");
            assert!(e.to_string().contains(says), "{body}: {e}");
        }
        let e = notifier()
            .open_at::<Value>(&signed(b"not json", 1), b"not json", 1)
            .unwrap_err();
        assert!(e.is_decode() && e.to_string().contains("not JSON"), "{e}");
    }

    #[test]
    fn an_unsupported_algorithm_is_refused() {
        let mut body = envelope(sealed("{}"));
        body["resource"]["algorithm"] = json!("AEAD_SM4_GCM");
        let e = open_body(&body).unwrap_err();
        assert!(e.is_decode());
        assert!(e.to_string().contains("AEAD_SM4_GCM"), "{e}");
    }

    #[test]
    fn decryption_and_typing_failures_are_decode_errors() {
        let mut body = envelope(sealed("{}"));
        body["resource"]["associated_data"] = json!("transaction");
        let e = open_body(&body).unwrap_err();
        assert!(e.is_decode() && !e.is_verification(), "{e:?}");

        #[derive(Debug, Deserialize)]
        #[allow(dead_code)]
        struct Needs {
            coupon_code: String,
        }
        let bytes = envelope(sealed(r#"{"openid":"secret-openid"}"#))
            .to_string()
            .into_bytes();
        let e = notifier().open_at::<Needs>(&signed(&bytes, 1), &bytes, 1).unwrap_err();
        assert!(e.is_decode() && e.to_string().contains("Needs"), "{e}");
        assert!(!e.to_string().contains("secret-openid"), "{e}");
    }

    #[test]
    fn a_bad_signature_is_a_verification_error_before_anything_is_parsed() {
        let bytes = b"not even json";
        let mut h = signed(bytes, 1);
        h.insert(verify::NONCE, "other".parse().unwrap());
        let e = notifier().open_at::<Value>(&h, bytes, 1).unwrap_err();
        assert_eq!(e.verification(), Some(crate::Verification::BadSignature));
    }

    #[test]
    fn the_apiv3_key_is_checked_and_never_shown() {
        let ring = Keyring::new([(ID.to_owned(), platform().public_key())]);
        assert!(Notifier::new(ring.clone(), "short").unwrap_err().is_key());
        let debug = format!("{:?}", Notifier::new(ring, KEY).unwrap());
        assert!(!debug.contains(KEY) && debug.contains("PUB_KEY_ID_1"), "{debug}");
    }

    #[test]
    fn replies_as_documented() {
        let ok = Reply::success();
        assert_eq!((ok.status(), ok.body(), ok.content_type()), (204, &b""[..], None));
        let fail = Reply::fail(500, "失败");
        assert_eq!(fail.status(), 500);
        assert_eq!(
            serde_json::from_slice::<Value>(fail.body()).unwrap(),
            json!({"code": "FAIL", "message": "失败"})
        );
        assert_eq!(Reply::fail(200, "x").status(), 500);
        let verification = Error::verify_failed(crate::Verification::BadSignature, "x");
        assert_eq!(Reply::from_error(&verification).status(), 401);
        assert_eq!(Reply::from_error(&Error::decode("x")).status(), 400);
        let res = Reply::fail(400, "x").into_response();
        assert_eq!(res.headers()[http::header::CONTENT_TYPE], "application/json");
    }
}
