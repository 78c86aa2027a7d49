//! What a handler sees and answers: [`MockRequest`] and [`Answer`].

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method};
use serde_json::{json, Value};

/// A request as an endpoint handler sees it, after authentication.
///
/// ```
/// use serde_json::json;
/// use wechatpay::mock::{Answer, MockServer};
/// use wechatpay::Method;
///
/// let server = MockServer::start()?;
/// server.route(Method::GET, "v3/users/{openid}", |req| {
///     Answer::json(200, &json!({"openid": req.param("openid"), "lang": req.query("lang")}))
/// });
/// let res = server.client()?["v3/users/{openid}"].get(json!({"openid": "o-1", "query": {"lang": "en"}}))?;
/// assert_eq!(res.json::<serde_json::Value>()?, json!({"openid": "o-1", "lang": "en"}));
/// # Ok::<(), wechatpay::Error>(())
/// ```
#[derive(Debug)]
pub struct MockRequest {
    /// The method.
    pub method: Method,
    /// The raw path, as sent.
    pub path: String,
    /// Placeholder values of the matched route, percent-decoded.
    pub params: Vec<(String, String)>,
    /// Query parameters, percent-decoded, in order.
    pub query: Vec<(String, String)>,
    /// The headers.
    pub headers: HeaderMap,
    /// The raw body.
    pub body: Bytes,
}

impl MockRequest {
    /// A placeholder value of the matched route.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// A query parameter.
    pub fn query(&self, name: &str) -> Option<&str> {
        self.query.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// The body as JSON, or the 400 `PARAM_ERROR` WeChat Pay would answer.
    pub fn json(&self) -> std::result::Result<Value, Answer> {
        serde_json::from_slice(&self.body)
            .map_err(|e| Answer::error(400, "PARAM_ERROR", &format!("请求体不是合法的JSON: {e}")))
    }
}

/// An answer from an endpoint handler; the gateway signs it.
///
/// ```
/// use serde_json::json;
/// use wechatpay::mock::{Answer, MockServer};
/// use wechatpay::Method;
///
/// let server = MockServer::start()?;
/// server.route(Method::POST, "v3/refund/domestic/refunds", |req| match req.json() {
///     Ok(body) if body["out_refund_no"].is_string() => Answer::json(200, &json!({"status": "PROCESSING"})),
///     Ok(_) => Answer::error(400, "PARAM_ERROR", "缺少参数out_refund_no"),
///     Err(refused) => refused,
/// });
/// let e = server.client()?["v3/refund/domestic/refunds"].post(json!({"json": {}})).unwrap_err();
/// assert_eq!((e.status(), e.code()), (Some(400), Some("PARAM_ERROR")));
/// # Ok::<(), wechatpay::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Answer {
    pub(crate) status: u16,
    pub(crate) body: Bytes,
    pub(crate) headers: Vec<(HeaderName, HeaderValue)>,
}

impl Answer {
    /// A JSON answer (`application/json; charset=utf-8`, as WeChat Pay sends it).
    pub fn json(status: u16, body: &Value) -> Self {
        Answer::bytes(status, "application/json; charset=utf-8", body.to_string())
    }

    /// Any body with a content type.
    pub fn bytes(status: u16, content_type: &str, body: impl Into<Bytes>) -> Self {
        let ct = HeaderValue::from_str(content_type).unwrap_or(HeaderValue::from_static("application/octet-stream"));
        Answer {
            status,
            body: body.into(),
            headers: vec![(http::header::CONTENT_TYPE, ct)],
        }
    }

    /// 204 No Content.
    pub fn no_content() -> Self {
        Answer {
            status: 204,
            body: Bytes::new(),
            headers: Vec::new(),
        }
    }

    /// A WeChat Pay error: `{"code", "message"}`.
    pub fn error(status: u16, code: &str, message: &str) -> Self {
        Answer::json(status, &json!({"code": code, "message": message}))
    }

    /// A WeChat Pay error with a `detail` object (e.g. `{"field": "stock_id"}`).
    pub fn error_with_detail(status: u16, code: &str, message: &str, detail: Value) -> Self {
        Answer::json(status, &json!({"code": code, "message": message, "detail": detail}))
    }

    /// Adds a header.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        if let (Ok(n), Ok(v)) = (HeaderName::from_bytes(name.as_bytes()), HeaderValue::from_str(value)) {
            self.headers.push((n, v));
        }
        self
    }

    /// The status.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The body.
    pub fn body(&self) -> &Bytes {
        &self.body
    }
}

/// The body of a response the sandbox sends.
pub(crate) type Body = http_body_util::combinators::BoxBody<Bytes, std::convert::Infallible>;
