//! The one send pipeline: `[sign → send → verify]` for each attempt, then finish. Every verb, upload,
//! download, certificate download and refresh goes through [`run`].
//!
//! Attempt 1 of a request that [`crate::Client::prepare`] signed goes as it was signed (what a dry run
//! showed is what is sent); every later attempt is signed anew. The call's timeout bounds every attempt,
//! wait and certificate refresh together.

use std::time::{Duration, Instant};

use futures::future::Either;

use crate::client::observe::Observed;
use crate::client::response::{self, Response};
use crate::client::trace;
use crate::client::transport;
use crate::client::Inner;
use crate::crypto::keyring::Keyring;
use crate::error::{Error, Outcome, Result, Transient, Verification};
use crate::protocol::apiv2;
use crate::protocol::request::{self, Prepared};
use crate::protocol::retry::{self, Attempted, Failure, RetryPolicy};
use crate::protocol::verify::{self, Policy};

/// Sends `prepared` as many times as its retry policy allows and verifies the answer.
pub(crate) async fn run(inner: &Inner, prepared: Prepared) -> Result<Response> {
    let span = trace::call_span(&prepared, inner.target.authority());
    let inside = span.clone();
    trace::instrument(attempts(inner, prepared, inside), span).await
}

async fn attempts(inner: &Inner, mut prepared: Prepared, span: trace::Span) -> Result<Response> {
    let started = Instant::now();
    let timeout = prepared.timeout.unwrap_or(inner.transport.timeout);
    let deadline = started.checked_add(timeout);
    let remaining = || deadline.map_or(Duration::MAX, |d| d.saturating_duration_since(Instant::now()));
    let policy: &RetryPolicy = prepared.retry.as_ref().unwrap_or(&inner.retry);
    let policy = policy.clone();
    let replayable = prepared.multipart.as_ref().is_none_or(|m| m.replayable());
    let mut attempt = 0;
    loop {
        attempt += 1;
        // APIv3 refuses a reused nonce, so each attempt is signed anew. An APIv2 request goes again as it
        // was: its signature has no time window and WeChat Pay deduplicates it by its order number.
        if attempt > 1 && prepared.apiv2.is_none() {
            request::sign(inner.v3_signer(&prepared.template)?, &mut prepared)?;
        }
        let attempt_started = Instant::now();
        let budget = policy.per_attempt_timeout().map_or(remaining(), |t| t.min(remaining()));
        let result = if budget.is_zero() {
            Err(Error::timeout("the call's timeout ran out before this attempt").with_transient(Transient::Timeout))
        } else {
            once(inner, &prepared, budget).await
        };
        for o in &inner.observers {
            o.on_attempt(&Observed::of(
                &prepared,
                attempt,
                attempt_started.elapsed(),
                result.as_ref(),
            ));
        }
        let error = match result {
            Ok(res) => {
                trace::finished(&span, attempt, Some(&res), None);
                for o in &inner.observers {
                    o.on_outcome(&Observed::of(&prepared, attempt, started.elapsed(), Ok(&res)));
                }
                return Ok(res);
            }
            Err(e) => e,
        };
        let at = Attempted {
            method: &prepared.method,
            idempotent: prepared.idempotent,
            replayable,
            attempt,
            remaining: remaining(),
        };
        match retry::decide(&policy, at, failure_of(&error), jitter()) {
            Some(wait) => {
                trace::retrying(attempt, wait, &error);
                transport::sleep(wait).await;
            }
            None => {
                let error = error.with_attempts(attempt);
                trace::finished(&span, attempt, None, Some(&error));
                for o in &inner.observers {
                    o.on_outcome(&Observed::of(&prepared, attempt, started.elapsed(), Err(&error)));
                }
                return Err(error);
            }
        }
    }
}

/// One attempt: send, then verify a 2xx answer (waiting, within `budget`, for a certificate refresh when
/// it names an unknown serial), or turn any other answer into its error.
async fn once(inner: &Inner, prepared: &Prepared, budget: Duration) -> Result<Response> {
    let deadline = Instant::now().checked_add(budget);
    let raw = inner.transport.send(prepared, budget).await?;
    let policy = prepared.policy;
    if let Some(call) = prepared.apiv2 {
        let mut fields = None;
        if raw.status.is_success() {
            let key = inner
                .apiv2_key
                .as_ref()
                .ok_or_else(|| Error::config("the APIv2 key is gone"))?;
            fields = apiv2::answer::check(call, policy, &raw.body, key).inspect_err(|e| {
                if e.is_verification() {
                    trace::unverified(e);
                }
            })?;
        }
        return response::finish(raw).map(|res| res.with_fields(fields));
    }
    if raw.status.is_success() && policy != Policy::Unsigned {
        let check = |ring: &Keyring| {
            verify::verify_signed(
                ring,
                policy,
                &raw.headers,
                &raw.body,
                crate::protocol::formatter::timestamp(),
            )
        };
        if let Err(e) = check(&inner.keyring.load()) {
            let refresher = inner
                .refresher
                .as_ref()
                .filter(|r| r.on_unknown_serial && e.verification() == Some(Verification::UnknownSerial));
            let Some(refresher) = refresher else {
                trace::unverified(&e);
                return Err(e);
            };
            let left = deadline.map_or(Duration::MAX, |d| d.saturating_duration_since(Instant::now()));
            let reverify = std::pin::pin!(refresher.reverify(inner, Instant::now(), e, check));
            let timer = std::pin::pin!(transport::sleep(left));
            match futures::future::select(reverify, timer).await {
                Either::Left((Ok(()), _)) => {}
                Either::Left((Err(e), _)) => {
                    trace::unverified(&e);
                    return Err(e);
                }
                Either::Right(_) => {
                    return Err(Error::timeout(
                        "the request took longer than its timeout while waiting for a platform certificate refresh \
                         (its answer names a serial this client does not know)",
                    )
                    .with_outcome(Outcome::Unknown));
                }
            }
        }
    }
    response::finish(raw).map_err(|e| undocumented_hint(e, prepared))
}

/// A 404 for a path the catalog does not document says which documented paths it probably meant: the
/// catalog never blocks a request (it can lag WeChat Pay), but it explains a refusal.
fn undocumented_hint(e: Error, prepared: &Prepared) -> Error {
    if e.status() != Some(404) {
        return e;
    }
    let (method, template) = (prepared.method.as_str(), prepared.template.as_str());
    if crate::catalog::find(method, template).is_some() || crate::catalog::lookup(method, template).is_some() {
        return e;
    }
    let near: Vec<String> = crate::catalog::suggest(template, 3)
        .iter()
        .map(|op| format!("{} {}", op.method(), op.template()))
        .collect();
    match near.as_slice() {
        [] => e.with_hint(&format!("`{method} {template}` is not a documented WeChat Pay path")),
        _ => e.with_hint(&format!(
            "`{method} {template}` is not a documented WeChat Pay path; did you mean {}?",
            near.join(" or ")
        )),
    }
}

/// What a failed attempt means for retrying.
fn failure_of(e: &Error) -> Failure<'_> {
    match e.transient() {
        Some(Transient::Connect) => Failure::Connect,
        Some(Transient::Timeout) => Failure::Timeout,
        Some(Transient::Dropped) => Failure::Dropped,
        None if e.is_api() => Failure::Answer {
            status: e.status().unwrap_or_default(),
            code: e.code(),
            retry_after: e.retry_after(),
        },
        None => Failure::Final,
    }
}

/// Uniform in `[0, 1)`, from the OS's randomness (no RNG crate for one number per retry).
fn jitter() -> f64 {
    let mut bytes = [0u8; 8];
    crate::crypto::backend::fill_random(&mut bytes);
    (u64::from_le_bytes(bytes) >> 11) as f64 / (1u64 << 53) as f64
}
