//! Building an APIv2 request (sans-IO): the fields, the merchant check, `nonce_str`, `sign`, then the XML
//! body (or, for a `GET`, the query) and the headers — exactly as wechatpay-php builds it, where it is
//! right, and refusing what it gets wrong.

use http::{header, HeaderValue, Method};

use crate::crypto::apiv2_key::ApiV2Key;
use crate::error::{Error, Result};
use crate::protocol::apiv2::endpoints::{self, listed};
use crate::protocol::apiv2::{sign, xml, SignType};
use crate::protocol::options::Options;
use crate::protocol::request::{self, ApiV2Call as Call, Prepared, Target};
use crate::protocol::verify::Policy;

/// The `Accept` of an APIv2 request: XML answers, and the text or gzip bills.
pub(crate) const ACCEPT: &str = "text/xml, text/plain, application/x-gzip";
/// The `Content-Type` of an APIv2 request.
pub(crate) const CONTENT_TYPE: &str = "text/xml; charset=utf-8";

/// What an APIv2 request is signed with and for.
pub(crate) struct Credentials<'a> {
    pub(crate) mchid: &'a str,
    pub(crate) key: Option<&'a ApiV2Key>,
    /// Whether the client has a TLS client certificate to present.
    pub(crate) certificate: bool,
}

/// Whether `path_template` (leading `/` allowed) is an APIv2 one: its first segment is `v2`, in any case.
pub(crate) fn is_apiv2(path_template: &str) -> bool {
    let first = path_template
        .trim_start_matches('/')
        .split('/')
        .next()
        .unwrap_or_default();
    first.eq_ignore_ascii_case("v2")
}

/// Builds and signs an APIv2 request to `path_template` (`v2/…`; the `v2/` is not part of the URL).
/// `nonce` makes the `nonce_str` when one is added.
pub(crate) fn prepare(
    credentials: &Credentials<'_>,
    target: &Target,
    method: Method,
    path_template: &str,
    options: &Options,
    nonce: impl FnOnce() -> String,
) -> Result<Prepared> {
    options.check()?;
    let full = path_template.trim_start_matches('/');
    let template = full.split_once('/').map_or("", |(_, rest)| rest);
    if template.is_empty() {
        return Err(Error::path(
            "`v2` alone names no APIv2 endpoint: give its path, e.g. `v2/pay/micropay`",
        ));
    }
    if options.body.is_some() || !options.sensitive.is_empty() || options.upload.is_some() {
        return Err(Error::request(format!(
            "`{full}` is an APIv2 path: give its fields as `xml` (or as `query` for a GET), not `json`, `body`, \
             `sensitive` or an upload"
        )));
    }
    let key = credentials.key.ok_or_else(|| {
        Error::config(format!(
            "`{full}` is an APIv2 call, which needs the APIv2 key: set `ClientBuilder::apiv2_key` (PHP's `secret`)"
        ))
    })?;
    let path = request::expand_path(template, options)?;

    let get = method == Method::GET;
    let mut fields: Vec<(String, String)> = match (&options.xml, get) {
        (Some(_), true) => {
            return Err(Error::request(format!(
                "`{full}` is sent as a GET, whose fields go in `query`, not `xml`"
            )))
        }
        (Some(xml), false) => xml.clone(),
        (None, true) => options.query.clone(),
        (None, false) => Vec::new(),
    };
    if let Some((name, _)) = fields.iter().find(|(name, _)| !xml::is_name(name)) {
        return Err(Error::request(format!(
            "the APIv2 field name `{name}` is not a plain XML element name (letters, digits, `_`, `-`, `.`)"
        )));
    }
    check_merchant(&path, &fields, credentials.mchid)?;
    let sign_type = match fields.iter().find(|(name, _)| name == "sign_type") {
        None => SignType::Md5,
        Some((_, value)) => match value.as_str() {
            "MD5" => SignType::Md5,
            "HMAC-SHA256" => SignType::HmacSha256,
            other => {
                return Err(Error::request(format!(
                    "`sign_type` {other:?} is not an APIv2 signature type: WeChat Pay knows `MD5` and `HMAC-SHA256`, \
                     spelled exactly so (wechatpay-php would send an empty `sign`)"
                )))
            }
        },
    };
    fields.retain(|(name, _)| name != "sign");
    let nonceless = options.nonceless || listed(&endpoints::NONCELESS, &path);
    if !nonceless && !fields.iter().any(|(name, _)| name == "nonce_str") {
        fields.push(("nonce_str".to_owned(), nonce()));
    }
    let signature = sign(
        sign_type,
        fields.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        key.expose(),
    );
    fields.push(("sign".to_owned(), signature));

    let security = options.security || listed(&endpoints::SECURITY, &path);
    if security && !credentials.certificate {
        return Err(Error::config(format!(
            "`{full}` needs the merchant's API certificate (the TLS client certificate, `apiclient_cert`), and this \
             client has none: set `ClientBuilder::merchant_certificate` (PEM) or `ClientBuilder::merchant_p12`"
        )));
    }

    let (query, body) = if get {
        (fields, bytes::Bytes::new())
    } else {
        let body = xml::write(fields.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        (options.query.clone(), bytes::Bytes::from(body))
    };
    let (url, request_target) = request::locate(target, full, &path, &query)?;
    let mut headers = request::headers_for(target, options)?;
    let own = |name: &str| options.headers.iter().any(|(n, _)| n.eq_ignore_ascii_case(name));
    if !own("accept") {
        headers.insert(header::ACCEPT, HeaderValue::from_static(ACCEPT));
    }
    if !own("content-type") {
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
    }
    Ok(Prepared {
        method,
        url,
        target: request_target,
        headers,
        body,
        multipart: None,
        policy: if listed(&endpoints::UNSIGNED, &path) {
            Policy::Unsigned
        } else {
            Policy::Apiv2
        },
        timeout: options.timeout,
        progress: options.progress.clone(),
        template: full.to_owned(),
        retry: options.retry.clone(),
        idempotent: options.idempotent,
        apiv2: Some(Call {
            security,
            bill: listed(&endpoints::BILLS, &path),
        }),
    })
}

/// wechatpay-php's merchant check: the field that names the merchant, when given, must be this client's.
/// (PHP also refuses a request without it; WeChat Pay says so itself, and one documented endpoint,
/// `applyment/micro/signcontract`, has none.)
fn check_merchant(path: &str, fields: &[(String, String)], mchid: &str) -> Result<()> {
    for name in endpoints::mchid_fields(path) {
        if let Some((_, value)) = fields.iter().find(|(field, _)| field == name) {
            if value != mchid {
                return Err(Error::request(format!(
                    "`{name}` is {value:?}, but this client signs for merchant {mchid:?}: a request signed with \
                     one merchant's APIv2 key for another is refused by WeChat Pay"
                )));
            }
            return Ok(());
        }
    }
    Ok(())
}

/// 32 characters of `[0-9A-Za-z]` from the operating system's CSPRNG: a `nonce_str`.
pub(crate) fn nonce_str() -> String {
    const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut out = String::with_capacity(32);
    let mut bytes = [0u8; 64];
    while out.len() < 32 {
        crate::crypto::backend::fill_random(&mut bytes);
        // 248 = 4 × 62: rejecting the rest keeps every character equally likely.
        for b in bytes.iter().filter(|&&b| b < 248) {
            if out.len() == 32 {
                break;
            }
            out.push(char::from(ALPHABET[usize::from(b % 62)]));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderMap;
    use serde_json::json;

    const KEY: &str = "exposed_your_key_here_have_risks";
    const NONCE: &str = "5K8264ILTKCH16CQ2502SI8ZNMTM67VS";

    fn target() -> Target {
        Target {
            origin: "https://api.mch.weixin.qq.com".into(),
            base_path: "/".into(),
            default_headers: HeaderMap::new(),
        }
    }

    fn build(method: Method, path: &str, options: serde_json::Value, certificate: bool) -> Result<Prepared> {
        let key = ApiV2Key::new(KEY).unwrap();
        let credentials = Credentials {
            mchid: "1900000109",
            key: Some(&key),
            certificate,
        };
        prepare(&credentials, &target(), method, path, &options.into(), || {
            NONCE.to_owned()
        })
    }

    fn micropay(extra: &[(&str, &str)]) -> serde_json::Value {
        let mut xml = json!({"appid": "wx8888888888888888", "mch_id": "1900000109",
            "body": "image形象店-深圳腾大- QQ公仔", "out_trade_no": "1217752501201407033233368018",
            "total_fee": 888, "spbill_create_ip": "8.8.8.8", "auth_code": "120061098828009406"});
        for (k, v) in extra {
            xml[*k] = json!(v);
        }
        json!({ "xml": xml })
    }

    #[test]
    fn the_php_vectors_hold_byte_for_byte() {
        let p = build(Method::POST, "v2/pay/micropay", micropay(&[]), false).unwrap();
        assert_eq!(p.url().as_str(), "https://api.mch.weixin.qq.com/pay/micropay");
        assert_eq!(
            std::str::from_utf8(p.body()).unwrap(),
            "<xml><appid>wx8888888888888888</appid><mch_id>1900000109</mch_id><body>image形象店-深圳腾大- QQ公仔</body>\
             <out_trade_no>1217752501201407033233368018</out_trade_no><total_fee>888</total_fee>\
             <spbill_create_ip>8.8.8.8</spbill_create_ip><auth_code>120061098828009406</auth_code>\
             <nonce_str>5K8264ILTKCH16CQ2502SI8ZNMTM67VS</nonce_str><sign>136AC52A30474E1CAC7CCF22878ECCF3</sign></xml>"
        );
        assert_eq!(p.headers()["accept"], ACCEPT);
        assert_eq!(p.headers()["content-type"], CONTENT_TYPE);
        assert!(p.headers().get("authorization").is_none());
        assert_eq!(p.policy(), Policy::Apiv2);
        assert!(!p.presents_client_certificate());

        let p = build(
            Method::POST,
            "v2/pay/micropay",
            micropay(&[("sign_type", "HMAC-SHA256")]),
            false,
        )
        .unwrap();
        let body = std::str::from_utf8(p.body()).unwrap();
        assert!(
            body.ends_with(
                "<sign_type>HMAC-SHA256</sign_type><nonce_str>5K8264ILTKCH16CQ2502SI8ZNMTM67VS</nonce_str>\
                 <sign>B15548C526D2D9CB9DDBBC5D8D4434002439F78812396C7BF36453D631CE2163</sign></xml>"
            ),
            "{body}"
        );
    }

    #[test]
    fn nested_values_are_json_text_in_the_body_and_the_signature() {
        let options = json!({"xml": {"mch_id": "1900000109", "detail": {"cost_price": 608800, "goods": [1, 2]},
            "flag": true, "off": false, "nil": null}});
        let p = build(Method::POST, "v2/pay/unifiedorder", options, false).unwrap();
        let fields = xml::parse(std::str::from_utf8(p.body()).unwrap()).unwrap();
        assert_eq!(fields["detail"], r#"{"cost_price":608800,"goods":[1,2]}"#);
        assert_eq!(
            (&fields["flag"], &fields["off"], &fields["nil"]),
            (&json!("1"), &json!(""), &json!(""))
        );
        let pairs: Vec<(String, String)> = fields
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
            .collect();
        assert!(crate::protocol::apiv2::verify(SignType::Md5, pairs, KEY));
    }

    #[test]
    fn get_signs_the_query() {
        let p = build(
            Method::GET,
            "v2/papay/querycontract",
            json!({"query": {"mch_id": "1900000109", "appid": "wx1"}}),
            false,
        )
        .unwrap();
        // Documented as nonceless: no nonce_str.
        let expected = sign(SignType::Md5, [("mch_id", "1900000109"), ("appid", "wx1")], KEY);
        assert_eq!(
            p.target(),
            format!("/papay/querycontract?mch_id=1900000109&appid=wx1&sign={expected}")
        );
        assert!(p.body().is_empty());
    }

    #[test]
    fn security_endpoints_present_the_certificate_or_fail_before_sending() {
        let refund = json!({"xml": {"mch_id": "1900000109", "out_refund_no": "R1"}});
        let e = build(Method::POST, "v2/secapi/pay/refund", refund.clone(), false).unwrap_err();
        assert!(e.is_config() && e.to_string().contains("merchant_certificate"), "{e}");
        assert!(build(Method::POST, "v2/secapi/pay/refund", refund, true)
            .unwrap()
            .presents_client_certificate());
        let asked = json!({"security": true, "xml": {"mch_id": "1900000109"}});
        assert!(build(Method::POST, "v2/pay/orderquery", asked, true)
            .unwrap()
            .presents_client_certificate());
        // Case matters in full paths: addInstitutionsub is the documented one.
        let p = build(
            Method::POST,
            "v2/secapi/mch/addInstitutionsub",
            json!({"xml": {"mch_id": "1900000109"}}),
            true,
        )
        .unwrap();
        assert!(p.presents_client_certificate() && !std::str::from_utf8(p.body()).unwrap().contains("nonce_str"));
        assert_eq!(p.url().path(), "/secapi/mch/addInstitutionsub");
    }

    #[test]
    fn refuses_what_php_would_get_wrong() {
        let e = build(
            Method::POST,
            "v2/pay/micropay",
            micropay(&[("sign_type", "md5")]),
            false,
        )
        .unwrap_err();
        assert!(e.is_request() && e.to_string().contains("\"md5\""), "{e}");
        let e = build(
            Method::POST,
            "v2/pay/micropay",
            micropay(&[("mch_id", "1230000109")]),
            false,
        )
        .unwrap_err();
        assert!(e.is_request() && e.to_string().contains("1230000109"), "{e}");
        let e = build(Method::POST, "v2/pay/micropay", json!({"json": {"a": 1}}), false).unwrap_err();
        assert!(e.is_request() && e.to_string().contains("`xml`"), "{e}");
        let e = build(Method::POST, "v2/pay/micropay", json!({"xml": {"a b": 1}}), false).unwrap_err();
        assert!(e.is_request() && e.to_string().contains("a b"), "{e}");
        let e = build(Method::POST, "v2", json!({}), false).unwrap_err();
        assert!(e.is_path(), "{e}");
        let transfers = json!({"xml": {"mchid": "1", "mch_appid": "wx1"}});
        assert!(build(
            Method::POST,
            "v2/mmpaymkttransfers/promotion/transfers",
            transfers,
            true
        )
        .is_err());
        let credentials = Credentials {
            mchid: "1900000109",
            key: None,
            certificate: false,
        };
        let e = prepare(
            &credentials,
            &target(),
            Method::POST,
            "v2/pay/micropay",
            &micropay(&[]).into(),
            nonce_str,
        )
        .unwrap_err();
        assert!(e.is_config() && e.to_string().contains("apiv2_key"), "{e}");
    }

    #[test]
    fn nonces_are_32_alphanumerics_and_differ() {
        let (a, b) = (nonce_str(), nonce_str());
        assert!(a.len() == 32 && a.bytes().all(|c| c.is_ascii_alphanumeric()) && a != b);
    }
}
