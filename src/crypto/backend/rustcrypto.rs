//! RustCrypto backend (`rsa`, `sha2`, `sha1`): pure Rust.
//!
//! Note: the `rsa` crate carries RUSTSEC-2023-0071 (a timing side channel on private-key operations);
//! prefer the default AWS-LC backend where that matters.

// With both features on, AWS-LC serves and this backend is only compiled (and compared in tests).
#![cfg_attr(feature = "aws-lc-rs", allow(dead_code))]

use rsa::pkcs1::{DecodeRsaPrivateKey, DecodeRsaPublicKey, EncodeRsaPublicKey};
use rsa::signature::{SignatureEncoding, Signer, Verifier};
use sha2::{Digest, Sha256};

pub(crate) const NAME: &str = "rust-crypto";

/// An RSA private key ready to sign.
pub(crate) struct RsaPrivate {
    key: rsa::pkcs1v15::SigningKey<Sha256>,
    public: rsa::RsaPublicKey,
}

impl RsaPrivate {
    pub(crate) fn from_pkcs1_der(der: &[u8], _pkcs8: &[u8]) -> Result<Self, String> {
        let key = rsa::RsaPrivateKey::from_pkcs1_der(der)
            .map_err(|e| format!("RustCrypto rejected the RSA private key ({e})"))?;
        let public = key.to_public_key();
        Ok(RsaPrivate {
            key: rsa::pkcs1v15::SigningKey::new(key),
            public,
        })
    }

    /// RSASSA-PKCS1-v1_5 with SHA-256; deterministic.
    pub(crate) fn sign_sha256(&self, message: &[u8]) -> Vec<u8> {
        self.key.sign(message).to_vec()
    }

    /// The key as PKCS#8 DER, in a buffer wiped when dropped.
    pub(crate) fn pkcs8_der(&self) -> zeroize::Zeroizing<Vec<u8>> {
        use rsa::pkcs8::EncodePrivateKey;
        let key: &rsa::RsaPrivateKey = self.key.as_ref();
        zeroize::Zeroizing::new(key.to_pkcs8_der().expect("a loaded key encodes").as_bytes().to_vec())
    }

    /// Opens RSAES-OAEP (SHA-1, MGF1-SHA1) ciphertext.
    pub(crate) fn oaep_sha1_decrypt(&self, ciphertext: &[u8]) -> Result<Vec<u8>, String> {
        let key: &rsa::RsaPrivateKey = self.key.as_ref();
        key.decrypt(rsa::Oaep::new::<sha1::Sha1>(), ciphertext)
            .map_err(|_| "the ciphertext does not decrypt with this key".to_owned())
    }

    /// A fresh RSA-2048 key, as PKCS#8 DER.
    pub(crate) fn generate_pkcs8() -> Vec<u8> {
        use rsa::pkcs8::EncodePrivateKey;
        let key = rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048).expect("RSA key generation failed");
        key.to_pkcs8_der().expect("a generated key encodes").as_bytes().to_vec()
    }

    pub(crate) fn public_pkcs1_der(&self) -> Vec<u8> {
        self.public
            .to_pkcs1_der()
            .expect("an RSA public key always encodes")
            .into_vec()
    }
}

/// An RSA public key ready to verify.
pub(crate) struct RsaPublic {
    key: rsa::pkcs1v15::VerifyingKey<Sha256>,
}

impl RsaPublic {
    pub(crate) fn from_pkcs1_der(der: &[u8]) -> Result<Self, String> {
        rsa::RsaPublicKey::from_pkcs1_der(der)
            .map(|k| RsaPublic {
                key: rsa::pkcs1v15::VerifyingKey::new(k),
            })
            .map_err(|e| format!("RustCrypto rejected the RSA public key ({e})"))
    }

    pub(crate) fn verify_sha256(&self, message: &[u8], sig: &[u8]) -> bool {
        match rsa::pkcs1v15::Signature::try_from(sig) {
            Ok(sig) => self.key.verify(message, &sig).is_ok(),
            Err(_) => false,
        }
    }
}

pub(crate) fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

pub(crate) fn sha1(data: &[u8]) -> [u8; 20] {
    sha1::Sha1::digest(data).into()
}

/// RSAES-OAEP with SHA-1 and MGF1-SHA1 (WeChat Pay's sensitive-field encryption), under an SPKI key.
/// HMAC-SHA256 (RFC 2104), with the `hmac` crate.
pub(crate) fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    use hmac::Mac as _;
    let mut mac = hmac::Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes a key of any length");
    mac.update(message);
    mac.finalize().into_bytes().into()
}

/// An incremental SHA-1 or SHA-256.
pub(crate) enum Hasher {
    Sha1(sha1::Sha1),
    Sha256(Sha256),
}

impl Hasher {
    pub(crate) fn new(algorithm: super::Digest) -> Self {
        match algorithm {
            super::Digest::Sha1 => Hasher::Sha1(sha1::Sha1::new()),
            super::Digest::Sha256 => Hasher::Sha256(Sha256::new()),
        }
    }
    pub(crate) fn update(&mut self, data: &[u8]) {
        match self {
            Hasher::Sha1(h) => h.update(data),
            Hasher::Sha256(h) => h.update(data),
        }
    }
    pub(crate) fn finish(self) -> Vec<u8> {
        match self {
            Hasher::Sha1(h) => h.finalize().to_vec(),
            Hasher::Sha256(h) => h.finalize().to_vec(),
        }
    }
}

pub(crate) fn oaep_sha1_encrypt(spki_der: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, String> {
    use rsa::pkcs8::DecodePublicKey;
    let key =
        rsa::RsaPublicKey::from_public_key_der(spki_der).map_err(|e| format!("RustCrypto rejected the key ({e})"))?;
    key.encrypt(&mut rsa::rand_core::OsRng, rsa::Oaep::new::<sha1::Sha1>(), plaintext)
        .map_err(|_| "the plaintext is too long for RSA-OAEP with this key".to_owned())
}

/// AES-256-GCM with a 12-byte nonce; returns `ciphertext ‖ tag`.
pub(crate) fn aes256_gcm_seal(key: &[u8; 32], nonce: &[u8; 12], aad: &[u8], plaintext: &[u8]) -> Vec<u8> {
    super::aes_gcm_any::seal::<aes_gcm::aead::consts::U12>(key, nonce, aad, plaintext)
}

/// Opens AES-256-GCM `ciphertext ‖ tag` with a 12-byte nonce; `None` if it does not authenticate.
pub(crate) fn aes256_gcm_open(key: &[u8; 32], nonce: &[u8; 12], aad: &[u8], sealed: &[u8]) -> Option<Vec<u8>> {
    super::aes_gcm_any::open::<aes_gcm::aead::consts::U12>(key, nonce, aad, sealed)
}
