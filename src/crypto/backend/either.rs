//! Both backends compiled: AWS-LC serves unless the process asked for RustCrypto first
//! ([`prefer_rust_crypto`]) — what the `wxpay` command line does, so that a short-lived process never starts
//! AWS-LC's random generator, whose CPU-jitter seeding costs ~20 ms of CPU, most of a command's run. Only the
//! operations that draw randomness switch (RSA private-key operations blind with it, OAEP pads with it, key
//! generation); digests, HMAC, AES and verification stay on AWS-LC, which seeds nothing for them.

use std::sync::atomic::{AtomicBool, Ordering};

use super::{aws, rustcrypto};

static RUST_CRYPTO: AtomicBool = AtomicBool::new(false);

/// From now on, keys loaded, OAEP encryption and key generation use RustCrypto. Keys loaded before keep
/// their backend.
pub(crate) fn prefer_rust_crypto() {
    RUST_CRYPTO.store(true, Ordering::Relaxed);
}

fn rust_crypto() -> bool {
    RUST_CRYPTO.load(Ordering::Relaxed)
}

/// The name of the backend that signs, for the `User-Agent` and diagnostics.
pub(crate) fn name() -> &'static str {
    if rust_crypto() {
        rustcrypto::NAME
    } else {
        aws::NAME
    }
}

/// An RSA private key on the backend chosen when it was loaded.
pub(crate) enum RsaPrivate {
    Aws(aws::RsaPrivate),
    // Boxed: RustCrypto's key keeps its CRT values inline, AWS-LC's is a pointer.
    RustCrypto(Box<rustcrypto::RsaPrivate>),
}

impl RsaPrivate {
    pub(crate) fn from_pkcs1_der(der: &[u8], pkcs8: &[u8]) -> Result<Self, String> {
        Ok(if rust_crypto() {
            RsaPrivate::RustCrypto(Box::new(rustcrypto::RsaPrivate::from_pkcs1_der(der, pkcs8)?))
        } else {
            RsaPrivate::Aws(aws::RsaPrivate::from_pkcs1_der(der, pkcs8)?)
        })
    }

    pub(crate) fn pkcs8_der(&self) -> zeroize::Zeroizing<Vec<u8>> {
        match self {
            RsaPrivate::Aws(key) => key.pkcs8_der(),
            RsaPrivate::RustCrypto(key) => key.pkcs8_der(),
        }
    }

    pub(crate) fn oaep_sha1_decrypt(&self, ciphertext: &[u8]) -> Result<Vec<u8>, String> {
        match self {
            RsaPrivate::Aws(key) => key.oaep_sha1_decrypt(ciphertext),
            RsaPrivate::RustCrypto(key) => key.oaep_sha1_decrypt(ciphertext),
        }
    }

    pub(crate) fn sign_sha256(&self, message: &[u8]) -> Vec<u8> {
        match self {
            RsaPrivate::Aws(key) => key.sign_sha256(message),
            RsaPrivate::RustCrypto(key) => key.sign_sha256(message),
        }
    }

    pub(crate) fn generate_pkcs8() -> Vec<u8> {
        if rust_crypto() {
            rustcrypto::RsaPrivate::generate_pkcs8()
        } else {
            aws::RsaPrivate::generate_pkcs8()
        }
    }

    pub(crate) fn public_pkcs1_der(&self) -> Vec<u8> {
        match self {
            RsaPrivate::Aws(key) => key.public_pkcs1_der(),
            RsaPrivate::RustCrypto(key) => key.public_pkcs1_der(),
        }
    }
}

pub(crate) fn oaep_sha1_encrypt(spki_der: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, String> {
    if rust_crypto() {
        rustcrypto::oaep_sha1_encrypt(spki_der, plaintext)
    } else {
        aws::oaep_sha1_encrypt(spki_der, plaintext)
    }
}
