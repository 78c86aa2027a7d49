//! `tracing` glue (feature `tracing`): one span per call, events for retries, refreshes and verification
//! failures. Without the feature every function here is empty and compiles away.
//!
//! What is recorded: the method, the path *template* (never the expanded path: placeholder values are
//! often personal data), the server's `host:port`, the attempt count, the status, the `Request-ID` and
//! the error's kind. Never a body, a header value, a key, a signature's input or an expanded value.

use std::future::Future;
use std::time::Duration;

use crate::client::response::Response;
use crate::error::Error;
use crate::protocol::request::Prepared;

#[cfg(feature = "tracing")]
pub(crate) type Span = tracing::Span;
/// Nothing to record into without the feature.
#[cfg(not(feature = "tracing"))]
#[derive(Clone)]
pub(crate) struct Span;

/// The span of one call.
#[cfg(feature = "tracing")]
pub(crate) fn call_span(prepared: &Prepared, server: &str) -> Span {
    tracing::info_span!(
        "wechatpay.call",
        http.method = %prepared.method,
        url.template = %prepared.template,
        server.address = %server,
        attempts = tracing::field::Empty,
        http.status = tracing::field::Empty,
        request_id = tracing::field::Empty,
        error.kind = tracing::field::Empty,
    )
}

#[cfg(not(feature = "tracing"))]
pub(crate) fn call_span(_: &Prepared, _: &str) -> Span {
    Span
}

/// Runs `fut` inside `span`.
#[cfg(feature = "tracing")]
pub(crate) async fn instrument<F: Future>(fut: F, span: Span) -> F::Output {
    tracing::Instrument::instrument(fut, span).await
}

#[cfg(not(feature = "tracing"))]
pub(crate) async fn instrument<F: Future>(fut: F, _: Span) -> F::Output {
    fut.await
}

/// Records how the call ended on its span.
pub(crate) fn finished(span: &Span, attempts: u32, res: Option<&Response>, error: Option<&Error>) {
    #[cfg(feature = "tracing")]
    {
        span.record("attempts", attempts);
        let status = res.map(Response::status).or_else(|| error.and_then(Error::status));
        if let Some(status) = status {
            span.record("http.status", status);
        }
        if let Some(id) = res
            .and_then(Response::request_id)
            .or_else(|| error.and_then(Error::request_id))
        {
            span.record("request_id", id);
        }
        if let Some(e) = error {
            span.record("error.kind", e.kind_name());
        }
    }
    #[cfg(not(feature = "tracing"))]
    let _ = (span, attempts, res, error);
}

/// An attempt failed and the call will try again after `wait`.
pub(crate) fn retrying(attempt: u32, wait: Duration, error: &Error) {
    #[cfg(feature = "tracing")]
    tracing::warn!(
        attempt,
        wait_ms = wait.as_millis() as u64,
        error.kind = error.kind_name(),
        http.status = error.status(),
        "wechatpay: retrying"
    );
    #[cfg(not(feature = "tracing"))]
    let _ = (attempt, wait, error);
}

/// An answer failed verification.
pub(crate) fn unverified(error: &Error) {
    #[cfg(feature = "tracing")]
    tracing::warn!(step = ?error.verification(), "wechatpay: answer not verified");
    #[cfg(not(feature = "tracing"))]
    let _ = error;
}

/// A certificate refresh ended: how many certificates it brought, or its error.
pub(crate) fn refreshed(result: Result<usize, &Error>) {
    #[cfg(feature = "tracing")]
    match result {
        Ok(count) => tracing::info!(certificates = count, "wechatpay: platform certificates refreshed"),
        Err(e) => {
            tracing::warn!(error.kind = e.kind_name(), step = ?e.verification(), "wechatpay: certificate refresh failed")
        }
    }
    #[cfg(not(feature = "tracing"))]
    let _ = result;
}
