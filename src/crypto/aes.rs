//! AES-256-GCM, the twin of PHP's `AesGcm`: how WeChat Pay encrypts callbacks' `resource` and downloaded
//! platform certificates with the merchant's 32-byte APIv3 key.
//!
//! ```
//! use wechatpay::aes::AesGcm;
//! let key = "0123456789abcdef0123456789abcdef";
//! let sealed = AesGcm::encrypt(r#"{"hello":"wechatpay 你好"}"#.as_bytes(), key, "0123456789ab", "transaction")?;
//! assert_eq!(sealed, "4ouPXy+m9znPJ1TY0GwdUzLnre/zdcqOgTLtZISoHi/ZfcrtL/wwYaoCzvI=");
//! let plain = AesGcm::decrypt(&sealed, key, "0123456789ab", "transaction")?;
//! assert_eq!(plain, r#"{"hello":"wechatpay 你好"}"#.as_bytes());
//! # Ok::<(), wechatpay::Error>(())
//! ```

use base64::Engine as _;

use crate::error::{Error, Result};

use crate::crypto::backend::B64;

/// The `algorithm` WeChat Pay names on what it seals with the APIv3 key (callbacks' `resource`, downloaded
/// certificates' `encrypt_certificate`).
pub const AEAD_AES_256_GCM: &str = "AEAD_AES_256_GCM";

/// AES-256-GCM with a 16-byte tag appended to the ciphertext, base64 — as WeChat Pay and PHP use it.
///
/// ```
/// use wechatpay::aes::AesGcm;
/// let key = "0123456789abcdef0123456789abcdef"; // the APIv3 key
/// let sealed = AesGcm::encrypt(b"{}", key, "0123456789ab", "certificate")?;
/// assert!(AesGcm::decrypt(&sealed, key, "0123456789ab", "other aad").unwrap_err().is_decode());
/// # Ok::<(), wechatpay::Error>(())
/// ```
#[derive(Debug, Clone, Copy)]
pub struct AesGcm;

use crate::crypto::apiv3_key::ApiV3Key;

fn nonce_len_ok(nonce: &str) -> Result<()> {
    if matches!(nonce.len(), 12 | 16) {
        Ok(())
    } else {
        Err(Error::decode(format!(
            "an AES-GCM nonce must be 12 bytes (WeChat Pay's) or 16 (as PHP's AesGcm documents), not {}",
            nonce.len()
        )))
    }
}

impl AesGcm {
    /// Encrypts `plaintext` under the 32-byte `key` with `nonce` and `aad`; returns base64(ciphertext ‖ tag).
    pub fn encrypt(plaintext: &[u8], key: &str, nonce: &str, aad: &str) -> Result<String> {
        nonce_len_ok(nonce)?;
        Self::seal(plaintext, &ApiV3Key::new(key)?, nonce, aad)
    }

    pub(crate) fn seal(plaintext: &[u8], key: &ApiV3Key, nonce: &str, aad: &str) -> Result<String> {
        nonce_len_ok(nonce)?;
        let sealed = crate::crypto::backend::aes256_gcm_seal(key.bytes(), nonce.as_bytes(), aad.as_bytes(), plaintext)
            .expect("nonce length checked");
        Ok(B64.encode(sealed))
    }

    /// Decrypts base64(ciphertext ‖ tag); an error if it does not authenticate under `key`, `nonce`, `aad`.
    pub fn decrypt(ciphertext_b64: &str, key: &str, nonce: &str, aad: &str) -> Result<Vec<u8>> {
        Self::open(ciphertext_b64, &ApiV3Key::new(key)?, nonce, aad)
    }

    pub(crate) fn open(ciphertext_b64: &str, key: &ApiV3Key, nonce: &str, aad: &str) -> Result<Vec<u8>> {
        nonce_len_ok(nonce)?;
        let key = key.bytes();
        let sealed = B64
            .decode(ciphertext_b64.trim())
            .map_err(|_| Error::decode("the AES-GCM ciphertext is not valid base64"))?;
        if sealed.len() < 16 {
            return Err(Error::decode("the AES-GCM ciphertext is shorter than its 16-byte tag"));
        }
        crate::crypto::backend::aes256_gcm_open(key, nonce.as_bytes(), aad.as_bytes(), &sealed).ok_or_else(|| {
            Error::decode(
                "AES-GCM decryption failed: wrong APIv3 key, nonce or associated data, or a tampered ciphertext",
            )
        })
    }
}
