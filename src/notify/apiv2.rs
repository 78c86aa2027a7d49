//! APIv2 notifications: a payment result is XML signed like an answer (MD5 or HMAC-SHA256 with the APIv2
//! key); a refund result carries `req_info`, AES-256-ECB under the MD5 of the APIv2 key. Both are answered
//! with [`reply`].
//!
//! ```
//! use wechatpay::notify::apiv2;
//! # let key = "exposed_your_key_here_have_risks";
//! # let fields = [("return_code", "SUCCESS"), ("appid", "wx8888888888888888"), ("mch_id", "1900000109"),
//! #     ("result_code", "SUCCESS"), ("out_trade_no", "1217752501201407033233368018"), ("total_fee", "888"),
//! #     ("transaction_id", "4200000000000000000000000001")];
//! # let sign = wechatpay::apiv2::sign(wechatpay::apiv2::SignType::Md5, fields, key);
//! # let body = format!("<xml>{}<sign>{sign}</sign></xml>",
//! #     fields.iter().map(|(k, v)| format!("<{k}>{v}</{k}>")).collect::<String>());
//!
//! // `body: &[u8]` as the web framework received it.
//! let reply = match apiv2::open_payment(body.as_bytes(), key) {
//!     Ok(paid) => {
//!         assert_eq!(paid["out_trade_no"], "1217752501201407033233368018");
//!         apiv2::reply(true, "OK") // after recording the payment
//!     }
//!     Err(e) => apiv2::reply(false, &e.to_string()), // WeChat Pay will send it again
//! };
//! assert!(reply.starts_with("<xml><return_code><![CDATA[SUCCESS]]></return_code>"));
//! # Ok::<(), wechatpay::Error>(())
//! ```

use serde_json::{Map, Value};

use crate::crypto::apiv2_key::ApiV2Key;
use crate::error::{Error, Result, Verification};
use crate::protocol::apiv2::{answer, xml};

fn fields_of(body: &[u8]) -> Result<Map<String, Value>> {
    let text = std::str::from_utf8(body).map_err(|_| Error::decode("the notification's body is not UTF-8"))?;
    xml::parse(text)
}

/// Verifies a payment notification (支付结果通知) with the APIv2 key and returns its fields. A missing or
/// wrong `sign` is a verification error ([`Error::is_verification`]); a body that is not XML, a decode error.
pub fn open_payment(body: &[u8], apiv2_key: &str) -> Result<Map<String, Value>> {
    let key = ApiV2Key::new(apiv2_key)?;
    let fields = fields_of(body)?;
    answer::verify_fields(&fields, &key).map_err(|step| {
        let why = match step {
            Verification::MissingSignature => "the notification carries no `sign`",
            _ => "the notification's `sign` does not match its fields under the APIv2 key",
        };
        Error::verify_failed(step, format!("{why}: it was not trusted (do not record it)"))
    })?;
    Ok(fields)
}

/// Opens a refund notification (退款结果通知): checks `return_code`, decrypts `req_info` with the APIv2 key
/// and returns the fields inside (`refund_status`, `out_refund_no`, `settlement_refund_fee`…). A
/// `req_info` that does not decrypt (a wrong key, or a forgery) is a verification error: the notification
/// carries no `sign`, and decryption is what authenticates it.
pub fn open_refund(body: &[u8], apiv2_key: &str) -> Result<Map<String, Value>> {
    ApiV2Key::new(apiv2_key)?;
    let fields = fields_of(body)?;
    if fields.get("return_code").and_then(Value::as_str) != Some("SUCCESS") {
        let message = fields
            .get("return_msg")
            .and_then(Value::as_str)
            .unwrap_or("no return_msg");
        return Err(Error::decode(format!("the refund notification says `FAIL`: {message}")));
    }
    let req_info = fields
        .get("req_info")
        .and_then(Value::as_str)
        .ok_or_else(|| Error::decode("the refund notification carries no `req_info`"))?;
    let inner = crate::php::apiv2::decrypt_refund_req_info(req_info, apiv2_key).map_err(|e| {
        Error::verify_failed(
            Verification::BadSignature,
            "the refund notification's `req_info` does not decrypt under the APIv2 key: it was not trusted",
        )
        .with_source(e)
    })?;
    xml::parse(&inner)
}

/// The XML answer WeChat Pay expects: `SUCCESS` once the notification is recorded, else `FAIL` with a
/// message (it then sends the notification again).
pub fn reply(success: bool, message: &str) -> String {
    let code = if success { "SUCCESS" } else { "FAIL" };
    // Always CDATA, as WeChat Pay's own samples write it; `]]>` cannot end the section early.
    let message = message.replace("]]>", "]]]]><![CDATA[>");
    format!("<xml><return_code><![CDATA[{code}]]></return_code><return_msg><![CDATA[{message}]]></return_msg></xml>")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apiv2::{sign, AesEcb, SignType};

    const KEY: &str = "exposed_your_key_here_have_risks";

    #[test]
    fn payment_notifications_verify_or_are_refused() {
        let fields = [("return_code", "SUCCESS"), ("out_trade_no", "1"), ("total_fee", "888")];
        let good = format!(
            "<xml><return_code>SUCCESS</return_code><out_trade_no>1</out_trade_no><total_fee>888</total_fee>\
             <sign>{}</sign></xml>",
            sign(SignType::HmacSha256, fields, KEY)
        );
        assert_eq!(open_payment(good.as_bytes(), KEY).unwrap()["total_fee"], "888");
        let tampered = good.replace(">888<", ">1<");
        let e = open_payment(tampered.as_bytes(), KEY).unwrap_err();
        assert_eq!(e.verification(), Some(Verification::BadSignature));
        let unsigned = "<xml><return_code>SUCCESS</return_code></xml>";
        let e = open_payment(unsigned.as_bytes(), KEY).unwrap_err();
        assert_eq!(e.verification(), Some(Verification::MissingSignature));
        assert!(open_payment(b"<!DOCTYPE x><xml/>", KEY).unwrap_err().is_decode());
        assert!(open_payment(good.as_bytes(), "short").unwrap_err().is_key());
    }

    #[test]
    fn refund_notifications_open_with_the_md5_of_the_key() {
        // The documented derivation: the AES key is the lowercase hex MD5 of the APIv2 key.
        assert_eq!(crate::hash::md5_hex(KEY.as_bytes()), "4ad14ac334ab13540eb6c5479512a8e8");
        let inner = "<root><out_refund_no><![CDATA[R1]]></out_refund_no><refund_status>SUCCESS</refund_status></root>";
        let sealed = AesEcb::encrypt(inner.as_bytes(), "4ad14ac334ab13540eb6c5479512a8e8").unwrap();
        let body = format!("<xml><return_code>SUCCESS</return_code><req_info><![CDATA[{sealed}]]></req_info></xml>");
        let opened = open_refund(body.as_bytes(), KEY).unwrap();
        assert_eq!(
            (&opened["out_refund_no"], &opened["refund_status"]),
            (&"R1".into(), &"SUCCESS".into())
        );
        let e = open_refund(body.as_bytes(), "another_key_another_key_another_").unwrap_err();
        assert!(e.is_verification(), "{e}");
        let fail = "<xml><return_code>FAIL</return_code><return_msg>x</return_msg></xml>";
        assert!(open_refund(fail.as_bytes(), KEY).unwrap_err().is_decode());
    }

    #[test]
    fn replies_are_what_wechat_pay_expects() {
        assert_eq!(
            reply(true, "OK"),
            "<xml><return_code><![CDATA[SUCCESS]]></return_code><return_msg><![CDATA[OK]]></return_msg></xml>"
        );
        assert!(reply(false, "a]]>b").contains("a]]]]><![CDATA[>b"));
    }
}
