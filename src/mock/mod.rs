//! An embedded WeChat Pay gateway for tests, scripts and first runs: a real HTTP server on 127.0.0.1.
//!
//! It checks every request as WeChat Pay does (the `Authorization` format, mchid, merchant serial, the
//! 300 s window, nonce replay, and the RSA signature over the exact target and body; anything else gets
//! 401 `SIGN_ERROR`), signs every answer (errors included) with its platform key — in public-key mode
//! (`PUB_KEY_ID_…`) by default, in platform-certificate mode when asked — and answers unknown paths with a
//! signed 404. It ships the busifavor (商家券) family with WeChat Pay's rules, stock `100088` seeded so the
//! seed pages' payloads run verbatim. It serves `GET v3/certificates` (its platform certificates, sealed
//! with its APIv3 key) and can rotate its platform certificate ([`MockServer::rotate_platform_key`]).
//! Endpoints register through one handler table
//! ([`MockServer::route`]); faults can be injected for tests ([`MockServer::inject`]); a state dir keeps
//! keys and business state across restarts ([`MockBuilder::state_dir`]). It serves one merchant
//! ([`MockBuilder::mchid`]), which answers to the docs' sample merchant ids too ([`SAMPLE_MCHIDS`]), so the
//! docs' samples run against it unchanged.
//!
//! ```
//! use serde_json::json;
//! use wechatpay::mock::{Answer, MockServer};
//!
//! let server = MockServer::start()?;
//! server.route(wechatpay::Method::GET, "v3/hello/{name}", |req| {
//!     Answer::json(200, &json!({"hello": req.param("name")}))
//! });
//! let client = server.client()?;
//! let res = client["v3/hello/{name}"].get(json!({"name": "世界"}))?;
//! assert_eq!(res.json::<serde_json::Value>()?, json!({"hello": "世界"}));
//! # Ok::<(), wechatpay::Error>(())
//! ```

// The server and its parts: configuration, the exchange a handler sees, faults, the HTTP server itself,
// the gateway's authentication and signing, the state dir, TLS, the control API.
mod builder;
mod callbacks;
mod certificate;
mod clock;
mod control;
mod exchange;
mod faults;
mod gateway;
mod kit;
mod merchant;
mod server;
mod state;
mod tls;
mod unsimulated;
// The endpoint families (see FAMILIES), and the order book the payment families share.
mod apiv2;
mod busifavor;
mod media;
mod orders;
mod payments;
mod platform;

pub use builder::MockBuilder;
pub use exchange::{Answer, MockRequest};
pub use faults::{Fault, Received};
pub use merchant::SAMPLE_MCHIDS;
#[doc(hidden)]
pub use tls::test_server_tls;

use std::fmt;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::{Duration, SystemTime};

use http::Method;
use serde_json::{json, Value};

use crate::client::{Client, ClientBuilder};
use crate::crypto::keys::{PrivateKey, PublicKey};
use crate::error::{Error, Result};
use builder::save_identity;
use certificate::PlatformCert;
use faults::{Chaos, FaultRule};
use gateway::{Identity, Nonces};
use server::Routes;
use state::StateDir;

/// The merchant id a sandbox serves unless [`MockBuilder::mchid`] names another; it answers to
/// [`SAMPLE_MCHIDS`] as well.
pub const MCHID: &str = "1900000109";
/// The sandbox merchant certificate serial.
pub const MERCHANT_SERIAL: &str = "3775B6A45ACD588826D15E583A95F5DD00000001";
/// The sandbox platform public key id.
pub const PUBLIC_KEY_ID: &str = "PUB_KEY_ID_0114232134912410000000000000";
/// How long an APIv3 refund stays `PROCESSING` unless [`MockBuilder::refund_delay`] says otherwise.
pub const DEFAULT_REFUND_DELAY: Duration = Duration::from_millis(100);
/// What an endpoint family is installed into: the server to route on, and the state dir to keep its state in
/// (a file of its own there).
pub(crate) struct Room<'a> {
    pub(crate) server: &'a MockServer,
    pub(crate) dir: Option<&'a StateDir>,
}

/// The endpoint families, one line each: a folder under `src/mock/` and its `install`.
const FAMILIES: [fn(&Room<'_>) -> Result<()>; 4] = [
    busifavor::install,       // 商家券: v3/marketing/busifavor/…, state in busifavor.json
    media::install,           // the four media uploads
    platform::install,        // v3/certificates
    payments::install_family, // payments, refunds, bills of APIv2 and APIv3 on one order book, orders.json
];

/// The largest request body the sandbox reads.
pub const MAX_REQUEST_BODY: usize = 16 << 20;

/// An endpoint handler.
///
/// ```
/// use std::sync::Arc;
/// use wechatpay::mock::{Answer, Handler};
/// let handler: Handler = Arc::new(|_req| Answer::no_content());
/// # let _ = handler;
/// ```
pub type Handler = Arc<dyn Fn(&MockRequest) -> Answer + Send + Sync>;

struct Shared {
    identity: Identity,
    /// Delivers callbacks; it points back weakly, as the routes inside `Shared` hold it.
    courier: Arc<callbacks::Courier>,
    nonces: Mutex<Nonces>,
    routes: RwLock<Routes>,
    faults: Mutex<Vec<FaultRule>>,
    /// Faults drawn at random for every answer (see [`MockServer::inject_random`]).
    chaos: Mutex<Option<Chaos>>,
    /// What arrived, when recording (see [`MockServer::record`]).
    received: Mutex<Option<Vec<Received>>>,
    requests: AtomicU64,
    /// HTTPS, when the sandbox serves it ([`MockBuilder::tls`]).
    tls: Option<tls::Tls>,
    /// [`MockBuilder::auto_pay_after`].
    auto_pay: Option<Duration>,
    /// [`MockBuilder::refund_delay`].
    refund_delay: Option<Duration>,
    /// The order book the payment families share, for [`MockServer::pay`] and the control API.
    orders: OnceLock<orders::Payer>,
}

/// A running sandbox. Stops when dropped.
///
/// ```
/// use wechatpay::mock::{Fault, MockServer};
///
/// let server = MockServer::start()?;
/// let client = server.client()?;
/// server.inject(Fault::TamperBody, 1); // the next answer is changed after it was signed
/// let e = client["v3/marketing/busifavor/stocks/100088"].get(()).unwrap_err();
/// assert!(e.is_verification());
/// assert_eq!(client["v3/marketing/busifavor/stocks/100088"].get(())?.status(), 200);
/// # Ok::<(), wechatpay::Error>(())
/// ```
pub struct MockServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    dir: Option<StateDir>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl MockServer {
    /// Configures a sandbox.
    pub fn builder() -> MockBuilder {
        MockBuilder::new()
    }

    /// Starts a sandbox on `127.0.0.1` with a free port.
    pub fn start() -> Result<MockServer> {
        Self::builder().start()
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT/`.
    pub fn base_uri(&self) -> String {
        let scheme = if self.shared.tls.is_some() { "https" } else { "http" };
        format!("{scheme}://{}/", self.addr)
    }

    /// The merchant id it serves ([`MockBuilder::mchid`], [`MCHID`] by default): its clients' and its
    /// certificates'. It answers to [`SAMPLE_MCHIDS`] as well.
    pub fn mchid(&self) -> &str {
        &self.shared.identity.mchid
    }

    /// The merchant certificate serial it accepts.
    pub fn merchant_serial(&self) -> &str {
        &self.shared.identity.merchant_serial
    }

    /// The merchant private key a client must sign with.
    pub fn merchant_key(&self) -> &PrivateKey {
        &self.shared.identity.merchant_key
    }

    /// The id of the platform public key that signs its answers in public-key mode.
    pub fn public_key_id(&self) -> &str {
        &self.shared.identity.public_key_id
    }

    /// The platform key behind [`MockServer::public_key_id`], which signs its answers in public-key mode
    /// (and in certificate mode too, until [`MockServer::rotate_platform_key`]).
    pub fn platform_key(&self) -> &PrivateKey {
        &self.shared.identity.platform_key
    }

    /// The serial of its current platform certificate (named in answers in certificate mode).
    pub fn platform_certificate_serial(&self) -> &str {
        &self.shared.identity.certificate().serial
    }

    /// The key of its current platform certificate, which signs answers in certificate mode.
    pub fn platform_certificate_key(&self) -> &PrivateKey {
        &self.shared.identity.certificate().key
    }

    /// Its current platform certificate, PEM.
    pub fn platform_certificate_pem(&self) -> String {
        self.shared.identity.certificate().pem()
    }

    /// The serials `v3/certificates` serves now, oldest first.
    pub fn served_certificate_serials(&self) -> Vec<String> {
        self.shared
            .identity
            .served_certificates()
            .iter()
            .map(|c| c.serial.clone())
            .collect()
    }

    /// Rotates the platform certificate as WeChat Pay does: makes a new key and certificate, serves both
    /// the old and the new one in `v3/certificates` (the overlap, until
    /// [`MockServer::retire_old_platform_certificates`]), and from now on signs certificate-mode answers
    /// with the new one, so a client must refresh to verify them. Public-key mode (`PUB_KEY_ID_…`) is not
    /// affected. Returns the new serial; a state dir keeps the new certificate and key.
    ///
    /// A certificate issued by [`MockServer::issue_platform_certificate`] and not signing yet is the one
    /// switched to; otherwise a new one is made.
    pub fn rotate_platform_key(&self) -> Result<String> {
        let identity = &self.shared.identity;
        let cert = match identity.switch() {
            Some(cert) => cert,
            None => {
                identity.issue(PlatformCert::generate(PrivateKey::generate(), 3650));
                identity.switch().expect("a certificate was just issued")
            }
        };
        if let Some(d) = &self.dir {
            save_identity(d, identity)?;
        }
        Ok(cert.serial.clone())
    }

    /// The first half of a rotation, as WeChat Pay does it: makes a new key and certificate and serves it in
    /// `v3/certificates` beside the current one, which still signs until
    /// [`MockServer::rotate_platform_key`]. A client that refreshes in between learns the new certificate
    /// from a download signed by one it already trusts. Returns the new serial (kept in a state dir only
    /// once it signs).
    pub fn issue_platform_certificate(&self) -> String {
        let cert = self
            .shared
            .identity
            .issue(PlatformCert::generate(PrivateKey::generate(), 3650));
        cert.serial.clone()
    }

    /// [`MockServer::issue_platform_certificate`] with the validity dates given, e.g. an expired
    /// certificate or one valid only from next week, to test how a client treats them.
    pub fn issue_platform_certificate_valid(&self, not_before: SystemTime, not_after: SystemTime) -> String {
        let key = PrivateKey::generate();
        let (der, serial) = certificate::self_signed_valid(&key, not_before, not_after);
        let cert = self.shared.identity.issue(PlatformCert::from_der(key, der, serial));
        cert.serial.clone()
    }

    /// Ends the overlap of [`MockServer::rotate_platform_key`]: `v3/certificates` serves only the newest
    /// certificate.
    pub fn retire_old_platform_certificates(&self) {
        self.shared.identity.retire_old();
    }

    /// The APIv3 key it encrypts callbacks and certificates with (32 characters).
    pub fn apiv3_key(&self) -> &str {
        &self.shared.identity.apiv3_key
    }

    /// The merchant's APIv2 key, which signs APIv2 requests and answers (32 characters).
    pub fn apiv2_key(&self) -> &str {
        &self.shared.identity.apiv2_key
    }

    /// The merchant's API certificate (`apiclient_cert.pem`) for its key, PEM: the TLS client certificate
    /// the APIv2 `security` endpoints ask for.
    pub fn merchant_certificate_pem(&self) -> &str {
        match &self.shared.tls {
            Some(tls) => &tls.merchant_cert_pem,
            None => &self.shared.identity.merchant_cert_pem,
        }
    }

    /// Plays the user paying an order the sandbox took and has not been paid (统一下单, or a 付款码 payment
    /// waiting for the password): the order becomes `SUCCESS` and its payment notification goes to its
    /// `notify_url`, signed with the APIv2 key. An error names the order and why it cannot be paid.
    ///
    /// ```
    /// use serde_json::json;
    ///
    /// let server = wechatpay::mock::MockServer::start()?;
    /// let client = server.client()?;
    /// let order = json!({"xml": {"appid": "wx8888888888888888", "mch_id": server.mchid(), "body": "QQ公仔",
    ///     "out_trade_no": "1217752501201407033233368018", "total_fee": 1, "spbill_create_ip": "8.8.8.8",
    ///     "notify_url": "http://127.0.0.1:9/notify", "trade_type": "NATIVE"}});
    /// client["v2/pay/unifiedorder"].post(order)?;
    /// server.pay("1217752501201407033233368018")?;
    /// assert!(server.pay("1217752501201407033233368018").unwrap_err().to_string().contains("SUCCESS"));
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn pay(&self, out_trade_no: &str) -> Result<()> {
        control::pay(&self.shared, out_trade_no).map_err(|(_, why)| Error::request(why))
    }

    /// Plays the bank refusing an unpaid order's payment: the order becomes `PAYERROR` (WeChat Pay notifies
    /// no failure). An error names the order and why.
    pub fn fail_payment(&self, out_trade_no: &str) -> Result<()> {
        control::fail_payment(&self.shared, out_trade_no).map_err(|(_, why)| Error::request(why))
    }

    /// Moves the clock of the order book on by `by`, for `time_expire`: an unpaid order whose end time
    /// has passed on this clock is `CLOSED` when next looked at, and cannot be paid. Orders and refunds
    /// placed afterwards carry the moved time. Not kept across a restart.
    ///
    /// ```
    /// use serde_json::json;
    ///
    /// let server = wechatpay::mock::MockServer::start()?;
    /// let client = server.client()?;
    /// let order = json!({"json": {"appid": "wxd678efh567hg6787", "mchid": server.mchid(), "description": "QQ公仔",
    ///     "out_trade_no": "1217752501201407033233368018", "notify_url": "https://example.com/notify",
    ///     "amount": {"total": 1}, "payer": {"openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"},
    ///     "time_expire": "2030-01-01T00:00:00+08:00"}});
    /// client["v3/pay/transactions/jsapi"].post(order)?;
    /// server.advance_clock(std::time::Duration::from_secs(20 * 365 * 86_400));
    /// assert!(server.pay("1217752501201407033233368018").is_err()); // closed at its time_expire
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn advance_clock(&self, by: Duration) {
        if let Some(payer) = self.shared.orders.get() {
            let mut orders = payer.book.lock();
            orders.ahead = orders
                .ahead
                .saturating_add(i64::try_from(by.as_secs()).unwrap_or(i64::MAX));
        }
    }

    /// Ends a `PROCESSING` APIv3 refund as `"SUCCESS"`, `"ABNORMAL"` or `"CLOSED"` and sends its
    /// `REFUND.*` notification (with [`MockBuilder::refund_delay`]`(None)`, refunds wait for this). An error
    /// names the refund and why.
    pub fn settle_refund(&self, out_refund_no: &str, status: &str) -> Result<()> {
        control::settle_refund(&self.shared, out_refund_no, status).map_err(|(_, why)| Error::request(why))
    }

    /// With [`MockBuilder::tls`]: the sandbox's CA certificate (PEM), which issued its server certificate
    /// and the merchant's; trust it with [`ClientBuilder::root_certificate`].
    pub fn ca_certificate_pem(&self) -> Option<&str> {
        self.shared.tls.as_ref().map(|t| t.ca_pem.as_str())
    }

    /// With [`MockBuilder::tls`]: the merchant's `apiclient_cert.p12` (its key and certificate; the
    /// passphrase is the mchid), for [`ClientBuilder::merchant_p12`].
    pub fn merchant_p12(&self) -> Option<&[u8]> {
        self.shared.tls.as_ref().map(|t| t.merchant_p12.as_slice())
    }

    /// The state dir, if it has one.
    pub fn state_dir(&self) -> Option<&Path> {
        self.dir.as_ref().map(StateDir::root)
    }

    /// Everything a client in any language needs, as `wxpay mock serve` prints it: `base_uri`, `mchid`,
    /// `serial`, `private_key` and `public_key` (PEM file paths in the state dir), `public_key_id`,
    /// `apiv3_key`, `apiv2_key`; in certificate mode also `certs` (`{serial: path}`); with
    /// [`MockBuilder::tls`] also `merchant_cert`, `merchant_key`, `merchant_p12` and `ca_cert`. Needs a state
    /// dir for the files.
    pub fn connection_info(&self) -> Result<Value> {
        let dir = self
            .dir
            .as_ref()
            .ok_or_else(|| Error::config("connection info names key files, so the sandbox needs a state dir"))?;
        let path = |name: &str| dir.path(name).display().to_string();
        let mut info = json!({
            "base_uri": self.base_uri(),
            "mchid": self.mchid(),
            "serial": self.merchant_serial(),
            "private_key": path("merchant_key.pem"),
            "public_key_id": self.public_key_id(),
            "public_key": path("platform_public_key.pem"),
            "apiv3_key": self.apiv3_key(),
            "apiv2_key": self.apiv2_key(),
        });
        if self.shared.identity.certificate_mode {
            info["certs"] = json!({ self.platform_certificate_serial(): path("platform_cert.pem") });
        }
        if self.shared.tls.is_some() {
            info["merchant_cert"] = json!(path("merchant_cert.pem"));
            info["merchant_key"] = json!(path("merchant_key.pem"));
            info["merchant_p12"] = json!(path("merchant_cert.p12"));
            info["ca_cert"] = json!(path("ca_cert.pem"));
        }
        Ok(info)
    }

    /// Registers the endpoint families, with their state loaded from (and saved to) the state dir.
    fn install_families(&self) -> Result<()> {
        let room = Room {
            server: self,
            dir: self.dir.as_ref(),
        };
        FAMILIES.iter().try_for_each(|install| install(&room))
    }

    /// A client builder already pointed at this sandbox, with its merchant and platform keys (the
    /// platform certificate in certificate mode).
    pub fn client_builder(&self) -> ClientBuilder {
        let identity = &self.shared.identity;
        let builder = Client::builder()
            .mchid(self.mchid())
            .serial(self.merchant_serial())
            .private_key_loaded(self.merchant_key().clone())
            .apiv2_key(self.apiv2_key())
            .merchant_certificate(self.merchant_certificate_pem(), &self.merchant_key().to_pkcs8_pem())
            .base_uri(&self.base_uri());
        let builder = match self.ca_certificate_pem() {
            Some(ca) => builder.root_certificate(ca),
            None => builder,
        };
        if identity.certificate_mode {
            let current = identity.certificate();
            let cert = PublicKey::from_certificate_der(&current.der).expect("our own certificate loads");
            builder.cert_loaded(&current.serial, cert)
        } else {
            builder.cert_loaded(self.public_key_id(), self.platform_key().public_key())
        }
    }

    /// A client for this sandbox.
    pub fn client(&self) -> Result<Client> {
        self.client_builder().build()
    }

    /// Registers (or replaces) the handler of `method` + `template` (e.g. `"v3/users/{openid}"`).
    pub fn route<F>(&self, method: Method, template: &str, handler: F)
    where
        F: Fn(&MockRequest) -> Answer + Send + Sync + 'static,
    {
        let mut routes = self.shared.routes.write().unwrap_or_else(|p| p.into_inner());
        routes.insert(method, template, Arc::new(handler));
    }
}

impl fmt::Debug for MockServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MockServer")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl Drop for MockServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
