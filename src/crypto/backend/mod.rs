//! The crypto backend: RSA-SHA256 (PKCS#1 v1.5) signing and verification, OAEP, digests, HMAC, AES-GCM and
//! randomness — chosen here, once.
//!
//! Two interchangeable backends sit behind one internal API: AWS-LC (`aws-lc-rs`, the default: fast and
//! constant-time) and RustCrypto (`rust-crypto`: pure Rust). When both features are on, AWS-LC serves and
//! RustCrypto serves only the operations that draw randomness, and only once the process asked for it
//! ([`prefer_rust_crypto`], the `wxpay` command line); otherwise it is compiled so that the two can be compared
//! byte for byte in tests.
//! Keys reach this module already parsed to DER by [`crate::keys`].

#[cfg(feature = "aws-lc-rs")]
pub(crate) mod aws;
#[cfg(all(feature = "aws-lc-rs", feature = "rust-crypto"))]
mod either;
#[cfg(feature = "rust-crypto")]
pub(crate) mod rustcrypto;
#[cfg(all(feature = "aws-lc-rs", feature = "rust-crypto"))]
pub(crate) use either::prefer_rust_crypto;

#[cfg(feature = "aws-lc-rs")]
use aws as chosen;
#[cfg(all(feature = "rust-crypto", not(feature = "aws-lc-rs")))]
use rustcrypto as chosen;

#[cfg(not(any(feature = "aws-lc-rs", feature = "rust-crypto")))]
compile_error!("wechatpay needs a crypto backend: enable the `aws-lc-rs` (default) or `rust-crypto` feature");

#[allow(unused_imports)] // sha256 serves media uploads and the sandbox
pub(crate) use chosen::{hmac_sha256, sha1, sha256, Hasher, RsaPublic};
#[cfg(not(all(feature = "aws-lc-rs", feature = "rust-crypto")))]
pub(crate) use chosen::{oaep_sha1_encrypt, RsaPrivate};
#[cfg(all(feature = "aws-lc-rs", feature = "rust-crypto"))]
pub(crate) use either::{oaep_sha1_encrypt, RsaPrivate};

/// The digests the streaming [`Hasher`] computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Digest {
    Sha1,
    Sha256,
}

/// AES-256-GCM for any nonce size the `aes-gcm` crate takes (RustCrypto); the backends use it for
/// nonces other than the usual 12 bytes, which PHP's OpenSSL-based `AesGcm` also accepts.
mod aes_gcm_any {
    use aes_gcm::aead::generic_array::{ArrayLength, GenericArray};
    use aes_gcm::aead::{Aead, KeyInit, Payload};
    use aes_gcm::{aes::Aes256, AesGcm};

    pub(crate) fn seal<N: ArrayLength<u8>>(key: &[u8; 32], nonce: &[u8], aad: &[u8], msg: &[u8]) -> Vec<u8> {
        let cipher = AesGcm::<Aes256, N>::new(GenericArray::from_slice(key));
        cipher
            .encrypt(GenericArray::from_slice(nonce), Payload { msg, aad })
            .expect("AES-GCM sealing does not fail")
    }

    pub(crate) fn open<N: ArrayLength<u8>>(key: &[u8; 32], nonce: &[u8], aad: &[u8], msg: &[u8]) -> Option<Vec<u8>> {
        let cipher = AesGcm::<Aes256, N>::new(GenericArray::from_slice(key));
        cipher
            .decrypt(GenericArray::from_slice(nonce), Payload { msg, aad })
            .ok()
    }
}

/// AES-256-GCM seal: `ciphertext ‖ 16-byte tag`; `None` for an unsupported nonce length.
pub(crate) fn aes256_gcm_seal(key: &[u8; 32], nonce: &[u8], aad: &[u8], plaintext: &[u8]) -> Option<Vec<u8>> {
    match nonce.len() {
        12 => Some(chosen::aes256_gcm_seal(
            key,
            nonce.try_into().expect("12 bytes"),
            aad,
            plaintext,
        )),
        16 => Some(aes_gcm_any::seal::<aes_gcm::aead::consts::U16>(
            key, nonce, aad, plaintext,
        )),
        _ => None,
    }
}

/// AES-256-GCM open of `ciphertext ‖ 16-byte tag`; `None` if the nonce length is unsupported or the
/// data does not authenticate.
pub(crate) fn aes256_gcm_open(key: &[u8; 32], nonce: &[u8], aad: &[u8], sealed: &[u8]) -> Option<Vec<u8>> {
    match nonce.len() {
        12 => chosen::aes256_gcm_open(key, nonce.try_into().expect("12 bytes"), aad, sealed),
        16 => aes_gcm_any::open::<aes_gcm::aead::consts::U16>(key, nonce, aad, sealed),
        _ => None,
    }
}

/// The one base64 engine WeChat Pay uses: standard alphabet, padded.
pub(crate) const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// Fills `buf` from the operating system's CSPRNG.
pub(crate) fn fill_random(buf: &mut [u8]) {
    // The OS RNG failing is not a condition a payment client can recover from or should paper over.
    getrandom::fill(buf).expect("the operating system's random number generator failed");
}

/// The name of the backend that signs, for the `User-Agent` and diagnostics.
pub(crate) fn backend() -> &'static str {
    #[cfg(all(feature = "aws-lc-rs", feature = "rust-crypto"))]
    return either::name();
    #[cfg(not(all(feature = "aws-lc-rs", feature = "rust-crypto")))]
    chosen::NAME
}

#[cfg(all(test, feature = "aws-lc-rs", feature = "rust-crypto"))]
mod tests {
    use super::{aws, rustcrypto};

    const KEY: &str = include_str!("../../../tests/fixtures/merchant_key.pem");

    /// The fixture's PKCS#8 DER and the PKCS#1 key inside, read without `keys` (which sits above).
    fn fixture() -> (Vec<u8>, Vec<u8>) {
        use pkcs8::der::Decode as _;
        let (_, pkcs8) = pem_rfc7468::decode_vec(KEY.as_bytes()).unwrap();
        let pkcs1 = pkcs8::PrivateKeyInfo::from_der(&pkcs8).unwrap().private_key.to_vec();
        (pkcs8, pkcs1)
    }

    /// SPKI DER of a PKCS#1 public key, for OAEP encryption.
    fn spki(pkcs1_public: &[u8]) -> Vec<u8> {
        use spki::der::Encode as _;
        spki::SubjectPublicKeyInfoRef {
            algorithm: spki::AlgorithmIdentifierRef {
                oid: spki::ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1"),
                parameters: Some(spki::der::asn1::AnyRef::NULL),
            },
            subject_public_key: spki::der::asn1::BitStringRef::from_bytes(pkcs1_public).unwrap(),
        }
        .to_der()
        .unwrap()
    }

    #[test]
    fn both_backends_sign_byte_identically() {
        let (pkcs8, der) = fixture();
        let a = aws::RsaPrivate::from_pkcs1_der(&der, &pkcs8).unwrap();
        let r = rustcrypto::RsaPrivate::from_pkcs1_der(&der, &pkcs8).unwrap();
        // Both export the same PKCS#8, and open each other's OAEP.
        assert_eq!(*a.pkcs8_der(), *r.pkcs8_der());
        let public_spki = spki(&a.public_pkcs1_der());
        let sealed = aws::oaep_sha1_encrypt(&public_spki, b"secret").unwrap();
        assert_eq!(r.oaep_sha1_decrypt(&sealed).unwrap(), b"secret");
        let sealed = rustcrypto::oaep_sha1_encrypt(&public_spki, b"secret").unwrap();
        assert_eq!(a.oaep_sha1_decrypt(&sealed).unwrap(), b"secret");
        for msg in [
            &b""[..],
            b"GET\n/v3/certificates\n1554208460\nnonce\n\n",
            "你好".as_bytes(),
        ] {
            let sa = a.sign_sha256(msg);
            assert_eq!(sa, r.sign_sha256(msg));
            let pub_der = a.public_pkcs1_der();
            assert_eq!(pub_der, r.public_pkcs1_der());
            assert!(aws::RsaPublic::from_pkcs1_der(&pub_der)
                .unwrap()
                .verify_sha256(msg, &sa));
            assert!(rustcrypto::RsaPublic::from_pkcs1_der(&pub_der)
                .unwrap()
                .verify_sha256(msg, &sa));
        }
        assert_eq!(aws::sha1(b"abc"), rustcrypto::sha1(b"abc"));
        let key = *b"0123456789abcdef0123456789abcdef";
        let sealed = aws::aes256_gcm_seal(
            &key,
            b"0123456789ab",
            b"transaction",
            "{\"hello\":\"wechatpay 你好\"}".as_bytes(),
        );
        assert_eq!(
            sealed,
            rustcrypto::aes256_gcm_seal(
                &key,
                b"0123456789ab",
                b"transaction",
                "{\"hello\":\"wechatpay 你好\"}".as_bytes()
            )
        );
        assert!(rustcrypto::aes256_gcm_open(&key, b"0123456789ab", b"transaction", &sealed).is_some());
        assert_eq!(aws::sha256(b"abc"), rustcrypto::sha256(b"abc"));
    }
}

#[cfg(test)]
mod vector_tests {
    use base64::Engine as _;

    #[test]
    fn aes_gcm_matches_the_shared_vector_and_refuses_tampering() {
        let key = *b"0123456789abcdef0123456789abcdef";
        let plain = "{\"hello\":\"wechatpay 你好\"}";
        let sealed = super::aes256_gcm_seal(&key, b"0123456789ab", b"transaction", plain.as_bytes()).unwrap();
        let b64 = base64::engine::general_purpose::STANDARD.encode(&sealed);
        assert_eq!(b64, "4ouPXy+m9znPJ1TY0GwdUzLnre/zdcqOgTLtZISoHi/ZfcrtL/wwYaoCzvI=");
        let opened = super::aes256_gcm_open(&key, b"0123456789ab", b"transaction", &sealed).unwrap();
        assert_eq!(opened, plain.as_bytes());
        assert!(super::aes256_gcm_open(&key, b"0123456789ab", b"other", &sealed).is_none());
        let nonce16 = b"0123456789abcdef";
        let sealed16 = super::aes256_gcm_seal(&key, nonce16, b"", b"x").unwrap();
        assert_eq!(super::aes256_gcm_open(&key, nonce16, b"", &sealed16).unwrap(), b"x");
        assert!(super::aes256_gcm_seal(&key, b"short", b"", b"x").is_none());
    }
}
