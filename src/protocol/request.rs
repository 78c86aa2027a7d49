//! Building a signed request (sans-IO): template expansion, query, headers, body and `Authorization`.

use std::borrow::Cow;
use std::fmt;
use std::time::Duration;

use bytes::Bytes;
use http::{header, HeaderMap, HeaderName, HeaderValue, Method};
use url::Url;

use crate::crypto::keyring::Keyring;
use crate::crypto::keys::PrivateKey;
use crate::error::{Error, Result};
use crate::protocol::options::{Body, Options, KNOWN_KEYS};
use crate::protocol::sign::Authorization;
use crate::protocol::template;
use crate::protocol::verify::{self, Policy};

/// What signs requests: the merchant id, its certificate serial and its private key.
#[derive(Clone)]
pub(crate) struct Signer {
    pub(crate) mchid: String,
    pub(crate) serial: String,
    pub(crate) key: PrivateKey,
}

/// Where requests go and what every request carries.
pub(crate) struct Target {
    /// `scheme://host[:port]`.
    pub(crate) origin: String,
    /// The base path, always ending in `/` (e.g. `/` or `/hk/`).
    pub(crate) base_path: String,
    pub(crate) default_headers: HeaderMap,
}

impl Target {
    /// `host:port`, for traces.
    pub(crate) fn authority(&self) -> &str {
        self.origin.split_once("://").map_or(&self.origin, |(_, rest)| rest)
    }
}

/// A request ready to go on the wire: what [`crate::Client::prepare`] builds and signs, and
/// [`crate::Client::send`] sends. Read-only: what was signed cannot be changed before it is sent.
///
/// What is signed is exactly what is sent: the request target is built once, encoded once, and checked to
/// survive URL parsing unchanged. The one exception is WeChat Pay's own: a media upload sends a multipart
/// body whose signature covers only its `meta` JSON ([`Prepared::multipart`]).
///
/// ```
/// use serde_json::json;
/// use wechatpay::Method;
///
/// let server = wechatpay::mock::MockServer::start()?;
/// let client = server.client()?;
/// let prepared = client.prepare(
///     Method::GET,
///     "v3/marketing/busifavor/stocks/{stock_id}",
///     json!({"stock_id": "100088", "query": {"limit": 10}}),
/// )?;
/// assert_eq!(prepared.target(), "/v3/marketing/busifavor/stocks/100088?limit=10");
/// assert!(prepared.headers()["authorization"].to_str().unwrap().starts_with("WECHATPAY2-SHA256-RSA2048 "));
/// let res = client.send(prepared)?; // sign shortly before sending: the answer window is 300 s
/// assert_eq!(res.status(), 200);
/// # Ok::<(), wechatpay::Error>(())
/// ```
pub struct Prepared {
    pub(crate) method: Method,
    pub(crate) url: Url,
    pub(crate) target: String,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
    pub(crate) multipart: Option<crate::protocol::multipart::Multipart>,
    pub(crate) policy: Policy,
    pub(crate) timeout: Option<Duration>,
    /// Told how much of the answer's body has arrived.
    pub(crate) progress: Option<crate::protocol::options::Progress>,
    /// The path template, for traces and observers (never the expanded path: values are often personal).
    pub(crate) template: String,
    /// This call's retry policy, if it has its own.
    pub(crate) retry: Option<crate::protocol::retry::RetryPolicy>,
    /// The call carries its own request number (see [`crate::Options::idempotent`]).
    pub(crate) idempotent: bool,
    /// An APIv2 call: how it is sent and answered.
    pub(crate) apiv2: Option<ApiV2Call>,
}

/// How an APIv2 call is sent and answered (here, beside [`Prepared`], so `apiv2` builds on this module
/// without this one depending back on it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ApiV2Call {
    /// The merchant's TLS client certificate goes with it.
    pub(crate) security: bool,
    /// Its answer is a bill (CSV or gzip) unless it is an XML error.
    pub(crate) bill: bool,
}

impl Prepared {
    /// The HTTP method.
    pub fn method(&self) -> &Method {
        &self.method
    }

    /// The full URL.
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// The request target that was signed: path and `?query`, exactly as sent.
    pub fn target(&self) -> &str {
        &self.target
    }

    /// Every header, `Authorization` included.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The body that was signed, exactly. It is also the body sent, unless [`Prepared::multipart`] is set.
    pub fn body(&self) -> &Bytes {
        &self.body
    }

    /// For a media upload ([`crate::media`]): the `multipart/form-data` body sent instead of
    /// [`Prepared::body`]. WeChat Pay signs uploads over their `meta` JSON only, so then the body holds that
    /// JSON, which is also the multipart's `meta` part.
    pub fn multipart(&self) -> Option<&crate::protocol::multipart::Multipart> {
        self.multipart.as_ref()
    }

    /// How the answer will be verified.
    pub fn policy(&self) -> Policy {
        self.policy
    }

    /// This call's own timeout, if it has one.
    pub fn timeout(&self) -> Option<Duration> {
        self.timeout
    }

    /// The path template it was built from (e.g. `v3/marketing/busifavor/stocks/{stock_id}`).
    pub fn template(&self) -> &str {
        &self.template
    }

    /// Whether it is an APIv2 (XML) call.
    pub fn is_apiv2(&self) -> bool {
        self.apiv2.is_some()
    }

    /// Whether the merchant's TLS client certificate is presented with it: an APIv2 call to an endpoint
    /// documented as needing it, or one that asked with [`crate::Options::security`].
    pub fn presents_client_certificate(&self) -> bool {
        self.apiv2.is_some_and(|call| call.security)
    }
}

pub(crate) fn prepare(
    signer: &Signer,
    target: &Target,
    keyring: &Keyring,
    method: Method,
    path_template: &str,
    options: &Options,
) -> Result<Prepared> {
    options.check()?;
    // A leading `/` is the base path's, never a second one: `/v3/…` and `v3/…` are the same request.
    let path_template = path_template.trim_start_matches('/');
    if options.xml.is_some() || options.security || options.nonceless {
        return Err(Error::request(format!(
            "`xml`, `security` and `nonceless` are APIv2 options, and `{path_template}` is not an APIv2 (`v2/…`) path"
        )));
    }
    let path = expand_path(path_template, options)?;
    let (url, request_target) = locate(target, path_template, &path, &options.query)?;
    let mut headers = headers_for(target, options)?;

    let mut multipart = None;
    let body = if let Some(upload) = &options.upload {
        if options.body.is_some() || !options.sensitive.is_empty() {
            return Err(Error::request(
                "an upload's body is its multipart; do not set `json`, `body` or `sensitive` with it",
            ));
        }
        let parts = upload.clone().into_multipart();
        let content_type = HeaderValue::from_str(parts.content_type())
            .map_err(|_| Error::request("the upload's content type is not valid header text"))?;
        headers.insert(header::CONTENT_TYPE, content_type);
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(parts.len()));
        let meta = Bytes::copy_from_slice(parts.meta());
        multipart = Some(parts);
        meta
    } else if !options.sensitive.is_empty() {
        encrypt_sensitive(keyring, options, &mut headers)?
    } else if let Some(body) = encrypt_documented(keyring, &method, path_template, options, &mut headers)? {
        body
    } else {
        options
            .body
            .as_ref()
            .map(|b| Bytes::copy_from_slice(b.bytes()))
            .unwrap_or_default()
    };
    let policy = if options.unverified_download {
        Policy::Unsigned
    } else {
        verify::policy_of(&method, path_template, &path)
    };
    let mut prepared = Prepared {
        method,
        url,
        target: request_target,
        headers,
        body,
        multipart,
        policy,
        timeout: options.timeout,
        progress: options.progress.clone(),
        template: path_template.to_owned(),
        retry: options.retry.clone(),
        idempotent: options.idempotent,
        apiv2: None,
    };
    sign(signer, &mut prepared)?;
    Ok(prepared)
}

/// The path `path_template` names with the placeholder values of `options`; an error names an option
/// that is neither known nor a placeholder.
pub(crate) fn expand_path(path_template: &str, options: &Options) -> Result<String> {
    let placeholders = template::placeholders(path_template)?;
    for (name, _) in &options.params {
        if name != template::EMPTY && !placeholders.iter().any(|p| p.name == name) {
            return Err(unknown_option(name, path_template, &placeholders));
        }
    }
    if let Some((name, kind)) = options.odd_keys.first() {
        if placeholders.iter().any(|p| p.name == name) {
            return Err(Error::request(format!(
                "the placeholder value `{name}` must be a string or number, not {kind}"
            )));
        }
        return Err(unknown_option(name, path_template, &placeholders));
    }
    template::expand(path_template, |name| options.param_value(name).map(Cow::Borrowed))
}

/// The URL and the request target (path and `?query`, encoded once) of `path` under `target`, checked to
/// survive URL parsing unchanged.
pub(crate) fn locate(
    target: &Target,
    path_template: &str,
    path: &str,
    query: &[(String, String)],
) -> Result<(Url, String)> {
    let mut request_target = String::with_capacity(target.base_path.len() + path.len() + 16);
    request_target.push_str(&target.base_path);
    request_target.push_str(path);
    for (i, (name, value)) in query.iter().enumerate() {
        request_target.push(if i == 0 { '?' } else { '&' });
        template::encode_component(&mut request_target, name);
        request_target.push('=');
        template::encode_component(&mut request_target, value);
    }

    let url = Url::parse(&format!("{}{}", target.origin, request_target))
        .map_err(|e| Error::path(format!("`{path_template}` does not make a valid URL ({e})")))?;
    let sent = match url.query() {
        Some(q) => format!("{}?{}", url.path(), q),
        None => url.path().to_owned(),
    };
    if sent != request_target {
        // Never sign one target and send another.
        // The message names the template only: the expanded target carries the values.
        return Err(Error::path(format!(
            "`{path_template}` would be rewritten by URL parsing, so what is signed would not be what is sent"
        )));
    }
    Ok((url, request_target))
}

/// The client's default headers with the call's own, which may not set `Authorization` or framing.
pub(crate) fn headers_for(target: &Target, options: &Options) -> Result<HeaderMap> {
    let mut headers = target.default_headers.clone();
    for (name, value) in &options.headers {
        let name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| Error::request(format!("`{name}` is not a valid header name")))?;
        if name == header::AUTHORIZATION {
            return Err(Error::request(
                "the `Authorization` header is computed by the client and cannot be set",
            ));
        }
        if is_framing(&name) {
            return Err(Error::request(format!(
                "the `{name}` header frames the message or the connection and is set by the transport; \
                 setting it could make what is sent differ from what is signed"
            )));
        }
        let value = HeaderValue::from_str(value)
            .map_err(|_| Error::request(format!("the value of header `{name}` is not valid header text")))?;
        headers.insert(name, value);
    }
    Ok(headers)
}

/// A top-level key that is neither an option nor a placeholder of the path.
fn unknown_option(name: &str, path_template: &str, placeholders: &[template::Placeholder<'_>]) -> Error {
    let names: Vec<&str> = placeholders.iter().map(|p| p.name).collect();
    Error::request(format!(
        "unknown option `{name}`: neither an option ({}) nor a placeholder of `{path_template}` (placeholders: [{}])",
        KNOWN_KEYS.join(", "),
        names.join(", ")
    ))
}

/// Signs (or signs anew, with a fresh nonce and timestamp) what `prepared` sends: every attempt of a call
/// carries its own signature, since WeChat Pay refuses a reused nonce.
pub(crate) fn sign(signer: &Signer, prepared: &mut Prepared) -> Result<()> {
    let auth = Authorization::sign(
        &signer.key,
        &signer.mchid,
        &signer.serial,
        prepared.method.as_str(),
        &prepared.target,
        &prepared.body,
    );
    let value = HeaderValue::from_str(&auth.to_string())
        .map_err(|_| Error::config("mchid or serial is not valid header text"))?;
    prepared.headers.insert(header::AUTHORIZATION, value);
    Ok(())
}

/// Headers that frame the message or the connection (RFC 9110 §7.6.1, RFC 9112): the transport writes
/// them from what it sends, so a caller's value would either be ignored or make the bytes on the wire
/// differ from the signed body (a short `Content-Length` truncates it).
pub(crate) fn is_framing(name: &HeaderName) -> bool {
    [
        header::CONTENT_LENGTH,
        header::TRANSFER_ENCODING,
        header::HOST,
        header::CONNECTION,
        header::TE,
        header::TRAILER,
        header::UPGRADE,
    ]
    .contains(name)
        || name == "keep-alive"
        || name == "proxy-connection"
}

impl fmt::Debug for Prepared {
    /// What goes where, not what it says: the body and the signature's inputs stay out of logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Prepared")
            .field("method", &self.method)
            .field("origin", &self.url.origin().ascii_serialization())
            .field("headers", &self.headers.keys().map(|k| k.as_str()).collect::<Vec<_>>())
            .field("body_len", &self.body.len())
            .field("multipart", &self.multipart)
            .field("policy", &self.policy)
            .field("apiv2", &self.apiv2)
            .field("timeout", &self.timeout)
            .field("progress", &self.progress.is_some())
            .finish()
    }
}

/// Encrypts the sensitive fields of the JSON body and names the key in `Wechatpay-Serial`.
fn encrypt_sensitive(keyring: &Keyring, options: &Options, headers: &mut HeaderMap) -> Result<Bytes> {
    let Some(Body::Json(json)) = &options.body else {
        return Err(Error::request("`sensitive` fields need a `json` body"));
    };
    let mut value: serde_json::Value = serde_json::from_slice(json).expect("our own JSON parses");
    let key = encryption_key(keyring, headers)?;
    crate::protocol::sensitive::encrypt_fields(&mut value, &options.sensitive, key)?;
    Ok(serde_json::to_vec(&value).expect("a JSON value serializes").into())
}

/// The fields the catalog documents as encrypted for this operation, encrypted where the JSON body has
/// them in plaintext (as wechatpay-go's and wechatpay-java's typed services do): `None` when there is
/// nothing to encrypt, or the call chose its own `sensitive` paths (an empty list turns this off).
fn encrypt_documented(
    keyring: &Keyring,
    method: &Method,
    path_template: &str,
    options: &Options,
    headers: &mut HeaderMap,
) -> Result<Option<Bytes>> {
    let Some(Body::Json(json)) = &options.body else {
        return Ok(None);
    };
    if options.sensitive_given {
        return Ok(None);
    }
    let Some(op) = crate::catalog::lookup(method.as_str(), path_template) else {
        return Ok(None);
    };
    if op.encrypted_part() != Some("json") {
        return Ok(None);
    }
    let mut value: serde_json::Value = serde_json::from_slice(json).expect("our own JSON parses");
    let plain = crate::protocol::sensitive::plaintext_fields(&value, op.encrypted_fields());
    if plain.is_empty() {
        return Ok(None);
    }
    let key = encryption_key(keyring, headers).map_err(|e| {
        Error::request(format!(
            "`{}` is documented as encrypted for {op}, and there is no platform key to encrypt it with: {e}",
            plain[0]
        ))
    })?;
    crate::protocol::sensitive::encrypt_documented(&mut value, op.encrypted_fields(), key)?;
    Ok(Some(
        serde_json::to_vec(&value).expect("a JSON value serializes").into(),
    ))
}

/// The platform key to encrypt with (the one `Wechatpay-Serial` names, if set), named in that header.
fn encryption_key<'k>(keyring: &'k Keyring, headers: &mut HeaderMap) -> Result<&'k crate::crypto::keys::PublicKey> {
    let preferred = headers.get("wechatpay-serial").and_then(|v| v.to_str().ok());
    let (id, key) = keyring.encryption_key(preferred).ok_or_else(|| {
        Error::request(format!(
            "`Wechatpay-Serial` {:?} names no configured platform key to encrypt with",
            preferred.unwrap_or_default()
        ))
    })?;
    let id = HeaderValue::from_str(id).map_err(|_| Error::config("a platform key id is not valid header text"))?;
    headers.insert("wechatpay-serial", id);
    Ok(key)
}
