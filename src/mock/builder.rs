//! [`MockBuilder`]: how a sandbox is configured, and the identity (keys, ids, certificates) it starts with,
//! kept in its state dir.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::Duration;

use crate::crypto::keys::PrivateKey;
use crate::error::{Error, Result};

use super::certificate::PlatformCert;
use super::gateway::{Identity, IdentityParts};
use super::state::StateDir;
use super::{
    callbacks, merchant, server, tls, MockServer, Shared, DEFAULT_REFUND_DELAY, MCHID, MERCHANT_SERIAL, PUBLIC_KEY_ID,
};

/// Keys generated once per process, so many sandboxes in one test binary start fast.
fn default_keys() -> &'static (PrivateKey, PrivateKey) {
    static KEYS: OnceLock<(PrivateKey, PrivateKey)> = OnceLock::new();
    KEYS.get_or_init(|| (PrivateKey::generate(), PrivateKey::generate()))
}

/// Configures a [`MockServer`].
///
/// ```
/// use wechatpay::mock::MockServer;
///
/// let server = MockServer::builder().certificate_mode(true).start()?;
/// let client = server.client()?; // already trusts the sandbox's platform certificate
/// # let _ = client;
/// # Ok::<(), wechatpay::Error>(())
/// ```
#[must_use = "a builder does nothing until `start()`"]
#[derive(Debug)]
pub struct MockBuilder {
    addr: SocketAddr,
    mchid: Option<String>,
    merchant_key: Option<PrivateKey>,
    platform_key: Option<PrivateKey>,
    state_dir: Option<PathBuf>,
    certificate_mode: bool,
    tls: bool,
    auto_pay: Option<Duration>,
    refund_delay: Option<Duration>,
}

/// What `identity.json` of a state dir holds.
#[derive(serde::Serialize, serde::Deserialize)]
struct SavedIdentity {
    mchid: String,
    merchant_serial: String,
    public_key_id: String,
    apiv3_key: String,
    /// Absent in state dirs written before the sandbox spoke APIv2: one is made then.
    #[serde(default)]
    apiv2_key: Option<String>,
    platform_cert_serial: String,
}

impl MockBuilder {
    /// The defaults: `127.0.0.1:0`, merchant [`MCHID`], generated keys, no state dir, public-key mode, plain
    /// HTTP, no auto-pay, refunds settled after [`DEFAULT_REFUND_DELAY`].
    pub(crate) fn new() -> Self {
        MockBuilder {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            mchid: None,
            merchant_key: None,
            platform_key: None,
            state_dir: None,
            certificate_mode: false,
            tls: false,
            auto_pay: None,
            refund_delay: Some(DEFAULT_REFUND_DELAY),
        }
    }

    /// The address to listen on; default `127.0.0.1:0` (any free port).
    ///
    /// ```
    /// let server = wechatpay::mock::MockServer::builder().addr(([127, 0, 0, 1], 0).into()).start()?;
    /// assert_eq!(server.base_uri(), format!("http://127.0.0.1:{}/", server.addr().port()));
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn addr(mut self, addr: SocketAddr) -> Self {
        self.addr = addr;
        self
    }

    /// The merchant the sandbox serves, so a test runs as the merchant it is written for: the `mchid` an
    /// `Authorization` header names, the one answers, notifications and bills echo, the subject and
    /// passphrase of its certificate ([`MockBuilder::tls`]), the owner of the seeded stock, the `mchid` of
    /// [`MockServer::connection_info`]. It answers to [`SAMPLE_MCHIDS`](super::SAMPLE_MCHIDS) too, as every
    /// sandbox does; any other id is refused as WeChat Pay refuses a stranger: 401 `SIGN_ERROR` in the
    /// `Authorization` header, 400 `PARAM_ERROR` in a body or query field (APIv2: `mch_id参数格式错误`).
    /// Default: the one a state dir recorded, else [`MCHID`]. Letters, digits, `_` and `-` only, as a client
    /// takes it ([`MockBuilder::start`] refuses anything else).
    ///
    /// ```
    /// use serde_json::json;
    /// use wechatpay::mock::MockServer;
    ///
    /// let server = MockServer::builder().mchid("1888888888").start()?;
    /// assert_eq!(server.mchid(), "1888888888");
    /// let client = server.client()?; // signs as 1888888888
    /// let order = json!({"json": {"appid": "wxd678efh567hg6787", "mchid": server.mchid(), "description": "QQ公仔",
    ///     "out_trade_no": "1217752501201407033233368018", "notify_url": "https://example.com/notify",
    ///     "amount": {"total": 1}, "payer": {"openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"}}});
    /// client["v3/pay/transactions/jsapi"].post(order)?;
    /// let e = server.client_builder().mchid("1999999999").build()?["v3/certificates"].get(()).unwrap_err();
    /// assert_eq!(e.code(), Some("SIGN_ERROR"));
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn mchid(mut self, mchid: impl Into<String>) -> Self {
        self.mchid = Some(mchid.into());
        self
    }

    /// The merchant key the sandbox accepts (its public half verifies requests). Default: generated.
    ///
    /// ```
    /// use wechatpay::{mock::MockServer, PrivateKey};
    /// let key = PrivateKey::load(include_str!("../../tests/fixtures/merchant_key.pem"))?; // your test key
    /// let server = MockServer::builder().merchant_key(key.clone()).start()?;
    /// assert_eq!(server.merchant_key().to_pkcs8_pem(), key.to_pkcs8_pem());
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn merchant_key(mut self, key: PrivateKey) -> Self {
        self.merchant_key = Some(key);
        self
    }

    /// The platform key the sandbox signs answers with. Default: generated.
    ///
    /// ```
    /// use wechatpay::{mock::MockServer, PrivateKey};
    /// let key = PrivateKey::load(include_str!("../../tests/fixtures/platform_key.pem"))?;
    /// let server = MockServer::builder().platform_key(key).start()?;
    /// // A client configured with the matching public key, as in production, verifies its answers.
    /// let client = server
    ///     .client_builder()
    ///     .clear_certs()
    ///     .cert(server.public_key_id(), include_str!("../../tests/fixtures/platform_pub.pem"))
    ///     .build()?;
    /// assert_eq!(client["v3/marketing/busifavor/stocks/100088"].get(())?.status(), 200);
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn platform_key(mut self, key: PrivateKey) -> Self {
        self.platform_key = Some(key);
        self
    }

    /// Keeps keys, ids and business state in `dir` (created if needed), so a restarted sandbox keeps its
    /// stocks, coupons and keys. Keys already in `dir` win over [`MockBuilder::merchant_key`] and
    /// [`MockBuilder::platform_key`]; the merchant id it recorded is served unless [`MockBuilder::mchid`] names
    /// another. The signing platform certificate and its key (`platform_cert.pem`, `platform_cert_key.pem`) are
    /// kept too, rotated ones included.
    ///
    /// ```
    /// use wechatpay::mock::MockServer;
    /// let dir = std::env::temp_dir().join(format!("wechatpay-sandbox-doc-{}", std::process::id()));
    /// let apiv3_key = MockServer::builder().state_dir(&dir).start()?.apiv3_key().to_owned();
    /// let restarted = MockServer::builder().state_dir(&dir).start()?;
    /// assert_eq!(restarted.apiv3_key(), apiv3_key); // the same keys, stocks and coupons
    /// # drop(restarted);
    /// # std::fs::remove_dir_all(&dir).ok();
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn state_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        // Absolute, so the paths `connection_info` names read the same from any directory.
        let dir = dir.into();
        self.state_dir = Some(std::path::absolute(&dir).unwrap_or(dir));
        self
    }

    /// Signs answers in platform-certificate mode (`Wechatpay-Serial` is the certificate serial) instead
    /// of public-key mode (`PUB_KEY_ID_…`).
    ///
    /// ```
    /// let server = wechatpay::mock::MockServer::builder().certificate_mode(true).start()?;
    /// let res = server.client()?["v3/marketing/busifavor/stocks/100088"].get(())?;
    /// assert_eq!(res.header("wechatpay-serial"), Some(server.platform_certificate_serial()));
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn certificate_mode(mut self, on: bool) -> Self {
        self.certificate_mode = on;
        self
    }

    /// Serves HTTPS with the sandbox's own CA ([`MockServer::ca_certificate_pem`]), which also issues the
    /// merchant's API certificate ([`MockServer::merchant_certificate_pem`], [`MockServer::merchant_p12`]):
    /// the APIv2 `security` endpoints then refuse a request without that client certificate, and a client
    /// certificate from another CA fails the handshake. Its client trusts the CA and presents the
    /// certificate.
    ///
    /// ```
    /// use serde_json::json;
    ///
    /// let server = wechatpay::mock::MockServer::builder().tls(true).start()?;
    /// assert!(server.base_uri().starts_with("https://"));
    /// let client = server.client()?; // trusts the sandbox CA, presents the merchant certificate
    /// let query = json!({"xml": {"appid": "wx8888888888888888", "mch_id": server.mchid(), "out_trade_no": "1"}});
    /// let e = client["v2/pay/orderquery"].post(query).unwrap_err();
    /// assert_eq!(e.code(), Some("ORDERNOTEXIST"));
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn tls(mut self, on: bool) -> Self {
        self.tls = on;
        self
    }

    /// Plays the user at the phone: every order placed (统一下单) is paid `delay` after it was placed, and
    /// its payment notification sent, unless it was closed or paid meanwhile — so a JSAPI flow completes
    /// with no one there. Default: never (pay with [`MockServer::pay`] or the control API).
    pub fn auto_pay_after(mut self, delay: Duration) -> Self {
        self.auto_pay = Some(delay);
        self
    }

    /// How long an APIv3 refund stays `PROCESSING` before it succeeds (and `REFUND.SUCCESS` is sent);
    /// `None` keeps every refund `PROCESSING` until [`MockServer::settle_refund`] ends it. Default: 100 ms.
    pub fn refund_delay(mut self, delay: Option<Duration>) -> Self {
        self.refund_delay = delay;
        self
    }

    fn identity(&self, dir: Option<&StateDir>) -> Result<Identity> {
        let saved: Option<SavedIdentity> = match dir {
            Some(d) => d.read_json("identity.json")?,
            None => None,
        };
        // Given wins; else the one the state dir recorded (a restart is the same merchant); else the default.
        let mchid = match (&self.mchid, &saved) {
            (Some(mchid), _) => mchid.clone(),
            (None, Some(saved)) => saved.mchid.clone(),
            (None, None) => MCHID.to_owned(),
        };
        merchant::check(&mchid)?; // before anything is written
        let pick =
            |explicit: &Option<PrivateKey>, default: fn() -> PrivateKey| explicit.clone().unwrap_or_else(default);
        let fallback_merchant = || default_keys().0.clone();
        let fallback_platform = || default_keys().1.clone();
        let (merchant_key, platform_key) = match dir {
            Some(d) => (
                d.key("merchant_key.pem", || pick(&self.merchant_key, PrivateKey::generate))?,
                d.key("platform_key.pem", || pick(&self.platform_key, PrivateKey::generate))?,
            ),
            None => (
                self.merchant_key.clone().unwrap_or_else(fallback_merchant),
                self.platform_key.clone().unwrap_or_else(fallback_platform),
            ),
        };
        let cert_pem = dir.map(|d| d.path("platform_cert.pem")).filter(|p| p.exists());
        let platform_cert = match (&saved, cert_pem, dir) {
            (Some(saved), Some(path), Some(d)) => {
                let pem = std::fs::read_to_string(&path)
                    .map_err(|e| Error::config(format!("cannot read `{}`", path.display())).with_source(e))?;
                let (_, der) = pem_rfc7468::decode_vec(pem.as_bytes())
                    .map_err(|_| Error::config(format!("`{}` is not a PEM certificate", path.display())))?;
                // A rotated certificate has a key of its own; the first one shares the public key's.
                let key = d.key(ROTATED_CERT_KEY, || platform_key.clone())?;
                PlatformCert::from_der(key, der, saved.platform_cert_serial.clone())
            }
            _ => PlatformCert::generate(platform_key.clone(), 3650),
        };
        let identity = Identity::new(IdentityParts {
            mchid,
            merchant_serial: MERCHANT_SERIAL.to_owned(),
            merchant_key,
            platform_key,
            public_key_id: PUBLIC_KEY_ID.to_owned(),
            certificate: platform_cert,
            certificate_mode: self.certificate_mode,
            apiv2_key: saved
                .as_ref()
                .and_then(|s| s.apiv2_key.clone())
                .unwrap_or_else(|| crate::protocol::formatter::nonce_of_len(32)),
            apiv3_key: saved
                .map(|s| s.apiv3_key)
                .unwrap_or_else(|| crate::protocol::formatter::nonce_of_len(32)),
        });
        if let Some(d) = dir {
            save_identity(d, &identity)?;
            d.write(
                "platform_public_key.pem",
                identity.platform_key.public_key().to_spki_pem().as_bytes(),
                false,
            )?;
        }
        Ok(identity)
    }

    /// Binds the address and starts serving on a thread of its own.
    ///
    /// ```
    /// let server = wechatpay::mock::MockServer::builder().start()?; // stops when dropped
    /// println!("WeChat Pay sandbox at {}", server.base_uri());
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn start(self) -> Result<MockServer> {
        let dir = self.state_dir.as_deref().map(StateDir::open).transpose()?;
        let identity = self.identity(dir.as_ref())?;
        let tls = if self.tls {
            Some(tls::Tls::new(&identity.mchid, &identity.merchant_key)?)
        } else {
            None
        };
        if let (Some(d), Some(tls)) = (&dir, &tls) {
            d.write("ca_cert.pem", tls.ca_pem.as_bytes(), false)?;
            d.write("merchant_cert.pem", tls.merchant_cert_pem.as_bytes(), false)?;
            d.write("merchant_cert.p12", &tls.merchant_p12, true)?;
        }
        let shared = Arc::new_cyclic(|weak| Shared {
            identity,
            courier: Arc::new(callbacks::Courier::new(weak.clone())),
            nonces: Mutex::default(),
            routes: RwLock::default(),
            faults: Mutex::default(),
            chaos: Mutex::default(),
            received: Mutex::default(),
            requests: AtomicU64::new(0),
            tls,
            auto_pay: self.auto_pay,
            refund_delay: self.refund_delay,
            orders: OnceLock::new(),
        });
        let listener = std::net::TcpListener::bind(self.addr)
            .map_err(|e| Error::transport(format!("the sandbox could not listen on {}", self.addr)).with_source(e))?;
        listener
            .set_nonblocking(true)
            .map_err(|e| Error::transport("the sandbox socket could not be set up").with_source(e))?;
        let addr = listener
            .local_addr()
            .map_err(|e| Error::transport("the sandbox socket has no address").with_source(e))?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let serving = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("wechatpay-mock".into())
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .thread_name("wechatpay-mock")
                    .enable_all()
                    .build()
                    .expect("the sandbox runtime could not start");
                rt.block_on(server::accept_loop(listener, serving, stopped));
            })
            .map_err(|e| Error::transport("the sandbox thread could not start").with_source(e))?;
        let server = MockServer {
            addr,
            shared,
            dir,
            stop: Some(stop),
            thread: Some(thread),
        };
        server.install_families()?;
        Ok(server)
    }
}

/// The state-dir file of the key of the signing platform certificate.
const ROTATED_CERT_KEY: &str = "platform_cert_key.pem";

/// Writes `identity.json`, the signing certificate and its key to the state dir.
pub(crate) fn save_identity(d: &StateDir, identity: &Identity) -> Result<()> {
    let cert = identity.certificate();
    d.write(ROTATED_CERT_KEY, cert.key.to_pkcs8_pem().as_bytes(), true)?;
    d.write("platform_cert.pem", cert.pem().as_bytes(), false)?;
    d.write_json(
        "identity.json",
        &SavedIdentity {
            mchid: identity.mchid.clone(),
            merchant_serial: identity.merchant_serial.clone(),
            public_key_id: identity.public_key_id.clone(),
            apiv3_key: identity.apiv3_key.clone(),
            apiv2_key: Some(identity.apiv2_key.clone()),
            platform_cert_serial: cert.serial.clone(),
        },
        true,
    )
}
