//! APIv2 helpers (PHP's `Hash::sign`, `Formatter::queryStringLike` + `ksort`, and `AesEcb`): the MD5 and
//! HMAC-SHA256 signatures of XML-era requests and callbacks, and the AES-256-ECB `req_info` of refund
//! notifications.
//!
//! ```
//! use wechatpay::apiv2::{self, SignType};
//!
//! let params = [
//!     ("mch_id", "10000100"), ("appid", "wxd930ea5d5a258f4f"), ("device_info", "1000"),
//!     ("body", "test"), ("nonce_str", "ibuaiVcKdpRxkhJA"),
//! ];
//! let key = "192006250b4c09247ec02edce69f6a2d";
//! assert_eq!(apiv2::sign(SignType::Md5, params, key), "9A0A8659F005D6984697E2CA0A9CF3B7");
//! assert_eq!(
//!     apiv2::sign(SignType::HmacSha256, params, key),
//!     "6A9AE1657590FD6257D693A078E1C3E4BB6BA4DC30B23E0EE2496E54170DACD6"
//! );
//! ```

use std::fmt;

use aes::cipher::{BlockDecrypt, BlockEncrypt, KeyInit};
use base64::Engine as _;

use crate::crypto::hash;
use crate::error::{Error, Result};

use crate::crypto::backend::B64;

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
/// as `k=v` with `&`, leaving out `sign` and empty values (PHP's `Formatter::queryStringLike`). Values
/// are taken as they are, not URL-encoded.
///
/// ```
/// let joined = wechatpay::apiv2::query_string_like([("b", "2"), ("sign", "X"), ("a", "1"), ("c", " ")]);
/// assert_eq!(joined, "a=1&b=2");
/// ```
pub fn query_string_like<I, K, V>(params: I) -> String
where
    I: IntoIterator<Item = (K, V)>,
    K: AsRef<str>,
    V: AsRef<str>,
{
    let mut pairs: Vec<(K, V)> = params
        .into_iter()
        .filter(|(k, v)| k.as_ref() != "sign" && !v.as_ref().trim().is_empty())
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
    sign_joined(sign_type, &query_string_like(params), key)
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
    let expected = sign(sign_type, params.iter().map(|(k, v)| (k.as_ref(), v.as_ref())), key);
    hash::constant_time_eq(expected.as_bytes(), given.trim().to_ascii_uppercase().as_bytes())
}

/// AES-256-ECB with PKCS#7 padding, base64 (PHP's `AesEcb`): how APIv2 refund notifications encrypt
/// `req_info`. ECB is weak; it is here only because that notification uses it.
///
/// ```
/// use wechatpay::apiv2::AesEcb;
/// let key = "0123456789abcdef0123456789abcdef";
/// assert_eq!(AesEcb::encrypt(b"hello", key)?, "pZwJZBLuy3mDACEQT4YTBw==");
/// assert_eq!(AesEcb::decrypt("pZwJZBLuy3mDACEQT4YTBw==", key)?, b"hello");
/// # Ok::<(), wechatpay::Error>(())
/// ```
#[derive(Debug, Clone, Copy)]
pub struct AesEcb;

fn ecb_cipher(key: &str) -> Result<aes::Aes256> {
    aes::Aes256::new_from_slice(key.as_bytes())
        .map_err(|_| Error::key(format!("the AES-256-ECB key must be 32 bytes, not {}", key.len())))
}

impl AesEcb {
    /// Encrypts `plaintext` under the 32-byte `key`; returns base64.
    pub fn encrypt(plaintext: &[u8], key: &str) -> Result<String> {
        let cipher = ecb_cipher(key)?;
        let pad = 16 - plaintext.len() % 16;
        let mut data = Vec::with_capacity(plaintext.len() + pad);
        data.extend_from_slice(plaintext);
        data.resize(plaintext.len() + pad, pad as u8);
        for block in data.chunks_exact_mut(16) {
            cipher.encrypt_block(aes::Block::from_mut_slice(block));
        }
        Ok(B64.encode(data))
    }

    /// Decrypts base64 ciphertext under the 32-byte `key`; an error if it is not whole blocks or its
    /// padding is wrong (a wrong key, most likely).
    pub fn decrypt(ciphertext_b64: &str, key: &str) -> Result<Vec<u8>> {
        let cipher = ecb_cipher(key)?;
        let mut data = B64
            .decode(ciphertext_b64.trim())
            .map_err(|_| Error::decode("the AES-256-ECB ciphertext is not valid base64"))?;
        if data.is_empty() || data.len() % 16 != 0 {
            return Err(Error::decode(format!(
                "the AES-256-ECB ciphertext is {} bytes, not a whole number of 16-byte blocks",
                data.len()
            )));
        }
        for block in data.chunks_exact_mut(16) {
            cipher.decrypt_block(aes::Block::from_mut_slice(block));
        }
        let pad = usize::from(*data.last().expect("not empty"));
        let padding_ok = (1..=16).contains(&pad) && data[data.len() - pad..].iter().all(|&b| usize::from(b) == pad);
        if !padding_ok {
            return Err(Error::decode("AES-256-ECB decryption failed: bad padding (wrong key?)"));
        }
        data.truncate(data.len() - pad);
        Ok(data)
    }
}

/// Decrypts the `req_info` of an APIv2 refund notification: AES-256-ECB under the lower-case hex MD5 of
/// the APIv2 key. Returns the XML inside.
///
/// ```
/// use wechatpay::apiv2::{decrypt_refund_req_info, AesEcb};
/// let apiv2_key = "192006250b4c09247ec02edce69f6a2d";
/// let req_info = AesEcb::encrypt(b"<root><refund_id>1</refund_id></root>", &wechatpay::hash::md5_hex(apiv2_key.as_bytes()))?;
/// assert_eq!(decrypt_refund_req_info(&req_info, apiv2_key)?, "<root><refund_id>1</refund_id></root>");
/// # Ok::<(), wechatpay::Error>(())
/// ```
pub fn decrypt_refund_req_info(req_info: &str, apiv2_key: &str) -> Result<String> {
    let key = hash::md5_hex(apiv2_key.as_bytes());
    let plain = AesEcb::decrypt(req_info, &key)?;
    String::from_utf8(plain).map_err(|_| Error::decode("the decrypted `req_info` is not UTF-8"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ecb_round_trips_every_length_and_refuses_bad_input() {
        let key = "0123456789abcdef0123456789abcdef";
        for n in 0..40 {
            let plain: Vec<u8> = (0..n).map(|i| i as u8).collect();
            let sealed = AesEcb::encrypt(&plain, key).unwrap();
            assert_eq!(AesEcb::decrypt(&sealed, key).unwrap(), plain);
        }
        assert!(AesEcb::encrypt(b"x", "short").unwrap_err().is_key());
        assert!(AesEcb::decrypt("not base64!", key).unwrap_err().is_decode());
        assert!(AesEcb::decrypt("AAAA", key).unwrap_err().is_decode());
        let other = "fedcba9876543210fedcba9876543210";
        let sealed = AesEcb::encrypt(b"hello", key).unwrap();
        // A wrong key almost always breaks the padding; it must never panic.
        let _ = AesEcb::decrypt(&sealed, other);
    }

    #[test]
    fn sign_type_names() {
        assert_eq!(SignType::parse("hmac-sha256"), Some(SignType::HmacSha256));
        assert_eq!(SignType::parse("MD5"), Some(SignType::Md5));
        assert_eq!(SignType::parse("RSA"), None);
        assert_eq!(SignType::HmacSha256.to_string(), "HMAC-SHA256");
    }
}
