//! Verifying what WeChat Pay signed (sans-IO): answers to our requests, and (later) its callbacks.
//!
//! A signed message is `TIMESTAMP\nNONCE\nBODY\n`, taken from the `Wechatpay-Timestamp`,
//! `Wechatpay-Nonce` headers and the raw body; `Wechatpay-Signature` carries the base64 signature and
//! `Wechatpay-Serial` names the key (a platform certificate serial or a `PUB_KEY_ID_…`).

use http::HeaderMap;

use crate::crypto::keyring::Keyring;
use crate::error::{Error, Result, Verification};
use crate::protocol::formatter;

/// How far (in seconds) a signed timestamp may be from this machine's clock.
pub const MAX_SKEW_SECS: i64 = 300;

/// `Wechatpay-Timestamp`.
pub const TIMESTAMP: &str = "wechatpay-timestamp";
/// `Wechatpay-Nonce`.
pub const NONCE: &str = "wechatpay-nonce";
/// `Wechatpay-Signature`.
pub const SIGNATURE: &str = "wechatpay-signature";
/// `Wechatpay-Serial`.
pub const SERIAL: &str = "wechatpay-serial";
/// `Wechatpay-Signature-Type`: the scheme WeChat Pay signed with, when it says.
pub const SIGNATURE_TYPE: &str = "wechatpay-signature-type";
/// The one signature scheme this crate verifies (and signs with): RSA-2048 over SHA-256.
pub const SIGNATURE_SCHEME: &str = "WECHATPAY2-SHA256-RSA2048";
/// `Wechatpay-Statement-Sha1`, sent with CSV statements instead of signing the CSV itself.
pub const STATEMENT_SHA1: &str = "wechatpay-statement-sha1";

/// What to do with an answer, decided by the request path. New policies may be added
/// (`#[non_exhaustive]`).
///
/// ```
/// use wechatpay::verify::{policy_for, Policy};
/// assert_eq!(policy_for(&wechatpay::Method::GET, "v3/global/statements"), Policy::Statement);
/// ```
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    /// Verify the signature over the body (every answer but the ones below).
    Verify,
    /// Not signed by WeChat Pay: bill files and merchant-service image downloads.
    Unsigned,
    /// Statements: with `Wechatpay-Statement-Sha1`, the signature covers `{"sha1":"…"}` and the CSV's SHA-1
    /// must match that header.
    Statement,
    /// APIv2: the `sign` field of the XML answer, recomputed over its other fields with the APIv2 key.
    Apiv2,
}

/// The policy for a `method` request to `path`, the request path relative to the client's base path
/// (`v3/billdownload/file`, with or without one leading `/`, query excluded), exactly as it is signed.
///
/// The exceptions to [`Policy::Verify`] match the documented paths byte for byte and for `GET` only: never
/// after percent-decoding (`v3/billdownload/%66ile` is another spelling WeChat Pay may route alike, and
/// its answer is verified), and an image id only of unreserved characters that is not `upload`. So a
/// placeholder value, a base path or another method can never make a signed answer pass unsigned.
/// Anything that does not match exactly is verified.
///
/// ```
/// use wechatpay::verify::{policy_for, Policy};
/// use wechatpay::Method;
/// assert_eq!(policy_for(&Method::GET, "v3/billdownload/file"), Policy::Unsigned);
/// assert_eq!(policy_for(&Method::GET, "v3/billdownload/%66ile"), Policy::Verify);
/// assert_eq!(policy_for(&Method::GET, "v3/merchant-service/images/%75pload"), Policy::Verify);
/// assert_eq!(policy_for(&Method::POST, "v3/billdownload/file"), Policy::Verify);
/// ```
pub fn policy_for(method: &http::Method, path: &str) -> Policy {
    if method != http::Method::GET {
        return Policy::Verify;
    }
    let path = path.strip_prefix('/').unwrap_or(path);
    let image = |prefix: &str| {
        path.strip_prefix(prefix).is_some_and(|id| {
            !id.is_empty()
                && id.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
                && !id.eq_ignore_ascii_case("upload")
        })
    };
    match path {
        "v3/billdownload/file" => Policy::Unsigned,
        "v3/statements" | "hk/v3/statements" | "v3/global/statements" => Policy::Statement,
        _ if image("v3/merchant-service/images/") || image("v3/global/merchant-service/images/") => Policy::Unsigned,
        _ => Policy::Verify,
    }
}

/// The policy of a request whose `path` was built from the chain's `template`: [`policy_for`], where the
/// documented part of an exception is the template's own literal text. A placeholder's value may name an
/// image's id, never a path segment the exception is recognised by (`v3/{a}` with `a =
/// "billdownload/file"` is verified).
pub(crate) fn policy_of(method: &http::Method, template: &str, path: &str) -> Policy {
    let policy = policy_for(method, path);
    if policy == Policy::Verify {
        return policy;
    }
    let (template, path) = (template.trim_start_matches('/'), path.trim_start_matches('/'));
    let literal = &template[..template.find('{').unwrap_or(template.len())];
    // An image id may come from a placeholder; every other byte must be the template's.
    let fixed = match path.strip_prefix(literal) {
        Some(rest) if rest.is_empty() && literal == template => return policy,
        Some(rest) if !rest.contains('/') && policy == Policy::Unsigned && path.contains("/images/") => {
            literal.ends_with('/')
        }
        _ => false,
    };
    if fixed {
        policy
    } else {
        Policy::Verify
    }
}

/// How far apart (in seconds) a signed timestamp and `now` are; never overflows, whatever the input.
/// Not part of the stable API (the `wxpay` binary uses it).
#[doc(hidden)]
pub fn skew(timestamp: i64, now: i64) -> i64 {
    now.saturating_sub(timestamp).saturating_abs()
}

/// The message an answer's (or callback's) signature covers.
pub fn answer_message(timestamp: &str, nonce: &str, body: &[u8]) -> Vec<u8> {
    formatter::joined_by_line_feed([timestamp.as_bytes(), nonce.as_bytes(), body])
}

fn header<'h>(headers: &'h HeaderMap, name: &'static str, display: &str) -> Result<&'h str> {
    headers.get(name).and_then(|v| v.to_str().ok()).ok_or_else(|| {
        Error::verify_failed(
            Verification::MissingHeader,
            format!("the answer has no valid `{display}` header"),
        )
    })
}

/// Verifies headers + body signed by WeChat Pay against `keyring`, at Unix time `now`.
///
/// `policy` says whether the body itself is signed or, for statements, a SHA-1 header stands in for it.
pub fn verify_signed(keyring: &Keyring, policy: Policy, headers: &HeaderMap, body: &[u8], now: i64) -> Result<()> {
    if policy == Policy::Unsigned {
        return Ok(());
    }
    let timestamp = header(headers, TIMESTAMP, "Wechatpay-Timestamp")?;
    let nonce = header(headers, NONCE, "Wechatpay-Nonce")?;
    let signature = header(headers, SIGNATURE, "Wechatpay-Signature")?;
    let serial = header(headers, SERIAL, "Wechatpay-Serial")?;
    if let Some(scheme) = headers.get(SIGNATURE_TYPE) {
        let scheme = scheme.to_str().unwrap_or("(not text)");
        if !scheme.eq_ignore_ascii_case(SIGNATURE_SCHEME) {
            return Err(Error::verify_failed(
                Verification::UnsupportedSignatureType,
                format!("`Wechatpay-Signature-Type` is {scheme:?}; only {SIGNATURE_SCHEME} is verified"),
            ));
        }
    }

    let ts: i64 = crate::protocol::sign::parse_timestamp(timestamp).ok_or_else(|| {
        Error::verify_failed(
            Verification::MalformedTimestamp,
            format!("`Wechatpay-Timestamp` {timestamp:?} is not a number of seconds"),
        )
    })?;
    let skew = skew(ts, now);
    if skew > MAX_SKEW_SECS {
        return Err(Error::verify_failed(
            Verification::StaleTimestamp,
            format!(
                "`Wechatpay-Timestamp` {ts} is {skew} s away from this machine's clock ({now}); at most {MAX_SKEW_SECS} s is accepted"
            ),
        ));
    }

    let key = keyring.get(serial).ok_or_else(|| {
        let known: Vec<&str> = keyring.ids().collect();
        Error::verify_failed(
            Verification::UnknownSerial,
            format!(
                "`Wechatpay-Serial` {serial:?} names no configured key; configured: [{}]",
                known.join(", ")
            ),
        )
    })?;

    let statement_sha1 = match policy {
        Policy::Statement => headers.get(STATEMENT_SHA1).and_then(|v| v.to_str().ok()),
        _ => None,
    };
    let stand_in;
    let signed_body: &[u8] = match statement_sha1 {
        Some(sha1) => {
            stand_in = serde_json::json!({ "sha1": sha1 }).to_string();
            stand_in.as_bytes()
        }
        None => body,
    };

    if !key.verify(&answer_message(timestamp, nonce, signed_body), signature) {
        return Err(Error::verify_failed(
            Verification::BadSignature,
            format!("the signature does not match the answer (key {serial})"),
        ));
    }

    if let Some(expected) = statement_sha1 {
        let actual = crate::crypto::hash::sha1_hex(body);
        if !actual.eq_ignore_ascii_case(expected.trim()) {
            return Err(Error::verify_failed(
                Verification::DigestMismatch,
                format!("the statement's SHA-1 is {actual}, but `Wechatpay-Statement-Sha1` says {expected}"),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::keys::PrivateKey;

    fn setup() -> (PrivateKey, Keyring) {
        let key = PrivateKey::load(include_str!("../../tests/fixtures/platform_key.pem")).unwrap();
        let ring = Keyring::new([("PUB_KEY_ID_1".to_owned(), key.public_key())]);
        (key, ring)
    }

    fn signed(key: &PrivateKey, ts: i64, body: &[u8]) -> HeaderMap {
        let mut h = HeaderMap::new();
        let ts = ts.to_string();
        h.insert(TIMESTAMP, ts.parse().unwrap());
        h.insert(NONCE, "abc".parse().unwrap());
        h.insert(SERIAL, "PUB_KEY_ID_1".parse().unwrap());
        h.insert(SIGNATURE, key.sign(&answer_message(&ts, "abc", body)).parse().unwrap());
        h
    }

    #[test]
    fn accepts_good_and_names_each_failure() {
        let (key, ring) = setup();
        let now = 1_700_000_000;
        let h = signed(&key, now, b"{}");
        verify_signed(&ring, Policy::Verify, &h, b"{}", now).unwrap();
        // The window's exact edges, either way: 300 s off passes, 301 s off is stale (below).
        verify_signed(&ring, Policy::Verify, &h, b"{}", now + 300).unwrap();
        verify_signed(&ring, Policy::Verify, &h, b"{}", now - 300).unwrap();
        let step = |r: Result<()>| r.unwrap_err().verification().unwrap();
        assert_eq!(
            step(verify_signed(&ring, Policy::Verify, &h, b"{ }", now)),
            Verification::BadSignature
        );
        assert_eq!(
            step(verify_signed(&ring, Policy::Verify, &h, b"{}", now + 301)),
            Verification::StaleTimestamp
        );
        assert_eq!(
            step(verify_signed(&ring, Policy::Verify, &h, b"{}", now - 301)),
            Verification::StaleTimestamp
        );
        let mut unknown = h.clone();
        unknown.insert(SERIAL, "PUB_KEY_ID_2".parse().unwrap());
        let e = verify_signed(&ring, Policy::Verify, &unknown, b"{}", now).unwrap_err();
        assert_eq!(e.verification(), Some(Verification::UnknownSerial));
        assert!(e.to_string().contains("configured: [PUB_KEY_ID_1]"), "{e}");
        for name in [TIMESTAMP, NONCE, SIGNATURE, SERIAL] {
            let mut missing = h.clone();
            missing.remove(name);
            assert_eq!(
                step(verify_signed(&ring, Policy::Verify, &missing, b"{}", now)),
                Verification::MissingHeader
            );
        }
        verify_signed(&ring, Policy::Unsigned, &HeaderMap::new(), b"x", now).unwrap();

        // The scheme, when named, must be the one this crate verifies.
        let mut typed = h.clone();
        typed.insert(SIGNATURE_TYPE, SIGNATURE_SCHEME.parse().unwrap());
        verify_signed(&ring, Policy::Verify, &typed, b"{}", now).unwrap();
        typed.insert(SIGNATURE_TYPE, "WECHATPAY2-SM2-WITH-SM3".parse().unwrap());
        assert_eq!(
            step(verify_signed(&ring, Policy::Verify, &typed, b"{}", now)),
            Verification::UnsupportedSignatureType
        );
    }

    #[test]
    fn statements_sign_the_sha1_stand_in() {
        let (key, ring) = setup();
        let now = 1_700_000_000;
        let csv = b"a,b\n1,2\n";
        let sha1 = crate::crypto::hash::sha1_hex(csv);
        let stand_in = format!(r#"{{"sha1":"{sha1}"}}"#);
        let mut h = signed(&key, now, stand_in.as_bytes());
        h.insert(STATEMENT_SHA1, sha1.parse().unwrap());
        verify_signed(&ring, Policy::Statement, &h, csv, now).unwrap();
        let e = verify_signed(&ring, Policy::Statement, &h, b"a,b\n1,3\n", now).unwrap_err();
        assert_eq!(e.verification(), Some(Verification::DigestMismatch));
    }

    #[test]
    fn policy_by_path() {
        let get = |p| policy_for(&http::Method::GET, p);
        assert_eq!(get("v3/billdownload/file"), Policy::Unsigned);
        assert_eq!(get("/v3/billdownload/file"), Policy::Unsigned);
        assert_eq!(get("//v3/billdownload/file"), Policy::Verify);
        assert_eq!(get("v3/billdownload/%66ile"), Policy::Verify);
        assert_eq!(get("v3/billdownload/fil%65"), Policy::Verify);
        assert_eq!(get("v3/%62illdownload/file"), Policy::Verify);
        assert_eq!(get("v3/billdownload/file?"), Policy::Verify);
        assert_eq!(get("v3/merchant-service/images/a%2Fb"), Policy::Verify);
        assert_eq!(get("v3/merchant-service/images/abc"), Policy::Unsigned);
        assert_eq!(get("v3/global/merchant-service/images/abc"), Policy::Unsigned);
        assert_eq!(get("v3/merchant-service/images/upload"), Policy::Verify);
        assert_eq!(get("v3/merchant-service/images/%75pload"), Policy::Verify);
        assert_eq!(get("v3/merchant-service/images/UPLOAD"), Policy::Verify);
        assert_eq!(get("v3/merchant-service/images/"), Policy::Verify);
        assert_eq!(get("v3/merchant-service/images/a/b"), Policy::Verify);
        assert_eq!(get("gateway/v3/billdownload/file"), Policy::Verify);
        assert_eq!(get("v3/billdownload/file/x"), Policy::Verify);
        assert_eq!(get("v3/statements"), Policy::Statement);
        assert_eq!(get("v3/global/statements"), Policy::Statement);
        assert_eq!(get("v3/certificates"), Policy::Verify);
        assert_eq!(policy_for(&http::Method::POST, "v3/billdownload/file"), Policy::Verify);
        assert_eq!(
            policy_for(&http::Method::HEAD, "v3/merchant-service/images/abc"),
            Policy::Verify
        );
    }

    #[test]
    fn a_placeholder_never_makes_the_documented_part_of_an_exception() {
        let get = |template, path| policy_of(&http::Method::GET, template, path);
        assert_eq!(get("v3/billdownload/file", "v3/billdownload/file"), Policy::Unsigned);
        assert_eq!(get("/v3/billdownload/file", "v3/billdownload/file"), Policy::Unsigned);
        // Every segment, and every part of one, a placeholder could have made.
        for template in [
            "v3/{a}",
            "{a}",
            "v3/{a}/file",
            "v3/billdownload/{a}",
            "v3/bill{a}/file",
            "v3/billdownload/fi{a}",
            "v3/{+a}",
        ] {
            assert_eq!(get(template, "v3/billdownload/file"), Policy::Verify, "{template}");
        }
        assert_eq!(get("v3/{a}", "v3/statements"), Policy::Verify);
        // An image's id is a placeholder by design; the rest of its path is not.
        assert_eq!(
            get(
                "v3/merchant-service/images/{media_id}",
                "v3/merchant-service/images/abc"
            ),
            Policy::Unsigned
        );
        assert_eq!(
            get("v3/merchant-service/images/abc", "v3/merchant-service/images/abc"),
            Policy::Unsigned
        );
        assert_eq!(
            get("v3/{a}/images/{id}", "v3/merchant-service/images/abc"),
            Policy::Verify
        );
        assert_eq!(
            get("v3/merchant-service/{a}", "v3/merchant-service/images/abc"),
            Policy::Verify
        );
        assert_eq!(
            get("v3/merchant-service/images/a{id}", "v3/merchant-service/images/abc"),
            Policy::Verify
        );
    }
}
