//! Signing requests (sans-IO): the message WeChat Pay expects and the `Authorization` header that carries it.
//!
//! The message is `METHOD\nREQUEST_TARGET\nTIMESTAMP\nNONCE\nBODY\n`, where the target and the body are
//! exactly what goes on the wire; the signature is RSASSA-PKCS1-v1_5 / SHA-256, base64.

use std::fmt;

use crate::crypto::keys::PrivateKey;
use crate::error::{Error, Result};
use crate::protocol::formatter;

/// The authentication scheme of WeChat Pay API v3.
pub const SCHEME: &str = "WECHATPAY2-SHA256-RSA2048";

/// The message a request signature covers.
pub fn request_message(method: &str, target: &str, timestamp: i64, nonce: &str, body: &[u8]) -> Vec<u8> {
    let ts = timestamp.to_string();
    formatter::joined_by_line_feed([
        method.as_bytes(),
        target.as_bytes(),
        ts.as_bytes(),
        nonce.as_bytes(),
        body,
    ])
}

/// The parts of an `Authorization: WECHATPAY2-SHA256-RSA2048 …` header. New fields may be added
/// (`#[non_exhaustive]`): build one with [`Authorization::sign`], [`Authorization::parse`] or
/// [`Authorization::new`].
///
/// ```
/// use wechatpay::sign::Authorization;
/// # let key = wechatpay::PrivateKey::load(include_str!("../../tests/fixtures/merchant_key.pem"))?;
/// let auth = Authorization::sign(&key, "1900000109", "3775B6A45ACD588826D15E583A95F5DD00000001",
///                                "GET", "/v3/certificates", b"");
/// let header = auth.to_string(); // WECHATPAY2-SHA256-RSA2048 mchid="1900000109",…
/// assert_eq!(Authorization::parse(&header)?, auth);
/// # Ok::<(), wechatpay::Error>(())
/// ```
#[non_exhaustive]
#[derive(Clone, PartialEq, Eq)]
pub struct Authorization {
    /// The merchant id (`mchid`).
    pub mchid: String,
    /// The merchant certificate serial (`serial_no`).
    pub serial_no: String,
    /// Unix seconds (`timestamp`).
    pub timestamp: i64,
    /// The nonce (`nonce_str`).
    pub nonce_str: String,
    /// The base64 signature (`signature`).
    pub signature: String,
}

/// Unix seconds in the one form WeChat Pay writes them: plain decimal digits, no sign, no leading zero,
/// so one timestamp has one spelling (`+1554208460` and `01554208460` are refused).
pub(crate) fn parse_timestamp(text: &str) -> Option<i64> {
    let plain = !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) && (text == "0" || !text.starts_with('0'));
    plain.then(|| text.parse().ok()).flatten()
}

impl Authorization {
    /// The parts as given, unsigned and unchecked (for tools and tests; [`Authorization::sign`] makes a
    /// real one).
    pub fn new(
        mchid: impl Into<String>,
        serial_no: impl Into<String>,
        timestamp: i64,
        nonce_str: impl Into<String>,
        signature: impl Into<String>,
    ) -> Self {
        Authorization {
            mchid: mchid.into(),
            serial_no: serial_no.into(),
            timestamp,
            nonce_str: nonce_str.into(),
            signature: signature.into(),
        }
    }

    /// Signs a request now, with a fresh nonce and the current time.
    pub fn sign(key: &PrivateKey, mchid: &str, serial: &str, method: &str, target: &str, body: &[u8]) -> Self {
        Self::sign_at(
            key,
            mchid,
            serial,
            method,
            target,
            body,
            formatter::timestamp(),
            formatter::nonce(),
        )
    }

    /// Signs a request with a given timestamp and nonce (deterministic; for tests and tools).
    #[allow(clippy::too_many_arguments)]
    pub fn sign_at(
        key: &PrivateKey,
        mchid: &str,
        serial: &str,
        method: &str,
        target: &str,
        body: &[u8],
        timestamp: i64,
        nonce: String,
    ) -> Self {
        let message = request_message(method, target, timestamp, &nonce, body);
        Authorization {
            mchid: mchid.to_owned(),
            serial_no: serial.to_owned(),
            timestamp,
            nonce_str: nonce,
            signature: key.sign(&message),
        }
    }

    /// Parses an `Authorization` header value. Field order is free; every field must appear once.
    pub fn parse(header: &str) -> Result<Self> {
        let bad = |why: &str| Error::request(format!("malformed Authorization header: {why}"));
        let rest = header
            .strip_prefix(SCHEME)
            .and_then(|r| r.strip_prefix(' '))
            .ok_or_else(|| bad("it must start with `WECHATPAY2-SHA256-RSA2048 `"))?;
        let (mut mchid, mut serial, mut ts, mut nonce, mut sig) = (None, None, None, None, None);
        for pair in rest.split(',') {
            let (k, v) = pair
                .trim()
                .split_once('=')
                .ok_or_else(|| bad("a field is not `key=\"value\"`"))?;
            let v = v
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .ok_or_else(|| bad("a value is not in double quotes"))?;
            let slot = match k {
                "mchid" => &mut mchid,
                "serial_no" => &mut serial,
                "timestamp" => &mut ts,
                "nonce_str" => &mut nonce,
                "signature" => &mut sig,
                _ => return Err(bad("unknown field")),
            };
            if slot.replace(v.to_owned()).is_some() {
                return Err(bad("a field appears twice"));
            }
        }
        let need = |v: Option<String>, name: &str| v.ok_or_else(|| bad(&format!("`{name}` is missing")));
        let timestamp = need(ts, "timestamp")?;
        Ok(Authorization {
            mchid: need(mchid, "mchid")?,
            serial_no: need(serial, "serial_no")?,
            timestamp: parse_timestamp(&timestamp)
                .ok_or_else(|| bad("`timestamp` is not a plain decimal number of seconds"))?,
            nonce_str: need(nonce, "nonce_str")?,
            signature: need(sig, "signature")?,
        })
    }
}

impl fmt::Display for Authorization {
    /// The header value, fields in WeChat Pay's documented order.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            r#"{SCHEME} mchid="{}",serial_no="{}",timestamp="{}",nonce_str="{}",signature="{}""#,
            self.mchid, self.serial_no, self.timestamp, self.nonce_str, self.signature
        )
    }
}

impl fmt::Debug for Authorization {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Authorization")
            .field("mchid", &self.mchid)
            .field("serial_no", &self.serial_no)
            .field("timestamp", &self.timestamp)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trips_and_matches_documented_shape() {
        let key = PrivateKey::load(include_str!("../../tests/fixtures/merchant_key.pem")).unwrap();
        let a = Authorization::sign_at(
            &key,
            "1900000109",
            "ABC",
            "GET",
            "/v3/certificates",
            b"",
            1554208460,
            "N".repeat(32),
        );
        let header = a.to_string();
        assert!(header.starts_with(
            r#"WECHATPAY2-SHA256-RSA2048 mchid="1900000109",serial_no="ABC",timestamp="1554208460",nonce_str="NNNN"#
        ));
        assert_eq!(Authorization::parse(&header).unwrap(), a);
        let msg = request_message("GET", "/v3/certificates", 1554208460, &"N".repeat(32), b"");
        assert!(key.public_key().verify(&msg, &a.signature));
    }

    #[test]
    fn parse_refuses_malformed_headers() {
        for bad in [
            "",
            "Bearer x",
            r#"WECHATPAY2-SHA256-RSA2048 mchid="1""#,
            r#"WECHATPAY2-SHA256-RSA2048 mchid="1",mchid="1",serial_no="",timestamp="1",nonce_str="",signature="""#,
            r#"WECHATPAY2-SHA256-RSA2048 mchid="1",serial_no="s",timestamp="x",nonce_str="n",signature="s""#,
        ] {
            assert!(Authorization::parse(bad).unwrap_err().is_request(), "{bad}");
        }
    }
}
