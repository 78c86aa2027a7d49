//! The sandbox's control API: what a test in any language does to play the user, over plain HTTP, unsigned,
//! under a prefix no WeChat Pay path can take (`/_sandbox/`), and only for requests from this machine.
//!
//! - `POST /_sandbox/pay/{out_trade_no}`: the user pays the order (`204`); `404` for no such order, `409`
//!   for one that is not waiting for payment. Its payment notification goes to its `notify_url`.
//! - `POST /_sandbox/fail/{out_trade_no}`: the payment fails (`PAYERROR`, `204`).
//! - `POST /_sandbox/refund/{out_refund_no}/{SUCCESS|ABNORMAL|CLOSED}`: ends a `PROCESSING` APIv3 refund
//!   (`204`), and its `REFUND.*` notification goes to its `notify_url`.

use bytes::Bytes;
use http_body_util::BodyExt as _;
use http_body_util::Full;
use serde_json::json;

use super::exchange::Body;
use super::{orders, payments, Shared};

const CONTROLS: &str = "the control API has `POST /_sandbox/pay/{out_trade_no}`, `POST /_sandbox/fail/{out_trade_no}` \
                        and `POST /_sandbox/refund/{out_refund_no}/{SUCCESS|ABNORMAL|CLOSED}`";

/// Where the control API lives: WeChat Pay's paths start with a letter or `v`, never `_`.
pub(crate) const PREFIX: &str = "/_sandbox/";

/// Pays an order of the shared book; on failure, the status and why.
pub(crate) fn pay(shared: &Shared, out_trade_no: &str) -> Result<(), (u16, String)> {
    let payer = shared
        .orders
        .get()
        .ok_or((503, "the sandbox is still starting".to_owned()))?;
    orders::pay(payer, out_trade_no).map_err(|why| {
        let status = if why.starts_with("no order") { 404 } else { 409 };
        (status, why)
    })
}

/// Fails an order's payment; on failure, the status and why.
pub(crate) fn fail_payment(shared: &Shared, out_trade_no: &str) -> Result<(), (u16, String)> {
    let payer = shared
        .orders
        .get()
        .ok_or((503, "the sandbox is still starting".to_owned()))?;
    orders::fail(&payer.book, out_trade_no).map_err(|why| {
        let status = if why.starts_with("no order") { 404 } else { 409 };
        (status, why)
    })
}

/// Settles a refund of the shared book; on failure, the status and why.
pub(crate) fn settle_refund(shared: &Shared, out_refund_no: &str, status: &str) -> Result<(), (u16, String)> {
    let payer = shared
        .orders
        .get()
        .ok_or((503, "the sandbox is still starting".to_owned()))?;
    let status = match status {
        "SUCCESS" => "SUCCESS",
        "ABNORMAL" => "ABNORMAL",
        "CLOSED" => "CLOSED",
        other => {
            return Err((
                400,
                format!("`{other}` is not a refund outcome: SUCCESS, ABNORMAL or CLOSED"),
            ))
        }
    };
    let family = payments::Family {
        mchid: shared.identity.mchid.clone(),
        book: std::sync::Arc::clone(&payer.book),
        courier: std::sync::Arc::clone(&shared.courier),
        refund_delay: shared.refund_delay,
        auto_pay: shared.auto_pay,
        payer: payer.clone(),
    };
    payments::settle(&family, out_refund_no, status).map_err(|why| {
        let code = if why.starts_with("no refund") { 404 } else { 409 };
        (code, why)
    })
}

/// Answers one control request.
pub(crate) fn handle<B>(shared: &Shared, req: &http::Request<B>, loopback: bool) -> http::Response<Body> {
    if !loopback {
        return answer(
            403,
            "FORBIDDEN",
            "the control API answers only requests from this machine",
        );
    }
    let rest = &req.uri().path()[PREFIX.len()..];
    let decoded = |s: &str| percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned();
    match (req.method(), rest.split_once('/')) {
        (&http::Method::POST, Some(("pay", out_trade_no))) if !out_trade_no.is_empty() => {
            match pay(shared, &decoded(out_trade_no)) {
                Ok(()) => response(204, Bytes::new()),
                Err((404, why)) => answer(404, "ORDER_NOT_FOUND", &why),
                Err((status, why)) => answer(status, "ORDER_NOT_PAYABLE", &why),
            }
        }
        (&http::Method::POST, Some(("fail", out_trade_no))) if !out_trade_no.is_empty() => {
            match fail_payment(shared, &decoded(out_trade_no)) {
                Ok(()) => response(204, Bytes::new()),
                Err((404, why)) => answer(404, "ORDER_NOT_FOUND", &why),
                Err((status, why)) => answer(status, "ORDER_NOT_PAYABLE", &why),
            }
        }
        (&http::Method::POST, Some(("refund", rest))) => match rest.rsplit_once('/') {
            Some((out_refund_no, status)) if !out_refund_no.is_empty() => {
                match settle_refund(shared, &decoded(out_refund_no), &decoded(status)) {
                    Ok(()) => response(204, Bytes::new()),
                    Err((404, why)) => answer(404, "REFUND_NOT_FOUND", &why),
                    Err((status, why)) => answer(status, "REFUND_NOT_SETTLEABLE", &why),
                }
            }
            _ => answer(404, "NO_SUCH_CONTROL", CONTROLS),
        },
        _ => answer(404, "NO_SUCH_CONTROL", CONTROLS),
    }
}

fn answer(status: u16, code: &str, message: &str) -> http::Response<Body> {
    let body = json!({"code": code, "message": message}).to_string();
    let mut res = response(status, Bytes::from(body));
    res.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json; charset=utf-8"),
    );
    res
}

fn response(status: u16, body: Bytes) -> http::Response<Body> {
    let mut res = http::Response::new(Full::new(body).boxed());
    *res.status_mut() = http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
    res
}
