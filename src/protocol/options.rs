//! [`Options`]: what to send with a request, PHP-shaped or typed.

use std::fmt::Display;
use std::time::Duration;

use serde::Serialize;
use serde_json::Value;

use crate::error::{Error, Result};
use crate::protocol::retry::RetryPolicy;

/// The option keys understood at the top level of a `Value`; every other key is a placeholder value.
pub(crate) const KNOWN_KEYS: [&str; 11] = [
    "json",
    "xml",
    "security",
    "nonceless",
    "query",
    "headers",
    "body",
    "timeout",
    "sensitive",
    "retry",
    "idempotent",
];

/// What to send with a request: placeholder values, query, headers, a body, and how to send it. A verb takes
/// anything `Into<Options>`: PHP's options array as a `serde_json::Value`, or this typed builder.
///
/// ```
/// use serde_json::json;
/// use wechatpay::Options;
///
/// // PHP: ['stock_id' => '100088', 'query' => ['limit' => 10], 'json' => [...]]
/// let php_like: Options = json!({"stock_id": "100088", "query": {"limit": 10}, "json": {"a": 1}}).into();
///
/// #[derive(serde::Serialize)]
/// struct Body { a: u32 }
/// let typed = Options::new().param("stock_id", "100088").query("limit", 10).json(&Body { a: 1 });
/// # let _ = (php_like, typed);
/// ```
///
/// The keys of the PHP-shaped form, at the top level of the object:
///
/// | key | typed twin | meaning |
/// |---|---|---|
/// | `json` | [`Options::json`] | a body serialized as JSON |
/// | `body` | [`Options::body`] | a body sent exactly as given (a string) |
/// | `query` | [`Options::query`] | query parameters, an object of strings, numbers or booleans, in order |
/// | `headers` | [`Options::header`] | request headers, an object |
/// | `timeout` | [`Options::timeout`] | a positive number of seconds for the whole call |
/// | `sensitive` | [`Options::sensitive`] | paths of `json` fields to encrypt |
/// | `retry` | [`Options::retry`] | `{"max_attempts": n}` |
/// | `idempotent` | [`Options::idempotent`] | `true` when the call carries its own request number |
/// | `xml` | [`Options::xml`] | APIv2: the fields, an object (sent as XML, or as the query of a GET) |
/// | `security` | [`Options::security`] | APIv2: `true` to present the merchant's client certificate |
/// | `nonceless` | [`Options::nonceless`] | APIv2: `true` to send no `nonce_str` |
/// | any other key | [`Options::param`] | the value of the path placeholder of that name |
///
/// **How new keys are added.** A new option key only comes with a minor release and is listed in the
/// changelog, and is chosen so that no documented WeChat Pay path has a placeholder of that name. A
/// placeholder is never lost to an option silently: a top-level key that is neither an option nor a
/// placeholder of the path is an error, and [`Options::param`] always means a placeholder, whatever its
/// name — use it for a path whose placeholder shares a name with an option key.
#[must_use = "options do nothing until passed to a verb such as `post`"]
#[derive(Clone, Default)]
pub struct Options {
    pub(crate) params: Vec<(String, String)>,
    pub(crate) query: Vec<(String, String)>,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Option<Body>,
    pub(crate) timeout: Option<Duration>,
    pub(crate) unverified_download: bool,
    pub(crate) sensitive: Vec<String>,
    /// The call named its sensitive fields (maybe none): the catalog's are not encrypted for it.
    pub(crate) sensitive_given: bool,
    pub(crate) upload: Option<crate::protocol::multipart::Upload>,
    pub(crate) progress: Option<Progress>,
    pub(crate) retry: Option<RetryPolicy>,
    pub(crate) idempotent: bool,
    /// APIv2 fields, in order, each already as text (see [`Options::xml`]).
    pub(crate) xml: Option<Vec<(String, String)>>,
    pub(crate) security: bool,
    pub(crate) nonceless: bool,
    /// An error found while building, reported when the request is made (`From` cannot fail).
    pub(crate) invalid: Option<String>,
    /// Top-level keys whose value is neither a string nor a number, with what it was: an error either way,
    /// but which one (an unknown option, or a placeholder given a bad value) depends on the path, so it is
    /// decided when the path is known.
    pub(crate) odd_keys: Vec<(String, &'static str)>,
}

/// Told `(bytes received, total if announced)` as an answer's body arrives.
pub(crate) type Progress = std::sync::Arc<dyn Fn(u64, Option<u64>) + Send + Sync>;

#[derive(Clone)]
pub(crate) enum Body {
    Json(Vec<u8>),
    Raw(Vec<u8>),
}

impl Body {
    pub(crate) fn bytes(&self) -> &[u8] {
        match self {
            Body::Json(b) | Body::Raw(b) => b,
        }
    }
}

impl Options {
    /// No options: no placeholders, query, extra headers or body.
    ///
    /// ```
    /// use wechatpay::Options;
    /// let none = Options::new(); // as `()` or `json!({})` would be
    /// # let _ = none;
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    fn fail(mut self, why: String) -> Self {
        self.invalid.get_or_insert(why);
        self
    }

    fn set_body(mut self, body: Body) -> Self {
        if self.body.is_some() {
            return self.fail("both `json` and `body` are set; send one of them".into());
        }
        self.body = Some(body);
        self
    }

    /// Sends `value` serialized as JSON (PHP's `'json' => [...]`).
    ///
    /// ```
    /// # let server = wechatpay::mock::MockServer::start()?;
    /// # let client = server.client()?;
    /// use wechatpay::{Method, Options};
    ///
    /// #[derive(serde::Serialize)]
    /// struct UseCoupon<'a> { coupon_code: &'a str, stock_id: &'a str }
    /// let options = Options::new().json(&UseCoupon { coupon_code: "sxxe34343434", stock_id: "100088" });
    /// let prepared = client.prepare(Method::POST, "v3/marketing/busifavor/coupons/use", options)?;
    /// assert_eq!(&prepared.body()[..], br#"{"coupon_code":"sxxe34343434","stock_id":"100088"}"#);
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn json<T: Serialize + ?Sized>(self, value: &T) -> Self {
        match serde_json::to_vec(value) {
            Ok(bytes) => self.set_body(Body::Json(bytes)),
            Err(e) => self.fail(format!("the `json` body could not be serialized: {e}")),
        }
    }

    /// Sends these bytes as the body, exactly (PHP's `'body' => '...'`).
    ///
    /// ```
    /// # let server = wechatpay::mock::MockServer::start()?;
    /// # let client = server.client()?;
    /// use wechatpay::{Method, Options};
    /// let options = Options::new().body(r#"{"stock_id":"100088"}"#); // already JSON: sent, and signed, as is
    /// let prepared = client.prepare(Method::POST, "v3/marketing/busifavor/stocks", options)?;
    /// assert_eq!(&prepared.body()[..], br#"{"stock_id":"100088"}"#);
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn body(self, bytes: impl Into<Vec<u8>>) -> Self {
        self.set_body(Body::Raw(bytes.into()))
    }

    /// Adds a query parameter (PHP's `'query' => [name => value]`), sent in the order added.
    ///
    /// ```
    /// # let server = wechatpay::mock::MockServer::start()?;
    /// # let client = server.client()?;
    /// use wechatpay::{Method, Options};
    /// let options = Options::new().param("openid", "o-abc").query("limit", 10).query("offset", 0);
    /// let prepared = client.prepare(Method::GET, "v3/marketing/busifavor/users/{openid}/coupons", options)?;
    /// assert_eq!(prepared.target(), "/v3/marketing/busifavor/users/o-abc/coupons?limit=10&offset=0");
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn query(mut self, name: impl Into<String>, value: impl Display) -> Self {
        self.query.push((name.into(), value.to_string()));
        self
    }

    /// Adds or replaces a request header (PHP's `'headers' => [name => value]`).
    ///
    /// ```
    /// # let server = wechatpay::mock::MockServer::start()?;
    /// # let client = server.client()?;
    /// use wechatpay::{Method, Options};
    /// let options = Options::new().header("Accept-Language", "en");
    /// let prepared = client.prepare(Method::GET, "v3/certificates", options)?;
    /// assert_eq!(prepared.headers()["accept-language"], "en");
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Gives the value of the path placeholder `{name}` (PHP's top-level `'name' => value`).
    ///
    /// ```
    /// # let server = wechatpay::mock::MockServer::start()?;
    /// # let client = server.client()?;
    /// use wechatpay::{Method, Options};
    /// let options = Options::new().param("stock_id", 100088);
    /// let prepared = client.prepare(Method::GET, "v3/marketing/busifavor/stocks/{stock_id}", options)?;
    /// assert_eq!(prepared.target(), "/v3/marketing/busifavor/stocks/100088");
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn param(mut self, name: impl Into<String>, value: impl Display) -> Self {
        self.params.push((name.into(), value.to_string()));
        self
    }

    /// How this call is retried, instead of the client's policy ([`crate::ClientBuilder::retry`]); JSON:
    /// `"retry": {"max_attempts": 5}` (`1` never retries).
    ///
    /// ```
    /// use wechatpay::{Options, RetryPolicy};
    /// let once = Options::new().retry(RetryPolicy::none());
    /// let php_like: Options = serde_json::json!({"retry": {"max_attempts": 5}}).into();
    /// # let _ = (once, php_like);
    /// ```
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = Some(policy);
        self
    }

    /// Says that this call carries its own request number (`out_trade_no`, `out_request_no`,
    /// `out_refund_no`), which WeChat Pay deduplicates, so a `POST` or `PATCH` may be sent again after a
    /// timeout, a dropped connection or a 5xx (see [`crate::RetryPolicy`]); JSON: `"idempotent": true`.
    /// Without it such a call is never sent twice. Say it only when it is true.
    ///
    /// ```
    /// use serde_json::json;
    /// use wechatpay::Options;
    /// let send = Options::new()
    ///     .json(&json!({"stock_id": "100088", "out_request_no": "1002600620019090123143254435"}))
    ///     .idempotent(true);
    /// # let _ = send;
    /// ```
    pub fn idempotent(mut self, idempotent: bool) -> Self {
        self.idempotent = idempotent;
        self
    }

    /// A total timeout for this call, all its attempts included, instead of the client's.
    ///
    /// ```
    /// use std::time::Duration;
    /// use wechatpay::Options;
    /// let patient = Options::new().timeout(Duration::from_secs(120)); // a large bill, say
    /// let php_like: Options = serde_json::json!({"timeout": 120}).into();
    /// # let _ = (patient, php_like);
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Encrypts these fields of the `json` body with the platform key (RSA-OAEP) before signing, and sets
    /// `Wechatpay-Serial` to that key's id (PHP's `Rsa::encrypt` on each field plus the header, done for
    /// you). Paths: `user_name`, `contact.email`, `receivers[].name`; each must name a string in the body.
    /// A `Wechatpay-Serial` header given with the request picks which key encrypts.
    ///
    /// Without it, the fields [`crate::catalog`] documents as encrypted for the operation are encrypted
    /// where the body has them in plaintext (a value that already is a ciphertext for the key is left as
    /// it is). Naming fields here replaces that list; `sensitive([] as [&str; 0])` (JSON `"sensitive": []`)
    /// turns it off.
    ///
    /// ```
    /// # let server = wechatpay::mock::MockServer::start()?;
    /// # let client = server.client()?;
    /// use serde_json::json;
    /// use wechatpay::{Method, Options};
    /// let options = Options::new()
    ///     .json(&json!({"stock_id": "100088", "contact": {"name": "张三"}}))
    ///     .sensitive(["contact.name"]);
    /// let prepared = client.prepare(Method::POST, "v3/marketing/busifavor/stocks", options)?;
    /// assert_eq!(prepared.headers()["wechatpay-serial"], server.public_key_id());
    /// assert!(!String::from_utf8_lossy(prepared.body()).contains("张三"));
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn sensitive<I, S>(mut self, paths: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.sensitive.extend(paths.into_iter().map(Into::into));
        self.sensitive_given = true;
        self
    }

    /// Sends a media upload (PHP's `MediaUtil`): a multipart body with a `meta` part and a `file` part,
    /// signed over the `meta` JSON only, as WeChat Pay wants. Not with `json`, `body` or `sensitive`.
    ///
    /// ```no_run
    /// # fn demo(client: &wechatpay::Client) -> wechatpay::Result<()> {
    /// use wechatpay::{media::Upload, Options};
    /// let res = client["v3/merchant/media/upload"].post(Options::new().upload(Upload::from_path("logo.png")?))?;
    /// println!("{}", res.json::<serde_json::Value>()?["media_id"]);
    /// # Ok(()) }
    /// ```
    pub fn upload(mut self, file: crate::protocol::multipart::Upload) -> Self {
        self.upload = Some(file);
        self
    }

    /// Calls `progress(received, total)` as the answer's body arrives, chunk by chunk (`total` is the
    /// announced `Content-Length`, if any) — for progress on long downloads such as bills.
    ///
    /// ```
    /// # let server = wechatpay::mock::MockServer::start()?;
    /// # let client = server.client()?;
    /// use std::sync::atomic::{AtomicU64, Ordering};
    /// use std::sync::Arc;
    /// use wechatpay::Options;
    ///
    /// let received = Arc::new(AtomicU64::new(0));
    /// let seen = Arc::clone(&received);
    /// let options = Options::new()
    ///     .param("stock_id", "100088")
    ///     .on_progress(move |bytes, _total| seen.store(bytes, Ordering::Relaxed));
    /// let res = client["v3/marketing/busifavor/stocks/{stock_id}"].get(options)?;
    /// assert_eq!(received.load(Ordering::Relaxed), res.bytes().len() as u64);
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn on_progress(mut self, progress: impl Fn(u64, Option<u64>) + Send + Sync + 'static) -> Self {
        self.progress = Some(std::sync::Arc::new(progress));
        self
    }

    /// Accepts the answer without verifying its signature.
    ///
    /// Only for downloads that WeChat Pay does not sign and that this crate does not already recognize
    /// (bill files and merchant-service images are recognized). Check the download against the digest
    /// its signed metadata gave (e.g. a bill's `hash_value`) instead.
    ///
    /// ```no_run
    /// # fn demo(client: &wechatpay::Client, path: &str, sha256: &str) -> wechatpay::Result<()> {
    /// use wechatpay::Options;
    /// // `path` and `sha256` come from the signed answer that named the file.
    /// let file = client.chain(path).get(Options::new().unverified_download())?;
    /// wechatpay::media::check_digest(file.bytes(), "SHA256", sha256)?;
    /// # Ok(()) }
    /// ```
    pub fn unverified_download(mut self) -> Self {
        self.unverified_download = true;
        self
    }

    /// APIv2: the request's fields (PHP's `'xml' => [...]`), from a serde struct or map whose fields are
    /// strings, numbers, booleans or null. They are sent as `<xml>` in the order given (for a `GET`, give
    /// them as [`Options::query`] instead), then `nonce_str` and `sign` are added.
    ///
    /// Values are written as wechatpay-php writes them: `true` as `1`, `false` and null as empty (and so left
    /// out of the signature). A nested value — an object or a list, such as the `detail` or `scene_info`
    /// WeChat Pay documents as JSON text — is sent as compact JSON text, in the XML and in the signature
    /// alike (PHP signs the word `Array` there and so fails).
    ///
    /// ```
    /// # let server = wechatpay::mock::MockServer::start()?;
    /// # let client = server.client()?;
    /// use wechatpay::{Method, Options};
    ///
    /// #[derive(serde::Serialize)]
    /// struct OrderQuery<'a> { appid: &'a str, mch_id: &'a str, out_trade_no: &'a str }
    /// let query = OrderQuery { appid: "wxd678efh567hg6787", mch_id: client.mchid(), out_trade_no: "1217752501201407033233368018" };
    /// let prepared = client.prepare(Method::POST, "v2/pay/orderquery", Options::new().xml(&query))?;
    /// assert!(std::str::from_utf8(prepared.body()).unwrap().starts_with("<xml><appid>wxd678efh567hg6787</appid>"));
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn xml<T: Serialize + ?Sized>(self, fields: &T) -> Self {
        match serde_json::to_value(fields) {
            Ok(value) => self.xml_value(value),
            Err(e) => self.fail(format!("the `xml` fields could not be serialized: {e}")),
        }
    }

    fn xml_value(mut self, value: Value) -> Self {
        let Value::Object(map) = value else {
            return self.fail(format!("`xml` must be an object of fields, not {}", kind_of(&value)));
        };
        if self.xml.is_some() {
            return self.fail("`xml` is given twice".into());
        }
        let fields = map
            .into_iter()
            .map(|(name, v)| {
                let text = match v {
                    Value::String(s) => s,
                    Value::Number(n) => n.to_string(),
                    Value::Bool(true) => "1".to_owned(),
                    Value::Bool(false) | Value::Null => String::new(),
                    nested => nested.to_string(),
                };
                (name, text)
            })
            .collect();
        self.xml = Some(fields);
        self
    }

    /// APIv2: presents the merchant's TLS client certificate (PHP's `'security' => true`). The endpoints
    /// documented as needing it get it without asking; this is for any other.
    pub fn security(mut self, on: bool) -> Self {
        self.security = on;
        self
    }

    /// APIv2: sends no `nonce_str` (PHP's `'nonceless' => true`). The endpoints documented as nonceless get
    /// none without asking.
    pub fn nonceless(mut self, on: bool) -> Self {
        self.nonceless = on;
        self
    }

    pub(crate) fn check(&self) -> Result<()> {
        match &self.invalid {
            Some(why) => Err(Error::request(why.clone())),
            None => Ok(()),
        }
    }

    pub(crate) fn param_value(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

impl std::fmt::Debug for Options {
    /// Names and sizes only: the body and values are what a signature covers, so they stay out of logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names = |pairs: &[(String, String)]| pairs.iter().map(|(k, _)| k.clone()).collect::<Vec<_>>();
        f.debug_struct("Options")
            .field("params", &names(&self.params))
            .field("query", &names(&self.query))
            .field("headers", &names(&self.headers))
            .field("body_len", &self.body.as_ref().map(|b| b.bytes().len()))
            .field("sensitive", &self.sensitive)
            .field("upload", &self.upload.is_some())
            .field("progress", &self.progress.is_some())
            .field("timeout", &self.timeout)
            .field("unverified_download", &self.unverified_download)
            .field("retry", &self.retry)
            .field("idempotent", &self.idempotent)
            .field("xml", &self.xml.as_deref().map(names))
            .field("security", &self.security)
            .field("nonceless", &self.nonceless)
            .field("invalid", &self.invalid)
            .finish()
    }
}

fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// `{"max_attempts": n}` (PHP-shaped) as a policy; other keys are refused.
fn retry_from(v: &Value) -> std::result::Result<RetryPolicy, String> {
    let Value::Object(map) = v else {
        return Err(format!(
            "`retry` must be an object such as {{\"max_attempts\": 3}}, not {}",
            kind_of(v)
        ));
    };
    let mut policy = RetryPolicy::default();
    for (key, value) in map {
        match (key.as_str(), value.as_u64()) {
            ("max_attempts", Some(n)) if (1..=100).contains(&n) => policy = policy.max_attempts(n as u32),
            ("max_attempts", _) => return Err("`retry.max_attempts` must be a whole number from 1 to 100".into()),
            (other, _) => return Err(format!("`retry.{other}` is not a retry setting (known: max_attempts)")),
        }
    }
    Ok(policy)
}

impl From<Value> for Options {
    /// Reads PHP's options array: `json`, `body`, `query`, `headers`, `timeout` (seconds), and placeholder
    /// values (strings or numbers) at the top level. Problems are reported when the request is made.
    fn from(value: Value) -> Self {
        let mut opts = Options::new();
        let map = match value {
            Value::Object(map) => map,
            Value::Null => return opts,
            other => return opts.fail(format!("options must be a JSON object, not {}", kind_of(&other))),
        };
        for (key, v) in map {
            opts = match key.as_str() {
                "json" => opts.json(&v),
                "body" => match v {
                    Value::String(s) => opts.body(s),
                    other => opts.fail(format!("`body` must be a string, not {}", kind_of(&other))),
                },
                "query" | "headers" => {
                    let Value::Object(pairs) = v else {
                        let why = format!("`{key}` must be an object, not {}", kind_of(&v));
                        opts = opts.fail(why);
                        continue;
                    };
                    for (name, v) in pairs {
                        opts = match (scalar(&v), key.as_str()) {
                            (Some(s), "query") => opts.query(name, s),
                            (Some(s), _) => opts.header(name, s),
                            (None, _) => opts.fail(format!(
                                "`{key}.{name}` must be a string or number, not {}",
                                kind_of(&v)
                            )),
                        };
                    }
                    opts
                }
                "sensitive" => match v {
                    Value::Array(items) if items.iter().all(Value::is_string) => {
                        opts.sensitive(items.into_iter().filter_map(|i| i.as_str().map(str::to_owned)))
                    }
                    other => opts.fail(format!(
                        "`sensitive` must be an array of field paths, not {}",
                        kind_of(&other)
                    )),
                },
                "xml" => opts.xml_value(v),
                "security" | "nonceless" => match v {
                    Value::Bool(b) if key == "security" => opts.security(b),
                    Value::Bool(b) => opts.nonceless(b),
                    other => opts.fail(format!("`{key}` must be true or false, not {}", kind_of(&other))),
                },
                "idempotent" => match v {
                    Value::Bool(b) => opts.idempotent(b),
                    other => opts.fail(format!("`idempotent` must be true or false, not {}", kind_of(&other))),
                },
                "retry" => match retry_from(&v) {
                    Ok(policy) => opts.retry(policy),
                    Err(why) => opts.fail(why),
                },
                "timeout" => match v
                    .as_f64()
                    .filter(|s| *s > 0.0)
                    .and_then(|s| Duration::try_from_secs_f64(s).ok())
                {
                    Some(timeout) => opts.timeout(timeout),
                    None => opts.fail("`timeout` must be a positive number of seconds".into()),
                },
                _ => match v {
                    Value::String(_) | Value::Number(_) => {
                        let s = scalar(&v).expect("string or number");
                        opts.param(key, s)
                    }
                    other => {
                        opts.odd_keys.push((key, kind_of(&other)));
                        opts
                    }
                },
            };
        }
        opts
    }
}

impl From<&Value> for Options {
    /// [`From<Value>`](#impl-From%3CValue%3E-for-Options) for a borrowed value, so `post(&payload)` works.
    fn from(value: &Value) -> Self {
        Options::from(value.clone())
    }
}

impl From<()> for Options {
    fn from(_: ()) -> Self {
        Options::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_php_shaped_values() {
        let o: Options = json!({"stock_id": "100088", "n": 5, "query": {"limit": 10, "offset": "0"},
            "headers": {"X-A": "b"}, "json": {"k": "中/文"}, "timeout": 1.5})
        .into();
        o.check().unwrap();
        assert_eq!(o.param_value("stock_id"), Some("100088"));
        assert_eq!(o.param_value("n"), Some("5"));
        assert_eq!(
            o.query,
            [
                ("limit".to_owned(), "10".to_owned()),
                ("offset".to_owned(), "0".to_owned())
            ]
        );
        assert_eq!(o.body.unwrap().bytes(), r#"{"k":"中/文"}"#.as_bytes());
        assert_eq!(o.timeout, Some(Duration::from_millis(1500)));
    }

    #[test]
    fn debug_shows_names_not_values() {
        let o: Options = json!({"openid": "o-secret", "json": {"id_card": "110101199003071234"}}).into();
        let shown = format!("{o:?}");
        assert!(
            shown.contains("openid") && !shown.contains("o-secret") && !shown.contains("1101011990"),
            "{shown}"
        );
    }

    #[test]
    fn bad_shapes_are_request_errors_naming_the_key() {
        for (v, needle) in [
            (json!([1]), "JSON object"),
            (json!({"json": {}, "body": "x"}), "both"),
            (json!({"query": "a=b"}), "`query`"),
            (json!({"headers": {"X": null}}), "`headers.X`"),
            (json!({"timeout": -1}), "`timeout`"),
            (json!({"timeout": 1e300}), "`timeout`"),
        ] {
            let e = Options::from(v).check().unwrap_err();
            assert!(e.is_request() && e.to_string().contains(needle), "{e}");
        }
    }
}
