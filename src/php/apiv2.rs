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

use aes::cipher::{BlockDecrypt, BlockEncrypt, KeyInit};
use base64::Engine as _;

use crate::crypto::hash;
use crate::error::{Error, Result};

#[doc(inline)]
pub use crate::protocol::apiv2::{query_string_like, sign, sign_joined, verify, SignType};

use crate::crypto::backend::B64;

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
