//! The crypto backend: RSA-SHA256 (PKCS#1 v1.5) signing and verification, digests and randomness.
//!
//! Two interchangeable backends sit behind one internal API: AWS-LC (`aws-lc-rs`, the default: fast and
//! constant-time) and RustCrypto (`rust-crypto`: pure Rust). When both features are on, AWS-LC serves and
//! RustCrypto is only compiled, so that the two can be compared byte for byte in tests.
//! Keys reach this module already parsed to PKCS#1 DER by [`crate::keys`].

#[cfg(feature = "aws-lc-rs")]
pub(crate) mod aws;
#[cfg(feature = "rust-crypto")]
pub(crate) mod rustcrypto;

#[cfg(feature = "aws-lc-rs")]
pub(crate) use aws as backend;
#[cfg(all(feature = "rust-crypto", not(feature = "aws-lc-rs")))]
pub(crate) use rustcrypto as backend;

#[cfg(not(any(feature = "aws-lc-rs", feature = "rust-crypto")))]
compile_error!("wechatpay needs a crypto backend: enable the `aws-lc-rs` (default) or `rust-crypto` feature");

#[allow(unused_imports)] // sha256 serves media uploads and the sandbox
pub(crate) use backend::{sha1, sha256, RsaPrivate, RsaPublic};

/// Fills `buf` from the operating system's CSPRNG.
pub(crate) fn fill_random(buf: &mut [u8]) {
    // The OS RNG failing is not a condition a payment client can recover from or should paper over.
    getrandom::fill(buf).expect("the operating system's random number generator failed");
}

/// The name of the backend in use, for the `User-Agent` and diagnostics.
pub(crate) const BACKEND: &str = backend::NAME;

#[cfg(all(test, feature = "aws-lc-rs", feature = "rust-crypto"))]
mod tests {
    use super::{aws, rustcrypto};

    const KEY: &str = include_str!("../../tests/fixtures/merchant_key.pem");

    fn pkcs1_der() -> Vec<u8> {
        crate::keys::PrivateKey::load(KEY).unwrap().pkcs1_der().to_vec()
    }

    #[test]
    fn both_backends_sign_byte_identically() {
        let der = pkcs1_der();
        let a = aws::RsaPrivate::from_pkcs1_der(&der).unwrap();
        let r = rustcrypto::RsaPrivate::from_pkcs1_der(&der).unwrap();
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
        assert_eq!(aws::sha256(b"abc"), rustcrypto::sha256(b"abc"));
    }
}
