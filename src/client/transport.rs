//! The HTTP transport: reqwest on one background tokio runtime for the async calls, whatever runs them
//! (tokio of either flavour, `futures::executor::block_on`, …), so the futures we hand out are
//! executor-agnostic; and, for a blocking call outside any runtime, reqwest driven by the waiting thread
//! itself ([`block_here`]) on its own current-thread runtime and its own pool. Every byte of HTTP and TLS
//! is framed and parsed by reqwest, hyper and rustls; this module only chooses where they run, bounds each
//! attempt by its timeout and its answer by the size cap. Signing and verification stay on the caller's
//! side.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http::{HeaderMap, StatusCode};

use crate::client::merchant_tls::MerchantIdentity;
use crate::error::{Error, Result};
use crate::protocol::multipart::{Multipart, Reader, Source, CHUNK, IN_FLIGHT};
use crate::protocol::request::Prepared;

/// An answer as read off the wire, not yet verified.
pub(crate) struct Raw {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
}

#[derive(Clone)]
pub(crate) struct Transport {
    settings: Arc<Settings>,
    /// The connection pools, and the process they belong to: a forked child builds its own.
    http: Arc<Mutex<Pools>>,
    max_body: usize,
    /// The time a whole call may take unless the request sets its own.
    pub(crate) timeout: Duration,
}

thread_local! {
    /// A blocking call's own runtime: the thread that waits does the I/O itself, so a call costs no
    /// hand-off to the I/O runtime and back (two thread wake-ups). Made on first use per thread, and anew
    /// in a forked child; taken out while it runs a call (only `Runtime::block_on` drives its I/O).
    static RUNTIME: RefCell<Option<(u32, tokio::runtime::Runtime)>> = const { RefCell::new(None) };
    /// The connection pools of this thread's runtime: one per transport (by its settings' address) and
    /// client certificate use.
    static POOLS: RefCell<ThreadPools> = RefCell::new(HashMap::new());
    /// Whether this thread is inside [`block_here`] (and not in a `wait` nested in it).
    static DRIVING: Cell<bool> = const { Cell::new(false) };
}

/// Runs `fut` to completion on this thread's own current-thread runtime: the I/O of the calls it makes runs
/// here, on the waiting thread. Gives `fut` back when this thread cannot (it is already driving one).
pub(crate) fn block_here<F: std::future::Future>(fut: F) -> std::result::Result<F::Output, F> {
    if DRIVING.with(Cell::get) {
        return Err(fut);
    }
    let pid = std::process::id();
    let runtime = RUNTIME.with(|slot| match slot.borrow_mut().take() {
        Some((owner, runtime)) if owner == pid => Some(runtime),
        Some(inherited) => {
            // A forked child: the parent's runtime and connections are not ours to use or drop.
            std::mem::forget(inherited);
            POOLS.with(|pools| std::mem::forget(std::mem::take(&mut *pools.borrow_mut())));
            None
        }
        None => None,
    });
    let runtime = match runtime {
        Some(runtime) => runtime,
        None => match tokio::runtime::Builder::new_current_thread().enable_all().build() {
            Ok(runtime) => runtime,
            Err(_) => return Err(fut),
        },
    };
    /// Puts the runtime back and ends the driving, even if the call panics.
    struct Driving(Option<tokio::runtime::Runtime>, u32);
    impl Drop for Driving {
        fn drop(&mut self) {
            DRIVING.with(|d| d.set(false));
            if let Some(runtime) = self.0.take() {
                RUNTIME.with(|slot| *slot.borrow_mut() = Some((self.1, runtime)));
            }
        }
    }
    DRIVING.with(|d| d.set(true));
    let driving = Driving(Some(runtime), pid);
    let out = driving.0.as_ref().map(|runtime| runtime.block_on(fut));
    drop(driving);
    Ok(out.expect("the runtime was there"))
}

/// Runs `f` as not driving: a `wait` nested in a blocking call goes through the I/O runtime.
pub(crate) fn not_driving<T>(f: impl FnOnce() -> T) -> T {
    let was = DRIVING.with(|d| d.replace(false));
    let out = f();
    DRIVING.with(|d| d.set(was));
    out
}

/// Resolves after `duration`, on any executor: the timer runs on the I/O runtime, and is cancelled when
/// this future is dropped.
pub(crate) async fn sleep(duration: Duration) {
    if DRIVING.with(Cell::get) {
        return tokio::time::sleep(duration).await;
    }
    // The timer is made inside the runtime: a tokio timer needs its reactor.
    let timer = crate::client::runtime::current().spawn(async move { tokio::time::sleep(duration).await });
    let _abort = AbortOnDrop(timer.abort_handle());
    let _ = timer.await;
}

/// A blocking thread's pools: by client id and certificate use, each with the settings it was made from.
type ThreadPools = HashMap<(u64, bool), (Weak<Settings>, reqwest::Client)>;

/// Numbers the clients built, for [`Settings::id`].
pub(crate) fn next_settings_id() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// The lowest TLS version the transport accepts ([`crate::ClientBuilder::min_tls_version`]).
///
/// ```
/// let builder = wechatpay::Client::builder().min_tls_version(wechatpay::TlsVersion::Tls13);
/// # let _ = builder;
/// ```
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsVersion {
    /// TLS 1.2 (the default: what WeChat Pay's gateways speak at least).
    Tls12,
    /// TLS 1.3.
    Tls13,
}

pub(crate) struct Settings {
    /// Unique per client built: keys a blocking thread's own pool for it.
    pub(crate) id: u64,
    pub(crate) connect_timeout: Duration,
    pub(crate) timeout: Duration,
    pub(crate) proxy: Option<String>,
    pub(crate) proxy_from_env: bool,
    pub(crate) pool_idle_timeout: Option<Duration>,
    pub(crate) pool_max_idle_per_host: usize,
    #[cfg_attr(not(any(feature = "default-tls", feature = "rustls-ring")), allow(dead_code))]
    pub(crate) min_tls: TlsVersion,
    pub(crate) max_body: usize,
    /// The merchant's TLS client certificate, for the APIv2 calls that present it.
    pub(crate) identity: Option<Arc<MerchantIdentity>>,
    /// Root certificates (PEM) trusted beside the system's.
    pub(crate) roots: Vec<String>,
    /// Whether the base URI is `http://` (the sandbox, a test server): then, unless a proxy may be used,
    /// no TLS connection can ever be made, and the system's root certificates are not loaded.
    #[cfg_attr(not(any(feature = "default-tls", feature = "rustls-ring")), allow(dead_code))]
    pub(crate) plain_http: bool,
    /// The TLS configurations without and with the client certificate ([`Settings::tls`]).
    #[cfg(any(feature = "default-tls", feature = "rustls-ring"))]
    pub(crate) tls: [std::sync::OnceLock<Arc<rustls::ClientConfig>>; 2],
}

/// The pools of one process: one without a client certificate, and one presenting it (kept apart so a
/// certificate only goes where it is asked for). Each is made on first use: building one loads the
/// system's root certificates, which a client that only prepares requests (a `--dry-run`), or sends all
/// its blocking calls from their own thread, never needs.
struct Pools {
    pid: u32,
    plain: Option<reqwest::Client>,
    identified: Option<reqwest::Client>,
}

impl Pools {
    fn new() -> Self {
        Pools {
            pid: std::process::id(),
            plain: None,
            identified: None,
        }
    }
}

/// A reqwest client builder, with a rustls provider in place when the `rustls-ring` feature brings one
/// ([`install_ring_default`]).
pub(crate) fn http_builder() -> reqwest::ClientBuilder {
    install_ring_default();
    reqwest::Client::builder()
}

/// With `rustls-ring` alone, makes ring the process's default rustls provider unless the application
/// installed another first: reqwest's `rustls-no-provider` takes the default, in our pools and in any
/// other reqwest client of the process. Done when a client is built, whether or not it ever uses reqwest.
fn install_ring_default() {
    #[cfg(all(feature = "rustls-ring", not(feature = "default-tls")))]
    {
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
}

/// The rustls provider: the process's default when the application installed one, else the TLS feature's.
#[cfg(any(feature = "default-tls", feature = "rustls-ring"))]
fn tls_provider() -> Arc<rustls::crypto::CryptoProvider> {
    if let Some(provider) = rustls::crypto::CryptoProvider::get_default() {
        return provider.clone();
    }
    #[cfg(feature = "default-tls")]
    return Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    #[cfg(all(feature = "rustls-ring", not(feature = "default-tls")))]
    return Arc::new(rustls::crypto::ring::default_provider());
}

impl Settings {
    /// The root certificates given, parsed; an error names what is wrong.
    fn roots(&self) -> Result<Vec<Root>> {
        let mut all = Vec::new();
        for pem in &self.roots {
            #[cfg(any(feature = "default-tls", feature = "rustls-ring"))]
            let roots = {
                use rustls::pki_types::pem::PemObject;
                rustls::pki_types::CertificateDer::pem_slice_iter(pem.as_bytes())
                    .collect::<std::result::Result<Vec<_>, _>>()
                    .map_err(|e| Error::config("a `root_certificate` is not PEM certificate text").with_source(e))?
            };
            #[cfg(not(any(feature = "default-tls", feature = "rustls-ring")))]
            let roots: Vec<Root> = pem
                .contains("-----BEGIN CERTIFICATE-----")
                .then_some(())
                .into_iter()
                .collect();
            if roots.is_empty() {
                return Err(Error::config("a `root_certificate` holds no PEM `CERTIFICATE`"));
            }
            all.extend(roots);
        }
        Ok(all)
    }

    /// The proxy named, if any; an error never quotes it (a proxy URL may carry credentials).
    fn proxy(&self) -> Result<Option<reqwest::Proxy>> {
        self.proxy
            .as_deref()
            .map(|proxy| {
                reqwest::Proxy::all(proxy)
                    .map_err(|e| Error::config("the proxy is not a valid URL").with_source(e.without_url()))
            })
            .transpose()
    }

    /// Whether every request goes straight to the server: no proxy named, none taken from the environment.
    pub(crate) fn direct(&self) -> bool {
        self.proxy.is_none() && !self.proxy_from_env
    }

    /// Checks what building a pool would check, without building one (which is deferred to first use).
    fn check(&self) -> Result<()> {
        self.roots()?;
        self.proxy()?;
        #[cfg(any(feature = "default-tls", feature = "rustls-ring"))]
        if let Some(identity) = &self.identity {
            identity.rustls()?;
        }
        Ok(())
    }

    /// The one TLS configuration of these settings, with or without the merchant's client certificate:
    /// every pool (the I/O runtime's and each blocking thread's) uses it, so every call trusts the same
    /// roots and speaks the same versions. Made on first use (it may load the system's root
    /// certificates), then shared.
    #[cfg(any(feature = "default-tls", feature = "rustls-ring"))]
    pub(crate) fn tls(&self, identified: bool) -> Result<Arc<rustls::ClientConfig>> {
        let slot = &self.tls[usize::from(identified)];
        if let Some(config) = slot.get() {
            return Ok(config.clone());
        }
        let config = Arc::new(self.build_tls(identified)?);
        Ok(slot.get_or_init(|| config).clone())
    }

    #[cfg(any(feature = "default-tls", feature = "rustls-ring"))]
    fn build_tls(&self, identified: bool) -> Result<rustls::ClientConfig> {
        let provider = tls_provider();
        let versions: &[&rustls::SupportedProtocolVersion] = match self.min_tls {
            TlsVersion::Tls12 => &[&rustls::version::TLS13, &rustls::version::TLS12],
            TlsVersion::Tls13 => &[&rustls::version::TLS13],
        };
        let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(versions)
            .map_err(|e| {
                Error::config("the TLS provider does not support the TLS versions asked for").with_source(e)
            })?;
        let roots = self.roots()?;
        let builder = if self.plain_http && self.direct() {
            // Every request goes to the `http://` base, so no TLS connection is ever made: trusting only
            // the roots given (none, usually) fails closed should one be, and saves loading the system's.
            let mut store = rustls::RootCertStore::empty();
            for root in roots {
                store
                    .add(root)
                    .map_err(|e| Error::config("a `root_certificate` is not a usable CA certificate").with_source(e))?;
            }
            builder.with_root_certificates(store)
        } else {
            // The platform's verifier, as reqwest uses by default, with the roots given beside the system's.
            let unloadable =
                |e: rustls::Error| Error::config("the system's root certificates could not be loaded").with_source(e);
            let verifier = if roots.is_empty() {
                rustls_platform_verifier::Verifier::new(provider).map_err(unloadable)?
            } else {
                #[cfg(any(all(unix, not(target_os = "android")), target_os = "windows"))]
                {
                    rustls_platform_verifier::Verifier::new_with_extra_roots(roots, provider).map_err(unloadable)?
                }
                #[cfg(not(any(all(unix, not(target_os = "android")), target_os = "windows")))]
                return Err(Error::config(
                    "extra `root_certificate`s are not supported on this platform",
                ));
            };
            builder.dangerous().with_custom_certificate_verifier(Arc::new(verifier))
        };
        let mut config = if identified {
            let (chain, key) = self.identity()?.rustls()?;
            builder.with_client_auth_cert(chain, key).map_err(|e| {
                Error::config("the merchant certificate cannot be used as a TLS client identity").with_source(e)
            })?
        } else {
            builder.with_no_client_auth()
        };
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(config)
    }

    /// The merchant's client certificate, which a call presenting it needs.
    fn identity(&self) -> Result<&MerchantIdentity> {
        self.identity.as_deref().ok_or_else(|| {
            Error::config(
                "this call presents the merchant's TLS client certificate, and the client has none: set \
                 `ClientBuilder::merchant_certificate` or `ClientBuilder::merchant_p12`",
            )
        })
    }

    /// The HTTP client these settings describe; a configuration error names what is wrong.
    fn client(&self, identified: bool) -> Result<reqwest::Client> {
        let mut builder = http_builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(self.connect_timeout)
            .timeout(self.timeout)
            .pool_idle_timeout(self.pool_idle_timeout)
            .pool_max_idle_per_host(self.pool_max_idle_per_host);
        #[cfg(any(feature = "default-tls", feature = "rustls-ring"))]
        {
            builder = builder.tls_backend_preconfigured((*self.tls(identified)?).clone());
        }
        #[cfg(not(any(feature = "default-tls", feature = "rustls-ring")))]
        if identified {
            self.identity()?;
            return Err(Error::config(
                "presenting the merchant's TLS client certificate needs a TLS backend: build with `default-tls` or \
                 `rustls-ring`",
            ));
        }
        // Only the proxy the builder names is used, unless it asked for the environment's.
        if !self.proxy_from_env {
            builder = builder.no_proxy();
        }
        if let Some(proxy) = self.proxy()? {
            builder = builder.proxy(proxy);
        }
        builder
            .build()
            .map_err(|e| Error::config("the HTTP client could not be built").with_source(e))
    }
}

/// A parsed root certificate.
#[cfg(any(feature = "default-tls", feature = "rustls-ring"))]
type Root = rustls::pki_types::CertificateDer<'static>;
#[cfg(not(any(feature = "default-tls", feature = "rustls-ring")))]
type Root = ();

impl Transport {
    pub(crate) fn new(settings: Settings) -> Result<Self> {
        settings.check()?;
        install_ring_default();
        Ok(Transport {
            max_body: settings.max_body,
            timeout: settings.timeout,
            http: Arc::new(Mutex::new(Pools::new())),
            settings: Arc::new(settings),
        })
    }

    /// The connection pool of this process (after a `fork`, a new one: the parent's connections and their
    /// tasks belong to the parent's runtime).
    fn http(&self, identified: bool) -> Result<reqwest::Client> {
        let mut slot = self.http.lock().unwrap_or_else(|p| p.into_inner());
        if slot.pid != std::process::id() {
            std::mem::forget(std::mem::replace(&mut *slot, Pools::new()));
        }
        let pool = if identified {
            &mut slot.identified
        } else {
            &mut slot.plain
        };
        if let Some(http) = pool {
            return Ok(http.clone());
        }
        let http = self.settings.client(identified)?;
        *pool = Some(http.clone());
        Ok(http)
    }

    /// Whether a merchant TLS client certificate is configured.
    pub(crate) fn has_identity(&self) -> bool {
        self.settings.identity.is_some()
    }

    /// This thread's own pool for this transport, when the thread is driving a blocking call.
    fn local_http(&self, identified: bool) -> Option<Result<reqwest::Client>> {
        if !DRIVING.with(Cell::get) {
            return None;
        }
        let key = (self.settings.id, identified);
        POOLS.with(|pools| {
            let mut pools = pools.borrow_mut();
            if let Some((_, http)) = pools.get(&key) {
                return Some(Ok(http.clone()));
            }
            // The pools of clients since dropped go with them.
            pools.retain(|_, (settings, _)| settings.strong_count() > 0);
            if identified && self.settings.identity.is_none() {
                return None;
            }
            Some(self.settings.client(identified).inspect(|http| {
                pools.insert(key, (Arc::downgrade(&self.settings), http.clone()));
            }))
        })
    }

    /// Sends one attempt of `req` and reads the answer, refusing bodies over the cap, within `timeout`.
    /// A blocking call sends it from the waiting thread itself ([`block_here`]), on that thread's pool;
    /// any other call as a task of the I/O runtime. Dropping the future aborts the attempt and closes its
    /// connection.
    pub(crate) async fn send(&self, req: &Prepared, timeout: Duration) -> Result<Raw> {
        if let Some(http) = self.local_http(req.presents_client_certificate()) {
            settle().await;
            return send_here(http?, self.max_body, Attempt::of(req), timeout).await;
        }
        let http = self.http(req.presents_client_certificate())?;
        let max_body = self.max_body;
        let task = crate::client::runtime::current().spawn(send_here(http, max_body, Attempt::of(req), timeout));
        let abort = AbortOnDrop(task.abort_handle());
        let result = task
            .await
            .map_err(|e| Error::transport("the request task ended abnormally").with_source(e));
        drop(abort);
        result?
    }
}

/// Lets a blocking thread's runtime catch up with what happened while nobody drove it: a server that
/// closed an idle connection (a FIN, a TLS `close_notify`) or wrote bytes no request asked for. Its I/O
/// driver is polled (the first yield) and the woken connection tasks run (the second), so hyper has
/// closed such a connection before the pool can hand it out; a request is never written into a
/// connection the server already gave up.
async fn settle() {
    tokio::task::yield_now().await;
    tokio::task::yield_now().await;
}

/// Closes this thread's idle connections of the client `id`, which is being dropped: its pools go, and
/// the thread's runtime runs their connection tasks once so they see it and close their sockets. Other
/// threads' pools of that client go at their next blocking call, or when they exit.
fn close_local(id: u64) {
    let dropped: Vec<reqwest::Client> = POOLS
        .try_with(|pools| {
            let Ok(mut pools) = pools.try_borrow_mut() else {
                return Vec::new();
            };
            let keys: Vec<_> = pools.keys().filter(|(owner, _)| *owner == id).copied().collect();
            keys.iter()
                .filter_map(|key| pools.remove(key))
                .map(|(_, http)| http)
                .collect()
        })
        .unwrap_or_default();
    if dropped.is_empty() {
        return;
    }
    drop(dropped);
    if DRIVING.with(Cell::get) || tokio::runtime::Handle::try_current().is_ok() {
        // Inside a call (its runtime runs the tasks soon) or another runtime (which must not be blocked).
        return;
    }
    let _ = RUNTIME.try_with(|slot| {
        if let Ok(slot) = slot.try_borrow() {
            if let Some((owner, runtime)) = &*slot {
                if *owner == std::process::id() {
                    runtime.block_on(settle());
                }
            }
        }
    });
}

impl Drop for Settings {
    fn drop(&mut self) {
        close_local(self.id);
    }
}

/// One attempt on `http`: the whole exchange (name resolution, connecting, the TLS handshake, writing
/// the request, every read of the answer) ends within `timeout`, whatever the server does.
async fn send_here(http: reqwest::Client, max_body: usize, req: Attempt, timeout: Duration) -> Result<Raw> {
    match tokio::time::timeout(timeout, exchange(http, max_body, req, timeout)).await {
        Ok(result) => result,
        Err(_) => Err(failed(false, true)),
    }
}

async fn exchange(http: reqwest::Client, max_body: usize, req: Attempt, timeout: Duration) -> Result<Raw> {
    let body = match req.body {
        // An upload: the signature covers the meta JSON; the multipart is streamed.
        Payload::Multipart(multipart) => reqwest::Body::wrap_stream(into_stream(multipart)?),
        Payload::Bytes(bytes) => reqwest::Body::from(bytes),
    };
    let builder = http
        .request(req.method, req.url)
        .headers(req.headers)
        .body(body)
        .timeout(timeout);
    let mut res = builder.send().await.map_err(map_reqwest)?;
    // Both framings on one answer is how answers are smuggled (RFC 9112 §6.3: handle it as an error).
    // Refused unread, so hyper closes the connection instead of pooling it.
    if res.headers().contains_key(http::header::TRANSFER_ENCODING)
        && res.headers().contains_key(http::header::CONTENT_LENGTH)
    {
        return Err(Error::transport(
            "the answer is framed by both `Content-Length` and `Transfer-Encoding`, which no honest server sends; \
             it is refused and its connection closed",
        )
        .with_outcome(crate::error::Outcome::Unknown));
    }
    let too_big = |n: String| too_big(max_body, n);
    if let Some(len) = res.content_length() {
        if len > max_body as u64 {
            return Err(too_big(format!("{len} bytes")));
        }
    }
    let status = res.status();
    let total = res.content_length();
    let headers = std::mem::take(res.headers_mut());
    let mut body = BytesMut::new();
    while let Some(chunk) = res.chunk().await.map_err(map_reqwest)? {
        if body.len() + chunk.len() > max_body {
            return Err(too_big("at least that".into()));
        }
        body.extend_from_slice(&chunk);
        if let Some(progress) = &req.progress {
            progress(body.len() as u64, total);
        }
    }
    Ok(Raw {
        status,
        headers,
        body: body.freeze(),
    })
}

/// An answer over the size cap: the server may have acted on the request.
pub(crate) fn too_big(max_body: usize, size: String) -> Error {
    Error::transport(format!(
        "the answer's body ({size}) is larger than the {max_body} byte cap; raise `max_response_size` if it is expected"
    ))
    .with_outcome(crate::error::Outcome::Unknown)
}

/// What one attempt sends, owned so it can run on the I/O runtime.
struct Attempt {
    method: http::Method,
    url: url::Url,
    headers: HeaderMap,
    body: Payload,
    progress: Option<crate::protocol::options::Progress>,
}

impl Attempt {
    /// What `req` sends, owned: the multipart (an upload) or the signed body.
    fn of(req: &Prepared) -> Self {
        Attempt {
            method: req.method.clone(),
            url: req.url.clone(),
            headers: req.headers.clone(),
            body: match &req.multipart {
                Some(multipart) => Payload::Multipart(multipart.clone()),
                None => Payload::Bytes(req.body.clone()),
            },
            progress: req.progress.clone(),
        }
    }
}

enum Payload {
    Bytes(Bytes),
    Multipart(Multipart),
}

/// Aborts a task of the I/O runtime when dropped: a dropped call never goes on by itself.
struct AbortOnDrop(tokio::task::AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The body as a stream of chunks: the head in memory, the file read in chunks on a blocking thread
/// (at most a few chunks ahead of the connection), then the closing boundary. Must run inside a tokio
/// runtime.
pub(crate) fn into_stream(
    multipart: Multipart,
) -> Result<impl futures::Stream<Item = std::io::Result<Bytes>> + Send + 'static> {
    use futures::StreamExt as _;

    let (head, source, expected, tail) = multipart.parts();
    let file: futures::stream::BoxStream<'static, std::io::Result<Bytes>> = match source {
        Source::Bytes(bytes) => futures::stream::iter([Ok(bytes)]).boxed(),
        Source::Path(path) => {
            let file = std::fs::File::open(&path)
                .map_err(|e| Error::request(format!("cannot open the upload `{}`", path.display())).with_source(e))?;
            chunked(Box::new(std::io::Read::take(file, expected)), expected)
        }
        Source::Reader(slot) => {
            let reader = slot.lock().unwrap_or_else(|p| p.into_inner()).take().ok_or_else(|| {
                Error::request(
                    "this upload's reader was already sent; make a new `Upload` (or use `from_path` or \
                     `from_bytes`, which can be sent again)",
                )
            })?;
            chunked(reader, expected)
        }
    };
    Ok(futures::stream::iter([Ok(head)])
        .chain(file)
        .chain(futures::stream::iter([Ok(tail)])))
}

/// Reads `reader` in chunks on a blocking thread into a bounded channel; an error if it yields other than
/// `expected` bytes (the file changed since it was hashed).
fn chunked(mut reader: Reader, expected: u64) -> futures::stream::BoxStream<'static, std::io::Result<Bytes>> {
    use futures::StreamExt as _;

    let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<Bytes>>(IN_FLIGHT);
    tokio::task::spawn_blocking(move || {
        let mut sent = 0u64;
        loop {
            let mut buf = vec![0u8; CHUNK];
            let n = match reader.read(&mut buf) {
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    let _ = tx.blocking_send(Err(e));
                    return;
                }
            };
            if n == 0 {
                if sent != expected {
                    let _ = tx.blocking_send(Err(std::io::Error::new(
                        std::io::ErrorKind::UnexpectedEof,
                        format!("the upload yielded {sent} bytes, but {expected} were hashed (did it change?)"),
                    )));
                }
                return;
            }
            buf.truncate(n);
            sent += n as u64;
            if tx.blocking_send(Ok(buf.into())).is_err() {
                return; // the request was dropped
            }
        }
    });
    futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|item| (item, rx)) }).boxed()
}

fn map_reqwest(e: reqwest::Error) -> Error {
    // The URL holds placeholder values (often personal data): keep it out of the error chain.
    failed(e.is_connect(), e.is_timeout()).with_source(e.without_url())
}

/// How an attempt failed: while connecting (nothing was sent) or once the request may have gone out;
/// timed out or not.
pub(crate) fn failed(connecting: bool, timed_out: bool) -> Error {
    use crate::error::Transient;
    match (connecting, timed_out) {
        (true, true) => Error::timeout("could not connect in time").with_transient(Transient::Connect),
        (true, false) => Error::transport("could not connect").with_transient(Transient::Connect),
        (false, true) => Error::timeout("the request took longer than its timeout").with_transient(Transient::Timeout),
        (false, false) => Error::transport("the request failed on the wire").with_transient(Transient::Dropped),
    }
}

/// Settings for unit tests: an `http://` or `https://` base, no proxy unless given, one idle connection.
#[cfg(test)]
pub(crate) fn test_settings(proxy: Option<&str>, plain_http: bool) -> Settings {
    Settings {
        id: next_settings_id(),
        connect_timeout: Duration::from_secs(5),
        timeout: Duration::from_secs(30),
        proxy: proxy.map(str::to_owned),
        proxy_from_env: false,
        pool_idle_timeout: None,
        pool_max_idle_per_host: 1,
        min_tls: TlsVersion::Tls12,
        max_body: 1 << 20,
        identity: None,
        roots: Vec::new(),
        plain_http,
        #[cfg(any(feature = "default-tls", feature = "rustls-ring"))]
        tls: Default::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use test_settings as settings;

    #[test]
    fn the_pool_is_made_on_first_use_and_its_settings_checked_before() {
        let transport = Transport::new(settings(None, true)).unwrap();
        let made = |t: &Transport| t.http.lock().unwrap().plain.is_some();
        assert!(!made(&transport), "building a client makes no pool");
        transport.http(false).unwrap();
        assert!(made(&transport), "the first send makes it");

        // What would fail the pool is still found when the client is built.
        let e = Transport::new(settings(Some("not a proxy url"), false))
            .err()
            .expect("a bad proxy");
        assert!(e.is_config(), "{e}");
        let mut bad_root = settings(None, false);
        bad_root
            .roots
            .push("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n".into());
        assert!(Transport::new(bad_root).err().expect("a bad root").is_config());
    }
}
