//! AWS-LC backend (`aws-lc-rs`).

use aws_lc_rs::{digest, rand::SystemRandom, rsa, signature};

pub(crate) const NAME: &str = "aws-lc-rs";

/// An RSA private key ready to sign and to open OAEP: AWS-LC holds it (and wipes it); no other copy is kept.
pub(crate) struct RsaPrivate {
    key: rsa::KeyPair,
    oaep: rsa::OaepPrivateDecryptingKey,
}

impl RsaPrivate {
    /// `pkcs8` is the same key as PKCS#8, for the decrypting half (AWS-LC reads it only from PKCS#8).
    pub(crate) fn from_pkcs1_der(der: &[u8], pkcs8: &[u8]) -> Result<Self, String> {
        let key = rsa::KeyPair::from_der(der).map_err(|e| format!("AWS-LC rejected the RSA private key ({e})"))?;
        let decrypting =
            rsa::PrivateDecryptingKey::from_pkcs8(pkcs8).map_err(|e| format!("AWS-LC rejected the key ({e})"))?;
        let oaep = rsa::OaepPrivateDecryptingKey::new(decrypting)
            .map_err(|_| "AWS-LC cannot use the key for OAEP".to_owned())?;
        Ok(RsaPrivate { key, oaep })
    }

    /// The key as PKCS#8 DER, in a buffer wiped when dropped.
    pub(crate) fn pkcs8_der(&self) -> zeroize::Zeroizing<Vec<u8>> {
        use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der};
        let der: Pkcs8V1Der<'_> = self.key.as_der().expect("a loaded key encodes");
        zeroize::Zeroizing::new(der.as_ref().to_vec())
    }

    /// Opens RSAES-OAEP (SHA-1, MGF1-SHA1) ciphertext.
    pub(crate) fn oaep_sha1_decrypt(&self, ciphertext: &[u8]) -> Result<Vec<u8>, String> {
        let mut out = vec![0u8; self.oaep.min_output_size()];
        let len = self
            .oaep
            .decrypt(&rsa::OAEP_SHA1_MGF1SHA1, ciphertext, &mut out, None)
            .map_err(|_| "the ciphertext does not decrypt with this key".to_owned())?
            .len();
        out.truncate(len);
        Ok(out)
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

/// RSAES-OAEP with SHA-1 and MGF1-SHA1 (WeChat Pay's sensitive-field encryption), under an SPKI key.
/// HMAC-SHA256 (RFC 2104).
pub(crate) fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, key);
    aws_lc_rs::hmac::sign(&key, message)
        .as_ref()
        .try_into()
        .expect("HMAC-SHA256 is 32 bytes")
}

/// An incremental SHA-1 or SHA-256.
pub(crate) struct Hasher(digest::Context);

impl Hasher {
    pub(crate) fn new(algorithm: super::Digest) -> Self {
        Hasher(digest::Context::new(match algorithm {
            super::Digest::Sha1 => &digest::SHA1_FOR_LEGACY_USE_ONLY,
            super::Digest::Sha256 => &digest::SHA256,
        }))
    }
    pub(crate) fn update(&mut self, data: &[u8]) {
        self.0.update(data);
    }
    pub(crate) fn finish(self) -> Vec<u8> {
        self.0.finish().as_ref().to_vec()
    }
}

pub(crate) fn oaep_sha1_encrypt(spki_der: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, String> {
    let key = rsa::PublicEncryptingKey::from_der(spki_der).map_err(|e| format!("AWS-LC rejected the key ({e})"))?;
    let key = rsa::OaepPublicEncryptingKey::new(key).map_err(|_| "AWS-LC cannot use the key for OAEP".to_owned())?;
    let mut out = vec![0u8; key.ciphertext_size()];
    let len = key
        .encrypt(&rsa::OAEP_SHA1_MGF1SHA1, plaintext, &mut out, None)
        .map_err(|_| "the plaintext is too long for RSA-OAEP with this key".to_owned())?
        .len();
    out.truncate(len);
    Ok(out)
}

/// AES-256-GCM with a 12-byte nonce; returns `ciphertext ‖ tag`.
pub(crate) fn aes256_gcm_seal(key: &[u8; 32], nonce: &[u8; 12], aad: &[u8], plaintext: &[u8]) -> Vec<u8> {
    use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM};
    let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, key).expect("a 32-byte AES-256 key"));
    let mut in_out = plaintext.to_vec();
    key.seal_in_place_append_tag(Nonce::assume_unique_for_key(*nonce), Aad::from(aad), &mut in_out)
        .expect("AES-GCM sealing does not fail");
    in_out
}

/// Opens AES-256-GCM `ciphertext ‖ tag` with a 12-byte nonce; `None` if it does not authenticate.
pub(crate) fn aes256_gcm_open(key: &[u8; 32], nonce: &[u8; 12], aad: &[u8], sealed: &[u8]) -> Option<Vec<u8>> {
    use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM};
    let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, key).expect("a 32-byte AES-256 key"));
    let mut in_out = sealed.to_vec();
    let len = key
        .open_in_place(Nonce::assume_unique_for_key(*nonce), Aad::from(aad), &mut in_out)
        .ok()?
        .len();
    in_out.truncate(len);
    Some(in_out)
}
