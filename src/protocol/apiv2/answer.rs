//! Checking an APIv2 answer (sans-IO): parse the XML, turn `FAIL` into an API error, verify `sign` with the
//! APIv2 key in constant time. A failed check says plainly that the answer was not trusted and keeps its
//! body: money may have moved, and the merchant must reconcile.

use bytes::Bytes;
use serde_json::{Map, Value};

use crate::crypto::apiv2_key::ApiV2Key;
use crate::error::{ApiDetails, Error, Outcome, Result, Verification};
use crate::protocol::apiv2::{verify, xml, SignType};
use crate::protocol::request::ApiV2Call as Call;
use crate::protocol::verify::Policy;

/// The `err_code`s after which WeChat Pay may still complete the request: the payment is waiting for the
/// user's password, or the outcome is unknown. Query before doing anything else.
const UNSETTLED: [&str; 4] = ["USERPAYING", "SYSTEMERROR", "BANKERROR", "ORDERPAID"];

/// Checks a 2xx APIv2 answer: its fields when it is a success WeChat Pay signed (or an unsigned endpoint's;
/// `None` for a bill), else the API or verification error it amounts to.
pub(crate) fn check(call: Call, policy: Policy, body: &Bytes, key: &ApiV2Key) -> Result<Option<Map<String, Value>>> {
    if call.bill && !looks_like_xml(body) {
        return Ok(None); // the bill itself: CSV, or gzip
    }
    let parsed = std::str::from_utf8(body)
        .map_err(|_| Error::decode("the answer's body is not UTF-8 text"))
        .and_then(xml::parse);
    let fields = match parsed {
        Ok(fields) => fields,
        Err(e) if policy == Policy::Apiv2 => return Err(untrusted(Verification::BadSignature, body, &e.to_string())),
        Err(e) => return Err(e.with_outcome(Outcome::Unknown).with_unverified_body(body.clone())),
    };
    let field = |name: &str| fields.get(name).and_then(Value::as_str);
    if field("return_code") != Some("SUCCESS") {
        // WeChat Pay does not sign a `FAIL` of the communication layer (a bad signature, a missing field).
        return Err(failure(&fields, body, false));
    }
    if policy == Policy::Apiv2 {
        verify_fields(&fields, key).map_err(|step| {
            let why = match step {
                Verification::MissingSignature => "it carries no `sign`",
                _ => "its `sign` does not match its fields under the APIv2 key",
            };
            untrusted(step, body, why)
        })?;
    }
    match field("result_code") {
        Some(code) if code != "SUCCESS" => Err(failure(&fields, body, true)),
        _ => Ok(Some(fields)),
    }
}

/// Verifies the `sign` of answer or notification fields with `key`: the algorithm follows the length of
/// `sign` (64 hex digits for HMAC-SHA256, else MD5), as WeChat Pay answers with the request's.
pub(crate) fn verify_fields(fields: &Map<String, Value>, key: &ApiV2Key) -> std::result::Result<(), Verification> {
    let Some(sign) = fields.get("sign").and_then(Value::as_str) else {
        return Err(Verification::MissingSignature);
    };
    let sign_type = if sign.len() == 64 {
        SignType::HmacSha256
    } else {
        SignType::Md5
    };
    let pairs = fields.iter().filter_map(|(k, v)| Some((k.as_str(), v.as_str()?)));
    if verify(sign_type, pairs, key.expose()) {
        Ok(())
    } else {
        Err(Verification::BadSignature)
    }
}

fn looks_like_xml(body: &[u8]) -> bool {
    body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'<')
}

/// A `FAIL`: `return_msg` for the communication layer, `err_code` and `err_code_des` for the business one.
fn failure(fields: &Map<String, Value>, body: &Bytes, business: bool) -> Error {
    let field = |name: &str| fields.get(name).and_then(Value::as_str).map(str::to_owned);
    let code = if business {
        field("err_code").or_else(|| field("result_code"))
    } else {
        field("return_code").or(Some("FAIL".to_owned()))
    };
    let message = if business {
        field("err_code_des").or_else(|| field("return_msg"))
    } else {
        field("return_msg")
    };
    let unsettled = business && code.as_deref().is_some_and(|c| UNSETTLED.contains(&c));
    let e = Error::api(ApiDetails {
        status: 200,
        code,
        message,
        detail: Some(Value::Object(fields.clone())),
        request_id: None,
        body: body.clone(),
        retry_after: None,
    });
    if unsettled {
        e.with_outcome(Outcome::Unknown)
    } else {
        e
    }
}

/// An answer that failed verification: its error says it was not trusted and keeps its body.
pub(crate) fn untrusted(step: Verification, body: &Bytes, why: &str) -> Error {
    Error::verify_failed(
        step,
        format!(
            "the APIv2 answer was NOT trusted ({why}): do not act on it. WeChat Pay may have acted on the request, \
             so query it before anything else; the raw answer is kept in `Error::body` for reconciliation"
        ),
    )
    .with_unverified_body(body.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::apiv2::sign;

    const KEY: &str = "exposed_your_key_here_have_risks";

    fn key() -> ApiV2Key {
        ApiV2Key::new(KEY).unwrap()
    }

    fn signed(fields: &[(&str, &str)], sign_type: SignType) -> Bytes {
        let mut all: Vec<(&str, String)> = fields.iter().map(|(k, v)| (*k, (*v).to_owned())).collect();
        all.push(("sign", sign(sign_type, fields.iter().copied(), KEY)));
        xml::write(all.iter().map(|(k, v)| (*k, v.as_str()))).into()
    }

    const PAY: Call = Call {
        security: false,
        bill: false,
    };
    const OK: [(&str, &str); 4] = [
        ("return_code", "SUCCESS"),
        ("result_code", "SUCCESS"),
        ("mch_id", "1900000109"),
        ("total_fee", "888"),
    ];

    #[test]
    fn signed_answers_pass_in_both_algorithms() {
        check(PAY, Policy::Apiv2, &signed(&OK, SignType::Md5), &key()).unwrap();
        check(PAY, Policy::Apiv2, &signed(&OK, SignType::HmacSha256), &key()).unwrap();
    }

    #[test]
    fn tampered_unsigned_and_wrongly_signed_answers_are_not_trusted_and_keep_their_body() {
        let tampered = Bytes::from(
            String::from_utf8(signed(&OK, SignType::Md5).to_vec())
                .unwrap()
                .replace(">888<", ">1<"),
        );
        let unsigned: Bytes = xml::write(OK).into();
        let other_key = {
            let mut all: Vec<(&str, String)> = OK.iter().map(|(k, v)| (*k, (*v).to_owned())).collect();
            all.push(("sign", sign(SignType::Md5, OK, "another_key_another_key_another_")));
            Bytes::from(xml::write(all.iter().map(|(k, v)| (*k, v.as_str()))))
        };
        for (body, step) in [
            (tampered, Verification::BadSignature),
            (unsigned, Verification::MissingSignature),
            (other_key, Verification::BadSignature),
            (Bytes::from_static(b"<html>gateway</html"), Verification::BadSignature),
        ] {
            let e = check(PAY, Policy::Apiv2, &body, &key()).unwrap_err();
            assert_eq!(e.verification(), Some(step), "{e}");
            assert!(e.to_string().contains("NOT trusted"), "{e}");
            assert_eq!(e.body(), Some(&body[..]));
            assert_eq!(e.outcome(), Outcome::Unknown);
            assert!(!e.to_string().contains(KEY));
        }
    }

    #[test]
    fn unsigned_endpoints_pass_as_they_came() {
        check(PAY, Policy::Unsigned, &xml::write(OK).into(), &key()).unwrap();
    }

    #[test]
    fn failures_are_typed_api_errors() {
        let e = check(
            PAY,
            Policy::Apiv2,
            &xml::write([("return_code", "FAIL"), ("return_msg", "签名错误")]).into(),
            &key(),
        )
        .unwrap_err();
        assert!(
            e.is_api() && e.code() == Some("FAIL") && e.api_message() == Some("签名错误"),
            "{e}"
        );
        assert_eq!(e.outcome(), Outcome::NotApplied);
        let business = [
            ("return_code", "SUCCESS"),
            ("result_code", "FAIL"),
            ("err_code", "USERPAYING"),
            ("err_code_des", "需要用户输入支付密码"),
        ];
        let e = check(PAY, Policy::Apiv2, &signed(&business, SignType::Md5), &key()).unwrap_err();
        assert!(e.is_api() && e.code() == Some("USERPAYING") && e.api_message() == Some("需要用户输入支付密码"));
        assert_eq!(e.detail().unwrap()["err_code"], "USERPAYING");
        assert_eq!(e.outcome(), Outcome::Unknown, "the user may still pay");
        let business = [
            ("return_code", "SUCCESS"),
            ("result_code", "FAIL"),
            ("err_code", "ORDERNOTEXIST"),
        ];
        let e = check(PAY, Policy::Apiv2, &signed(&business, SignType::Md5), &key()).unwrap_err();
        assert_eq!((e.code(), e.outcome()), (Some("ORDERNOTEXIST"), Outcome::NotApplied));
        assert!(e.body().unwrap().starts_with(b"<xml>"));
    }

    #[test]
    fn bills_pass_and_their_xml_errors_do_not() {
        let bill = Call {
            security: false,
            bill: true,
        };
        check(
            bill,
            Policy::Unsigned,
            &Bytes::from_static(b"\xef\xbb\xbf\xe4\xba\xa4\xe6\x98\x93\xe6\x97\xb6\xe9\x97\xb4,a\n"),
            &key(),
        )
        .unwrap();
        check(bill, Policy::Unsigned, &Bytes::from_static(b"\x1f\x8b\x08\x00"), &key()).unwrap();
        let no_bill = xml::write([
            ("return_code", "FAIL"),
            ("return_msg", "No Bill Exist"),
            ("error_code", "20002"),
        ]);
        let e = check(bill, Policy::Unsigned, &no_bill.into(), &key()).unwrap_err();
        assert!(e.is_api() && e.api_message() == Some("No Bill Exist"), "{e}");
    }
}
