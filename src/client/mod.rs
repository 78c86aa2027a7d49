//! The client: its builder, the chain, the one send pipeline, the transport, certificate refresh.

mod builder;
pub(crate) mod chain;
mod config;
pub(crate) mod merchant_tls;
pub mod observe;
pub(crate) mod pending;
pub(crate) mod pipeline;
pub(crate) mod refresh;
pub(crate) mod response;
pub mod runtime;
pub(crate) mod trace;
pub(crate) mod transport;

use std::fmt;
use std::ops::Index;
use std::sync::Arc;
use std::time::Duration;

use http::Method;

pub use builder::{ClientBuilder, DEFAULT_POOL_IDLE_TIMEOUT};
pub use transport::TlsVersion;

use crate::client::chain::Chain;
use crate::client::observe::Observer;
use crate::client::pending::{Pending, ResponseFuture};
use crate::client::refresh::{RefreshState, Refresher};
use crate::client::response::Response;
use crate::client::transport::Transport;
use crate::crypto::apiv2_key::ApiV2Key;
use crate::crypto::apiv3_key::ApiV3Key;
use crate::crypto::keyring::{Keyring, SharedKeyring};
use crate::error::{Error, Result};
use crate::protocol::apiv2;
use crate::protocol::listing::PlatformCertificate;
use crate::protocol::options::Options;
use crate::protocol::request::{self, Prepared, Signer, Target};
use crate::protocol::retry::RetryPolicy;

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
    pub(crate) mchid: String,
    /// What signs APIv3 requests; `None` for a client built for APIv2 alone.
    pub(crate) signer: Option<Signer>,
    pub(crate) apiv2_key: Option<ApiV2Key>,
    pub(crate) target: Target,
    pub(crate) keyring: SharedKeyring,
    pub(crate) refresher: Option<Refresher>,
    pub(crate) apiv3_key: Option<ApiV3Key>,
    pub(crate) transport: Transport,
    pub(crate) retry: RetryPolicy,
    pub(crate) observers: Vec<Arc<dyn Observer>>,
    root: Chain,
}

impl Inner {
    /// Builds, signs, sends and verifies one call.
    pub(crate) async fn execute(&self, method: Method, template: &str, options: &Options) -> Result<Response> {
        let prepared = self.prepare(method, template, options)?;
        crate::client::pipeline::run(self, prepared).await
    }

    fn prepare(&self, method: Method, template: &str, options: &Options) -> Result<Prepared> {
        if apiv2::request::is_apiv2(template) {
            let credentials = apiv2::request::Credentials {
                mchid: &self.mchid,
                key: self.apiv2_key.as_ref(),
                certificate: self.transport.has_identity(),
            };
            return apiv2::request::prepare(
                &credentials,
                &self.target,
                method,
                template,
                options,
                apiv2::request::nonce_str,
            );
        }
        request::prepare(
            self.v3_signer(template)?,
            &self.target,
            &self.keyring.load(),
            method,
            template,
            options,
        )
    }

    /// What signs APIv3 requests, or a configuration error saying what a client for APIv2 alone lacks.
    pub(crate) fn v3_signer(&self, template: &str) -> Result<&Signer> {
        self.signer.as_ref().ok_or_else(|| {
            Error::config(format!(
                "`{}` is an APIv3 call, which needs the merchant's API certificate serial and private key: set \
                 `serial` and `private_key` (this client was built with the APIv2 key alone)",
                template.trim_start_matches('/')
            ))
        })
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
        Pending::new(async move { crate::client::pipeline::run(&inner, prepared).await })
    }

    /// The merchant id.
    pub fn mchid(&self) -> &str {
        &self.inner.mchid
    }

    /// Decrypts, in place, the sensitive fields `paths` names in an answer's JSON with the merchant key
    /// (PHP's `Rsa::decrypt` on each field). Paths as in [`Options::sensitive`]; absent fields are skipped.
    pub fn decrypt_fields(&self, value: &mut serde_json::Value, paths: &[&str]) -> Result<()> {
        let signer = self.inner.v3_signer("decrypt_fields")?;
        crate::protocol::sensitive::decrypt_fields(value, paths, &signer.key)
    }

    /// What the features built on the client reach: its keys and settings.
    pub(crate) fn inner(&self) -> &Inner {
        &self.inner
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

    /// What the in-process certificate refresh has done and will do: its last success, its last error, and
    /// when it next runs by itself; `None` for a client without an APIv3 key.
    ///
    /// ```no_run
    /// # fn demo(client: &wechatpay::Client) {
    /// if let Some(state) = client.refresh_state() {
    ///     if let Some(why) = &state.last_error {
    ///         eprintln!("certificate refresh failing ({} in a row): {why}", state.failures);
    ///     }
    /// }
    /// # }
    /// ```
    pub fn refresh_state(&self) -> Option<RefreshState> {
        self.inner.refresher.as_ref().map(Refresher::snapshot)
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
            .field("mchid", &self.inner.mchid)
            .field("serial", &self.inner.signer.as_ref().map(|s| &s.serial))
            .field("apiv2_key", &self.inner.apiv2_key)
            .field("base_uri", &self.base_uri())
            .field("keyring", &self.inner.keyring.load().ids().collect::<Vec<_>>())
            .field("refresher", &self.inner.refresher)
            .finish_non_exhaustive()
    }
}
