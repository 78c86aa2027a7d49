//! [`ClientBuilder`]: configures a [`Client`] and checks everything once, at [`ClientBuilder::build`].

use std::collections::BTreeSet;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use http::{header, HeaderMap, HeaderName, HeaderValue};
use url::Url;

use crate::client::chain::Chain;
use crate::client::merchant_tls::MerchantIdentity;
use crate::client::observe::Observer;
use crate::client::refresh::{RefreshSettings, Refresher, DEFAULT_REFRESH_MIN_INTERVAL};
use crate::client::transport::{Settings, TlsVersion, Transport};
use crate::client::{
    Client, Inner, ACCEPT, CONTENT_TYPE, DEFAULT_BASE_URI, DEFAULT_CONNECT_TIMEOUT, DEFAULT_MAX_RESPONSE_SIZE,
    DEFAULT_TIMEOUT,
};
use crate::crypto::apiv2_key::ApiV2Key;
use crate::crypto::apiv3_key::ApiV3Key;
use crate::crypto::keyring::{Keyring, SharedKeyring};
use crate::crypto::keys::{PrivateKey, PublicKey};
use crate::error::{Error, Result};
use crate::protocol::request::{self, Signer, Target};
use crate::protocol::retry::RetryPolicy;

enum KeySource {
    /// Key text (PEM, base64 or a path), wiped when the builder is dropped.
    Text(zeroize::Zeroizing<String>),
    Loaded(PrivateKey),
}

enum CertSource {
    Text(String),
    Loaded(PublicKey),
}

/// The merchant's TLS client certificate, as given; read and checked at build.
enum MerchantCertSource {
    /// Certificate and key (PEM text or `file://` paths), the key maybe encrypted.
    Pem {
        certificate: String,
        key: zeroize::Zeroizing<String>,
        passphrase: Option<zeroize::Zeroizing<String>>,
    },
    /// `apiclient_cert.p12`, and its passphrase (the mchid unless given).
    Pkcs12 {
        der: zeroize::Zeroizing<Vec<u8>>,
        passphrase: Option<zeroize::Zeroizing<String>>,
    },
}

/// Configures a [`Client`]. Nothing is checked until [`ClientBuilder::build`], which checks everything.
/// A builder may also start from a file or the environment, as `wxpay` reads them:
/// [`ClientBuilder::from_config`] (the JSON `wxpay mock serve` prints), [`ClientBuilder::from_env`],
/// [`ClientBuilder::from_profile`].
///
/// ```
/// let client = wechatpay::Client::builder()
///     .mchid("1900000109")
///     .serial("3775B6A45ACD588826D15E583A95F5DD00000001")
///     .private_key(include_str!("../../tests/fixtures/merchant_key.pem")) // or "file:///path/to/apiclient_key.pem"
///     .cert("PUB_KEY_ID_0114232134912410000000000000", include_str!("../../tests/fixtures/platform_pub.pem"))
///     .build()?;
/// assert_eq!(client.base_uri(), wechatpay::DEFAULT_BASE_URI);
/// # Ok::<(), wechatpay::Error>(())
/// ```
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
    proxy_from_env: bool,
    pool_idle_timeout: Option<Duration>,
    pool_max_idle_per_host: usize,
    min_tls: TlsVersion,
    max_response_size: usize,
    apiv3_key: Option<zeroize::Zeroizing<String>>,
    apiv2_key: Option<zeroize::Zeroizing<String>>,
    merchant_certificate: Option<MerchantCertSource>,
    root_certificates: Vec<String>,
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
            proxy_from_env: false,
            pool_idle_timeout: Some(DEFAULT_POOL_IDLE_TIMEOUT),
            pool_max_idle_per_host: usize::MAX,
            min_tls: TlsVersion::Tls12,
            max_response_size: DEFAULT_MAX_RESPONSE_SIZE,
            apiv3_key: None,
            apiv2_key: None,
            merchant_certificate: None,
            root_certificates: Vec::new(),
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
            .field("apiv3_key", &self.apiv3_key.as_ref().map(|_| "<redacted>"))
            .field("apiv2_key", &self.apiv2_key.as_ref().map(|_| "<redacted>"))
            .field(
                "merchant_certificate",
                &self.merchant_certificate.as_ref().map(|_| "<redacted>"),
            )
            .field("root_certificates", &self.root_certificates.len())
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

/// How long an idle pooled connection is kept by default: 90 s.
pub const DEFAULT_POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(90);

/// Whether a URL's host is this machine.
fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

/// A proxy URL of a scheme the transport speaks, with a host; the error never echoes credentials.
fn check_proxy(proxy: &str) -> Result<()> {
    let url = Url::parse(proxy).map_err(|_| Error::config("the proxy is not a valid URL"))?;
    if !matches!(url.scheme(), "http" | "https" | "socks5" | "socks5h") || url.host_str().is_none() {
        return Err(Error::config(format!(
            "the proxy scheme `{}` is not supported: use http://, https://, socks5:// or socks5h:// with a host",
            url.scheme()
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
        crate::crypto::backend::backend()
    )
}

impl ClientBuilder {
    /// The merchant id (`mchid`). Required.
    ///
    /// ```
    /// let builder = wechatpay::Client::builder().mchid("1900000109"); // 商户号
    /// # let _ = builder;
    /// ```
    pub fn mchid(mut self, mchid: impl Into<String>) -> Self {
        self.mchid = Some(mchid.into());
        self
    }

    /// The serial number of the merchant's API certificate. Required.
    ///
    /// ```no_run
    /// // The serial of apiclient_cert.pem, as `openssl x509 -noout -serial` prints it.
    /// let serial = wechatpay::keys::certificate_serial("file:///path/to/apiclient_cert.pem")?;
    /// let builder = wechatpay::Client::builder().serial(serial);
    /// # let _ = builder;
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn serial(mut self, serial: impl Into<String>) -> Self {
        self.serial = Some(serial.into());
        self
    }

    /// The merchant's private key, in any form PHP's `Rsa::from` takes ([`crate::keys`]). Required.
    ///
    /// ```
    /// # let builder = wechatpay::Client::builder()
    /// #     .mchid("1900000109")
    /// #     .serial("3775B6A45ACD588826D15E583A95F5DD00000001")
    /// #     .private_key(include_str!("../../tests/fixtures/merchant_key.pem"))
    /// #     .cert("PUB_KEY_ID_0114232134912410000000000000", include_str!("../../tests/fixtures/platform_pub.pem"));
    /// let builder = builder.private_key("not a key"); // nothing is checked yet…
    /// assert!(builder.build().unwrap_err().is_key()); // …until `build()`
    /// ```
    pub fn private_key(mut self, key: &str) -> Self {
        self.private_key = Some(KeySource::Text(zeroize::Zeroizing::new(key.to_owned())));
        self
    }

    /// The merchant's private key, already loaded.
    ///
    /// ```
    /// # let builder = wechatpay::Client::builder()
    /// #     .mchid("1900000109")
    /// #     .serial("3775B6A45ACD588826D15E583A95F5DD00000001")
    /// #     .private_key(include_str!("../../tests/fixtures/merchant_key.pem"))
    /// #     .cert("PUB_KEY_ID_0114232134912410000000000000", include_str!("../../tests/fixtures/platform_pub.pem"));
    /// let pem = include_str!("../../tests/fixtures/merchant_key_encrypted.pem");
    /// let key = wechatpay::PrivateKey::load_encrypted(pem, "wechatpay")?; // e.g. a key with a passphrase
    /// let client = builder.private_key_loaded(key).build()?;
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn private_key_loaded(mut self, key: PrivateKey) -> Self {
        self.private_key = Some(KeySource::Loaded(key));
        self
    }

    /// A key that verifies WeChat Pay's answers: `id` is a platform certificate serial or a
    /// `PUB_KEY_ID_…`, `key` a public key or X.509 certificate in any form [`crate::keys`] takes.
    /// Repeatable; at least one is required.
    ///
    /// ```
    /// let client = wechatpay::Client::builder()
    ///     .mchid("1900000109")
    ///     .serial("3775B6A45ACD588826D15E583A95F5DD00000001")
    ///     .private_key(include_str!("../../tests/fixtures/merchant_key.pem"))
    ///     // public-key mode: the id WeChat Pay gave the key, and the key
    ///     .cert("PUB_KEY_ID_0114232134912410000000000000", include_str!("../../tests/fixtures/platform_pub.pem"))
    ///     // certificate mode: the certificate's serial, and the certificate
    ///     .cert("5157F09EFDC096DE15EBE81A47057A7232F1B8E1", include_str!("../../tests/fixtures/platform_cert.pem"))
    ///     .build()?;
    /// assert_eq!(client.keyring().len(), 2);
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn cert(mut self, id: &str, key: &str) -> Self {
        self.certs.push((id.to_owned(), CertSource::Text(key.to_owned())));
        self
    }

    /// A verifying key, already loaded.
    ///
    /// ```
    /// # let builder = wechatpay::Client::builder()
    /// #     .mchid("1900000109")
    /// #     .serial("3775B6A45ACD588826D15E583A95F5DD00000001")
    /// #     .private_key(include_str!("../../tests/fixtures/merchant_key.pem"))
    /// #     .cert("PUB_KEY_ID_0114232134912410000000000000", include_str!("../../tests/fixtures/platform_pub.pem"));
    /// let pem = include_str!("../../tests/fixtures/platform_cert.pem");
    /// let cert = wechatpay::PublicKey::load(pem)?;
    /// let serial = cert.certificate_serial().unwrap().to_owned();
    /// let client = builder.cert_loaded(&serial, cert).build()?;
    /// assert!(client.keyring().get(&serial).is_some());
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn cert_loaded(mut self, id: &str, key: PublicKey) -> Self {
        self.certs.push((id.to_owned(), CertSource::Loaded(key)));
        self
    }

    /// Forgets the verifying keys given so far (e.g. to start a sandbox's builder from none).
    ///
    /// ```
    /// # let builder = wechatpay::Client::builder()
    /// #     .mchid("1900000109")
    /// #     .serial("3775B6A45ACD588826D15E583A95F5DD00000001")
    /// #     .private_key(include_str!("../../tests/fixtures/merchant_key.pem"))
    /// #     .cert("PUB_KEY_ID_0114232134912410000000000000", include_str!("../../tests/fixtures/platform_pub.pem"));
    /// let e = builder.clear_certs().build().unwrap_err(); // no key to verify answers with
    /// assert!(e.is_config());
    /// ```
    pub fn clear_certs(mut self) -> Self {
        self.certs.clear();
        self
    }

    /// The merchant's APIv2 key (32 characters; PHP's `secret`), which signs every APIv2 (`v2/…`) request
    /// and answer and opens refund notifications. A client that only calls APIv2 needs only this and its
    /// `mchid`: no `serial`, `private_key` or `cert`. Kept out of every `Debug` output and error.
    ///
    /// ```
    /// let client = wechatpay::Client::builder()
    ///     .mchid("1900000109")
    ///     .apiv2_key("exposed_your_key_here_have_risks")
    ///     .build()?;
    /// let prepared = client.prepare(
    ///     wechatpay::Method::POST,
    ///     "v2/pay/orderquery",
    ///     serde_json::json!({"xml": {"appid": "wxd678efh567hg6787", "mch_id": "1900000109", "out_trade_no": "1217752501201407033233368018"}}),
    /// )?;
    /// assert_eq!(prepared.url().as_str(), "https://api.mch.weixin.qq.com/pay/orderquery");
    /// // An APIv3 call on it says what is missing.
    /// let e = client.prepare(wechatpay::Method::GET, "v3/certificates", ()).unwrap_err();
    /// assert!(e.is_config() && e.to_string().contains("private_key"));
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn apiv2_key(mut self, key: &str) -> Self {
        self.apiv2_key = Some(zeroize::Zeroizing::new(key.to_owned()));
        self
    }

    /// The merchant's API certificate and its key (`apiclient_cert.pem`, `apiclient_key.pem`; PEM text or
    /// `file://` paths; PHP's `merchant`): the TLS client certificate the APIv2 `security` endpoints demand
    /// (refunds, red packets, transfers, profit sharing…). It is presented to the endpoints documented as
    /// needing it without being asked (wechatpay-php needs `security => true` on each call), and to any other
    /// call that sets [`crate::Options::security`]. The two are checked to belong together at build.
    pub fn merchant_certificate(mut self, certificate: &str, key: &str) -> Self {
        self.merchant_certificate = Some(MerchantCertSource::Pem {
            certificate: certificate.to_owned(),
            key: zeroize::Zeroizing::new(key.to_owned()),
            passphrase: None,
        });
        self
    }

    /// [`ClientBuilder::merchant_certificate`] with a key encrypted under `passphrase` (an
    /// `ENCRYPTED PRIVATE KEY`).
    pub fn merchant_certificate_encrypted(mut self, certificate: &str, key: &str, passphrase: &str) -> Self {
        self.merchant_certificate = Some(MerchantCertSource::Pem {
            certificate: certificate.to_owned(),
            key: zeroize::Zeroizing::new(key.to_owned()),
            passphrase: Some(zeroize::Zeroizing::new(passphrase.to_owned())),
        });
        self
    }

    /// The merchant's API certificate as the `apiclient_cert.p12` WeChat Pay hands out (PKCS#12, its bytes),
    /// instead of [`ClientBuilder::merchant_certificate`]. Its passphrase is the mchid unless given.
    pub fn merchant_p12(mut self, p12: impl Into<Vec<u8>>, passphrase: Option<&str>) -> Self {
        self.merchant_certificate = Some(MerchantCertSource::Pkcs12 {
            der: zeroize::Zeroizing::new(p12.into()),
            passphrase: passphrase.map(|p| zeroize::Zeroizing::new(p.to_owned())),
        });
        self
    }

    /// Trusts one more root certificate (PEM) for TLS, beside the system's: a corporate TLS proxy, or the
    /// sandbox's own CA (`wxpay mock serve --tls`). May be called more than once.
    pub fn root_certificate(mut self, pem: &str) -> Self {
        self.root_certificates.push(pem.to_owned());
        self
    }

    /// The merchant's APIv3 key (32 characters), which decrypts downloaded platform certificates and
    /// callbacks. Needed for [`ClientBuilder::refresh_certificates_every`],
    /// [`ClientBuilder::refresh_on_unknown_serial`], [`Client::refresh_certificates`] and
    /// [`Client::open_notification`]; with it, no `cert` is required at build (certificates can be
    /// downloaded). Kept out of every `Debug` output and error.
    ///
    /// ```
    /// let server = wechatpay::mock::MockServer::builder().certificate_mode(true).start()?;
    /// let client = server.client_builder().clear_certs().apiv3_key(server.apiv3_key()).build()?;
    /// client.refresh_certificates()?; // the first download brings the platform certificate
    /// assert!(client.keyring().get(server.platform_certificate_serial()).is_some());
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn apiv3_key(mut self, key: &str) -> Self {
        self.apiv3_key = Some(zeroize::Zeroizing::new(key.to_owned()));
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
    ///
    /// ```
    /// let server = wechatpay::mock::MockServer::start()?;
    /// let client = server
    ///     .client_builder()
    ///     .apiv3_key(server.apiv3_key())
    ///     .refresh_on_unknown_serial(true) // a rotated platform certificate is fetched when first seen
    ///     .build()?;
    /// # let _ = client;
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn refresh_on_unknown_serial(mut self, on: bool) -> Self {
        self.refresh_on_unknown_serial = on;
        self
    }

    /// The shortest time between two certificate downloads of the background refresh; default
    /// [`DEFAULT_REFRESH_MIN_INTERVAL`](crate::certificates::DEFAULT_REFRESH_MIN_INTERVAL).
    ///
    /// ```
    /// use std::time::Duration;
    /// let builder = wechatpay::Client::builder()
    ///     .apiv3_key("0123456789abcdef0123456789abcdef")
    ///     .refresh_on_unknown_serial(true)
    ///     .refresh_min_interval(Duration::from_secs(300)); // however many unknown serials arrive
    /// # let _ = builder;
    /// ```
    pub fn refresh_min_interval(mut self, interval: Duration) -> Self {
        self.refresh_min_interval = interval;
        self
    }

    /// Where requests go; default [`DEFAULT_BASE_URI`]. A base path (e.g. `https://host/hk/`) is kept and
    /// signed as part of every request target.
    ///
    /// ```
    /// # let builder = wechatpay::Client::builder()
    /// #     .mchid("1900000109")
    /// #     .serial("3775B6A45ACD588826D15E583A95F5DD00000001")
    /// #     .private_key(include_str!("../../tests/fixtures/merchant_key.pem"))
    /// #     .cert("PUB_KEY_ID_0114232134912410000000000000", include_str!("../../tests/fixtures/platform_pub.pem"));
    /// let client = builder.base_uri("https://apihk.mch.weixin.qq.com/").build()?; // the Hong Kong endpoint
    /// assert_eq!(client.base_uri(), "https://apihk.mch.weixin.qq.com/");
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn base_uri(mut self, uri: &str) -> Self {
        self.base_uri = uri.to_owned();
        self
    }

    /// Time allowed to connect, for each attempt; default [`DEFAULT_CONNECT_TIMEOUT`]. Zero is refused.
    ///
    /// ```
    /// use std::time::Duration;
    /// let builder = wechatpay::Client::builder().connect_timeout(Duration::from_secs(3));
    /// # let _ = builder;
    /// ```
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Time allowed for a whole call — every attempt, wait and certificate refresh, answer bodies included;
    /// default [`DEFAULT_TIMEOUT`]. Zero is refused.
    ///
    /// ```
    /// use std::time::Duration;
    /// let builder = wechatpay::Client::builder().timeout(Duration::from_secs(15));
    /// # let _ = builder;
    /// ```
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// A header sent with every request (a request's own `headers` option wins).
    ///
    /// ```
    /// # let builder = wechatpay::Client::builder()
    /// #     .mchid("1900000109")
    /// #     .serial("3775B6A45ACD588826D15E583A95F5DD00000001")
    /// #     .private_key(include_str!("../../tests/fixtures/merchant_key.pem"))
    /// #     .cert("PUB_KEY_ID_0114232134912410000000000000", include_str!("../../tests/fixtures/platform_pub.pem"));
    /// let client = builder.header("Accept-Language", "en").build()?;
    /// let prepared = client.prepare(wechatpay::Method::GET, "v3/certificates", ())?;
    /// assert_eq!(prepared.headers()["accept-language"], "en");
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Sends every request through this proxy: an `http://`, `https://`, `socks5://` or `socks5h://`
    /// URL (credentials as `scheme://user:password@host:port`). Anything else is refused at `build()`.
    ///
    /// ```
    /// let builder = wechatpay::Client::builder().proxy("socks5h://127.0.0.1:1080");
    /// # let _ = builder;
    /// ```
    pub fn proxy(mut self, url: &str) -> Self {
        self.proxy = Some(url.to_owned());
        self
    }

    /// Whether to use the proxy the environment names (`HTTPS_PROXY`, `ALL_PROXY`, `NO_PROXY`, …) when no
    /// [`ClientBuilder::proxy`] is set. Off by default: a payment client's traffic goes where its code says.
    ///
    /// ```
    /// let builder = wechatpay::Client::builder().proxy_from_env(true); // honour HTTPS_PROXY and NO_PROXY
    /// # let _ = builder;
    /// ```
    pub fn proxy_from_env(mut self, on: bool) -> Self {
        self.proxy_from_env = on;
        self
    }

    /// How long an idle pooled connection is kept; default [`DEFAULT_POOL_IDLE_TIMEOUT`]; `None` keeps
    /// them until the server closes them.
    ///
    /// ```
    /// use std::time::Duration;
    /// let builder = wechatpay::Client::builder().pool_idle_timeout(Some(Duration::from_secs(30)));
    /// # let _ = builder;
    /// ```
    pub fn pool_idle_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.pool_idle_timeout = timeout;
        self
    }

    /// The most idle connections kept per host (default: no limit; `0` disables pooling).
    ///
    /// ```
    /// let builder = wechatpay::Client::builder().pool_max_idle_per_host(8);
    /// # let _ = builder;
    /// ```
    pub fn pool_max_idle_per_host(mut self, max: usize) -> Self {
        self.pool_max_idle_per_host = max;
        self
    }

    /// The lowest TLS version accepted; default [`TlsVersion::Tls12`].
    ///
    /// ```
    /// use wechatpay::{Client, TlsVersion};
    /// let builder = Client::builder().min_tls_version(TlsVersion::Tls13);
    /// # let _ = builder;
    /// ```
    pub fn min_tls_version(mut self, version: TlsVersion) -> Self {
        self.min_tls = version;
        self
    }

    /// How calls are retried, unless a call sets its own ([`crate::Options::retry`]); default
    /// [`RetryPolicy::default`]: up to 3 attempts of what is safe to send again — a failed connection for
    /// any call, and for `GET`/`PUT`/`DELETE` (or a call marked [`crate::Options::idempotent`]) also timeouts,
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
    ///
    /// ```
    /// use std::sync::Arc;
    /// use wechatpay::observe::{Observed, Observer};
    ///
    /// struct Log;
    /// impl Observer for Log {
    ///     fn on_outcome(&self, call: &Observed<'_>) {
    ///         println!("{} {} {:?} in {:?}", call.method, call.template, call.status, call.elapsed);
    ///     }
    /// }
    /// let builder = wechatpay::Client::builder().observer(Arc::new(Log));
    /// # let _ = builder;
    /// ```
    pub fn observer(mut self, observer: Arc<dyn Observer>) -> Self {
        self.observers.push(observer);
        self
    }

    /// The largest answer body accepted; default [`DEFAULT_MAX_RESPONSE_SIZE`].
    ///
    /// ```
    /// let builder = wechatpay::Client::builder().max_response_size(256 << 20); // large bills
    /// # let _ = builder;
    /// ```
    pub fn max_response_size(mut self, bytes: usize) -> Self {
        self.max_response_size = bytes;
        self
    }

    /// Checks everything and builds the client.
    ///
    /// The connection pool is made on the first request, not here: building one loads the system's root
    /// certificates, which a client that only prepares requests (or whose base URI is `http://`) never
    /// needs. What could make it fail — a bad `root_certificate` or proxy URL — is checked here all the same.
    ///
    /// ```
    /// let e = wechatpay::Client::builder().mchid("1900000109").build().unwrap_err();
    /// assert!(e.is_config());
    /// println!("{e}"); // names what is missing: here, `serial`
    /// ```
    pub fn build(self) -> Result<Client> {
        let mchid = self.mchid.ok_or_else(|| Error::config("`mchid` is required"))?;
        check_id("mchid", &mchid)?;
        let apiv2_key = self.apiv2_key.as_deref().map(|k| ApiV2Key::new(k)).transpose()?;
        // APIv3 needs the merchant serial and key; a client for APIv2 alone needs neither.
        let v3_only_v2 = self.serial.is_none() && self.private_key.is_none() && apiv2_key.is_some();
        let signer = if v3_only_v2 {
            if !self.certs.is_empty() || self.apiv3_key.is_some() {
                return Err(Error::config(
                    "`cert` and `apiv3_key` are APIv3 settings, which also need `serial` and `private_key`",
                ));
            }
            None
        } else {
            let serial = self.serial.ok_or_else(|| {
                Error::config(
                    "`serial` (the merchant certificate serial) is required for APIv3 (for APIv2 alone, set only \
                     `apiv2_key`)",
                )
            })?;
            check_id("serial", &serial)?;
            let key =
                match self.private_key {
                    None => return Err(Error::config(
                        "`private_key` (the merchant private key) is required for APIv3 (for APIv2 alone, set only \
                         `apiv2_key`)",
                    )),
                    Some(KeySource::Loaded(key)) => key,
                    Some(KeySource::Text(text)) => PrivateKey::load(&text)?,
                };
            Some(Signer {
                mchid: mchid.clone(),
                serial,
                key,
            })
        };
        let merchant_identity = match self.merchant_certificate {
            None => None,
            Some(MerchantCertSource::Pem {
                certificate,
                key,
                passphrase,
            }) => {
                let key = match &passphrase {
                    Some(p) => PrivateKey::load_encrypted(&key, p.as_bytes())?,
                    None => PrivateKey::load(&key)?,
                };
                Some(MerchantIdentity::new(&certificate, &key)?)
            }
            Some(MerchantCertSource::Pkcs12 { der, passphrase }) => {
                let passphrase = passphrase.as_deref().map_or(mchid.as_str(), |p| p.as_str());
                let (key, chain) = crate::crypto::pkcs12::open(&der, passphrase)?;
                Some(MerchantIdentity::from_der_chain(&chain, &key)?)
            }
        };
        let apiv3_key = self.apiv3_key.as_deref().map(|k| ApiV3Key::new(k)).transpose()?;
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
        if signer.is_some() && self.certs.is_empty() && self.apiv3_key.is_none() {
            return Err(Error::config(
                "at least one `cert` is required: WeChat Pay's platform certificate or public key (PUB_KEY_ID_…), to verify its answers (or an `apiv3_key`, to download platform certificates)",
            ));
        }
        let mut keys = Vec::with_capacity(self.certs.len());
        for (id, source) in self.certs {
            check_id("cert id", &id)?;
            // Serials are hex: the same serial in another letter case is the same certificate.
            if signer.as_ref().is_some_and(|s| id.eq_ignore_ascii_case(&s.serial)) {
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
        let last_segment = base.path().trim_end_matches('/').rsplit('/').next().unwrap_or_default();
        if last_segment.eq_ignore_ascii_case("v3") || last_segment.eq_ignore_ascii_case("v2") {
            return Err(Error::config(format!(
                "`base_uri` {:?} ends in `/{last_segment}`, but paths start with `{}/…` already, so every request \
                 would go to `/{last_segment}/{}/…`: drop it from `base_uri`",
                self.base_uri,
                last_segment.to_ascii_lowercase(),
                last_segment.to_ascii_lowercase()
            )));
        }
        if base.scheme() == "http" && !is_loopback(&base) {
            return Err(Error::config(format!(
                "`base_uri` {:?} is plain HTTP: only a loopback host (127.0.0.1, ::1, localhost — the sandbox) may \
                 be reached without TLS",
                self.base_uri
            )));
        }
        if self.timeout.is_zero() || self.connect_timeout.is_zero() {
            return Err(Error::config(
                "`timeout` and `connect_timeout` must be longer than zero",
            ));
        }
        if let Some(proxy) = &self.proxy {
            check_proxy(proxy)?;
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
            id: crate::client::transport::next_settings_id(),
            connect_timeout: self.connect_timeout,
            timeout: self.timeout,
            proxy: self.proxy,
            proxy_from_env: self.proxy_from_env,
            pool_idle_timeout: self.pool_idle_timeout,
            pool_max_idle_per_host: self.pool_max_idle_per_host,
            min_tls: self.min_tls,
            max_body: self.max_response_size,
            identity: merchant_identity.map(std::sync::Arc::new),
            roots: self.root_certificates,
            plain_http: origin.starts_with("http://"),
            #[cfg(any(feature = "default-tls", feature = "rustls-ring"))]
            tls: Default::default(),
        })?;

        let configured: BTreeSet<String> = keys.iter().map(|(id, _)| id.clone()).collect();
        let (refresher, wake) = match &apiv3_key {
            Some(key) => {
                let settings = RefreshSettings {
                    apiv3_key: key.clone(),
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
            mchid,
            signer,
            apiv2_key,
            target: Target {
                origin,
                base_path,
                default_headers,
            },
            keyring: SharedKeyring::new(Keyring::new(keys)),
            refresher,
            apiv3_key,
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
