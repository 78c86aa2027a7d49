//! Digests as lower-case hex, and HMAC-SHA256: the building blocks of media metas, bill checks and the
//! APIv2 signatures in [`crate::apiv2`] (PHP's `Hash` helpers).
//!
//! ```
//! use wechatpay::hash;
//! assert_eq!(hash::sha256_hex(b"abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
//! assert_eq!(hash::md5_hex(b"abc"), "900150983cd24fb0d6963f7d28e17f72");
//! assert_eq!(
//!     hash::hmac_sha256_hex(b"key", b"The quick brown fox jumps over the lazy dog"),
//!     "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"
//! );
//! ```

use md5::Digest as _;

/// Lower-case hex of `bytes`. Not part of the stable API: use your own hex encoder.
#[doc(hidden)]
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 0x0f)] as char);
    }
    out
}

/// SHA-256 of `data`.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    crate::crypto::backend::sha256(data)
}

/// SHA-256 of `data`, lower-case hex (as a media `meta` and a bill's `hash_value` print it).
pub fn sha256_hex(data: &[u8]) -> String {
    hex(&sha256(data))
}

/// SHA-1 of `data`.
pub fn sha1(data: &[u8]) -> [u8; 20] {
    crate::crypto::backend::sha1(data)
}

/// SHA-1 of `data`, lower-case hex.
pub fn sha1_hex(data: &[u8]) -> String {
    hex(&sha1(data))
}

/// MD5 of `data` (only for APIv2, which still signs with it).
pub fn md5(data: &[u8]) -> [u8; 16] {
    md5::Md5::digest(data).into()
}

/// MD5 of `data`, lower-case hex.
pub fn md5_hex(data: &[u8]) -> String {
    hex(&md5(data))
}

/// HMAC-SHA256 (RFC 2104) of `message` under `key`, by the crypto backend.
pub fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    crate::crypto::backend::hmac_sha256(key, message)
}

/// HMAC-SHA256 of `message` under `key`, lower-case hex.
pub fn hmac_sha256_hex(key: &[u8], message: &[u8]) -> String {
    hex(&hmac_sha256(key, message))
}

/// Compares two byte strings in time that depends only on their lengths (for signatures and digests).
/// Not part of the stable API: use the `subtle` crate.
#[doc(hidden)]
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    subtle::ConstantTimeEq::ct_eq(a, b).into()
}

/// Which digest a download announces (a bill's `hash_type`).
///
/// ```
/// use wechatpay::hash::Algorithm;
/// let alg = Algorithm::parse("SHA1").unwrap();
/// assert_eq!(alg.hex(b"abc"), "a9993e364706816aba3e25717850c26c9cd0d89d");
/// ```
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    /// SHA-1 (`hash_type` `SHA1`).
    Sha1,
    /// SHA-256 (`hash_type` `SHA256`).
    Sha256,
}

impl Algorithm {
    /// Reads `SHA1` / `SHA256` (any case, `SHA-256` too), as WeChat Pay names them.
    pub fn parse(name: &str) -> Option<Self> {
        match name.to_ascii_uppercase().replace('-', "").as_str() {
            "SHA1" => Some(Algorithm::Sha1),
            "SHA256" => Some(Algorithm::Sha256),
            _ => None,
        }
    }

    /// The digest of `data`, lower-case hex.
    pub fn hex(self, data: &[u8]) -> String {
        match self {
            Algorithm::Sha1 => sha1_hex(data),
            Algorithm::Sha256 => sha256_hex(data),
        }
    }
}

/// An incremental digest over the crypto backend, for data too large to hold at once (uploads, bills).
///
/// ```
/// use wechatpay::hash::{Algorithm, Hasher};
/// let mut h = Hasher::new(Algorithm::Sha256);
/// h.update(b"a");
/// h.update(b"bc");
/// assert_eq!(h.finish_hex(), wechatpay::hash::sha256_hex(b"abc"));
/// ```
pub struct Hasher {
    inner: crate::crypto::backend::Hasher,
}

impl Hasher {
    /// A fresh digest of `algorithm`.
    pub fn new(algorithm: Algorithm) -> Self {
        Hasher {
            inner: crate::crypto::backend::Hasher::new(match algorithm {
                Algorithm::Sha1 => crate::crypto::backend::Digest::Sha1,
                Algorithm::Sha256 => crate::crypto::backend::Digest::Sha256,
            }),
        }
    }

    /// Feeds `data`.
    pub fn update(&mut self, data: &[u8]) {
        self.inner.update(data);
    }

    /// The digest of everything fed, lower-case hex.
    pub fn finish_hex(self) -> String {
        hex(&self.inner.finish())
    }
}

impl std::fmt::Debug for Hasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Hasher")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_rfc_4231() {
        // Test case 2 and test case 6 (a key longer than the block).
        assert_eq!(
            hmac_sha256_hex(b"Jefe", b"what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert_eq!(
            hmac_sha256_hex(&[0xaa; 131], b"Test Using Larger Than Block-Size Key - Hash Key First"),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }

    #[test]
    fn streaming_matches_one_shot() {
        let data: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
        for alg in [Algorithm::Sha1, Algorithm::Sha256] {
            let mut h = Hasher::new(alg);
            for chunk in data.chunks(777) {
                h.update(chunk);
            }
            assert_eq!(h.finish_hex(), alg.hex(&data));
        }
        assert_eq!(Algorithm::parse("sha-256"), Some(Algorithm::Sha256));
        assert_eq!(Algorithm::parse("SHA1"), Some(Algorithm::Sha1));
        assert_eq!(Algorithm::parse("MD5"), None);
    }

    #[test]
    fn constant_time_eq_compares() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
