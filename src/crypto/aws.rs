//! AWS-LC backend (`aws-lc-rs`).

use aws_lc_rs::{digest, rand::SystemRandom, rsa, signature};

pub(crate) const NAME: &str = "aws-lc-rs";

/// An RSA private key ready to sign.
pub(crate) struct RsaPrivate {
    key: rsa::KeyPair,
}

impl RsaPrivate {
    pub(crate) fn from_pkcs1_der(der: &[u8]) -> Result<Self, String> {
        rsa::KeyPair::from_der(der)
            .map(|key| RsaPrivate { key })
            .map_err(|e| format!("AWS-LC rejected the RSA private key ({e})"))
    }

    /// RSASSA-PKCS1-v1_5 with SHA-256; deterministic.
    pub(crate) fn sign_sha256(&self, message: &[u8]) -> Vec<u8> {
        let mut sig = vec![0u8; self.key.public_modulus_len()];
        self.key
            .sign(&signature::RSA_PKCS1_SHA256, &SystemRandom::new(), message, &mut sig)
            .expect("signing with a validated RSA key and a right-sized buffer cannot fail");
        sig
    }

    /// A fresh RSA-2048 key, as PKCS#8 DER.
    pub(crate) fn generate_pkcs8() -> Vec<u8> {
        use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der};
        let key = rsa::KeyPair::generate(rsa::KeySize::Rsa2048).expect("RSA key generation failed");
        let der: Pkcs8V1Der<'_> = key.as_der().expect("a generated key encodes");
        der.as_ref().to_vec()
    }

    pub(crate) fn public_pkcs1_der(&self) -> Vec<u8> {
        use aws_lc_rs::signature::KeyPair as _;
        // `public_key().as_ref()` is the PKCS#1 RSAPublicKey, as in ring.
        self.key.public_key().as_ref().to_vec()
    }
}

/// An RSA public key ready to verify.
pub(crate) struct RsaPublic {
    key: signature::ParsedPublicKey,
}

impl RsaPublic {
    pub(crate) fn from_pkcs1_der(der: &[u8]) -> Result<Self, String> {
        signature::ParsedPublicKey::new(&signature::RSA_PKCS1_2048_8192_SHA256, der)
            .map(|key| RsaPublic { key })
            .map_err(|e| format!("AWS-LC rejected the RSA public key ({e})"))
    }

    pub(crate) fn verify_sha256(&self, message: &[u8], sig: &[u8]) -> bool {
        self.key.verify_sig(message, sig).is_ok()
    }
}

#[allow(dead_code)] // media uploads hash with it
pub(crate) fn sha256(data: &[u8]) -> [u8; 32] {
    let d = digest::digest(&digest::SHA256, data);
    d.as_ref().try_into().expect("SHA-256 is 32 bytes")
}

pub(crate) fn sha1(data: &[u8]) -> [u8; 20] {
    let d = digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, data);
    d.as_ref().try_into().expect("SHA-1 is 20 bytes")
}
