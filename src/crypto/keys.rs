//! RSA keys and certificates, loaded from every form PHP's `Rsa::from` takes.
//!
//! | form | example |
//! |---|---|
//! | a file | `file:///path/to/apiclient_key.pem` (the file holds any PEM form below) |
//! | PEM text | `-----BEGIN PRIVATE KEY-----` (PKCS#8), `RSA PRIVATE KEY` (PKCS#1), `PUBLIC KEY` (SPKI), `RSA PUBLIC KEY` (PKCS#1), `CERTIFICATE` (X.509) |
//! | base64 DER | `private.pkcs1://…`, `private.pkcs8://…`, `public.pkcs1://…`, `public.spki://…` |
//!
//! Every key is checked once, when loaded; an error names the form that was tried and never echoes key
//! material. Internally every key is kept as PKCS#1 DER, the one shape both crypto backends take.

use std::fmt;
use std::sync::Arc;

use zeroize::Zeroizing;

use base64::Engine as _;
use pkcs8::der::{Decode, Encode};

use crate::crypto::backend::{RsaPrivate, RsaPublic};
use crate::error::{Error, Result};

use crate::crypto::backend::B64;
const RSA_ENCRYPTION: pkcs8::ObjectIdentifier = pkcs8::ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const MIN_BITS: usize = 2048;
const MAX_BITS: usize = 4096;

/// The most PBKDF2 iterations [`PrivateKey::load_encrypted`] runs: 1,000,000, about a second of one core
/// (OpenSSL writes 2,048; OWASP asks for 600,000). A file asking for more is refused, not obeyed: its
/// parameters are untrusted input and the maximum takes minutes.
pub const MAX_PBKDF2_ITERATIONS: u32 = 1_000_000;

/// The most memory [`PrivateKey::load_encrypted`] lets scrypt take (`128 · r · N` bytes): 256 MiB
/// (OpenSSL writes N = 2^14, r = 8: 16 MiB). A file asking for more is refused: scrypt with `log_n = 26,
/// r = 8` would allocate 64 GiB and abort the process.
pub const MAX_SCRYPT_MEMORY: u64 = 256 << 20;

/// The largest scrypt parallelization `p` [`PrivateKey::load_encrypted`] accepts: 16 (OpenSSL writes 1).
pub const MAX_SCRYPT_PARALLELIZATION: u16 = 16;

/// A merchant's RSA private key, ready to sign. Its `Debug` never shows the key.
///
/// ```
/// # let pem = include_str!("../../tests/fixtures/merchant_key.pem");
/// let key = wechatpay::PrivateKey::load(pem)?;            // or "file:///path/to/apiclient_key.pem"
/// let signature = key.sign(b"hello");                      // base64, like PHP's Rsa::sign
/// assert!(key.public_key().verify(b"hello", &signature));
/// # Ok::<(), wechatpay::Error>(())
/// ```
#[derive(Clone)]
pub struct PrivateKey {
    inner: Arc<PrivateInner>,
}

/// One copy of the key: the crypto backend's, which wipes it. Encodings are made on demand, in buffers
/// that are wiped too.
struct PrivateInner {
    rsa: RsaPrivate,
    bits: usize,
}

/// An RSA public key (WeChat Pay's platform key or certificate, or a merchant's), ready to verify.
///
/// ```
/// use wechatpay::PublicKey;
///
/// let key = PublicKey::load(include_str!("../../tests/fixtures/merchant_pub.pem"))?; // or "file:///…"
/// let message = include_str!("../../tests/fixtures/message.txt");
/// let signature = include_str!("../../tests/fixtures/message.sig.b64");
/// assert!(key.verify(message.as_bytes(), signature)); // PHP's Rsa::verify
/// let cert = PublicKey::load(include_str!("../../tests/fixtures/platform_cert.pem"))?;
/// assert_eq!(cert.certificate_serial(), Some("5157F09EFDC096DE15EBE81A47057A7232F1B8E1"));
/// # Ok::<(), wechatpay::Error>(())
/// ```
#[derive(Clone)]
pub struct PublicKey {
    inner: Arc<PublicInner>,
}

struct PublicInner {
    rsa: RsaPublic,
    pkcs1: Vec<u8>,
    bits: usize,
    serial: Option<String>,
    /// `notBefore` and `notAfter` of the certificate it came from, as Unix seconds.
    validity: Option<(i64, i64)>,
}

/// What a key string turned out to hold, before it becomes a key.
enum Material {
    Pkcs1Private(Vec<u8>),
    Pkcs8Private(Vec<u8>),
    EncryptedPkcs8(Vec<u8>),
    Pkcs1Public(Vec<u8>),
    Spki(Vec<u8>),
    Certificate(Vec<u8>),
}

impl Material {
    fn is_private(&self) -> bool {
        matches!(
            self,
            Material::Pkcs1Private(_) | Material::Pkcs8Private(_) | Material::EncryptedPkcs8(_)
        )
    }
}

/// Reads a key string into its material; `form` is set to a description of what was tried, for errors.
fn read(thing: &str, form: &mut String) -> Result<Material> {
    let thing = thing.trim();
    if let Some(path) = thing.strip_prefix("file://") {
        *form = format!("file `{path}`");
        let text = std::fs::read(path)
            .map_err(|e| Error::key(format!("could not read the key file `{path}`")).with_source(e))?;
        let text = String::from_utf8(text).map_err(|_| Error::key(format!("the key file `{path}` is not PEM text")))?;
        if !text.contains("-----BEGIN ") {
            return Err(Error::key(format!(
                "the key file `{path}` holds no PEM block (`-----BEGIN …-----`)"
            )));
        }
        return read_pem(&text, form);
    }
    for (scheme, build) in [
        ("private.pkcs1://", Material::Pkcs1Private as fn(Vec<u8>) -> Material),
        ("private.pkcs8://", Material::Pkcs8Private),
        ("public.pkcs1://", Material::Pkcs1Public),
        ("public.spki://", Material::Spki),
    ] {
        if let Some(b64) = thing.strip_prefix(scheme) {
            *form = format!("`{scheme}` base64");
            let compact: String = b64.chars().filter(|c| !c.is_ascii_whitespace()).collect();
            let der = B64
                .decode(compact)
                .map_err(|_| Error::key(format!("the `{scheme}` key is not valid base64")))?;
            return Ok(build(der));
        }
    }
    if thing.contains("-----BEGIN ") {
        return read_pem(thing, form);
    }
    *form = "unrecognized text".into();
    Err(Error::key(
        "not a recognized key form: expected `file://PATH`, PEM text, or base64 DER after \
         `private.pkcs1://`, `private.pkcs8://`, `public.pkcs1://` or `public.spki://`",
    ))
}

/// Decodes the first PEM block of `text`. Lax about line wrapping, since keys pasted into environment
/// variables or config files often lose theirs.
fn read_pem(text: &str, form: &mut String) -> Result<Material> {
    let start = text.find("-----BEGIN ").expect("caller checked");
    let rest = &text[start + "-----BEGIN ".len()..];
    let label_end = rest
        .find("-----")
        .ok_or_else(|| Error::key("malformed PEM: the BEGIN line does not end with `-----`"))?;
    let label = &rest[..label_end];
    // A label is a short line of capitals (RFC 7468); anything else is key material that lost its
    // line breaks or dashes, and must never be quoted back.
    if label.is_empty()
        || label.len() > 64
        || !label
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b == b' ' || b.is_ascii_digit())
    {
        return Err(Error::key(
            "malformed PEM: the BEGIN line is not `-----BEGIN LABEL-----` (a label of capital letters)",
        ));
    }
    // Keep the file name, if any, so an error says which of several key files failed.
    *form = if form.is_empty() {
        format!("PEM `{label}`")
    } else {
        format!("{form} (PEM `{label}`)")
    };
    let body_and_end = &rest[label_end + 5..];
    let end_marker = format!("-----END {label}-----");
    let end = body_and_end
        .find(&end_marker)
        .ok_or_else(|| Error::key(format!("malformed PEM: no `{end_marker}` line")))?;
    let body = &body_and_end[..end];
    if body.contains(':') {
        return Err(Error::key(format!(
            "PEM `{label}` has headers (legacy OpenSSL encryption?); convert it to PKCS#8 with \
             `openssl pkcs8 -topk8`"
        )));
    }
    let compact: String = body.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    let der = B64
        .decode(compact)
        .map_err(|_| Error::key(format!("PEM `{label}` is not valid base64")))?;
    Ok(match label {
        "RSA PRIVATE KEY" => Material::Pkcs1Private(der),
        "PRIVATE KEY" => Material::Pkcs8Private(der),
        "ENCRYPTED PRIVATE KEY" => Material::EncryptedPkcs8(der),
        "RSA PUBLIC KEY" => Material::Pkcs1Public(der),
        "PUBLIC KEY" => Material::Spki(der),
        "CERTIFICATE" | "X509 CERTIFICATE" | "TRUSTED CERTIFICATE" => Material::Certificate(der),
        other => return Err(Error::key(format!("PEM `{other}` is not an RSA key or certificate"))),
    })
}

/// Bits of an RSA modulus given as big-endian bytes (leading zeros ignored).
fn modulus_bits(modulus: &[u8]) -> usize {
    let trimmed: &[u8] = match modulus.iter().position(|&b| b != 0) {
        Some(i) => &modulus[i..],
        None => &[],
    };
    match trimmed.first() {
        Some(&top) => trimmed.len() * 8 - top.leading_zeros() as usize,
        None => 0,
    }
}

fn check_bits(bits: usize, form: &str) -> Result<()> {
    if (MIN_BITS..=MAX_BITS).contains(&bits) {
        Ok(())
    } else {
        Err(Error::key(format!(
            "{form} is a {bits}-bit RSA key; WeChat Pay uses RSA-2048 ({MIN_BITS} to {MAX_BITS} bits accepted)"
        )))
    }
}

fn rsa_oid_check(oid: pkcs8::ObjectIdentifier, form: &str) -> Result<()> {
    if oid == RSA_ENCRYPTION {
        Ok(())
    } else {
        Err(Error::key(format!("{form} is not an RSA key (algorithm {oid})")))
    }
}

/// The encryption algorithm of an `EncryptedPrivateKeyInfo`, read leniently (for a better error when the
/// full parse fails, e.g. on PKCS#12 PBE parameters).
fn encryption_oid(der: &[u8]) -> Option<pkcs8::ObjectIdentifier> {
    use pkcs8::der::{Reader as _, SliceReader};
    let mut reader = SliceReader::new(der).ok()?;
    reader
        .sequence(|r| {
            let algorithm = spki::AlgorithmIdentifierRef::decode(r)?;
            r.read_slice(r.remaining_len())?;
            Ok(algorithm.oid)
        })
        .ok()
}

/// PKCS#5 v1.5 (`1.2.840.113549.1.5.x` except PBES2) and PKCS#12 (`1.2.840.113549.1.12.1.x`) schemes.
fn is_pbes1(oid: pkcs8::ObjectIdentifier) -> bool {
    let dotted = oid.to_string();
    (dotted.starts_with("1.2.840.113549.1.5.") && dotted != "1.2.840.113549.1.5.13")
        || dotted.starts_with("1.2.840.113549.1.12.1.")
}

/// Refuses key-derivation parameters that would take minutes or gigabytes before the passphrase is even
/// tried: they come from the file, which is untrusted input.
fn check_kdf(kdf: &pkcs8::pkcs5::pbes2::Kdf<'_>, form: &str) -> Result<()> {
    use pkcs8::pkcs5::pbes2::Kdf;
    match kdf {
        Kdf::Pbkdf2(params) if params.iteration_count > MAX_PBKDF2_ITERATIONS => Err(Error::key(format!(
            "{form} asks for {} PBKDF2 iterations; at most {MAX_PBKDF2_ITERATIONS} are run \
             (re-encrypt it with `openssl pkcs8 -topk8 -v2 aes-256-cbc`)",
            params.iteration_count
        ))),
        Kdf::Scrypt(params) => {
            let (n, r, p) = (
                params.cost_parameter,
                u64::from(params.block_size),
                params.parallelization,
            );
            let memory = n.checked_mul(r).and_then(|x| x.checked_mul(128));
            if memory.is_none_or(|m| m > MAX_SCRYPT_MEMORY) || p > MAX_SCRYPT_PARALLELIZATION || p == 0 {
                return Err(Error::key(format!(
                    "{form} asks scrypt for N = {n}, r = {r}, p = {p}; at most {} MiB of memory and p <= \
                     {MAX_SCRYPT_PARALLELIZATION} are allowed (re-encrypt it with `openssl pkcs8 -topk8 -v2 aes-256-cbc`)",
                    MAX_SCRYPT_MEMORY >> 20
                )));
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// Unwraps a PKCS#8 `PrivateKeyInfo` to the PKCS#1 `RSAPrivateKey` inside.
fn pkcs8_to_pkcs1(der: &[u8], form: &str) -> Result<Vec<u8>> {
    let info = pkcs8::PrivateKeyInfo::from_der(der)
        .map_err(|e| Error::key(format!("{form} is not valid PKCS#8 DER ({e})")))?;
    rsa_oid_check(info.algorithm.oid, form)?;
    Ok(info.private_key.to_vec())
}

/// Unwraps an SPKI `SubjectPublicKeyInfo` to the PKCS#1 `RSAPublicKey` inside.
fn spki_to_pkcs1(der: &[u8], form: &str) -> Result<Vec<u8>> {
    let info = spki::SubjectPublicKeyInfoRef::from_der(der)
        .map_err(|e| Error::key(format!("{form} is not valid SPKI DER ({e})")))?;
    rsa_oid_check(info.algorithm.oid, form)?;
    info.subject_public_key
        .as_bytes()
        .map(<[u8]>::to_vec)
        .ok_or_else(|| Error::key(format!("{form} has a malformed public key bit string")))
}

/// The serial number of a certificate as WeChat Pay prints it: upper-case hex, no leading zero bytes.
fn serial_hex(serial: &[u8]) -> String {
    let start = serial
        .iter()
        .position(|&b| b != 0)
        .unwrap_or(serial.len().saturating_sub(1));
    crate::crypto::hash::hex(&serial[start..]).to_ascii_uppercase()
}

impl PrivateKey {
    /// Loads a private key from any form PHP's `Rsa::from` takes (see the [module docs](crate::keys)):
    /// `file://` path, PEM text (PKCS#1 or PKCS#8), `private.pkcs1://` or `private.pkcs8://` base64.
    pub fn load(thing: &str) -> Result<Self> {
        let mut form = String::new();
        let material = read(thing, &mut form)?;
        match material {
            Material::Pkcs1Private(der) => Self::from_pkcs1_der_named(&der, &form),
            Material::Pkcs8Private(der) => {
                let pkcs1 = pkcs8_to_pkcs1(&der, &form)?;
                Self::from_pkcs1_der_named(&pkcs1, &form)
            }
            Material::EncryptedPkcs8(_) => Err(Error::key(format!(
                "{form} is encrypted; load it with `PrivateKey::load_encrypted(key, passphrase)`"
            ))),
            _ => Err(Error::key(format!(
                "expected a private key, but {form} holds a public key or certificate"
            ))),
        }
    }

    /// Loads a private key protected by a passphrase: an `ENCRYPTED PRIVATE KEY` (PKCS#8 with PBES2, as
    /// `openssl pkcs8 -topk8 -v2 aes-256-cbc` writes it: PBKDF2 or scrypt, AES-CBC or 3DES), in any form
    /// [`PrivateKey::load`] takes (PHP's `Rsa::from($thing, $passphrase)`). An unencrypted key loads as
    /// with [`PrivateKey::load`], and the passphrase is not used.
    ///
    /// A wrong passphrase is a key error that never echoes the passphrase or the key.
    ///
    /// ```
    /// # let pem = include_str!("../../tests/fixtures/merchant_key_encrypted.pem");
    /// let key = wechatpay::PrivateKey::load_encrypted(pem, "wechatpay")?;
    /// assert_eq!(key.bits(), 2048);
    /// assert!(wechatpay::PrivateKey::load_encrypted(pem, "wrong").unwrap_err().is_key());
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn load_encrypted(thing: &str, passphrase: impl AsRef<[u8]>) -> Result<Self> {
        let mut form = String::new();
        let material = read(thing, &mut form)?;
        let Material::EncryptedPkcs8(der) = material else {
            return Self::load(thing);
        };
        let pbes1 = || {
            Error::key(format!(
                "{form} uses PBES1 or a PKCS#12 scheme (`openssl pkcs8 -v1`), which is not supported; \
                 re-encrypt it with `openssl pkcs8 -topk8 -v2 aes-256-cbc`"
            ))
        };
        let info = pkcs8::EncryptedPrivateKeyInfo::from_der(&der).map_err(|e| match encryption_oid(&der) {
            Some(oid) if is_pbes1(oid) => pbes1(),
            _ => Error::key(format!("{form} is not valid encrypted PKCS#8 DER ({e})")),
        })?;
        let Some(pbes2) = info.encryption_algorithm.pbes2() else {
            return Err(pbes1());
        };
        check_kdf(&pbes2.kdf, &form)?;
        let mut plain = pkcs8::der::zeroize::Zeroizing::new(info.encrypted_data.to_vec());
        let plain = info
            .encryption_algorithm
            .decrypt_in_place(passphrase.as_ref(), &mut plain)
            .map_err(|e| match e {
                pkcs8::pkcs5::Error::DecryptFailed | pkcs8::pkcs5::Error::EncryptFailed => {
                    Error::key(format!("{form} could not be decrypted: wrong passphrase"))
                }
                other => Error::key(format!(
                    "{form} uses an encryption this crate does not support ({other})"
                )),
            })?;
        // A wrong passphrase can still unpad by chance; then the plaintext is not PKCS#8.
        let pkcs1 = pkcs8_to_pkcs1(plain, &form)
            .map_err(|_| Error::key(format!("{form} could not be decrypted: wrong passphrase")))?;
        Self::from_pkcs1_der_named(&pkcs1, &form)
    }

    /// A fresh RSA-2048 key from the operating system's CSPRNG (for sandboxes and tests).
    pub fn generate() -> Self {
        Self::from_pkcs8_der(&RsaPrivate::generate_pkcs8()).expect("a generated key loads")
    }

    /// Loads a PKCS#1 `RSAPrivateKey` DER.
    pub fn from_pkcs1_der(der: &[u8]) -> Result<Self> {
        Self::from_pkcs1_der_named(der, "PKCS#1 DER")
    }

    /// Loads a PKCS#8 `PrivateKeyInfo` DER.
    pub fn from_pkcs8_der(der: &[u8]) -> Result<Self> {
        let pkcs1 = pkcs8_to_pkcs1(der, "PKCS#8 DER")?;
        Self::from_pkcs1_der_named(&pkcs1, "PKCS#8 DER")
    }

    fn from_pkcs1_der_named(der: &[u8], form: &str) -> Result<Self> {
        let parsed = pkcs1::RsaPrivateKey::from_der(der)
            .map_err(|e| Error::key(format!("{form} is not a valid PKCS#1 RSA private key ({e})")))?;
        let bits = modulus_bits(parsed.modulus.as_bytes());
        check_bits(bits, form)?;
        let pkcs8 = pkcs1_to_pkcs8(der);
        let rsa = RsaPrivate::from_pkcs1_der(der, &pkcs8).map_err(|e| Error::key(format!("{form}: {e}")))?;
        Ok(PrivateKey {
            inner: Arc::new(PrivateInner { rsa, bits }),
        })
    }

    /// The size of the modulus in bits.
    pub fn bits(&self) -> usize {
        self.inner.bits
    }

    /// Signs `message` with RSASSA-PKCS1-v1_5 / SHA-256 and returns the base64 signature
    /// (PHP's `Rsa::sign`).
    pub fn sign(&self, message: &[u8]) -> String {
        B64.encode(self.sign_raw(message))
    }

    /// Signs `message` and returns the raw signature bytes.
    pub fn sign_raw(&self, message: &[u8]) -> Vec<u8> {
        self.inner.rsa.sign_sha256(message)
    }

    /// The matching public key.
    pub fn public_key(&self) -> PublicKey {
        PublicKey::from_pkcs1_der(&self.inner.rsa.public_pkcs1_der())
            .expect("the public half of a valid private key is valid")
    }

    /// The key as PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`), e.g. to hand a sandbox key to another program.
    /// This is secret material: handle it like the key file itself.
    /// (The returned text is the key: keep it in a `zeroize::Zeroizing` if it must not outlive its use.)
    pub fn to_pkcs8_pem(&self) -> String {
        pem_rfc7468::encode_string("PRIVATE KEY", pem_rfc7468::LineEnding::LF, &self.pkcs8_der())
            .expect("PEM encoding of DER cannot fail")
    }

    /// The key as PKCS#8 DER, in a buffer wiped when dropped.
    pub(crate) fn pkcs8_der(&self) -> Zeroizing<Vec<u8>> {
        self.inner.rsa.pkcs8_der()
    }

    /// Opens RSAES-OAEP (SHA-1, MGF1-SHA1) ciphertext with the backend's key, re-encoding nothing.
    pub(crate) fn oaep_sha1_decrypt(&self, ciphertext: &[u8]) -> std::result::Result<Vec<u8>, String> {
        self.inner.rsa.oaep_sha1_decrypt(ciphertext)
    }
}

/// Wraps a PKCS#1 `RSAPrivateKey` in a PKCS#8 `PrivateKeyInfo` (in a buffer wiped when dropped).
fn pkcs1_to_pkcs8(pkcs1: &[u8]) -> Zeroizing<Vec<u8>> {
    let info = pkcs8::PrivateKeyInfo::new(
        pkcs8::AlgorithmIdentifierRef {
            oid: RSA_ENCRYPTION,
            parameters: Some(pkcs8::der::asn1::AnyRef::NULL),
        },
        pkcs1,
    );
    Zeroizing::new(info.to_der().expect("PrivateKeyInfo always encodes"))
}

impl std::str::FromStr for PrivateKey {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Self::load(s)
    }
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PrivateKey")
            .field("bits", &self.inner.bits)
            .finish_non_exhaustive()
    }
}

impl PublicKey {
    /// Loads a public key from any form PHP's `Rsa::from` takes (see the [module docs](crate::keys)):
    /// `file://` path, PEM text (SPKI `PUBLIC KEY`, PKCS#1 `RSA PUBLIC KEY`, X.509 `CERTIFICATE`),
    /// `public.pkcs1://` or `public.spki://` base64.
    pub fn load(thing: &str) -> Result<Self> {
        let mut form = String::new();
        let material = read(thing, &mut form)?;
        if material.is_private() {
            return Err(Error::key(format!(
                "expected a public key or certificate, but {form} holds a private key"
            )));
        }
        match material {
            Material::Pkcs1Public(der) => Self::from_pkcs1_der_named(&der, &form, None, None),
            Material::Spki(der) => {
                let pkcs1 = spki_to_pkcs1(&der, &form)?;
                Self::from_pkcs1_der_named(&pkcs1, &form, None, None)
            }
            Material::Certificate(der) => Self::from_certificate_der_named(&der, &form),
            _ => unreachable!("private forms handled above"),
        }
    }

    /// Loads a PKCS#1 `RSAPublicKey` DER.
    pub fn from_pkcs1_der(der: &[u8]) -> Result<Self> {
        Self::from_pkcs1_der_named(der, "PKCS#1 DER", None, None)
    }

    /// Loads an SPKI `SubjectPublicKeyInfo` DER.
    pub fn from_spki_der(der: &[u8]) -> Result<Self> {
        let pkcs1 = spki_to_pkcs1(der, "SPKI DER")?;
        Self::from_pkcs1_der_named(&pkcs1, "SPKI DER", None, None)
    }

    /// Loads the public key of an X.509 certificate given as DER.
    pub fn from_certificate_der(der: &[u8]) -> Result<Self> {
        Self::from_certificate_der_named(der, "certificate DER")
    }

    fn from_certificate_der_named(der: &[u8], form: &str) -> Result<Self> {
        let cert = x509_cert::Certificate::from_der(der)
            .map_err(|e| Error::key(format!("{form} is not a valid X.509 certificate ({e})")))?;
        let spki = cert
            .tbs_certificate
            .subject_public_key_info
            .to_der()
            .map_err(|e| Error::key(format!("{form} has a malformed public key ({e})")))?;
        let pkcs1 = spki_to_pkcs1(&spki, form)?;
        let serial = serial_hex(cert.tbs_certificate.serial_number.as_bytes());
        let validity = &cert.tbs_certificate.validity;
        let secs = |t: x509_cert::time::Time| i64::try_from(t.to_unix_duration().as_secs()).unwrap_or(i64::MAX);
        let validity = Some((secs(validity.not_before), secs(validity.not_after)));
        Self::from_pkcs1_der_named(&pkcs1, form, Some(serial), validity)
    }

    fn from_pkcs1_der_named(
        der: &[u8],
        form: &str,
        serial: Option<String>,
        validity: Option<(i64, i64)>,
    ) -> Result<Self> {
        let parsed = pkcs1::RsaPublicKey::from_der(der)
            .map_err(|e| Error::key(format!("{form} is not a valid RSA public key ({e})")))?;
        let bits = modulus_bits(parsed.modulus.as_bytes());
        check_bits(bits, form)?;
        let rsa = RsaPublic::from_pkcs1_der(der).map_err(|e| Error::key(format!("{form}: {e}")))?;
        Ok(PublicKey {
            inner: Arc::new(PublicInner {
                rsa,
                pkcs1: der.to_vec(),
                bits,
                serial,
                validity,
            }),
        })
    }

    /// The size of the modulus in bits.
    pub fn bits(&self) -> usize {
        self.inner.bits
    }

    /// The serial number of the certificate this key came from, as WeChat Pay prints it (upper-case hex);
    /// `None` for a bare public key.
    pub fn certificate_serial(&self) -> Option<&str> {
        self.inner.serial.as_deref()
    }

    /// The validity of the certificate this key came from, `(notBefore, notAfter)` as Unix seconds;
    /// `None` for a bare public key.
    ///
    /// ```
    /// # let pem = include_str!("../../tests/fixtures/platform_cert.pem");
    /// let key = wechatpay::PublicKey::load(pem)?;
    /// let (not_before, not_after) = key.certificate_validity().unwrap();
    /// assert!(not_before < not_after);
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn certificate_validity(&self) -> Option<(i64, i64)> {
        self.inner.validity
    }

    /// Verifies a base64 RSASSA-PKCS1-v1_5 / SHA-256 signature (PHP's `Rsa::verify`).
    pub fn verify(&self, message: &[u8], signature_b64: &str) -> bool {
        match B64.decode(signature_b64.trim()) {
            Ok(sig) => self.verify_raw(message, &sig),
            Err(_) => false,
        }
    }

    /// Verifies a raw RSASSA-PKCS1-v1_5 / SHA-256 signature.
    pub fn verify_raw(&self, message: &[u8], signature: &[u8]) -> bool {
        self.inner.rsa.verify_sha256(message, signature)
    }

    /// The key as SPKI PEM (`-----BEGIN PUBLIC KEY-----`), the form WeChat Pay's public-key mode ships.
    pub fn to_spki_pem(&self) -> String {
        pem_rfc7468::encode_string("PUBLIC KEY", pem_rfc7468::LineEnding::LF, &self.to_spki_der())
            .expect("PEM encoding of DER cannot fail")
    }

    /// The key as PKCS#1 PEM (`-----BEGIN RSA PUBLIC KEY-----`).
    pub fn to_pkcs1_pem(&self) -> String {
        pem_rfc7468::encode_string("RSA PUBLIC KEY", pem_rfc7468::LineEnding::LF, &self.inner.pkcs1)
            .expect("PEM encoding of DER cannot fail")
    }

    /// The key as SPKI `SubjectPublicKeyInfo` DER.
    pub fn to_spki_der(&self) -> Vec<u8> {
        let info = spki::SubjectPublicKeyInfoRef {
            algorithm: spki::AlgorithmIdentifierRef {
                oid: RSA_ENCRYPTION,
                parameters: Some(spki::der::asn1::AnyRef::NULL),
            },
            subject_public_key: spki::der::asn1::BitStringRef::from_bytes(&self.inner.pkcs1)
                .expect("a byte string is a valid bit string"),
        };
        info.to_der().expect("SubjectPublicKeyInfo always encodes")
    }
}

/// Converts a PKCS#1 public key (`-----BEGIN RSA PUBLIC KEY-----`, or `public.pkcs1://` base64, or a
/// `file://` path to one) to SPKI PEM (`-----BEGIN PUBLIC KEY-----`), the form most tools and WeChat Pay's
/// public-key mode use. Any other public form ([`PublicKey::load`]) converts too.
///
/// ```
/// # let pkcs1 = include_str!("../../tests/fixtures/merchant_pub_pkcs1.pem");
/// let spki = wechatpay::keys::pkcs1_to_spki_pem(pkcs1)?;
/// assert!(spki.starts_with("-----BEGIN PUBLIC KEY-----\n"));
/// # assert_eq!(spki.trim(), include_str!("../../tests/fixtures/merchant_pub.pem").trim());
/// # Ok::<(), wechatpay::Error>(())
/// ```
pub fn pkcs1_to_spki_pem(thing: &str) -> Result<String> {
    Ok(PublicKey::load(thing)?.to_spki_pem())
}

/// The serial number of an X.509 certificate (PEM text, `file://` path) as WeChat Pay prints it:
/// upper-case hex without leading zero bytes — the value of `Wechatpay-Serial` and of the merchant
/// `serial` (PHP's `PemUtil::parseCertificateSerialNo`).
///
/// ```
/// # let pem = include_str!("../../tests/fixtures/platform_cert.pem");
/// let serial = wechatpay::keys::certificate_serial(pem)?;
/// assert_eq!(serial, "5157F09EFDC096DE15EBE81A47057A7232F1B8E1");
/// # Ok::<(), wechatpay::Error>(())
/// ```
pub fn certificate_serial(thing: &str) -> Result<String> {
    let mut form = String::new();
    match read(thing, &mut form)? {
        Material::Certificate(der) => {
            let cert = x509_cert::Certificate::from_der(&der)
                .map_err(|e| Error::key(format!("{form} is not a valid X.509 certificate ({e})")))?;
            Ok(serial_hex(cert.tbs_certificate.serial_number.as_bytes()))
        }
        _ => Err(Error::key(format!(
            "{form} is a key, not an X.509 certificate; only certificates have a serial number"
        ))),
    }
}

impl std::str::FromStr for PublicKey {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Self::load(s)
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PublicKey")
            .field("bits", &self.inner.bits)
            .field("certificate_serial", &self.inner.serial)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = include_str!("../../tests/fixtures/merchant_key.pem");

    #[test]
    fn modulus_bits_ignores_leading_zeros() {
        assert_eq!(modulus_bits(&[0, 0x80, 0]), 16);
        assert_eq!(modulus_bits(&[0x01]), 1);
        assert_eq!(modulus_bits(&[]), 0);
    }

    #[test]
    fn serial_is_upper_hex_without_sign_byte() {
        assert_eq!(serial_hex(&[0x00, 0x9a, 0x0b]), "9A0B");
        assert_eq!(serial_hex(&[0x00]), "00");
    }

    #[test]
    fn pem_round_trips() {
        let key = PrivateKey::load(KEY).unwrap();
        let again = PrivateKey::load(&key.to_pkcs8_pem()).unwrap();
        assert_eq!(*key.pkcs8_der(), *again.pkcs8_der());
        let public = PublicKey::load(&key.public_key().to_spki_pem()).unwrap();
        assert!(public.verify(b"x", &key.sign(b"x")));
    }

    #[test]
    fn key_material_lives_in_buffers_wiped_on_drop() {
        // Type-level: these only compile while the copies are `Zeroizing`.
        let key = PrivateKey::load(include_str!("../../tests/fixtures/merchant_key.pem")).unwrap();
        let _: Zeroizing<Vec<u8>> = key.pkcs8_der();
    }

    #[test]
    fn debug_hides_the_key() {
        let key = PrivateKey::load(KEY).unwrap();
        let shown = format!("{key:?}");
        assert_eq!(shown, "PrivateKey { bits: 2048, .. }");
    }
}
