//! The sandbox's APIv2 (XML) family: the shared kit — reading a request's fields, checking its `sign` with
//! the merchant's APIv2 key as WeChat Pay does, and answering signed (or unsigned) XML — and the routes of
//! the payments (`pay`) and red-packet (`redpack`) endpoints.
//!
//! Failures answer as WeChat Pay's v2 gateway does: `return_code` `FAIL` with its `return_msg` for what the
//! communication layer refuses (a bad signature, a missing field), and `result_code` `FAIL` with `err_code`
//! for what the business refuses. The `Wechatpay-Negative-Test` header picks a business failure by its
//! `err_code`, as WeChat Pay's own v2 sandbox lets a merchant rehearse them (`USERPAYING`, `SYSTEMERROR`…).

mod pay;
mod redpack;

pub(crate) use pay::payment_notification;

use http::Method;
use serde_json::{Map, Value};

use crate::mock::orders::Payer;
use crate::mock::{Answer, MockRequest, MockServer};
use crate::protocol::apiv2::{endpoints, sign, xml, SignType};

/// The header that asks for a business failure by its `err_code`.
pub(crate) const NEGATIVE_TEST: &str = "wechatpay-negative-test";

/// Whether a request path is an APIv2 one: WeChat Pay serves APIv3 under `/v3/` (and `/hk/v3/`); every
/// other path is APIv2.
pub(crate) fn is_apiv2(path: &str) -> bool {
    !path.split('/').any(|segment| segment.eq_ignore_ascii_case("v3"))
}

/// Whether the endpoint at `path` (as requested, with its leading `/`) demands the client certificate.
pub(crate) fn needs_certificate(path: &str) -> bool {
    endpoints::listed(&endpoints::SECURITY, path.trim_start_matches('/'))
}

/// A checked APIv2 request: its fields, the merchant it named, and how to sign the answer.
pub(crate) struct V2Request {
    pub(crate) fields: Map<String, Value>,
    /// The merchant id it named (the sandbox's own or a docs' sample one), which its answer echoes.
    pub(crate) mchid: String,
    pub(crate) sign_type: SignType,
    pub(crate) negative: Option<String>,
}

impl V2Request {
    /// A field's text, if present and not empty.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.fields.get(name).and_then(Value::as_str).filter(|v| !v.is_empty())
    }

    /// The required fields, or the `FAIL` WeChat Pay answers for the first one missing.
    pub(crate) fn require(&self, names: &[&str]) -> Result<(), Answer> {
        match names.iter().find(|name| self.get(name).is_none()) {
            Some(name) => Err(fail(&format!("缺少参数{name}"))),
            None => Ok(()),
        }
    }
}

/// Reads and authenticates an APIv2 request to `path` (after `/`): its XML (or query, for a GET) fields,
/// the merchant (the sandbox's, `server_mchid`, or a docs' sample id), the `nonce_str` and the `sign`.
pub(crate) fn read(server_mchid: &str, apiv2_key: &str, path: &str, req: &MockRequest) -> Result<V2Request, Answer> {
    let fields = if req.method == Method::GET {
        req.query
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect()
    } else {
        let text = std::str::from_utf8(&req.body).map_err(|_| fail("XML格式错误"))?;
        xml::parse(text).map_err(|_| fail("XML格式错误"))?
    };
    let text = |name: &str| fields.get(name).and_then(Value::as_str).filter(|v| !v.is_empty());
    let mchid_field = endpoints::mchid_fields(path)
        .iter()
        .find(|name| text(name).is_some())
        .copied();
    let mchid = match mchid_field.and_then(text) {
        None => return Err(fail("缺少参数mch_id")),
        Some(mchid) if !crate::mock::merchant::answers_to(server_mchid, mchid) => {
            return Err(fail("mch_id参数格式错误"))
        }
        Some(mchid) => mchid.to_owned(),
    };
    if !endpoints::listed(&endpoints::NONCELESS, path) && text("nonce_str").is_none() {
        return Err(fail("缺少参数nonce_str"));
    }
    let sign_type = match text("sign_type") {
        None | Some("MD5") => SignType::Md5,
        Some("HMAC-SHA256") => SignType::HmacSha256,
        Some(_) => return Err(fail("sign_type参数格式错误")),
    };
    let Some(given) = text("sign") else {
        return Err(fail("缺少参数sign"));
    };
    let pairs = fields.iter().filter_map(|(k, v)| Some((k.as_str(), v.as_str()?)));
    let expected = sign(sign_type, pairs, apiv2_key);
    if !crate::crypto::hash::constant_time_eq(expected.as_bytes(), given.as_bytes()) {
        return Err(fail("签名错误"));
    }
    let negative = req
        .headers
        .get(NEGATIVE_TEST)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    Ok(V2Request {
        fields,
        mchid,
        sign_type,
        negative,
    })
}

/// A `return_code` `FAIL`: unsigned, as WeChat Pay sends it.
pub(crate) fn fail(message: &str) -> Answer {
    xml_answer([("return_code", "FAIL"), ("return_msg", message)])
}

/// An XML answer of `fields`, as they are.
pub(crate) fn xml_answer<'a>(fields: impl IntoIterator<Item = (&'a str, &'a str)>) -> Answer {
    Answer::bytes(200, "text/xml; charset=utf-8", xml::write(fields))
}

/// A signed `SUCCESS` answer: `return_code`, `return_msg`, the merchant and a fresh `nonce_str`, then
/// `fields`, then `sign` with the request's algorithm. A `result_code` in `fields` is the caller's.
pub(crate) fn signed(apiv2_key: &str, sign_type: SignType, mchid: &str, fields: Vec<(String, String)>) -> Answer {
    let mut all: Vec<(String, String)> = vec![
        ("return_code".into(), "SUCCESS".into()),
        ("return_msg".into(), "OK".into()),
        ("mch_id".into(), mchid.into()),
        ("nonce_str".into(), crate::protocol::formatter::nonce_of_len(16)),
    ];
    all.extend(fields);
    let signature = sign(sign_type, all.iter().map(|(k, v)| (k.as_str(), v.as_str())), apiv2_key);
    all.push(("sign".into(), signature));
    xml_answer(all.iter().map(|(k, v)| (k.as_str(), v.as_str())))
}

/// The signed `result_code` `FAIL` of a business refusal.
pub(crate) fn refuse(apiv2_key: &str, req: &V2Request, mchid: &str, code: &str, description: &str) -> Answer {
    let mut fields = vec![
        ("result_code".into(), "FAIL".into()),
        ("err_code".into(), code.into()),
        ("err_code_des".into(), description.into()),
    ];
    if let Some(appid) = req.get("appid") {
        fields.insert(0, ("appid".into(), appid.into()));
    }
    signed(apiv2_key, req.sign_type, mchid, fields)
}

/// Registers the APIv2 routes, the payments on the order book `payer` pays from.
pub(crate) fn install(server: &MockServer, payer: &Payer) {
    pay::install(server, payer);
    redpack::install(server);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v3_paths_are_not_v2() {
        assert!(is_apiv2("/pay/micropay") && is_apiv2("/secapi/pay/refund"));
        assert!(!is_apiv2("/v3/pay/transactions/jsapi") && !is_apiv2("/hk/v3/transactions"));
    }
}
