//! Observers: read-only hooks told of every attempt and every call's outcome — the Rust twin of pushing a
//! Guzzle middleware onto wechatpay-php's stack for metrics and logs.
//!
//! ```
//! use std::sync::atomic::{AtomicU64, Ordering};
//! use std::sync::Arc;
//! use wechatpay::observe::{Observed, Observer};
//!
//! /// Counts calls and failures and sums latencies, per process.
//! #[derive(Default)]
//! struct Metrics { calls: AtomicU64, failures: AtomicU64, micros: AtomicU64 }
//!
//! impl Observer for Metrics {
//!     fn on_outcome(&self, call: &Observed<'_>) {
//!         self.calls.fetch_add(1, Ordering::Relaxed);
//!         if call.error.is_some() {
//!             self.failures.fetch_add(1, Ordering::Relaxed);
//!         }
//!         self.micros.fetch_add(call.elapsed.as_micros() as u64, Ordering::Relaxed);
//!         // e.g. a histogram keyed by (call.method, call.template, call.status)
//!     }
//! }
//!
//! let metrics = Arc::new(Metrics::default());
//! let builder = wechatpay::Client::builder().observer(metrics.clone());
//! # let _ = builder;
//! ```

use std::time::Duration;

use http::Method;

use crate::client::response::Response;
use crate::error::Error;
use crate::protocol::request::Prepared;

/// Told of each attempt and of each call's outcome. Both methods run on the task that makes the call,
/// between attempts: keep them quick and never block. Default: do nothing.
///
/// ```
/// use std::sync::atomic::{AtomicU32, Ordering};
/// use std::sync::Arc;
/// use wechatpay::mock::{Fault, MockServer};
/// use wechatpay::observe::{Observed, Observer};
///
/// #[derive(Default)]
/// struct Attempts(AtomicU32);
/// impl Observer for Attempts {
///     fn on_attempt(&self, _attempt: &Observed<'_>) {
///         self.0.fetch_add(1, Ordering::Relaxed);
///     }
/// }
///
/// let server = MockServer::start()?;
/// let attempts = Arc::new(Attempts::default());
/// let client = server.client_builder().observer(attempts.clone()).build()?;
/// server.inject(Fault::Status(503), 1);
/// client["v3/marketing/busifavor/stocks/100088"].get(())?;
/// assert_eq!(attempts.0.load(Ordering::Relaxed), 2); // a 503, then the answer
/// # Ok::<(), wechatpay::Error>(())
/// ```
pub trait Observer: Send + Sync {
    /// One attempt ended (`attempt` is its number, `elapsed` its own time).
    fn on_attempt(&self, attempt: &Observed<'_>) {
        let _ = attempt;
    }

    /// A call ended, after all its attempts (`attempt` is how many were made, `elapsed` the whole time).
    fn on_outcome(&self, call: &Observed<'_>) {
        let _ = call;
    }
}

/// What an observer is told. It never holds a body, a header value, a signature or an expanded path:
/// placeholder values are often personal data, so the path is the template.
///
/// ```
/// use wechatpay::observe::{Observed, Observer};
///
/// /// Logs every failed attempt, by template: no personal data.
/// struct Log;
/// impl Observer for Log {
///     fn on_attempt(&self, a: &Observed<'_>) {
///         if let Some(e) = a.error {
///             eprintln!("{} {} attempt {}: {} ({:?})", a.method, a.template, a.attempt, e.kind_name(), a.status);
///         }
///     }
/// }
/// let builder = wechatpay::Client::builder().observer(std::sync::Arc::new(Log));
/// # let _ = builder;
/// ```
#[non_exhaustive]
#[derive(Debug)]
pub struct Observed<'a> {
    /// The HTTP method.
    pub method: &'a Method,
    /// The path template, e.g. `v3/marketing/busifavor/coupons/{coupon_code}`.
    pub template: &'a str,
    /// The attempt's number, or for an outcome how many attempts were made.
    pub attempt: u32,
    /// How long the attempt (or the whole call) took.
    pub elapsed: Duration,
    /// The answer's HTTP status, when there was an answer.
    pub status: Option<u16>,
    /// The answer's `Request-ID`, when it had one.
    pub request_id: Option<&'a str>,
    /// The error, when it failed: ask it with its predicates (`is_timeout()`, `outcome()`, …).
    pub error: Option<&'a Error>,
}

impl<'a> Observed<'a> {
    pub(crate) fn of(
        prepared: &'a Prepared,
        attempt: u32,
        elapsed: Duration,
        result: std::result::Result<&'a Response, &'a Error>,
    ) -> Self {
        let (status, request_id, error) = match result {
            Ok(res) => (Some(res.status()), res.request_id(), None),
            Err(e) => (e.status(), e.request_id(), Some(e)),
        };
        Observed {
            method: &prepared.method,
            template: &prepared.template,
            attempt,
            elapsed,
            status,
            request_id,
            error,
        }
    }
}
