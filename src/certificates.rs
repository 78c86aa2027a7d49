//! Platform certificates: download `GET v3/certificates`, decrypt them with the APIv3 key, and verify
//! that answer with the certificates it brought — PHP's `CertificateDownloader`, built in.
//!
//! The download is how a merchant in platform-certificate mode bootstraps: its client may hold no
//! platform certificate yet (or only a public key), so the answer is fetched with verification deferred,
//! decrypted, and then verified against the downloaded certificates together with the keys the client
//! already trusts (a trusted key wins over a downloaded one of the same id, so a forged download cannot
//! replace it). A tampered ciphertext fails to decrypt; a tampered answer fails the signature.
//!
//! Merchants onboarded since late 2024 have no platform certificates: WeChat Pay answers 404
//! `RESOURCE_NOT_EXISTS`, and [`download`] says to use the public-key mode (`PUB_KEY_ID_…`).
//!
//! To keep certificates fresh in-process, see [`crate::ClientBuilder::apiv3_key`] and
//! [`crate::ClientBuilder::refresh_certificates_every`].
//!
//! ```
//! use wechatpay::certificates;
//! use wechatpay::mock::MockServer;
//!
//! let server = MockServer::builder().certificate_mode(true).start()?;
//! // A client that knows no platform certificate yet (only some other key).
//! let client = server
//!     .client_builder()
//!     .clear_certs()
//!     .cert_loaded("PUB_KEY_ID_SOMETHING_ELSE", wechatpay::PrivateKey::generate().public_key())
//!     .build()?;
//! let certs = certificates::download(&client, server.apiv3_key())?;
//! assert_eq!(certs[0].serial_no(), server.platform_certificate_serial());
//! // Use them: every later answer verifies.
//! client.update_keyring(|ring| ring.with(certificates::keys(&certs)));
//! client["v3/marketing/busifavor/stocks/{stock_id}"].get(serde_json::json!({"stock_id": "100088"}))?;
//! # Ok::<(), wechatpay::Error>(())
//! ```

use std::collections::BTreeSet;
use std::fmt;
use std::sync::mpsc;
use std::sync::{Mutex, Weak};
use std::time::{Duration, Instant};

use http::{HeaderMap, Method};
use serde::Deserialize;

use crate::aes::AesGcm;
use crate::aes::AEAD_AES_256_GCM;
use crate::client::{Client, Inner};
use crate::error::{ApiDetails, Error, Result, Verification};
use crate::keyring::Keyring;
use crate::keys::PublicKey;
use crate::options::Options;
use crate::pending::Pending;
use crate::verify::{self, Policy};

/// The path of the download.
pub const PATH: &str = "v3/certificates";

/// A platform certificate from `v3/certificates`, decrypted and loaded.
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

/// Checks that `key` is an APIv3 key without ever echoing it.
pub(crate) fn check_apiv3_key(key: &str) -> Result<()> {
    if key.len() == 32 {
        Ok(())
    } else {
        Err(Error::config(format!(
            "the APIv3 key must be 32 bytes, not {} (it is set in the merchant platform, under API security)",
            key.len()
        )))
    }
}

/// Decrypts the certificates of a `v3/certificates` answer body with the APIv3 key (sans-IO). Does not
/// verify the answer's signature; [`open`] does both.
pub fn decrypt(body: &[u8], apiv3_key: &str) -> Result<Vec<PlatformCertificate>> {
    check_apiv3_key(apiv3_key)?;
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
        let plain = AesGcm::decrypt(&sealed.ciphertext, apiv3_key, &sealed.nonce, &sealed.associated_data)
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
    open_with(headers, body, apiv3_key, trusted, now, Vouching::Bootstrap)
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
    apiv3_key: &str,
    trusted: &Keyring,
    now: i64,
    vouching: Vouching,
) -> Result<Vec<PlatformCertificate>> {
    let certs = decrypt(body, apiv3_key)?;
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
    let date = |secs: i64| crate::formatter::rfc3339(secs, 8 * 3600);
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

/// Downloads, decrypts and verifies the platform certificates (blocking). See the [module docs](self).
///
/// A 404 `RESOURCE_NOT_EXISTS` (a merchant without platform certificates) stays an API error, with a
/// message that says to use the public-key mode.
pub fn download(client: &Client, apiv3_key: &str) -> Result<Vec<PlatformCertificate>> {
    download_async(client, apiv3_key).wait()
}

/// Downloads, decrypts and verifies the platform certificates; the future runs on any executor.
pub fn download_async(client: &Client, apiv3_key: &str) -> Pending<Vec<PlatformCertificate>> {
    let client = client.clone();
    let key = ApiV3Key(apiv3_key.to_owned());
    Pending::new(async move { fetch(client.inner(), &key.0, Vouching::Bootstrap).await })
}

pub(crate) async fn fetch(inner: &Inner, apiv3_key: &str, vouching: Vouching) -> Result<Vec<PlatformCertificate>> {
    check_apiv3_key(apiv3_key)?;
    let res = inner
        .execute(Method::GET, PATH, &Options::new().unverified_download())
        .await
        .map_err(explain_not_found)?;
    let trusted = inner.keyring.load();
    open_with(
        res.headers(),
        res.bytes(),
        apiv3_key,
        &trusted,
        crate::formatter::timestamp(),
        vouching,
    )
}

/// A 404 on `v3/certificates` means a public-key-only merchant; say so.
fn explain_not_found(e: Error) -> Error {
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

/// The APIv3 key: never shown.
#[derive(Clone)]
pub(crate) struct ApiV3Key(pub(crate) String);

impl fmt::Debug for ApiV3Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Default shortest time between two certificate refreshes: 5 s.
pub const DEFAULT_REFRESH_MIN_INTERVAL: Duration = Duration::from_secs(5);

/// In-process certificate refresh for a client: a background thread that downloads `v3/certificates`
/// periodically and when asked, and swaps the client's keyring. Requests never wait on it, except one
/// whose answer names an unknown serial, which waits for the next refresh and is verified once more.
pub(crate) struct Refresher {
    apiv3_key: ApiV3Key,
    pub(crate) on_unknown_serial: bool,
    min_interval: Duration,
    /// Ids the user configured: a refresh never removes them.
    configured: BTreeSet<String>,
    wake: Option<Mutex<mpsc::Sender<()>>>,
    state: Mutex<State>,
    done: tokio::sync::watch::Sender<u64>,
}

#[derive(Default)]
struct State {
    running: bool,
    last_start: Option<Instant>,
    /// When the latest completed refresh started.
    last_done_start: Option<Instant>,
    last_error: Option<String>,
    /// Serials the latest successful download brought.
    downloaded: BTreeSet<String>,
}

/// How a client refreshes, from its builder.
pub(crate) struct RefreshSettings {
    pub(crate) apiv3_key: String,
    pub(crate) interval: Option<Duration>,
    pub(crate) on_unknown_serial: bool,
    pub(crate) min_interval: Duration,
}

impl fmt::Debug for Refresher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Refresher")
            .field("apiv3_key", &self.apiv3_key)
            .field("on_unknown_serial", &self.on_unknown_serial)
            .field("min_interval", &self.min_interval)
            .finish_non_exhaustive()
    }
}

impl Refresher {
    /// The APIv3 key it decrypts with (also what opens callbacks).
    pub(crate) fn apiv3_key(&self) -> &str {
        &self.apiv3_key.0
    }

    /// The refresher, and (when it refreshes by itself) the receiving end its thread needs.
    pub(crate) fn new(settings: &RefreshSettings, configured: BTreeSet<String>) -> (Self, Option<mpsc::Receiver<()>>) {
        let threaded = settings.interval.is_some() || settings.on_unknown_serial;
        let (tx, rx) = if threaded {
            let (tx, rx) = mpsc::channel();
            (Some(Mutex::new(tx)), Some(rx))
        } else {
            (None, None)
        };
        let refresher = Refresher {
            apiv3_key: ApiV3Key(settings.apiv3_key.clone()),
            on_unknown_serial: settings.on_unknown_serial,
            min_interval: settings.min_interval,
            configured,
            wake: tx,
            state: Mutex::default(),
            done: tokio::sync::watch::channel(0).0,
        };
        (refresher, rx)
    }

    /// What a refresh trusts. With no configured key, the APIv3 key is the root of trust (a bootstrap, as
    /// PHP's downloader); with configured keys, only a download signed by a key already trusted.
    fn vouching(&self) -> Vouching {
        if self.configured.is_empty() {
            Vouching::Bootstrap
        } else {
            Vouching::Trusted
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn wake(&self) {
        if let Some(tx) = &self.wake {
            let _ = tx.lock().unwrap_or_else(|p| p.into_inner()).send(());
        }
    }

    /// Downloads and swaps the keyring now, on the caller's task (an explicit call: not rate-limited).
    pub(crate) async fn refresh(&self, inner: &Inner) -> Result<Vec<PlatformCertificate>> {
        let started = Instant::now();
        {
            let mut st = self.state();
            st.last_start = Some(st.last_start.map_or(started, |t| t.max(started)));
        }
        let result = fetch(inner, &self.apiv3_key.0, self.vouching()).await;
        self.apply(inner, &result, started, false);
        result
    }

    /// Swaps in what a refresh brought and tells whoever waits for one.
    fn apply(&self, inner: &Inner, result: &Result<Vec<PlatformCertificate>>, started: Instant, threaded: bool) {
        let mut st = self.state();
        if threaded {
            st.running = false;
        }
        crate::trace::refreshed(result.as_ref().map(Vec::len));
        match result {
            Ok(certs) => {
                let fresh: BTreeSet<String> = certs.iter().map(|c| c.serial_no.clone()).collect();
                let stale: BTreeSet<String> = st
                    .downloaded
                    .difference(&fresh)
                    .filter(|id| !self.configured.contains(*id))
                    .cloned()
                    .collect();
                // Configured keys are never replaced or removed, whatever a download says.
                let configured = &self.configured;
                inner.keyring.update(|ring| {
                    ring.without(|id| stale.contains(id))
                        .with(keys(certs).filter(|(id, _)| !configured.contains(id)))
                });
                st.downloaded = fresh;
                st.last_error = None;
            }
            Err(e) => st.last_error = Some(e.to_string()),
        }
        st.last_done_start = Some(st.last_done_start.map_or(started, |t| t.max(started)));
        drop(st);
        self.done.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// Waits (asynchronously) until a refresh that started after `failed_at` has completed, asking for one
    /// if none is under way (the refresher thread keeps to `min_interval`). Returns that refresh's error.
    async fn after(&self, failed_at: Instant) -> Option<String> {
        let mut done = self.done.subscribe();
        loop {
            {
                let st = self.state();
                if st.last_done_start.is_some_and(|s| s >= failed_at) {
                    return st.last_error.clone();
                }
                if !st.running {
                    self.wake();
                }
            }
            if done.changed().await.is_err() {
                return Some("the certificate refresher stopped".into());
            }
        }
    }

    /// Re-verifies an answer whose serial was unknown once a refresh has completed after `failed_at`.
    pub(crate) async fn reverify(
        &self,
        inner: &Inner,
        failed_at: Instant,
        first: Error,
        verify: impl Fn(&Keyring) -> Result<()>,
    ) -> Result<()> {
        // A refresh may have landed since, or be under way and bring the key: try those first, then
        // wait for one surely started after the failure.
        let mut done = self.done.subscribe();
        if verify(&inner.keyring.load()).is_ok() {
            return Ok(());
        }
        let running = self.state().running;
        if running && done.changed().await.is_ok() && verify(&inner.keyring.load()).is_ok() {
            return Ok(());
        }
        let refresh_error = self.after(failed_at).await;
        match verify(&inner.keyring.load()) {
            Ok(()) => Ok(()),
            Err(e) => {
                let e = if e.verification() == first.verification() {
                    first
                } else {
                    e
                };
                Err(match refresh_error {
                    Some(why) => e.with_source(RefreshFailed(why)),
                    None => e,
                })
            }
        }
    }

    /// The loop of the refresher thread: refreshes at start and every `interval` (if set), and when woken,
    /// never two within `min_interval`. Ends when the client is dropped.
    pub(crate) fn run(weak: Weak<Inner>, wake: mpsc::Receiver<()>, interval: Option<Duration>) {
        use mpsc::RecvTimeoutError::{Disconnected, Timeout};
        let mut next_periodic = interval.map(|_| Instant::now());
        loop {
            let woke = match next_periodic {
                Some(at) => wake.recv_timeout(at.saturating_duration_since(Instant::now())),
                None => wake.recv().map_err(|_| Disconnected),
            };
            if let Err(Disconnected) = woke {
                return;
            }
            // Rate limit: no two refreshes within `min_interval`.
            let not_before = {
                let Some(inner) = weak.upgrade() else { return };
                let Some(r) = inner.refresher.as_ref() else { return };
                let st = r.state();
                st.last_start.map(|t| t + r.min_interval)
            };
            if let Some(at) = not_before {
                loop {
                    let now = Instant::now();
                    if now >= at {
                        break;
                    }
                    match wake.recv_timeout(at - now) {
                        Ok(()) => continue,
                        Err(Timeout) => break,
                        Err(Disconnected) => return,
                    }
                }
            }
            while wake.try_recv().is_ok() {}
            let Some(inner) = weak.upgrade() else { return };
            let Some(r) = inner.refresher.as_ref() else { return };
            let started = Instant::now();
            {
                let mut st = r.state();
                st.running = true;
                st.last_start = Some(started);
            }
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                futures::executor::block_on(fetch(&inner, &r.apiv3_key.0, r.vouching()))
            }));
            let result = outcome.unwrap_or_else(|_| Err(Error::transport("the certificate refresh panicked")));
            r.apply(&inner, &result, started, true);
            drop(inner);
            if let Some(every) = interval {
                next_periodic = Some(Instant::now() + every);
            }
        }
    }
}

/// Why the refresh that should have brought an unknown serial did not.
#[derive(Debug)]
struct RefreshFailed(String);

impl fmt::Display for RefreshFailed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the platform certificate refresh failed: {}", self.0)
    }
}

impl std::error::Error for RefreshFailed {}
