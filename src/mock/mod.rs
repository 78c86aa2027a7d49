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
//! keys and business state across restarts ([`MockBuilder::state_dir`]).
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

mod apiv2;
mod busifavor;
mod callbacks;
mod certificate;
mod clock;
mod control;
mod gateway;
mod kit;
mod media;
mod orders;
mod payments;
mod platform;
mod state;
mod tls;
mod unsimulated;

use std::collections::HashMap;
use std::convert::Infallible;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, Limited, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};

use crate::client::{Client, ClientBuilder};
use crate::crypto::keys::{PrivateKey, PublicKey};
use crate::error::{Error, Result};
use certificate::PlatformCert;
use gateway::{Identity, IdentityParts, Nonces, Signing};
use state::StateDir;

/// The sandbox merchant id.
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
    busifavor::install, // 商家券: v3/marketing/busifavor/…, state in busifavor.json
    media::install,     // the four media uploads
    platform::install,  // v3/certificates
    orders::install,    // payments, refunds and bills of APIv2 and APIv3 on one order book, orders.json
];

/// The largest request body the sandbox reads.
pub const MAX_REQUEST_BODY: usize = 16 << 20;

/// A request as an endpoint handler sees it, after authentication.
///
/// ```
/// use serde_json::json;
/// use wechatpay::mock::{Answer, MockServer};
/// use wechatpay::Method;
///
/// let server = MockServer::start()?;
/// server.route(Method::GET, "v3/users/{openid}", |req| {
///     Answer::json(200, &json!({"openid": req.param("openid"), "lang": req.query("lang")}))
/// });
/// let res = server.client()?["v3/users/{openid}"].get(json!({"openid": "o-1", "query": {"lang": "en"}}))?;
/// assert_eq!(res.json::<serde_json::Value>()?, json!({"openid": "o-1", "lang": "en"}));
/// # Ok::<(), wechatpay::Error>(())
/// ```
#[derive(Debug)]
pub struct MockRequest {
    /// The method.
    pub method: Method,
    /// The raw path, as sent.
    pub path: String,
    /// Placeholder values of the matched route, percent-decoded.
    pub params: Vec<(String, String)>,
    /// Query parameters, percent-decoded, in order.
    pub query: Vec<(String, String)>,
    /// The headers.
    pub headers: HeaderMap,
    /// The raw body.
    pub body: Bytes,
}

impl MockRequest {
    /// A placeholder value of the matched route.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// A query parameter.
    pub fn query(&self, name: &str) -> Option<&str> {
        self.query.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// The body as JSON, or the 400 `PARAM_ERROR` WeChat Pay would answer.
    pub fn json(&self) -> std::result::Result<Value, Answer> {
        serde_json::from_slice(&self.body)
            .map_err(|e| Answer::error(400, "PARAM_ERROR", &format!("请求体不是合法的JSON: {e}")))
    }
}

/// An answer from an endpoint handler; the gateway signs it.
///
/// ```
/// use serde_json::json;
/// use wechatpay::mock::{Answer, MockServer};
/// use wechatpay::Method;
///
/// let server = MockServer::start()?;
/// server.route(Method::POST, "v3/refund/domestic/refunds", |req| match req.json() {
///     Ok(body) if body["out_refund_no"].is_string() => Answer::json(200, &json!({"status": "PROCESSING"})),
///     Ok(_) => Answer::error(400, "PARAM_ERROR", "缺少参数out_refund_no"),
///     Err(refused) => refused,
/// });
/// let e = server.client()?["v3/refund/domestic/refunds"].post(json!({"json": {}})).unwrap_err();
/// assert_eq!((e.status(), e.code()), (Some(400), Some("PARAM_ERROR")));
/// # Ok::<(), wechatpay::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Answer {
    status: u16,
    body: Bytes,
    headers: Vec<(HeaderName, HeaderValue)>,
}

impl Answer {
    /// A JSON answer (`application/json; charset=utf-8`, as WeChat Pay sends it).
    pub fn json(status: u16, body: &Value) -> Self {
        Answer::bytes(status, "application/json; charset=utf-8", body.to_string())
    }

    /// Any body with a content type.
    pub fn bytes(status: u16, content_type: &str, body: impl Into<Bytes>) -> Self {
        let ct = HeaderValue::from_str(content_type).unwrap_or(HeaderValue::from_static("application/octet-stream"));
        Answer {
            status,
            body: body.into(),
            headers: vec![(http::header::CONTENT_TYPE, ct)],
        }
    }

    /// 204 No Content.
    pub fn no_content() -> Self {
        Answer {
            status: 204,
            body: Bytes::new(),
            headers: Vec::new(),
        }
    }

    /// A WeChat Pay error: `{"code", "message"}`.
    pub fn error(status: u16, code: &str, message: &str) -> Self {
        Answer::json(status, &json!({"code": code, "message": message}))
    }

    /// A WeChat Pay error with a `detail` object (e.g. `{"field": "stock_id"}`).
    pub fn error_with_detail(status: u16, code: &str, message: &str, detail: Value) -> Self {
        Answer::json(status, &json!({"code": code, "message": message, "detail": detail}))
    }

    /// Adds a header.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        if let (Ok(n), Ok(v)) = (HeaderName::from_bytes(name.as_bytes()), HeaderValue::from_str(value)) {
            self.headers.push((n, v));
        }
        self
    }

    /// The status.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The body.
    pub fn body(&self) -> &Bytes {
        &self.body
    }
}

/// A fault the sandbox can inject into its answers, for tests.
///
/// ```
/// use std::time::Duration;
/// use wechatpay::mock::{Fault, MockServer};
///
/// let server = MockServer::start()?;
/// let client = server.client_builder().timeout(Duration::from_millis(300)).build()?;
/// server.inject(Fault::Delay(Duration::from_secs(1)), 1); // the next answer comes too late
/// let e = client["v3/marketing/busifavor/stocks/100088"].get(()).unwrap_err();
/// assert!(e.is_timeout());
/// # Ok::<(), wechatpay::Error>(())
/// ```
#[non_exhaustive]
#[derive(Debug, Clone)]
pub enum Fault {
    /// Wait this long before answering.
    Delay(Duration),
    /// Answer with this status and a WeChat-shaped error (`SYSTEM_ERROR`, `FREQUENCY_LIMITED`, …).
    Status(u16),
    /// Close the connection without answering.
    Drop,
    /// Sign the answer wrongly.
    BadSignature,
    /// Sign with a timestamp this many seconds off.
    SkewTimestamp(i64),
    /// Leave out this header (e.g. `Wechatpay-Nonce`).
    MissingHeader(&'static str),
    /// Name a key the client does not know in `Wechatpay-Serial`.
    UnknownSerial,
    /// Change the body after signing it.
    TamperBody,
    /// Sign these bytes instead of the body sent (e.g. a 204 whose signature covers a body).
    SignBody(Bytes),
    /// Send the body in chunks, without `Content-Length`.
    Chunked,
    /// Answer 503 `SYSTEM_ERROR` with `Retry-After` (whole seconds).
    RetryAfter(Duration),
}

/// Which answers a fault applies to.
#[derive(Debug, Clone)]
struct FaultRule {
    fault: Fault,
    path: Option<String>,
    remaining: Option<usize>,
}

/// An endpoint handler.
///
/// ```
/// use std::sync::Arc;
/// use wechatpay::mock::{Answer, Handler};
/// let handler: Handler = Arc::new(|_req| Answer::no_content());
/// # let _ = handler;
/// ```
pub type Handler = Arc<dyn Fn(&MockRequest) -> Answer + Send + Sync>;

#[derive(Default)]
struct Routes {
    table: Vec<(Method, String, Handler)>,
    index: HashMap<Method, matchit::Router<usize>>,
}

impl Routes {
    fn insert(&mut self, method: Method, template: &str, handler: Handler) {
        let template = template.trim_start_matches('/').to_owned();
        if let Some(slot) = self.table.iter_mut().find(|(m, t, _)| *m == method && *t == template) {
            slot.2 = handler;
            return;
        }
        self.table.push((method, template, handler));
        self.index.clear();
        for (i, (m, t, _)) in self.table.iter().enumerate() {
            // Conflicting templates are a programming error in the sandbox's own table; first one wins.
            let _ = self.index.entry(m.clone()).or_default().insert(format!("/{t}"), i);
        }
    }

    fn find(&self, method: &Method, path: &str) -> Option<(Handler, Vec<(String, String)>)> {
        let m = self.index.get(method)?.at(path).ok()?;
        let params = m
            .params
            .iter()
            .map(|(k, v)| (k.to_owned(), percent_decode(v)))
            .collect();
        Some((Arc::clone(&self.table[*m.value].2), params))
    }
}

fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned()
}

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
    orders: OnceLock<Arc<orders::Book>>,
}

/// Random faults: each answer gets one of `faults` with probability `per_mille / 1000`.
struct Chaos {
    faults: Vec<Fault>,
    per_mille: u32,
    state: u64,
}

impl Chaos {
    /// xorshift64*: a seeded sequence, so a run can be repeated.
    fn next(&mut self) -> u64 {
        self.state ^= self.state >> 12;
        self.state ^= self.state << 25;
        self.state ^= self.state >> 27;
        self.state.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn draw(&mut self) -> Option<Fault> {
        if self.faults.is_empty() || (self.next() % 1000) as u32 >= self.per_mille {
            return None;
        }
        let i = (self.next() % self.faults.len() as u64) as usize;
        Some(self.faults[i].clone())
    }
}

/// A request as it arrived, before authentication (see [`MockServer::record`]).
///
/// ```
/// use wechatpay::mock::{Fault, MockServer};
///
/// let server = MockServer::start()?;
/// server.record(true);
/// server.inject(Fault::Status(503), 1);
/// server.client()?["v3/marketing/busifavor/stocks/100088"].get(())?; // retried once
/// let paths: Vec<_> = server.received().into_iter().map(|r| r.path).collect();
/// assert_eq!(paths, ["/v3/marketing/busifavor/stocks/100088"; 2]);
/// # Ok::<(), wechatpay::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Received {
    /// The method.
    pub method: Method,
    /// The path, as sent.
    pub path: String,
    /// The body, as sent.
    pub body: Bytes,
}

impl Shared {
    fn take_fault(&self, path: &str) -> Option<Fault> {
        if let Some(chaos) = self.chaos.lock().unwrap_or_else(|p| p.into_inner()).as_mut() {
            if let Some(fault) = chaos.draw() {
                return Some(fault);
            }
        }
        let mut faults = self.faults.lock().unwrap_or_else(|p| p.into_inner());
        let i = faults
            .iter()
            .position(|r| r.path.as_deref().is_none_or(|p| p == path))?;
        let fault = faults[i].fault.clone();
        if let Some(n) = &mut faults[i].remaining {
            *n -= 1;
            if *n == 0 {
                faults.remove(i);
            }
        }
        Some(fault)
    }
}

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
    /// [`MockBuilder::platform_key`]. The signing platform certificate and its key (`platform_cert.pem`,
    /// `platform_cert_key.pem`) are kept too, rotated ones included.
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
        self.state_dir = Some(dir.into());
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
        let saved: Option<SavedIdentity> = match dir {
            Some(d) => d.read_json("identity.json")?,
            None => None,
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
            mchid: MCHID.to_owned(),
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
                rt.block_on(accept_loop(listener, serving, stopped));
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
fn save_identity(d: &StateDir, identity: &Identity) -> Result<()> {
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
        MockBuilder {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            merchant_key: None,
            platform_key: None,
            state_dir: None,
            certificate_mode: false,
            tls: false,
            auto_pay: None,
            refund_delay: Some(DEFAULT_REFUND_DELAY),
        }
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

    /// The merchant id it accepts.
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
        if let Some(book) = self.shared.orders.get() {
            let mut orders = book.lock();
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

    /// Injects `fault` into the next `times` answers.
    pub fn inject(&self, fault: Fault, times: usize) {
        self.push_fault(FaultRule {
            fault,
            path: None,
            remaining: Some(times.max(1)),
        });
    }

    /// Injects `fault` into every answer to requests for `path` (e.g. `/v3/certificates`), until cleared.
    pub fn inject_path(&self, path: &str, fault: Fault) {
        self.push_fault(FaultRule {
            fault,
            path: Some(path.to_owned()),
            remaining: None,
        });
    }

    /// Removes every injected fault.
    pub fn clear_faults(&self) {
        self.shared.faults.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }

    fn push_fault(&self, rule: FaultRule) {
        self.shared.faults.lock().unwrap_or_else(|p| p.into_inner()).push(rule);
    }

    /// How many requests it has received.
    pub fn requests(&self) -> u64 {
        self.shared.requests.load(Ordering::Relaxed)
    }

    /// From now on, gives each answer one of `faults` with probability `per_mille / 1000`, drawn from a
    /// sequence seeded by `seed` (before the faults [`MockServer::inject`] queued); an empty list stops.
    /// For load tests: every fault WeChat Pay or a network can throw, at random.
    pub fn inject_random(&self, faults: Vec<Fault>, per_mille: u32, seed: u64) {
        let chaos = (!faults.is_empty()).then(|| Chaos {
            faults,
            per_mille: per_mille.min(1000),
            state: seed | 1,
        });
        *self.shared.chaos.lock().unwrap_or_else(|p| p.into_inner()) = chaos;
    }

    /// Starts (or, with `false`, stops) keeping every request as it arrives — method, path and body,
    /// before authentication and before any fault — so a test can count what a client really sent.
    pub fn record(&self, on: bool) {
        *self.shared.received.lock().unwrap_or_else(|p| p.into_inner()) = on.then(Vec::new);
    }

    /// The requests kept since [`MockServer::record`] was turned on, in arrival order.
    pub fn received(&self) -> Vec<Received> {
        self.shared
            .received
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
            .unwrap_or_default()
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

async fn accept_loop(
    listener: std::net::TcpListener,
    shared: Arc<Shared>,
    mut stopped: tokio::sync::oneshot::Receiver<()>,
) {
    let listener = match tokio::net::TcpListener::from_std(listener) {
        Ok(l) => l,
        Err(_) => return,
    };
    loop {
        let (stream, loopback) = tokio::select! {
            _ = &mut stopped => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => (stream, peer.ip().is_loopback()),
                // Out of file descriptors and the like: back off instead of spinning.
                Err(_) => { tokio::time::sleep(Duration::from_millis(10)).await; continue; }
            },
        };
        let shared = Arc::clone(&shared);
        tokio::spawn(async move {
            let Some(tls) = &shared.tls else {
                return connection(TokioIo::new(stream), shared, false, loopback).await;
            };
            // A handshake that fails (a client certificate from another CA) ends the connection.
            let Ok(stream) = tls.acceptor.accept(stream).await else {
                return;
            };
            let identified = stream.get_ref().1.peer_certificates().is_some_and(|c| !c.is_empty());
            connection(TokioIo::new(stream), shared, identified, loopback).await;
        });
    }
}

/// Serves HTTP/1.1 on one connection; `identified` when it presented a client certificate of the CA,
/// `loopback` when it comes from this machine (the only place the control API answers).
async fn connection<S>(io: TokioIo<S>, shared: Arc<Shared>, identified: bool, loopback: bool)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |req: http::Request<Incoming>| {
        let shared = Arc::clone(&shared);
        async move {
            if req.uri().path().starts_with(control::PREFIX) {
                return Ok(control::handle(&shared, &req, loopback));
            }
            serve(shared, req, identified).await
        }
    });
    let _ = hyper::server::conn::http1::Builder::new()
        .serve_connection(io, service)
        .await;
}

type Body = BoxBody<Bytes, Infallible>;

/// Returned to hyper to close the connection without an answer.
#[derive(Debug)]
struct DroppedByFault;
impl fmt::Display for DroppedByFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("connection dropped by an injected fault")
    }
}
impl std::error::Error for DroppedByFault {}

async fn serve(
    shared: Arc<Shared>,
    req: http::Request<Incoming>,
    identified: bool,
) -> std::result::Result<http::Response<Body>, DroppedByFault> {
    let seq = shared.requests.fetch_add(1, Ordering::Relaxed) + 1;
    let (parts, body) = req.into_parts();
    let target = parts
        .uri
        .path_and_query()
        .map(|pq| pq.as_str().to_owned())
        .unwrap_or_else(|| "/".into());
    let path = parts.uri.path().to_owned();
    let fault = shared.take_fault(&path);
    if let Some(Fault::Delay(d)) = &fault {
        tokio::time::sleep(*d).await;
    }
    let collected = Limited::new(body, MAX_REQUEST_BODY)
        .collect()
        .await
        .map(|c| c.to_bytes());
    if let Ok(bytes) = &collected {
        if let Some(log) = shared.received.lock().unwrap_or_else(|p| p.into_inner()).as_mut() {
            log.push(Received {
                method: parts.method.clone(),
                path: path.clone(),
                body: bytes.clone(),
            });
        }
    }
    // The request was read whole (it may have been acted on, for all the client knows); no answer.
    if let Some(Fault::Drop) = &fault {
        return Err(DroppedByFault);
    }

    let answer = match collected {
        Err(_) => Answer::error(400, "PARAM_ERROR", "请求体过大或读取失败"),
        Ok(body) => {
            let now = crate::protocol::formatter::timestamp();
            // WeChat Pay signs an upload over its `meta` JSON only.
            let signed = media::signed_body(&parts.method, &path, &parts.headers, &body);
            // APIv2 requests carry their signature in their fields: their family checks it.
            let authenticated = if apiv2::is_apiv2(&path) {
                // Over HTTPS, WeChat Pay's `security` endpoints demand the merchant's client certificate.
                match shared.tls.is_some() && !identified && apiv2::needs_certificate(&path) {
                    true => Err(apiv2::fail("证书错误：此接口需要商户API证书（apiclient_cert）")),
                    false => Ok(()),
                }
            } else {
                gateway::authenticate(
                    &shared.identity,
                    &shared.nonces,
                    parts.method.as_str(),
                    &target,
                    &parts.headers,
                    signed.as_ref().unwrap_or(&body),
                    now,
                )
            };
            match authenticated {
                Err(refused) => refused,
                Ok(()) => dispatch(
                    &shared,
                    parts.method,
                    path.clone(),
                    parts.uri.query(),
                    parts.headers,
                    body,
                ),
            }
        }
    };
    // APIv2 answers carry their signature in their fields; bill files are served unsigned, as WeChat Pay's.
    let unsigned = apiv2::is_apiv2(&path) || path == "/v3/billdownload/file";
    Ok(respond(&shared, answer, fault, seq, unsigned))
}

fn dispatch(
    shared: &Shared,
    method: Method,
    path: String,
    query: Option<&str>,
    headers: HeaderMap,
    body: Bytes,
) -> Answer {
    let found = shared
        .routes
        .read()
        .unwrap_or_else(|p| p.into_inner())
        .find(&method, &path);
    let query: Vec<(String, String)> = query
        .map(|q| url::form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default();
    let Some((handler, params)) = found else {
        return unsimulated::answer(&method, &path, &query, &body);
    };
    let req = MockRequest {
        method,
        path,
        params,
        query,
        headers,
        body,
    };
    // A panicking handler must not take the gateway down; WeChat would answer 500.
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| handler(&req)))
        .unwrap_or_else(|_| Answer::error(500, "SYSTEM_ERROR", "系统错误"))
}

/// Turns an answer into the HTTP response, with the injected fault; answers are signed in headers unless
/// `unsigned` (APIv2's, which carry their signature in their fields, and bill files).
fn respond(
    shared: &Shared,
    mut answer: Answer,
    fault: Option<Fault>,
    seq: u64,
    unsigned: bool,
) -> http::Response<Body> {
    let identity = &shared.identity;
    let mut signing = Signing {
        timestamp: crate::protocol::formatter::timestamp(),
        serial: identity.signing_serial().to_owned(),
        signed_body: None,
        corrupt: false,
    };
    let mut missing: Option<&'static str> = None;
    let mut tamper = false;
    let mut chunked = false;
    match fault {
        Some(Fault::Status(status)) => {
            let (code, message) = match status {
                400 => ("PARAM_ERROR", "参数错误"),
                401 => ("SIGN_ERROR", "错误的签名，验签失败"),
                403 => ("NO_AUTH", "商户无权限"),
                404 => ("RESOURCE_NOT_EXISTS", "请求的资源不存在"),
                429 => ("FREQUENCY_LIMITED", "频率超限"),
                _ => ("SYSTEM_ERROR", "系统错误"),
            };
            answer = Answer::error(status, code, message);
            if (300..400).contains(&status) {
                answer = answer.header("location", "http://127.0.0.1:9/elsewhere");
            }
        }
        Some(Fault::RetryAfter(after)) => {
            answer = Answer::error(503, "SYSTEM_ERROR", "系统繁忙，请稍后重试")
                .header("retry-after", &after.as_secs().to_string());
        }
        Some(Fault::BadSignature) => signing.corrupt = true,
        Some(Fault::SkewTimestamp(secs)) => signing.timestamp += secs,
        Some(Fault::MissingHeader(name)) => missing = Some(name),
        Some(Fault::UnknownSerial) => signing.serial = "PUB_KEY_ID_0000000000000000000000000000".into(),
        Some(Fault::TamperBody) => tamper = true,
        Some(Fault::SignBody(bytes)) => signing.signed_body = Some(bytes),
        Some(Fault::Chunked) => chunked = true,
        Some(Fault::Delay(_) | Fault::Drop) | None => {}
    }

    let signature_headers = if unsigned {
        Vec::new()
    } else {
        gateway::sign_answer(identity, &signing, &answer.body)
    };
    let mut body = answer.body.clone();
    if tamper {
        let mut changed = body.to_vec();
        changed.push(b' ');
        body = changed.into();
    }
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let boxed: Body = if chunked {
        let chunks: Vec<std::result::Result<Frame<Bytes>, Infallible>> = body
            .chunks(8192)
            .map(|c| Ok(Frame::data(Bytes::copy_from_slice(c))))
            .collect();
        StreamBody::new(futures::stream::iter(chunks)).boxed()
    } else {
        Full::new(body).boxed()
    };
    let mut res = http::Response::new(boxed);
    *res.status_mut() = status;
    let headers = res.headers_mut();
    for (name, value) in answer.headers {
        headers.insert(name, value);
    }
    for (name, value) in signature_headers {
        if missing.is_none_or(|m| !m.eq_ignore_ascii_case(name)) {
            headers.insert(name, value);
        }
    }
    let request_id = format!("08{:010X}{:016X}", std::process::id(), seq);
    headers.insert("request-id", HeaderValue::from_str(&request_id).expect("hex is ASCII"));
    res
}
