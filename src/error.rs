//! [`Error`]: the one error type of the crate.

use std::error::Error as StdError;
use std::fmt;

type BoxError = Box<dyn StdError + Send + Sync>;

/// Every failure of this crate: configuration, keys, paths, transport, the API itself, or verification.
///
/// Ask what happened with the `is_*` predicates, and for an API error read [`Error::status`],
/// [`Error::code`], [`Error::api_message`], [`Error::detail`] and [`Error::request_id`].
///
/// It is opaque, after smithy-rs' error RFC: predicates instead of a public kind enum, no foreign error
/// type in the public API, and a `Display` that never repeats its `source()`: walk the sources to print
/// the whole chain.
///
/// ```
/// # fn demo(client: &wechatpay::Client) {
/// match client["v3/marketing/busifavor/stocks/{stock_id}"].get(serde_json::json!({"stock_id": "1"})) {
///     Ok(res) => println!("{}", res.text().unwrap_or_default()),
///     Err(e) if e.is_api() => eprintln!("{} {:?} {:?}", e.status().unwrap_or(0), e.code(), e.request_id()),
///     Err(e) => eprintln!("{e}"),
/// }
/// # }
/// ```
pub struct Error {
    inner: Box<Inner>,
}

struct Inner {
    kind: Kind,
    message: String,
    source: Option<BoxError>,
    api: Option<ApiDetails>,
    verification: Option<Verification>,
    outcome: Option<Outcome>,
    transient: Option<Transient>,
    attempts: u32,
    /// The body of an answer that failed verification, kept for reconciliation.
    unverified_body: Option<bytes::Bytes>,
}

/// How a transport failure happened, for the retry decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Transient {
    /// No connection was made: nothing was sent.
    Connect,
    /// The attempt ran out of time after it may have been sent.
    Timeout,
    /// The connection failed after the request may have been sent.
    Dropped,
}

/// Whether WeChat Pay may have acted on a request that failed ([`Error::outcome`]).
///
/// When it is [`Outcome::Unknown`], do not assume either way: send the request again with the **same**
/// request number (`out_trade_no`, `out_request_no`, `out_refund_no`, which WeChat Pay deduplicates), or
/// query what happened, before doing anything else.
///
/// ```
/// use serde_json::json;
/// use wechatpay::mock::{Fault, MockServer};
/// use wechatpay::Outcome;
///
/// let server = MockServer::start()?;
/// let client = server.client()?;
/// server.inject(Fault::Drop, 1); // the request arrives; the answer never does
/// let body = json!({"json": {"stock_id": "100088", "out_request_no": "1002600620019090123143254435",
///     "appid": "wx1234567889999", "openid": "xsd3434454567676"}});
/// let e = client["v3/marketing/busifavor/coupons/send"].post(&body).unwrap_err();
/// assert_eq!(e.outcome(), Outcome::Unknown); // so send it again with the same out_request_no
/// # Ok::<(), wechatpay::Error>(())
/// ```
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// WeChat Pay certainly did not act on it: it was never sent (a configuration, key, path or request
    /// error, a refused connection) or was refused with a 4xx.
    NotApplied,
    /// WeChat Pay may have acted on it: it was sent, and then the attempt timed out, the connection
    /// dropped, WeChat Pay answered 5xx, or its answer failed verification.
    Unknown,
    /// WeChat Pay acted on it and its answer was verified; what failed came after (e.g. reading the
    /// answer as a type it is not).
    Applied,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Config,
    Key,
    Path,
    Request,
    Transport,
    Timeout,
    Api,
    Verification,
    Decode,
    Other,
}

impl Kind {
    fn label(self) -> &'static str {
        match self {
            Kind::Config => "configuration error",
            Kind::Key => "key error",
            Kind::Path => "path error",
            Kind::Request => "request error",
            Kind::Transport => "transport error",
            Kind::Timeout => "timed out",
            Kind::Api => "API error",
            Kind::Verification => "verification failed",
            Kind::Decode => "decode error",
            Kind::Other => "application error",
        }
    }
}

/// What WeChat Pay said when it refused a request (a non-2xx answer).
#[derive(Debug, Clone, Default)]
pub(crate) struct ApiDetails {
    pub(crate) status: u16,
    pub(crate) code: Option<String>,
    pub(crate) message: Option<String>,
    pub(crate) detail: Option<serde_json::Value>,
    pub(crate) request_id: Option<String>,
    pub(crate) body: bytes::Bytes,
    /// `Retry-After`, when the answer gave one.
    pub(crate) retry_after: Option<std::time::Duration>,
}

/// Which step of verifying an answer (or a callback) failed.
///
/// ```
/// use wechatpay::mock::{Fault, MockServer};
/// use wechatpay::Verification;
///
/// let server = MockServer::start()?;
/// let client = server.client()?;
/// server.inject(Fault::UnknownSerial, 1);
/// let e = client["v3/marketing/busifavor/stocks/100088"].get(()).unwrap_err();
/// assert_eq!(e.verification(), Some(Verification::UnknownSerial));
/// # Ok::<(), wechatpay::Error>(())
/// ```
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verification {
    /// A required `Wechatpay-*` header is missing or not valid text.
    MissingHeader,
    /// `Wechatpay-Timestamp` is not a number of seconds.
    MalformedTimestamp,
    /// The timestamp is more than 300 seconds away from this machine's clock.
    StaleTimestamp,
    /// `Wechatpay-Serial` names no configured platform certificate or public key.
    UnknownSerial,
    /// The signature is not valid base64 or does not match the message.
    BadSignature,
    /// A digest announced by the answer (e.g. `Wechatpay-Statement-Sha1`) does not match its body.
    DigestMismatch,
    /// A downloaded platform certificate is outside its validity dates.
    CertificateValidity,
    /// `Wechatpay-Signature-Type` names a scheme other than `WECHATPAY2-SHA256-RSA2048` (e.g. a 国密 SM2
    /// one), which this crate does not verify.
    UnsupportedSignatureType,
    /// A certificate download was not signed by a key the client trusts, or names a trusted serial with
    /// another key.
    UntrustedCertificate,
    /// An APIv2 answer or notification carries no `sign`, though its endpoint signs its answers.
    MissingSignature,
}

impl Error {
    pub(crate) fn new(kind: Kind, message: impl Into<String>) -> Self {
        Error {
            inner: Box::new(Inner {
                kind,
                message: message.into(),
                source: None,
                api: None,
                verification: None,
                outcome: None,
                transient: None,
                attempts: 0,
                unverified_body: None,
            }),
        }
    }

    pub(crate) fn with_source(mut self, source: impl Into<BoxError>) -> Self {
        self.inner.source = Some(source.into());
        self
    }

    pub(crate) fn with_outcome(mut self, outcome: Outcome) -> Self {
        self.inner.outcome = Some(outcome);
        self
    }

    pub(crate) fn with_unverified_body(mut self, body: bytes::Bytes) -> Self {
        self.inner.unverified_body = Some(body);
        self
    }
    pub(crate) fn with_transient(mut self, transient: Transient) -> Self {
        self.inner.transient = Some(transient);
        self
    }

    pub(crate) fn transient(&self) -> Option<Transient> {
        self.inner.transient
    }

    pub(crate) fn retry_after(&self) -> Option<std::time::Duration> {
        self.inner.api.as_ref()?.retry_after
    }

    pub(crate) fn with_attempts(mut self, attempts: u32) -> Self {
        self.inner.attempts = attempts;
        self
    }

    pub(crate) fn config(message: impl Into<String>) -> Self {
        Self::new(Kind::Config, message)
    }
    pub(crate) fn key(message: impl Into<String>) -> Self {
        Self::new(Kind::Key, message)
    }
    pub(crate) fn path(message: impl Into<String>) -> Self {
        Self::new(Kind::Path, message)
    }
    pub(crate) fn request(message: impl Into<String>) -> Self {
        Self::new(Kind::Request, message)
    }
    pub(crate) fn transport(message: impl Into<String>) -> Self {
        Self::new(Kind::Transport, message)
    }
    pub(crate) fn timeout(message: impl Into<String>) -> Self {
        Self::new(Kind::Timeout, message)
    }
    pub(crate) fn decode(message: impl Into<String>) -> Self {
        Self::new(Kind::Decode, message)
    }
    pub(crate) fn verify_failed(step: Verification, message: impl Into<String>) -> Self {
        let mut e = Self::new(Kind::Verification, message);
        e.inner.verification = Some(step);
        e
    }
    /// Adds a hint to the message, e.g. what a 404 probably meant.
    pub(crate) fn with_hint(mut self, hint: &str) -> Self {
        self.inner.message.push_str(" (");
        self.inner.message.push_str(hint);
        self.inner.message.push(')');
        self
    }
    pub(crate) fn api(details: ApiDetails) -> Self {
        let mut message = format!("HTTP {}", details.status);
        if let Some(code) = &details.code {
            message.push(' ');
            message.push_str(code);
        }
        if let Some(text) = &details.message {
            message.push_str(": ");
            message.push_str(text);
        }
        if let Some(id) = &details.request_id {
            message.push_str(" (Request-ID ");
            message.push_str(id);
            message.push(')');
        }
        let mut e = Self::new(Kind::Api, message);
        e.inner.api = Some(details);
        e
    }

    /// The client was configured wrongly (missing mchid, serial, key or certificate, bad base URI, …).
    pub fn is_config(&self) -> bool {
        self.inner.kind == Kind::Config
    }
    /// A key or certificate could not be loaded or used.
    pub fn is_key(&self) -> bool {
        self.inner.kind == Kind::Key
    }
    /// The path or its URI template could not be expanded: a missing placeholder, a hostile value, …
    pub fn is_path(&self) -> bool {
        self.inner.kind == Kind::Path
    }
    /// The request options were not valid: an unknown option key, a bad header, `json` and `body` both set, …
    pub fn is_request(&self) -> bool {
        self.inner.kind == Kind::Request
    }
    /// The request could not be sent or its answer not read (connection, TLS, redirect, size cap).
    pub fn is_transport(&self) -> bool {
        self.inner.kind == Kind::Transport
    }
    /// The connect or total timeout ran out.
    pub fn is_timeout(&self) -> bool {
        self.inner.kind == Kind::Timeout
    }
    /// WeChat Pay answered with a non-2xx status; see [`Error::status`], [`Error::code`] and friends.
    pub fn is_api(&self) -> bool {
        self.inner.kind == Kind::Api
    }
    /// A 2xx answer failed verification; [`Error::verification`] says which step.
    pub fn is_verification(&self) -> bool {
        self.inner.kind == Kind::Verification
    }
    /// An answer's body could not be decoded as asked (e.g. `Response::json`).
    pub fn is_decode(&self) -> bool {
        self.inner.kind == Kind::Decode
    }
    /// An application's own error, carried through a promise chain ([`Error::other`], or `?` on an
    /// `std::io::Error`); the original is its [`source`](std::error::Error::source).
    pub fn is_other(&self) -> bool {
        self.inner.kind == Kind::Other
    }

    /// Wraps an application's own error so it can flow through `then` / `otherwise` like PHP's promise
    /// chain, where a callback may throw anything; the original stays the `source()` (and
    /// [`Error::downcast_ref`] finds it). A `wechatpay::Error` given here comes back as it was.
    ///
    /// ```
    /// # fn demo(client: &wechatpay::Client) -> Result<(), wechatpay::Error> {
    /// client["v3/marketing/busifavor/stocks/{stock_id}"]
    ///     .get_async(serde_json::json!({"stock_id": "100088"}))
    ///     .then(|res| {
    ///         let stock: serde_json::Value = res.json()?;
    ///         let name = stock["stock_name"].as_str().ok_or_else(|| wechatpay::Error::other("no stock_name"))?;
    ///         std::fs::write("stock.txt", name)?; // an io::Error converts by itself
    ///         Ok(())
    ///     })
    ///     .wait()
    /// # }
    /// ```
    pub fn other(error: impl Into<BoxError>) -> Self {
        let error: BoxError = error.into();
        match error.downcast::<Error>() {
            Ok(ours) => *ours,
            // Its text is the source's, so `{e}` does not repeat it; `{e:#}` prints it.
            Err(theirs) => Self::new(Kind::Other, "the application's own code failed").with_source(theirs),
        }
    }

    /// The source of an application error ([`Error::other`]) as its own type, if it is one.
    pub fn downcast_ref<E: StdError + 'static>(&self) -> Option<&E> {
        self.inner.source.as_ref()?.downcast_ref::<E>()
    }

    /// The HTTP status of an API error.
    pub fn status(&self) -> Option<u16> {
        self.inner.api.as_ref().map(|a| a.status)
    }
    /// WeChat Pay's error `code`, e.g. `PARAM_ERROR`.
    pub fn code(&self) -> Option<&str> {
        self.inner.api.as_ref()?.code.as_deref()
    }
    /// WeChat Pay's error `message`.
    pub fn api_message(&self) -> Option<&str> {
        self.inner.api.as_ref()?.message.as_deref()
    }
    /// WeChat Pay's error `detail` object, when it sent one.
    pub fn detail(&self) -> Option<&serde_json::Value> {
        self.inner.api.as_ref()?.detail.as_ref()
    }
    /// The `Request-ID` header of the answer, to quote to WeChat Pay support.
    pub fn request_id(&self) -> Option<&str> {
        self.inner.api.as_ref()?.request_id.as_deref()
    }
    /// The raw body of an answer WeChat Pay refused with (a non-2xx answer, or an APIv2 `FAIL`), or of an
    /// answer that failed verification: it was not trusted, but keep it to reconcile — money may have
    /// moved.
    pub fn body(&self) -> Option<&[u8]> {
        match &self.inner.api {
            Some(a) => Some(&a.body[..]),
            None => self.inner.unverified_body.as_deref(),
        }
    }
    /// Which verification step failed, for a verification error.
    pub fn verification(&self) -> Option<Verification> {
        self.inner.verification
    }

    /// A short, stable name of what kind of error this is — `config`, `key`, `path`, `request`,
    /// `transport`, `timeout`, `api`, `verification` or `decode` — for metrics labels and logs.
    pub fn kind_name(&self) -> &'static str {
        match self.inner.kind {
            Kind::Config => "config",
            Kind::Key => "key",
            Kind::Path => "path",
            Kind::Request => "request",
            Kind::Transport => "transport",
            Kind::Timeout => "timeout",
            Kind::Api => "api",
            Kind::Verification => "verification",
            Kind::Decode => "decode",
            Kind::Other => "other",
        }
    }

    /// Whether WeChat Pay may have acted on the request; see [`Outcome`] for what to do.
    ///
    /// ```
    /// # fn demo(client: &wechatpay::Client) {
    /// use wechatpay::Outcome;
    /// let body = serde_json::json!({"json": {"stock_id": "100088", "out_request_no": "1002600620019090123143254435"}});
    /// if let Err(e) = client["v3/marketing/busifavor/coupons/send"].post(body) {
    ///     match e.outcome() {
    ///         Outcome::NotApplied => eprintln!("nothing happened: fix and send again ({e})"),
    ///         Outcome::Unknown => eprintln!("may have happened: retry with the same out_request_no, or query"),
    ///         _ => eprintln!("{e}"),
    ///     }
    /// }
    /// # }
    /// ```
    pub fn outcome(&self) -> Outcome {
        if let Some(outcome) = self.inner.outcome {
            return outcome;
        }
        match self.inner.kind {
            Kind::Config | Kind::Key | Kind::Path | Kind::Request => Outcome::NotApplied,
            Kind::Transport | Kind::Timeout => match self.inner.transient {
                Some(Transient::Connect) => Outcome::NotApplied,
                _ => Outcome::Unknown,
            },
            Kind::Api => match self.status() {
                Some(status) if status < 500 => Outcome::NotApplied,
                _ => Outcome::Unknown,
            },
            Kind::Verification => Outcome::Unknown,
            Kind::Decode | Kind::Other => Outcome::Applied,
        }
    }

    /// How many attempts the call made: more than one when it was retried ([`crate::RetryPolicy`]); `0`
    /// when the error came before anything was sent or outside a call.
    pub fn attempts(&self) -> u32 {
        self.inner.attempts
    }
}

impl fmt::Display for Error {
    /// What happened, without its cause (RFC 0022): `{e}`. The alternate form `{e:#}` appends the whole
    /// `source()` chain, `: cause: its cause`, as `anyhow` prints it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.inner.kind.label(), self.inner.message)?;
        if self.inner.attempts > 1 {
            write!(f, " (after {} attempts)", self.inner.attempts)?;
        }
        if f.alternate() {
            let mut cause = StdError::source(self);
            while let Some(e) = cause {
                write!(f, ": {e}")?;
                cause = e.source();
            }
        }
        Ok(())
    }
}

impl From<std::io::Error> for Error {
    /// An I/O error of the application's (e.g. `?` on writing an answer to a file inside `then`): an
    /// [`Error::other`].
    fn from(e: std::io::Error) -> Self {
        Error::other(e)
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("wechatpay::Error");
        d.field("kind", &self.inner.kind).field("message", &self.inner.message);
        if let Some(api) = &self.inner.api {
            d.field("status", &api.status)
                .field("code", &api.code)
                .field("request_id", &api.request_id);
        }
        if let Some(step) = &self.inner.verification {
            d.field("verification", step);
        }
        if self.inner.attempts > 1 {
            d.field("attempts", &self.inner.attempts);
        }
        if let Some(source) = &self.inner.source {
            d.field("source", source);
        }
        d.finish()
    }
}

impl StdError for Error {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.inner.source.as_ref().map(|s| &**s as &(dyn StdError + 'static))
    }
}

/// `Result` with this crate's [`Error`].
///
/// ```
/// fn load(pem: &str) -> wechatpay::Result<wechatpay::PublicKey> {
///     wechatpay::PublicKey::load(pem)
/// }
/// assert!(load("not a key").unwrap_err().is_key());
/// ```
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_does_not_repeat_the_source() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "no such file");
        let e = Error::key("could not read `file://` path /x").with_source(io);
        assert_eq!(e.to_string(), "key error: could not read `file://` path /x");
        assert_eq!(e.source().unwrap().to_string(), "no such file");
    }

    #[test]
    fn error_is_send_sync_and_small() {
        fn assert_send_sync<T: Send + Sync + 'static>() {}
        assert_send_sync::<Error>();
        assert_eq!(std::mem::size_of::<Error>(), std::mem::size_of::<usize>());
    }
}
