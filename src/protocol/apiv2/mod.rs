//! APIv2, the XML protocol (sans-IO): its MD5 and HMAC-SHA256 signatures, its XML, what each endpoint
//! needs, building a request and checking an answer. `../shared/APIV2.md` has the protocol facts and the
//! vectors of wechatpay-php that the tests hold byte for byte.

pub(crate) mod answer;
pub(crate) mod endpoints;
pub(crate) mod request;
pub(crate) mod xml;

use std::fmt;

use crate::crypto::hash;

/// An APIv2 `sign_type`.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignType {
    /// `MD5`: upper-case hex MD5 of `k=v&…&key=KEY`. The APIv2 default.
    Md5,
    /// `HMAC-SHA256`: upper-case hex HMAC-SHA256 of `k=v&…&key=KEY`, keyed by `KEY`.
    HmacSha256,
}

impl SignType {
    /// Reads WeChat Pay's name for it: `MD5` or `HMAC-SHA256` (any case).
    pub fn parse(name: &str) -> Option<Self> {
        match name.trim().to_ascii_uppercase().as_str() {
            "MD5" => Some(SignType::Md5),
            "HMAC-SHA256" => Some(SignType::HmacSha256),
            _ => None,
        }
    }

    /// WeChat Pay's name for it.
    pub fn as_str(self) -> &'static str {
        match self {
            SignType::Md5 => "MD5",
            SignType::HmacSha256 => "HMAC-SHA256",
        }
    }
}

impl fmt::Display for SignType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The string APIv2 signs, before `&key=`: parameters sorted by name (byte order, PHP's `ksort`), joined
/// as `k=v` with `&`, leaving out `sign` and empty values — `0` and a space are kept (PHP's
/// `Formatter::queryStringLike`). Values
/// are taken as they are, not URL-encoded.
///
/// ```
/// let joined = wechatpay::apiv2::query_string_like([("b", "2"), ("sign", "X"), ("a", "1"), ("c", ""), ("z", "0")]);
/// assert_eq!(joined, "a=1&b=2&z=0");
/// ```
pub fn query_string_like<I, K, V>(params: I) -> String
where
    I: IntoIterator<Item = (K, V)>,
    K: AsRef<str>,
    V: AsRef<str>,
{
    let mut pairs: Vec<(K, V)> = params
        .into_iter()
        .filter(|(k, v)| k.as_ref() != "sign" && !v.as_ref().is_empty())
        .collect();
    pairs.sort_by(|a, b| a.0.as_ref().as_bytes().cmp(b.0.as_ref().as_bytes()));
    let mut out = String::new();
    for (k, v) in &pairs {
        if !out.is_empty() {
            out.push('&');
        }
        out.push_str(k.as_ref());
        out.push('=');
        out.push_str(v.as_ref());
    }
    out
}

/// Signs an already joined string (PHP's `Hash::sign($type, $joined, $key)`): the digest of
/// `joined&key=KEY`, upper-case hex.
pub fn sign_joined(sign_type: SignType, joined: &str, key: &str) -> String {
    let message = format!("{joined}&key={key}");
    let digest = match sign_type {
        SignType::Md5 => hash::md5_hex(message.as_bytes()),
        SignType::HmacSha256 => hash::hmac_sha256_hex(key.as_bytes(), message.as_bytes()),
    };
    digest.to_ascii_uppercase()
}

/// Signs APIv2 parameters with the APIv2 key: [`query_string_like`] then [`sign_joined`].
pub fn sign<I, K, V>(sign_type: SignType, params: I, key: &str) -> String
where
    I: IntoIterator<Item = (K, V)>,
    K: AsRef<str>,
    V: AsRef<str>,
{
    let params: Vec<(K, V)> = params.into_iter().collect();
    let mut pairs: Vec<(&str, &str)> = params.iter().map(|(k, v)| (k.as_ref(), v.as_ref())).collect();
    digest(sign_type, &mut pairs, key)
}

/// What [`sign`] computes, in one buffer: the pairs filtered and sorted in place, joined with `&key=KEY`,
/// digested and written as upper-case hex (a signature is computed on every answer, so no step allocates
/// twice).
fn digest(sign_type: SignType, pairs: &mut Vec<(&str, &str)>, key: &str) -> String {
    pairs.retain(|(k, v)| *k != "sign" && !v.is_empty());
    pairs.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    let len: usize = pairs.iter().map(|(k, v)| k.len() + v.len() + 2).sum();
    let mut message = Vec::with_capacity(len + key.len() + 5);
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            message.push(b'&');
        }
        message.extend_from_slice(k.as_bytes());
        message.push(b'=');
        message.extend_from_slice(v.as_bytes());
    }
    message.extend_from_slice(b"&key=");
    message.extend_from_slice(key.as_bytes());
    let upper = |bytes: &[u8]| {
        const DIGITS: &[u8; 16] = b"0123456789ABCDEF";
        bytes
            .iter()
            .flat_map(|b| [DIGITS[usize::from(b >> 4)], DIGITS[usize::from(b & 15)]])
            .map(char::from)
            .collect::<String>()
    };
    match sign_type {
        SignType::Md5 => upper(&hash::md5(&message)),
        SignType::HmacSha256 => upper(&hash::hmac_sha256(key.as_bytes(), &message)),
    }
}

/// Checks the `sign` of APIv2 parameters (e.g. a payment notification), in constant time. The `sign`
/// parameter itself is what is checked, and `sign_type`, when present, must agree with `sign_type`.
///
/// ```
/// use wechatpay::apiv2::{self, SignType};
/// let key = "192006250b4c09247ec02edce69f6a2d";
/// let mut params = vec![("appid", "wxd930ea5d5a258f4f".to_owned()), ("body", "test".to_owned())];
/// let sign = apiv2::sign(SignType::Md5, params.clone(), key);
/// params.push(("sign", sign));
/// assert!(apiv2::verify(SignType::Md5, params.clone(), key));
/// params[1].1 = "tampered".into();
/// assert!(!apiv2::verify(SignType::Md5, params, key));
/// ```
pub fn verify<I, K, V>(sign_type: SignType, params: I, key: &str) -> bool
where
    I: IntoIterator<Item = (K, V)>,
    K: AsRef<str>,
    V: AsRef<str>,
{
    let params: Vec<(K, V)> = params.into_iter().collect();
    let given = params
        .iter()
        .find(|(k, _)| k.as_ref() == "sign")
        .map(|(_, v)| v.as_ref());
    let declared = params
        .iter()
        .find(|(k, _)| k.as_ref() == "sign_type")
        .map(|(_, v)| v.as_ref());
    if declared.is_some_and(|d| SignType::parse(d) != Some(sign_type)) {
        return false;
    }
    let Some(given) = given else { return false };
    let mut pairs: Vec<(&str, &str)> = params.iter().map(|(k, v)| (k.as_ref(), v.as_ref())).collect();
    let expected = digest(sign_type, &mut pairs, key);
    // Compared upper-case, in a buffer on the stack: a signature is at most 64 hex digits.
    let given = given.trim().as_bytes();
    let mut upper = [0u8; 64];
    match upper.get_mut(..given.len()) {
        Some(buf) => {
            buf.copy_from_slice(given);
            buf.make_ascii_uppercase();
            hash::constant_time_eq(expected.as_bytes(), buf)
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_php_signing_vectors_hold() {
        let fields = [
            ("appid", "wx8888888888888888"),
            ("mch_id", "1900000109"),
            ("body", "image形象店-深圳腾大- QQ公仔"),
            ("out_trade_no", "1217752501201407033233368018"),
            ("total_fee", "888"),
            ("spbill_create_ip", "8.8.8.8"),
            ("auth_code", "120061098828009406"),
            ("nonce_str", "5K8264ILTKCH16CQ2502SI8ZNMTM67VS"),
        ];
        assert_eq!(
            query_string_like(fields),
            "appid=wx8888888888888888&auth_code=120061098828009406&body=image形象店-深圳腾大- QQ公仔&mch_id=1900000109\
             &nonce_str=5K8264ILTKCH16CQ2502SI8ZNMTM67VS&out_trade_no=1217752501201407033233368018\
             &spbill_create_ip=8.8.8.8&total_fee=888"
        );
        let key = "exposed_your_key_here_have_risks";
        assert_eq!(sign(SignType::Md5, fields, key), "136AC52A30474E1CAC7CCF22878ECCF3");
        let mut hmac = fields.to_vec();
        hmac.push(("sign_type", "HMAC-SHA256"));
        assert_eq!(
            sign(SignType::HmacSha256, hmac, key),
            "B15548C526D2D9CB9DDBBC5D8D4434002439F78812396C7BF36453D631CE2163"
        );
    }

    #[test]
    fn sorts_by_bytes_and_drops_only_empty_values_and_sign() {
        let fields = [
            ("mch_id", "1900000109"),
            ("appid", "wx1"),
            ("nonce_str", "abc"),
            ("body", "A B"),
            ("empty", ""),
            ("zero", "0"),
            ("sign", "OLD"),
            ("Bz", "1"),
            ("b_a", "2"),
        ];
        assert_eq!(
            query_string_like(fields),
            "Bz=1&appid=wx1&b_a=2&body=A B&mch_id=1900000109&nonce_str=abc&zero=0"
        );
        assert_eq!(sign(SignType::Md5, fields, "key"), "3C3FD2DC9499D5CA6730C863CB94447F");
        assert_eq!(
            sign(SignType::HmacSha256, fields, "key"),
            "D1E126B2892B80AC181DC7CBDAC0A3A6C5E96402D66DE50F9DE23EC34BA086FE"
        );
    }
}
