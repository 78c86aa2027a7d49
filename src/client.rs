//! The client and its builder.

use std::collections::BTreeSet;
use std::fmt;
use std::ops::Index;
use std::sync::Arc;
use std::time::Duration;

use http::{header, HeaderMap, HeaderName, HeaderValue, Method};
use url::Url;

use crate::certificates::{self, PlatformCertificate, RefreshSettings, Refresher, DEFAULT_REFRESH_MIN_INTERVAL};
use crate::chain::Chain;
use crate::error::{Error, Result};
use crate::keyring::{Keyring, SharedKeyring};
use crate::keys::{PrivateKey, PublicKey};
use crate::observe::Observer;
use crate::options::Options;
use crate::protocol::retry::RetryPolicy;
use crate::pending::{Pending, ResponseFuture};
use crate::request::{self, Prepared, Signer, Target};
use crate::response::Response;
use crate::transport::{Settings, Transport};

/// WeChat Pay's production endpoint.
pub const DEFAULT_BASE_URI: &str = "https://api.mch.weixin.qq.com/";
/// Default time allowed to connect: 10 s.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Default time allowed for a whole request, answer body included: 60 s.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);
/// Default cap on an answer's body: 64 MiB. Larger answers are refused without being read whole.
pub const DEFAULT_MAX_RESPONSE_SIZE: usize = 64 << 20;
/// The `Accept` header WeChat Pay's SDKs send.
pub const ACCEPT: &str = "application/json, text/plain, application/x-gzip, application/pdf, image/png, image/*;q=0.5";
/// The default `Content-Type`.
pub const CONTENT_TYPE: &str = "application/json; charset=utf-8";

/// A WeChat Pay API v3 client: signs every request, verifies every answer.
///
/// `Send + Sync`, and cheap to clone (one `Arc`); clones share the connection pool and the `Index` cache.
///
/// ```no_run
/// use serde_json::json;
/// use wechatpay::Client;
///
/// let client = Client::builder()
///     .mchid("1900000109")
///     .serial("3775B6A45ACD588826D15E583A95F5DD00000001")
///     .private_key("file:///path/to/apiclient_key.pem")
///     .cert("PUB_KEY_ID_0114232134912410000000000000", "file:///path/to/pub_key.pem")
///     .build()?;
/// let res = client["v3/marketing/busifavor/coupons/use"].post(json!({"json": {"stock_id": "100088"}}))?;
/// println!("{:#}", res.json::<serde_json::Value>()?);
/// # Ok::<(), wechatpay::Error>(())
/// ```
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) signer: Signer,
    pub(crate) target: Target,
    pub(crate) keyring: SharedKeyring,
    pub(crate) refresher: Option<Refresher>,
    pub(crate) transport: Transport,
    pub(crate) retry: RetryPolicy,
    pub(crate) observers: Vec<Arc<dyn Observer>>,
    root: Chain,
}

impl Inner {
    /// Builds, signs, sends and verifies one call.
    pub(crate) async fn execute(&self, method: Method, template: &str, options: &Options) -> Result<Response> {
        let prepared = self.prepare(method, template, options)?;
        crate::pipeline::run(self, prepared).await
    }

    fn prepare(&self, method: Method, template: &str, options: &Options) -> Result<Prepared> {
        request::prepare(
            &self.signer,
            &self.target,
            &self.keyring.load(),
            method,
            template,
            options,
        )
    }
}

impl Client {
    /// Starts configuring a client.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// An owned chain node for `key` (a PHP-style key, or a full path such as
    /// `"v3/marketing/busifavor/coupons/use"`). Caches nothing; see [`Chain`].
    pub fn chain(&self, key: &str) -> Chain {
        self.inner.root.chain(key)
    }

    /// Builds and signs a request without sending it: what would go on the wire, for tools and dry runs.
    pub fn prepare(&self, method: Method, template: &str, options: impl Into<Options>) -> Result<Prepared> {
        self.inner.prepare(method, template, &options.into())
    }

    /// Sends a request [`Client::prepare`] built, and verifies its answer (blocking) — for tools that look
    /// at a request before it goes. Sign shortly before sending: the answer window is 300 s.
    pub fn send(&self, prepared: Prepared) -> Result<Response> {
        self.send_async(prepared).wait()
    }

    /// Sends a prepared request; the future is `Send + 'static` and runs on any executor.
    pub fn send_async(&self, prepared: Prepared) -> ResponseFuture {
        let inner = Arc::clone(&self.inner);
        Pending::new(async move { crate::pipeline::run(&inner, prepared).await })
    }

    /// The merchant id.
    pub fn mchid(&self) -> &str {
        &self.inner.signer.mchid
    }

    /// Decrypts, in place, the sensitive fields `paths` names in an answer's JSON with the merchant key
    /// (PHP's `Rsa::decrypt` on each field). Paths as in [`Options::sensitive`]; absent fields are skipped.
    pub fn decrypt_fields(&self, value: &mut serde_json::Value, paths: &[&str]) -> Result<()> {
        crate::sensitive::decrypt_fields(value, paths, &self.inner.signer.key)
    }

    /// Verifies and decrypts a callback (回调通知) from its headers and raw body, against the keyring as
    /// it is now (refreshed certificates included) and the APIv3 key of [`ClientBuilder::apiv3_key`].
    /// See [`crate::notify`] for the event and for answering WeChat Pay.
    pub fn open_notification<T: serde::de::DeserializeOwned>(
        &self,
        headers: &http::HeaderMap,
        body: &[u8],
    ) -> Result<crate::notify::Event<T>> {
        let key =
            self.inner.refresher.as_ref().map(|r| r.apiv3_key()).ok_or_else(|| {
                Error::config("opening callbacks needs the APIv3 key: set `ClientBuilder::apiv3_key`")
            })?;
        crate::notify::open(&self.inner.keyring.load(), key, headers, body)
    }

    /// The keys that verify answers: a snapshot of the keyring as it is now.
    pub fn keyring(&self) -> Keyring {
        self.inner.keyring.load()
    }

    /// Replaces the keys that verify answers. Requests already verifying keep the snapshot they took.
    pub fn set_keyring(&self, keyring: Keyring) {
        self.inner.keyring.store(keyring);
    }

    /// Replaces the keys that verify answers with what `f` makes of the current ones, e.g.
    /// `client.update_keyring(|ring| ring.with(certificates::keys(&certs)))`.
    pub fn update_keyring(&self, f: impl FnOnce(&Keyring) -> Keyring) {
        self.inner.keyring.update(f);
    }

    /// Downloads the platform certificates now with the APIv3 key given to the builder
    /// ([`ClientBuilder::apiv3_key`]), and swaps them into the keyring (blocking). Certificates an
    /// earlier refresh brought and WeChat Pay no longer serves leave the keyring; configured keys stay.
    pub fn refresh_certificates(&self) -> Result<Vec<PlatformCertificate>> {
        self.refresh_certificates_async().wait()
    }

    /// [`Client::refresh_certificates`], as a future that runs on any executor.
    pub fn refresh_certificates_async(&self) -> Pending<Vec<PlatformCertificate>> {
        let inner = Arc::clone(&self.inner);
        Pending::new(async move {
            let refresher = inner.refresher.as_ref().ok_or_else(|| {
                Error::config("refreshing platform certificates needs the APIv3 key: set `ClientBuilder::apiv3_key`")
            })?;
            refresher.refresh(&inner).await
        })
    }

    pub(crate) fn inner(&self) -> &Inner {
        &self.inner
    }

    /// The base URI requests go to.
    pub fn base_uri(&self) -> String {
        format!("{}{}", self.inner.target.origin, self.inner.target.base_path)
    }
}

impl Index<&str> for Client {
    type Output = Chain;

    /// The cached chain node for `key`; see [`Chain`] for what is cached.
    fn index(&self, key: &str) -> &Chain {
        &self.inner.root[key]
    }
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("mchid", &self.inner.signer.mchid)
            .field("serial", &self.inner.signer.serial)
            .field("base_uri", &self.base_uri())
            .field("keyring", &self.inner.keyring.load().ids().collect::<Vec<_>>())
            .field("refresher", &self.inner.refresher)
            .finish_non_exhaustive()
    }
}

enum KeySource {
    Text(String),
    Loaded(PrivateKey),
}

enum CertSource {
    Text(String),
    Loaded(PublicKey),
}

/// Configures a [`Client`]. Nothing is checked until [`ClientBuilder::build`], which checks everything.
#[must_use = "a builder does nothing until `build()`"]
pub struct ClientBuilder {
    mchid: Option<String>,
    serial: Option<String>,
    private_key: Option<KeySource>,
    certs: Vec<(String, CertSource)>,
    base_uri: String,
    connect_timeout: Duration,
    timeout: Duration,
    headers: Vec<(String, String)>,
    proxy: Option<String>,
    max_response_size: usize,
    apiv3_key: Option<certificates::ApiV3Key>,
    refresh_interval: Option<Duration>,
    refresh_on_unknown_serial: bool,
    refresh_min_interval: Duration,
    retry: RetryPolicy,
    observers: Vec<Arc<dyn Observer>>,
}

impl Default for ClientBuilder {
    fn default() -> Self {
        ClientBuilder {
            mchid: None,
            serial: None,
            private_key: None,
            certs: Vec::new(),
            base_uri: DEFAULT_BASE_URI.to_owned(),
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            timeout: DEFAULT_TIMEOUT,
            headers: Vec::new(),
            proxy: None,
            max_response_size: DEFAULT_MAX_RESPONSE_SIZE,
            apiv3_key: None,
            refresh_interval: None,
            refresh_on_unknown_serial: false,
            refresh_min_interval: DEFAULT_REFRESH_MIN_INTERVAL,
            retry: RetryPolicy::default(),
            observers: Vec::new(),
        }
    }
}

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("mchid", &self.mchid)
            .field("serial", &self.serial)
            .field("private_key", &self.private_key.as_ref().map(|_| "<redacted>"))
            .field("certs", &self.certs.iter().map(|(id, _)| id).collect::<Vec<_>>())
            .field("base_uri", &self.base_uri)
            .field("apiv3_key", &self.apiv3_key)
            .field("refresh_interval", &self.refresh_interval)
            .field("refresh_on_unknown_serial", &self.refresh_on_unknown_serial)
            .field("retry", &self.retry)
            .field("observers", &self.observers.len())
            .finish_non_exhaustive()
    }
}

/// Ids go inside a quoted header field, so keep them to the characters WeChat Pay uses.
fn check_id(what: &str, value: &str) -> Result<()> {
    if value.is_empty() {
        return Err(Error::config(format!("`{what}` is empty")));
    }
    if let Some(c) = value
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '_' || *c == '-'))
    {
        return Err(Error::config(format!(
            "`{what}` holds {c:?}; only letters, digits, `_` and `-` are allowed"
        )));
    }
    Ok(())
}

fn user_agent() -> String {
    format!(
        "wechatpay-rs/{} ({}/{}) Rust/{} {}",
        env!("CARGO_PKG_VERSION"),
        std::env::consts::OS,
        std::env::consts::ARCH,
        env!("WECHATPAY_RUSTC_VERSION"),
        crate::crypto::BACKEND
    )
}

impl ClientBuilder {
    /// The merchant id (`mchid`). Required.
    pub fn mchid(mut self, mchid: impl Into<String>) -> Self {
        self.mchid = Some(mchid.into());
        self
    }

    /// The serial number of the merchant's API certificate. Required.
    pub fn serial(mut self, serial: impl Into<String>) -> Self {
        self.serial = Some(serial.into());
        self
    }

    /// The merchant's private key, in any form PHP's `Rsa::from` takes ([`crate::keys`]). Required.
    pub fn private_key(mut self, key: &str) -> Self {
        self.private_key = Some(KeySource::Text(key.to_owned()));
        self
    }

    /// The merchant's private key, already loaded.
    pub fn private_key_loaded(mut self, key: PrivateKey) -> Self {
        self.private_key = Some(KeySource::Loaded(key));
        self
    }

    /// A key that verifies WeChat Pay's answers: `id` is a platform certificate serial or a
    /// `PUB_KEY_ID_…`, `key` a public key or X.509 certificate in any form [`crate::keys`] takes.
    /// Repeatable; at least one is required.
    pub fn cert(mut self, id: &str, key: &str) -> Self {
        self.certs.push((id.to_owned(), CertSource::Text(key.to_owned())));
        self
    }

    /// A verifying key, already loaded.
    pub fn cert_loaded(mut self, id: &str, key: PublicKey) -> Self {
        self.certs.push((id.to_owned(), CertSource::Loaded(key)));
        self
    }

    /// Forgets the verifying keys given so far (e.g. to start a sandbox's builder from none).
    pub fn clear_certs(mut self) -> Self {
        self.certs.clear();
        self
    }

    /// The merchant's APIv3 key (32 characters), which decrypts downloaded platform certificates and
    /// callbacks. Needed for [`ClientBuilder::refresh_certificates_every`],
    /// [`ClientBuilder::refresh_on_unknown_serial`], [`Client::refresh_certificates`] and
    /// [`Client::open_notification`]; with it, no `cert` is required at build (certificates can be
    /// downloaded). Kept out of every `Debug` output and error.
    pub fn apiv3_key(mut self, key: &str) -> Self {
        self.apiv3_key = Some(certificates::ApiV3Key(key.to_owned()));
        self
    }

    /// Keeps the platform certificates fresh in-process: downloads `v3/certificates` when the client is
    /// built and then every `interval` on a background thread, and also when an answer names an unknown
    /// serial (as [`ClientBuilder::refresh_on_unknown_serial`]). Needs [`ClientBuilder::apiv3_key`].
    ///
    /// Requests never wait for a periodic refresh: each verifies against the keyring as it is when its
    /// answer arrives, and a refresh swaps in a new keyring for later ones.
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// let client = wechatpay::Client::builder()
    ///     .mchid("1900000109")
    ///     .serial("3775B6A45ACD588826D15E583A95F5DD00000001")
    ///     .private_key("file:///path/to/apiclient_key.pem")
    ///     .apiv3_key("0123456789abcdef0123456789abcdef")
    ///     .refresh_certificates_every(Duration::from_secs(12 * 3600))
    ///     .build()?; // no `cert` needed: the first download brings them
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn refresh_certificates_every(mut self, interval: Duration) -> Self {
        self.refresh_interval = Some(interval);
        self.refresh_on_unknown_serial = true;
        self
    }

    /// When an answer names a serial the keyring does not hold, downloads the platform certificates
    /// (one download at a time, at most one per [`ClientBuilder::refresh_min_interval`]) and verifies
    /// that answer once more before failing. Needs [`ClientBuilder::apiv3_key`]. Off by default.
    pub fn refresh_on_unknown_serial(mut self, on: bool) -> Self {
        self.refresh_on_unknown_serial = on;
        self
    }

    /// The shortest time between two certificate downloads of the background refresh; default
    /// [`DEFAULT_REFRESH_MIN_INTERVAL`](crate::certificates::DEFAULT_REFRESH_MIN_INTERVAL).
    pub fn refresh_min_interval(mut self, interval: Duration) -> Self {
        self.refresh_min_interval = interval;
        self
    }

    /// Where requests go; default [`DEFAULT_BASE_URI`]. A base path (e.g. `https://host/hk/`) is kept and
    /// signed as part of every request target.
    pub fn base_uri(mut self, uri: &str) -> Self {
        self.base_uri = uri.to_owned();
        self
    }

    /// Time allowed to connect; default [`DEFAULT_CONNECT_TIMEOUT`].
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Time allowed for a whole request, answer body included; default [`DEFAULT_TIMEOUT`].
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// A header sent with every request (a request's own `headers` option wins).
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Sends every request through this proxy (`http://`, `https://` or `socks5://` URL).
    pub fn proxy(mut self, url: &str) -> Self {
        self.proxy = Some(url.to_owned());
        self
    }

    /// How calls are retried, unless a call sets its own ([`Options::retry`]); default
    /// [`RetryPolicy::default`]: up to 3 attempts of what is safe to send again — a failed connection for
    /// any call, and for `GET`/`PUT`/`DELETE` (or a call marked [`Options::idempotent`]) also timeouts,
    /// dropped connections, 429 and 5xx. [`RetryPolicy::none`] never retries.
    ///
    /// ```
    /// use wechatpay::{Client, RetryPolicy};
    /// let builder = Client::builder().retry(RetryPolicy::default().max_attempts(5));
    /// # let _ = builder;
    /// ```
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// Adds an observer, told of every attempt and every call's outcome (see [`crate::observe`]).
    /// Repeatable; observers are called in the order added.
    pub fn observer(mut self, observer: Arc<dyn Observer>) -> Self {
        self.observers.push(observer);
        self
    }

    /// The largest answer body accepted; default [`DEFAULT_MAX_RESPONSE_SIZE`].
    pub fn max_response_size(mut self, bytes: usize) -> Self {
        self.max_response_size = bytes;
        self
    }

    /// Checks everything and builds the client.
    pub fn build(self) -> Result<Client> {
        let mchid = self.mchid.ok_or_else(|| Error::config("`mchid` is required"))?;
        check_id("mchid", &mchid)?;
        let serial = self
            .serial
            .ok_or_else(|| Error::config("`serial` (the merchant certificate serial) is required"))?;
        check_id("serial", &serial)?;
        let key = match self.private_key {
            None => return Err(Error::config("`private_key` (the merchant private key) is required")),
            Some(KeySource::Loaded(key)) => key,
            Some(KeySource::Text(text)) => PrivateKey::load(&text)?,
        };
        if let Some(key) = &self.apiv3_key {
            certificates::check_apiv3_key(&key.0)?;
        }
        let refreshing = self.refresh_interval.is_some() || self.refresh_on_unknown_serial;
        if refreshing && self.apiv3_key.is_none() {
            return Err(Error::config(
                "refreshing platform certificates needs the APIv3 key that decrypts them: set `apiv3_key`",
            ));
        }
        if self.refresh_interval.is_some_and(|i| i.is_zero()) {
            return Err(Error::config(
                "the certificate refresh interval must be longer than zero",
            ));
        }
        // With the APIv3 key, a client may start with no platform key at all: certificates can be
        // downloaded (and that download verifies itself), as PHP's CertificateDownloader bootstraps.
        if self.certs.is_empty() && self.apiv3_key.is_none() {
            return Err(Error::config(
                "at least one `cert` is required: WeChat Pay's platform certificate or public key (PUB_KEY_ID_…), to verify its answers (or an `apiv3_key`, to download platform certificates)",
            ));
        }
        let mut keys = Vec::with_capacity(self.certs.len());
        for (id, source) in self.certs {
            check_id("cert id", &id)?;
            if id == serial {
                return Err(Error::config(format!(
                    "the cert id `{id}` is the merchant serial: `serial` names your own API certificate, while `cert` takes WeChat Pay's platform certificate or public key"
                )));
            }
            let public = match source {
                CertSource::Loaded(k) => k,
                CertSource::Text(text) => PublicKey::load(&text)?,
            };
            // Answers name certificates by their upper-case serial, so store it as such.
            let id = match public.certificate_serial() {
                Some(cert_serial) if cert_serial.eq_ignore_ascii_case(&id) => cert_serial.to_owned(),
                Some(cert_serial) => {
                    return Err(Error::config(format!(
                        "the certificate given as `{id}` has serial `{cert_serial}`; answers name keys by serial, so they must match"
                    )))
                }
                None => id,
            };
            if keys.iter().any(|(known, _)| *known == id) {
                return Err(Error::config(format!("the cert id `{id}` is given twice")));
            }
            keys.push((id, public));
        }

        let base = Url::parse(&self.base_uri)
            .map_err(|e| Error::config(format!("`base_uri` {:?} is not a valid URL", self.base_uri)).with_source(e))?;
        if !matches!(base.scheme(), "http" | "https") || base.host_str().is_none() {
            return Err(Error::config(format!(
                "`base_uri` {:?} must be an http(s) URL with a host",
                self.base_uri
            )));
        }
        if base.query().is_some()
            || base.fragment().is_some()
            || !base.username().is_empty()
            || base.password().is_some()
        {
            return Err(Error::config(format!(
                "`base_uri` {:?} must not carry a query, fragment or credentials",
                self.base_uri
            )));
        }
        let origin = base.origin().ascii_serialization();
        let mut base_path = base.path().to_owned();
        if !base_path.ends_with('/') {
            base_path.push('/');
        }

        let mut default_headers = HeaderMap::new();
        default_headers.insert(header::ACCEPT, HeaderValue::from_static(ACCEPT));
        default_headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
        default_headers.insert(
            header::USER_AGENT,
            HeaderValue::from_str(&user_agent()).expect("the User-Agent is ASCII"),
        );
        for (name, value) in &self.headers {
            let name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| Error::config(format!("`{name}` is not a valid header name")))?;
            if name == header::AUTHORIZATION || request::is_framing(&name) {
                return Err(Error::config(format!(
                    "the `{name}` header is set by the client for each request and cannot be a default header"
                )));
            }
            let value = HeaderValue::from_str(value)
                .map_err(|_| Error::config(format!("the value of header `{name}` is not valid header text")))?;
            default_headers.insert(name, value);
        }

        let transport = Transport::new(Settings {
            connect_timeout: self.connect_timeout,
            timeout: self.timeout,
            proxy: self.proxy,
            max_body: self.max_response_size,
        })?;

        let configured: BTreeSet<String> = keys.iter().map(|(id, _)| id.clone()).collect();
        let (refresher, wake) = match self.apiv3_key {
            Some(key) => {
                let settings = RefreshSettings {
                    apiv3_key: key.0,
                    interval: self.refresh_interval,
                    on_unknown_serial: self.refresh_on_unknown_serial,
                    min_interval: self.refresh_min_interval,
                };
                let (r, wake) = Refresher::new(&settings, configured);
                (Some(r), wake)
            }
            None => (None, None),
        };

        let inner = Arc::new_cyclic(|weak| Inner {
            signer: Signer { mchid, serial, key },
            target: Target {
                origin,
                base_path,
                default_headers,
            },
            keyring: SharedKeyring::new(Keyring::new(keys)),
            refresher,
            transport,
            retry: self.retry,
            observers: self.observers,
            root: Chain::root(weak.clone()),
        });
        if let Some(wake) = wake {
            let weak = Arc::downgrade(&inner);
            let interval = self.refresh_interval;
            std::thread::Builder::new()
                .name("wechatpay-certificates".into())
                .spawn(move || Refresher::run(weak, wake, interval))
                .map_err(|e| Error::config("the certificate refresh thread could not start").with_source(e))?;
        }
        Ok(Client { inner })
    }
}
