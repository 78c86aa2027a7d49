//! Opening a platform-certificate download (sans-IO): decrypt each certificate of a `v3/certificates`
//! answer with the APIv3 key, check its serial and validity dates, and verify the answer's signature with
//! the keys the client trusts — or, for a bootstrap, with the certificates the answer brought. The
//! download itself is [`crate::certificates::download`]; the refresh is the client's.

use std::fmt;

use http::HeaderMap;
use serde::Deserialize;

use crate::crypto::aes::{AesGcm, AEAD_AES_256_GCM};
use crate::crypto::apiv3_key::ApiV3Key;
use crate::crypto::keyring::Keyring;
use crate::crypto::keys::PublicKey;
use crate::error::{ApiDetails, Error, Result, Verification};
use crate::protocol::verify::{self, Policy};

/// The path of the download.
pub const PATH: &str = "v3/certificates";

/// A platform certificate from `v3/certificates`, decrypted and loaded.
///
/// ```
/// // Certificate mode: a merchant with platform certificates (public-key merchants have none).
/// let server = wechatpay::mock::MockServer::builder().certificate_mode(true).start()?;
/// let client = server.client_builder().apiv3_key(server.apiv3_key()).build()?;
/// for cert in client.refresh_certificates()? {
///     println!("{} valid {} to {}", cert.serial_no(), cert.effective_time(), cert.expire_time());
/// }
/// # Ok::<(), wechatpay::Error>(())
/// ```
#[derive(Clone)]
pub struct PlatformCertificate {
    serial_no: String,
    effective_time: String,
    expire_time: String,
    pem: String,
    key: PublicKey,
}

impl PlatformCertificate {
    /// The serial, as WeChat Pay prints it (upper-case hex) and names it in `Wechatpay-Serial`.
    pub fn serial_no(&self) -> &str {
        &self.serial_no
    }

    /// From when it signs, as WeChat Pay wrote it (RFC 3339, e.g. `2024-06-08T10:34:56+08:00`).
    pub fn effective_time(&self) -> &str {
        &self.effective_time
    }

    /// Until when it is valid, as WeChat Pay wrote it (RFC 3339).
    pub fn expire_time(&self) -> &str {
        &self.expire_time
    }

    /// The certificate, PEM (`-----BEGIN CERTIFICATE-----`), e.g. to save for [`crate::ClientBuilder::cert`].
    pub fn pem(&self) -> &str {
        &self.pem
    }

    /// Its public key, which verifies what it signed.
    pub fn public_key(&self) -> &PublicKey {
        &self.key
    }
}

impl fmt::Debug for PlatformCertificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PlatformCertificate")
            .field("serial_no", &self.serial_no)
            .field("effective_time", &self.effective_time)
            .field("expire_time", &self.expire_time)
            .finish_non_exhaustive()
    }
}

/// `(serial, key)` pairs of `certs`, for [`Keyring::new`] and [`Keyring::with`].
pub fn keys(certs: &[PlatformCertificate]) -> impl Iterator<Item = (String, PublicKey)> + '_ {
    certs.iter().map(|c| (c.serial_no.clone(), c.key.clone()))
}

#[derive(Deserialize)]
struct Listing {
    data: Vec<Item>,
}

#[derive(Deserialize)]
struct Item {
    serial_no: String,
    #[serde(default)]
    effective_time: String,
    #[serde(default)]
    expire_time: String,
    encrypt_certificate: Sealed,
}

#[derive(Deserialize)]
struct Sealed {
    algorithm: String,
    nonce: String,
    #[serde(default)]
    associated_data: String,
    ciphertext: String,
}

/// Decrypts the certificates of a `v3/certificates` answer body with the APIv3 key (sans-IO). Does not
/// verify the answer's signature; [`open`] does both.
pub fn decrypt(body: &[u8], apiv3_key: &str) -> Result<Vec<PlatformCertificate>> {
    decrypt_with(body, &ApiV3Key::new(apiv3_key)?)
}

fn decrypt_with(body: &[u8], apiv3_key: &ApiV3Key) -> Result<Vec<PlatformCertificate>> {
    let listing: Listing = serde_json::from_slice(body).map_err(|e| {
        Error::decode("the `v3/certificates` answer is not `{\"data\": [{serial_no, encrypt_certificate, …}]}`")
            .with_source(e)
    })?;
    if listing.data.is_empty() {
        return Err(Error::decode("the `v3/certificates` answer lists no certificate"));
    }
    let mut out: Vec<PlatformCertificate> = Vec::with_capacity(listing.data.len());
    for item in listing.data {
        let sealed = &item.encrypt_certificate;
        if sealed.algorithm != AEAD_AES_256_GCM {
            return Err(Error::decode(format!(
                "certificate {} is encrypted with {:?}; only {AEAD_AES_256_GCM} is known",
                item.serial_no, sealed.algorithm
            )));
        }
        let plain = AesGcm::open(&sealed.ciphertext, apiv3_key, &sealed.nonce, &sealed.associated_data)
            .map_err(|e| Error::decode(format!("certificate {} does not decrypt", item.serial_no)).with_source(e))?;
        let pem = String::from_utf8(plain).map_err(|_| {
            Error::decode(format!(
                "certificate {} decrypts to something that is not PEM",
                item.serial_no
            ))
        })?;
        if !pem.trim_start().starts_with("-----BEGIN CERTIFICATE-----") {
            return Err(Error::decode(format!(
                "certificate {} decrypts to something that is not a PEM certificate",
                item.serial_no
            )));
        }
        let key = PublicKey::load(&pem)
            .map_err(|e| Error::decode(format!("certificate {} does not load", item.serial_no)).with_source(e))?;
        let actual = key.certificate_serial().unwrap_or_default();
        if !actual.eq_ignore_ascii_case(&item.serial_no) {
            return Err(Error::decode(format!(
                "the answer names a certificate {} whose own serial is {actual}",
                item.serial_no
            )));
        }
        let serial_no = actual.to_owned();
        if out.iter().any(|c| c.serial_no == serial_no) {
            return Err(Error::decode(format!("the answer lists certificate {serial_no} twice")));
        }
        out.push(PlatformCertificate {
            serial_no,
            effective_time: item.effective_time,
            expire_time: item.expire_time,
            pem,
            key,
        });
    }
    Ok(out)
}

/// How far a certificate's validity dates may be from this machine's clock and still be accepted: 10 min,
/// for clocks that drift (a certificate WeChat Pay has just issued, a machine a little ahead).
pub const VALIDITY_TOLERANCE_SECS: i64 = 600;

/// Decrypts a `v3/certificates` answer and verifies it (sans-IO), at Unix time `now`, as a bootstrap: the
/// signature must be made by a key of `trusted` (the client's keyring, e.g. its `PUB_KEY_ID_…` key) or,
/// for a serial `trusted` does not hold, by one of the certificates the answer brought. In that last case
/// the APIv3 key that sealed them is the only root of trust, as in PHP's `CertificateDownloader`.
///
/// Refused, whatever signed it: a certificate outside its validity dates (give or take
/// [`VALIDITY_TOLERANCE_SECS`]), so a captured old download cannot bring back a retired key; and a
/// certificate under a serial `trusted` holds with another key, so a download can never replace a key the
/// client trusts.
pub fn open(
    headers: &HeaderMap,
    body: &[u8],
    apiv3_key: &str,
    trusted: &Keyring,
    now: i64,
) -> Result<Vec<PlatformCertificate>> {
    open_with(
        headers,
        body,
        &ApiV3Key::new(apiv3_key)?,
        trusted,
        now,
        Vouching::Bootstrap,
    )
}

/// Who may sign a certificate download.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Vouching {
    /// A key already trusted, or a certificate the download brings (the APIv3 key is the root of trust).
    Bootstrap,
    /// Only a key already trusted: a client holding configured keys never plants a key on the APIv3 key's
    /// word alone.
    Trusted,
}

pub(crate) fn open_with(
    headers: &HeaderMap,
    body: &[u8],
    apiv3_key: &ApiV3Key,
    trusted: &Keyring,
    now: i64,
    vouching: Vouching,
) -> Result<Vec<PlatformCertificate>> {
    let certs = decrypt_with(body, apiv3_key)?;
    for cert in &certs {
        check_validity(cert, now)?;
        if let Some(known) = trusted.get(&cert.serial_no) {
            if known.to_spki_der() != cert.key.to_spki_der() {
                return Err(Error::verify_failed(
                    Verification::UntrustedCertificate,
                    format!(
                        "the download brings certificate {} with a key other than the trusted one of that serial; \
                         a download never replaces a trusted key",
                        cert.serial_no
                    ),
                ));
            }
        }
    }
    let ring = match vouching {
        Vouching::Bootstrap => {
            Keyring::new(keys(&certs)).with(trusted.iter().map(|(id, k)| (id.to_owned(), k.clone())))
        }
        Vouching::Trusted => trusted.clone(),
    };
    verify::verify_signed(&ring, Policy::Verify, headers, body, now).map_err(|e| {
        if vouching == Vouching::Trusted && e.verification() == Some(Verification::UnknownSerial) {
            let signer = headers
                .get(verify::SERIAL)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            Error::verify_failed(
                Verification::UntrustedCertificate,
                format!(
                    "the certificate download is signed by {signer:?}, which this client does not trust yet; a client \
                     with configured keys takes new certificates only from a download signed by a key it trusts \
                     (refresh periodically, so a new certificate is learned while the old one still signs, or \
                     configure the new one)"
                ),
            )
        } else {
            e
        }
    })?;
    Ok(certs)
}

/// Refuses a certificate outside its validity dates, naming them.
fn check_validity(cert: &PlatformCertificate, now: i64) -> Result<()> {
    let Some((not_before, not_after)) = cert.key.certificate_validity() else {
        return Ok(());
    };
    let date = |secs: i64| crate::protocol::formatter::rfc3339(secs, 8 * 3600);
    let (what, when) = if now.saturating_add(VALIDITY_TOLERANCE_SECS) < not_before {
        ("is not valid before", not_before)
    } else if now.saturating_sub(VALIDITY_TOLERANCE_SECS) > not_after {
        ("expired at", not_after)
    } else {
        return Ok(());
    };
    Err(Error::verify_failed(
        Verification::CertificateValidity,
        format!(
            "certificate {} {what} {} (valid {} to {}; now {})",
            cert.serial_no,
            date(when),
            date(not_before),
            date(not_after),
            date(now)
        ),
    ))
}

/// A 404 on `v3/certificates` means a public-key-only merchant; say so.
pub(crate) fn explain_not_found(e: Error) -> Error {
    if e.status() != Some(404) {
        return e;
    }
    let said = e.api_message().unwrap_or("请求的资源不存在");
    Error::api(ApiDetails {
        status: 404,
        code: e.code().map(str::to_owned),
        message: Some(format!(
            "{said} — this merchant has no platform certificates: merchants onboarded since late 2024 verify \
             WeChat Pay with its public key instead. Download it (and its id, `PUB_KEY_ID_…`) from the merchant \
             platform and configure `.cert(\"PUB_KEY_ID_…\", \"file:///path/to/pub_key.pem\")`"
        )),
        detail: e.detail().cloned(),
        request_id: e.request_id().map(str::to_owned),
        body: bytes::Bytes::copy_from_slice(e.body().unwrap_or_default()),
        retry_after: e.retry_after(),
    })
}
