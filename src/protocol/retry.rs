//! Retries that cannot double-charge (sans-IO): which failed attempts are safe to send again, and how long
//! to wait first. The pipeline asks [`decide`] after every failed attempt; nothing here sleeps or sends.

use std::time::Duration;

use http::Method;

/// When a call is sent again after a failed attempt. Every attempt is signed anew (WeChat Pay refuses a
/// reused nonce), waits are exponential with full jitter, a `Retry-After` is honoured, and the call's
/// timeout bounds all attempts together.
///
/// What is retried, by default up to 3 attempts in all:
///
/// - a failure to connect, for every method: nothing was sent;
/// - for `GET`, `PUT`, `DELETE` (and `HEAD`, `OPTIONS`), also a timeout, a dropped connection, 429, 500,
///   502, 503, 504, and WeChat Pay's `SYSTEM_ERROR` and `FREQUENCY_LIMITED`;
/// - for `POST` and `PATCH`, those only when the call says it is idempotent
///   ([`crate::Options::idempotent`]): it carries its own request number (`out_trade_no`,
///   `out_request_no`, `out_refund_no`) that WeChat Pay deduplicates. Otherwise a `POST` that may have
///   reached WeChat Pay is never sent twice.
///
/// Never retried: a one-shot body (an upload streamed from a reader), a 4xx other than 429, an answer that
/// fails verification, a request or configuration error.
///
/// ```
/// use std::time::Duration;
/// use wechatpay::RetryPolicy;
///
/// let policy = RetryPolicy::default().max_attempts(5).base_delay(Duration::from_millis(50));
/// assert_eq!(policy.attempts(), 5);
/// assert_eq!(RetryPolicy::none().attempts(), 1);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[must_use = "a policy does nothing until given to `ClientBuilder::retry` or `Options::retry`"]
pub struct RetryPolicy {
    max_attempts: u32,
    base_delay: Duration,
    max_delay: Duration,
    attempt_timeout: Option<Duration>,
}

impl Default for RetryPolicy {
    /// Up to 3 attempts, waits of up to 100 ms, 200 ms, … (never over 2 s), no per-attempt timeout.
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 3,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(2),
            attempt_timeout: None,
        }
    }
}

impl RetryPolicy {
    /// One attempt, never retried.
    ///
    /// ```
    /// use wechatpay::mock::{Fault, MockServer};
    /// use wechatpay::RetryPolicy;
    ///
    /// let server = MockServer::start()?;
    /// let client = server.client_builder().retry(RetryPolicy::none()).build()?;
    /// server.inject(Fault::Status(503), 1);
    /// let e = client["v3/marketing/busifavor/stocks/100088"].get(()).unwrap_err();
    /// assert_eq!(e.status(), Some(503)); // a `GET`, yet not sent again
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn none() -> Self {
        RetryPolicy {
            max_attempts: 1,
            ..Self::default()
        }
    }

    /// At most `n` attempts in all (`1` never retries; `0` is taken as `1`).
    ///
    /// ```
    /// use wechatpay::mock::{Fault, MockServer};
    /// use wechatpay::RetryPolicy;
    ///
    /// let server = MockServer::start()?;
    /// let client = server.client_builder().retry(RetryPolicy::default().max_attempts(4)).build()?;
    /// server.inject(Fault::Status(503), 3);
    /// let res = client["v3/marketing/busifavor/stocks/100088"].get(())?; // the fourth attempt is answered
    /// assert_eq!((res.status(), server.requests()), (200, 4));
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn max_attempts(mut self, n: u32) -> Self {
        self.max_attempts = n.max(1);
        self
    }

    /// The first wait's upper bound; each later one doubles it (full jitter: a wait is uniform below it).
    ///
    /// ```
    /// use std::time::Duration;
    /// let policy = wechatpay::RetryPolicy::default().base_delay(Duration::from_millis(250)); // ≤ 250 ms, ≤ 500 ms, …
    /// # let _ = policy;
    /// ```
    pub fn base_delay(mut self, delay: Duration) -> Self {
        self.base_delay = delay;
        self
    }

    /// The largest upper bound of a wait (a `Retry-After` may ask for longer, and is honoured).
    ///
    /// ```
    /// use std::time::Duration;
    /// let policy = wechatpay::RetryPolicy::default().max_attempts(8).max_delay(Duration::from_secs(1));
    /// # let _ = policy;
    /// ```
    pub fn max_delay(mut self, delay: Duration) -> Self {
        self.max_delay = delay;
        self
    }

    /// Bounds each attempt too, so a stalled attempt leaves time for another within the call's timeout.
    /// Without it, an attempt may use all the time left.
    ///
    /// ```
    /// use std::time::Duration;
    /// use wechatpay::{Client, RetryPolicy};
    /// let builder = Client::builder()
    ///     .timeout(Duration::from_secs(30)) // the whole call
    ///     .retry(RetryPolicy::default().attempt_timeout(Duration::from_secs(10))); // each attempt
    /// # let _ = builder;
    /// ```
    pub fn attempt_timeout(mut self, timeout: Duration) -> Self {
        self.attempt_timeout = Some(timeout);
        self
    }

    /// The most attempts a call makes.
    pub fn attempts(&self) -> u32 {
        self.max_attempts
    }

    /// The per-attempt timeout, if set.
    pub fn per_attempt_timeout(&self) -> Option<Duration> {
        self.attempt_timeout
    }

    /// The upper bound of the wait before attempt `next` (2, 3, …), before jitter.
    fn ceiling(&self, next: u32) -> Duration {
        let doublings = next.saturating_sub(2).min(31);
        self.base_delay.saturating_mul(1 << doublings).min(self.max_delay)
    }
}

/// How an attempt failed, as far as retrying goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Failure<'a> {
    /// No connection was made: nothing was sent.
    Connect,
    /// The attempt timed out after it may have been sent.
    Timeout,
    /// The connection failed after the request may have been sent.
    Dropped,
    /// WeChat Pay answered this status (and error code); `retry_after` from its header.
    Answer {
        status: u16,
        code: Option<&'a str>,
        retry_after: Option<Duration>,
    },
    /// Anything else (a request error, an answer that failed verification): never retried.
    Final,
}

/// What the pipeline knows when an attempt has failed.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Attempted<'a> {
    pub(crate) method: &'a Method,
    /// The call said it carries its own request number.
    pub(crate) idempotent: bool,
    /// The body can be sent again (not a one-shot stream).
    pub(crate) replayable: bool,
    /// The attempt that failed: 1, 2, …
    pub(crate) attempt: u32,
    /// Time left before the call's deadline.
    pub(crate) remaining: Duration,
}

/// Whether to try again, and after how long; `jitter` is uniform in `[0, 1)`.
pub(crate) fn decide(policy: &RetryPolicy, at: Attempted<'_>, failure: Failure<'_>, jitter: f64) -> Option<Duration> {
    if at.attempt >= policy.max_attempts || !at.replayable {
        return None;
    }
    let repeatable =
        at.idempotent || [Method::GET, Method::PUT, Method::DELETE, Method::HEAD, Method::OPTIONS].contains(at.method);
    let (safe, retry_after) = match failure {
        Failure::Connect => (true, None),
        Failure::Timeout | Failure::Dropped => (repeatable, None),
        Failure::Answer {
            status,
            code,
            retry_after,
        } => {
            let transient = matches!(status, 429 | 500 | 502 | 503 | 504)
                || matches!(code, Some("SYSTEM_ERROR" | "FREQUENCY_LIMITED"));
            (transient && repeatable, retry_after)
        }
        Failure::Final => (false, None),
    };
    if !safe {
        return None;
    }
    let wait = policy.ceiling(at.attempt + 1).mul_f64(jitter.clamp(0.0, 1.0));
    let wait = retry_after.map_or(wait, |after| after.max(wait));
    // A wait that would outlast the deadline leaves no attempt worth making.
    (wait < at.remaining).then_some(wait)
}

/// `Retry-After` in seconds (WeChat Pay and most gateways send seconds; an HTTP date is ignored).
pub(crate) fn retry_after(value: Option<&str>) -> Option<Duration> {
    value?.trim().parse::<u64>().ok().map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(method: &Method, idempotent: bool, attempt: u32) -> Attempted<'_> {
        Attempted {
            method,
            idempotent,
            replayable: true,
            attempt,
            remaining: Duration::from_secs(60),
        }
    }

    fn answer(status: u16, code: Option<&str>) -> Failure<'_> {
        Failure::Answer {
            status,
            code,
            retry_after: None,
        }
    }

    #[test]
    fn safe_failures_are_retried_by_method() {
        let p = RetryPolicy::default();
        let (get, post, patch) = (Method::GET, Method::POST, Method::PATCH);
        for failure in [
            Failure::Timeout,
            Failure::Dropped,
            answer(429, None),
            answer(500, None),
            answer(502, None),
            answer(503, None),
            answer(504, None),
            answer(400, Some("SYSTEM_ERROR")),
            answer(403, Some("FREQUENCY_LIMITED")),
        ] {
            assert!(decide(&p, at(&get, false, 1), failure, 0.5).is_some(), "{failure:?}");
            assert!(decide(&p, at(&post, false, 1), failure, 0.5).is_none(), "{failure:?}");
            assert!(decide(&p, at(&patch, false, 1), failure, 0.5).is_none(), "{failure:?}");
            assert!(decide(&p, at(&post, true, 1), failure, 0.5).is_some(), "{failure:?}");
        }
        // Nothing was sent: every method.
        assert!(decide(&p, at(&post, false, 1), Failure::Connect, 0.5).is_some());
        for failure in [
            answer(400, Some("PARAM_ERROR")),
            answer(404, None),
            answer(401, None),
            Failure::Final,
        ] {
            assert!(decide(&p, at(&get, true, 1), failure, 0.5).is_none(), "{failure:?}");
        }
    }

    #[test]
    fn attempts_one_shot_bodies_and_the_deadline_bound_retries() {
        let p = RetryPolicy::default();
        let get = Method::GET;
        assert!(decide(&p, at(&get, false, 2), Failure::Connect, 0.5).is_some());
        assert!(decide(&p, at(&get, false, 3), Failure::Connect, 0.5).is_none());
        assert!(decide(&RetryPolicy::none(), at(&get, false, 1), Failure::Connect, 0.5).is_none());
        let one_shot = Attempted {
            replayable: false,
            ..at(&get, false, 1)
        };
        assert!(decide(&p, one_shot, Failure::Connect, 0.5).is_none());
        let late = Attempted {
            remaining: Duration::from_millis(10),
            ..at(&get, false, 1)
        };
        assert!(decide(&p, late, Failure::Connect, 0.99).is_none());
    }

    #[test]
    fn waits_grow_with_full_jitter_and_honour_retry_after() {
        let p = RetryPolicy::default();
        let get = Method::GET;
        let wait = |attempt, jitter| decide(&p, at(&get, false, attempt), Failure::Connect, jitter).unwrap();
        assert_eq!(wait(1, 0.0), Duration::ZERO);
        assert_eq!(wait(1, 0.5), Duration::from_millis(50));
        assert_eq!(wait(2, 0.5), Duration::from_millis(100));
        let p = RetryPolicy::default().max_attempts(20);
        let ceiling = decide(&p, at(&get, false, 15), Failure::Connect, 1.0).unwrap();
        assert_eq!(ceiling, Duration::from_secs(2));
        let after = Failure::Answer {
            status: 503,
            code: None,
            retry_after: Some(Duration::from_secs(3)),
        };
        assert_eq!(decide(&p, at(&get, false, 1), after, 0.5), Some(Duration::from_secs(3)));
        let short = Attempted {
            remaining: Duration::from_secs(2),
            ..at(&get, false, 1)
        };
        assert_eq!(
            decide(&p, short, after, 0.5),
            None,
            "a Retry-After past the deadline ends the call"
        );
        assert_eq!(retry_after(Some(" 7 ")), Some(Duration::from_secs(7)));
        assert_eq!(retry_after(Some("Wed, 21 Oct 2015 07:28:00 GMT")), None);
    }
}
