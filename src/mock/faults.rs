//! Faults a test injects into the sandbox's answers, at random or in turn, and the record of what arrived.

use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;
use http::Method;

use super::{MockServer, Shared};

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
pub(crate) struct FaultRule {
    pub(crate) fault: Fault,
    pub(crate) path: Option<String>,
    pub(crate) remaining: Option<usize>,
}

/// Random faults: each answer gets one of `faults` with probability `per_mille / 1000`.
pub(crate) struct Chaos {
    pub(crate) faults: Vec<Fault>,
    pub(crate) per_mille: u32,
    pub(crate) state: u64,
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
    pub(crate) fn take_fault(&self, path: &str) -> Option<Fault> {
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

impl MockServer {
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
