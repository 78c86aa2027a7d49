//! A verified answer, and how answers become `Ok(Response)` or an [`Error`].

use std::fmt;

use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use serde::de::DeserializeOwned;

use crate::client::transport::Raw;
use crate::error::{ApiDetails, Error, Result};

/// A 2xx answer whose signature has been verified (or that WeChat Pay does not sign; see
/// [`crate::verify::Policy`]).
///
/// Any other answer is an [`Error`] instead ([`Error::is_api`], with its status, `code` and `message`).
///
/// ```
/// let server = wechatpay::mock::MockServer::start()?;
/// let client = server.client()?;
/// let res = client["v3/marketing/busifavor/stocks/{stock_id}"].get(serde_json::json!({"stock_id": "100088"}))?;
/// assert_eq!(res.status(), 200);
/// println!("request {:?}", res.request_id()); // quote it when asking WeChat Pay about a call
/// let stock: serde_json::Value = res.json()?;
/// assert_eq!(stock["stock_id"], "100088");
/// # Ok::<(), wechatpay::Error>(())
/// ```
#[derive(Clone)]
pub struct Response {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
    /// An APIv2 answer's fields, as verifying it parsed them (`Value::Object`).
    fields: Option<std::sync::Arc<serde_json::Value>>,
}

impl Response {
    /// The HTTP status code.
    pub fn status(&self) -> u16 {
        self.status.as_u16()
    }

    /// All headers.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// One header as text, if present and valid text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name)?.to_str().ok()
    }

    /// The `Request-ID` WeChat Pay gave this answer.
    pub fn request_id(&self) -> Option<&str> {
        self.header("request-id")
    }

    /// The raw body.
    pub fn bytes(&self) -> &Bytes {
        &self.body
    }

    /// The body as UTF-8 text (PHP's `(string) $response->getBody()`).
    pub fn text(&self) -> Result<&str> {
        std::str::from_utf8(&self.body).map_err(|e| Error::decode("the answer's body is not UTF-8").with_source(e))
    }

    /// The body deserialized from JSON into any `T` (PHP's `json_decode(...)`); `serde_json::Value` works.
    /// An empty body (e.g. 204) reads as JSON `null`.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T> {
        let body: &[u8] = if self.body.is_empty() { b"null" } else { &self.body };
        serde_json::from_slice(body).map_err(|e| {
            Error::decode(format!(
                "the answer's body is not the JSON expected ({})",
                std::any::type_name::<T>()
            ))
            .with_source(e)
        })
    }
}

impl Response {
    /// An APIv2 answer's fields, deserialized into any `T`: a `serde_json::Value` (or a map) holds every
    /// field as text — repeated elements as a list, nested ones as an object — and a serde struct may type
    /// them (`total_fee: u64`). The root element is dropped; CDATA is unwrapped; a DOCTYPE is refused.
    ///
    /// ```
    /// # let server = wechatpay::mock::MockServer::start()?;
    /// # let client = server.client()?;
    /// # let mchid = client.mchid().to_owned();
    /// use serde_json::json;
    ///
    /// let pay = json!({"xml": {"appid": "wx8888888888888888", "mch_id": mchid, "body": "image形象店-深圳腾大- QQ公仔",
    ///     "out_trade_no": "1217752501201407033233368018", "total_fee": 888, "spbill_create_ip": "8.8.8.8",
    ///     "auth_code": "120061098828009406"}});
    /// let res = client["v2/pay/micropay"].post(&pay)?;
    ///
    /// #[derive(serde::Deserialize)]
    /// struct Paid { transaction_id: String, total_fee: u64 }
    /// let paid: Paid = res.xml()?;
    /// assert_eq!(paid.total_fee, 888);
    /// let fields: serde_json::Value = res.xml()?;
    /// assert_eq!(fields["transaction_id"], paid.transaction_id.as_str());
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn xml<T: DeserializeOwned>(&self) -> Result<T> {
        let text = self.text()?;
        let parsed;
        let fields = match &self.fields {
            Some(fields) => &**fields,
            None => {
                parsed = serde_json::Value::Object(crate::protocol::apiv2::xml::parse(text)?);
                &parsed
            }
        };
        // Fields are text: a type that takes them as such reads them directly; one that wants numbers or
        // booleans is read by quick-xml's deserializer, which parses text into them.
        match T::deserialize(fields) {
            Ok(value) => Ok(value),
            Err(_) => quick_xml::de::from_str(text).map_err(|e| {
                Error::decode(format!(
                    "the answer's XML is not the {} expected",
                    std::any::type_name::<T>()
                ))
                .with_source(e)
            }),
        }
    }
}

impl Response {
    /// Keeps the fields verifying an APIv2 answer parsed, so reading them does not parse again.
    pub(crate) fn with_fields(mut self, fields: Option<serde_json::Map<String, serde_json::Value>>) -> Self {
        self.fields = fields.map(|f| std::sync::Arc::new(serde_json::Value::Object(f)));
        self
    }
}

impl fmt::Debug for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Response")
            .field("status", &self.status.as_u16())
            .field("request_id", &self.request_id())
            .field("body_len", &self.body.len())
            .finish()
    }
}

/// Turns a raw answer, already verified where it is signed, into a [`Response`] (2xx) or an [`Error`].
pub(crate) fn finish(raw: Raw) -> Result<Response> {
    let Raw { status, headers, body } = raw;
    if status.is_success() {
        return Ok(Response {
            status,
            headers,
            body,
            fields: None,
        });
    }
    // WeChat Pay never redirects an API call: a 3xx comes from a misrouted `base_uri` or a middlebox. It
    // is reported as the answer it is (its status, never followed), with what to check.
    let redirect = status.is_redirection().then(|| {
        let location = headers
            .get(http::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("nowhere");
        format!("a redirect to {location}, which is not followed: WeChat Pay does not redirect API calls, so check `base_uri`")
    });
    // A redirect's body is not WeChat Pay's word: no code of it may make the call look retryable.
    let parsed: Option<serde_json::Value> = match redirect {
        Some(_) => None,
        None => serde_json::from_slice(&body).ok(),
    };
    let field = |name: &str| parsed.as_ref().and_then(|v| v.get(name));
    let error = Error::api(ApiDetails {
        status: status.as_u16(),
        code: field("code").and_then(|v| v.as_str()).map(str::to_owned),
        message: field("message").and_then(|v| v.as_str()).map(str::to_owned),
        detail: field("detail").cloned(),
        request_id: headers
            .get("request-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        retry_after: crate::protocol::retry::retry_after(
            headers.get(http::header::RETRY_AFTER).and_then(|v| v.to_str().ok()),
        ),
        body,
    });
    Err(match redirect {
        Some(hint) => error.with_hint(&hint),
        None => error,
    })
}
