//! The sandbox's HTTP server: accepting connections (HTTPS when asked), authenticating, routing to the
//! families' handlers, and answering — signed, with the injected fault.

use std::collections::HashMap;
use std::convert::Infallible;
use std::fmt;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use http_body_util::{BodyExt, Full, Limited, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper_util::rt::TokioIo;

use super::exchange::Body;
use super::faults::Fault;
use super::gateway::{self, Signing};
use super::{
    apiv2, control, kit, media, unsimulated, Answer, Handler, MockRequest, Received, Shared, MAX_REQUEST_BODY,
};

/// A matched route: its handler, the placeholder values, and its template.
pub(crate) type Found = (Handler, Vec<(String, String)>, String);

/// The handler table: every family's routes, and an index per method.
#[derive(Default)]
pub(crate) struct Routes {
    table: Vec<(Method, String, Handler)>,
    index: HashMap<Method, matchit::Router<usize>>,
}

impl Routes {
    pub(crate) fn insert(&mut self, method: Method, template: &str, handler: Handler) {
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

    /// The handler for `method` + `path`, the placeholder values, and the template it was registered as.
    pub(crate) fn find(&self, method: &Method, path: &str) -> Option<Found> {
        let m = self.index.get(method)?.at(path).ok()?;
        let params = m
            .params
            .iter()
            .map(|(k, v)| (k.to_owned(), percent_decode(v)))
            .collect();
        let (_, template, handler) = &self.table[*m.value];
        Some((Arc::clone(handler), params, template.clone()))
    }
}

fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned()
}

pub(crate) async fn accept_loop(
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
    let Some((handler, params, template)) = found else {
        return unsimulated::answer(&method, &path, &query, &body);
    };
    // The family's field readers check what they read against this operation's documented fields.
    let operation = crate::catalog::find(method.as_str(), &template)
        .or_else(|| crate::catalog::find(method.as_str(), &format!("v2/{template}")));
    let _reading = kit::reading(operation);
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
