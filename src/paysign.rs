//! The payment parameters a front end needs to start paying a prepaid order, signed with the merchant key:
//! JSAPI / mini-program `paySign` (`wx.requestPayment`, `WeixinJSBridge`) and the APP `sign`
//! (`PayReq` of the OpenSDK).
//!
//! Both are RSA-SHA256 signatures over line-feed-joined fields, like every v3 signature; serialize the
//! result with serde and hand it to the front end as is.
//!
//! ```
//! # let key = wechatpay::PrivateKey::load(include_str!("../tests/fixtures/merchant_key.pem"))?;
//! use wechatpay::paysign;
//!
//! // After `POST v3/pay/transactions/jsapi` answered {"prepay_id": "wx2017…"}:
//! let params = paysign::jsapi(&key, "wxd678efh567hg6787", "wx201410272009395522657a690389285100");
//! let json = serde_json::to_value(&params).unwrap();
//! assert_eq!(json["package"], "prepay_id=wx201410272009395522657a690389285100");
//! assert_eq!(json["signType"], "RSA");
//! assert!(key.public_key().verify(&params.message(), &params.pay_sign));
//! # Ok::<(), wechatpay::Error>(())
//! ```

use serde::{Deserialize, Serialize};

use crate::crypto::keys::PrivateKey;
use crate::protocol::formatter;

/// What `wx.requestPayment` / `WeixinJSBridge.invoke('getBrandWCPayRequest', …)` takes, in the field
/// names and casing the front end expects (`appId`, `timeStamp`, `nonceStr`, `package`, `signType`,
/// `paySign`). Every value is a string.
///
/// ```
/// # let key = wechatpay::PrivateKey::load(include_str!("../tests/fixtures/merchant_key.pem"))?;
/// let params = wechatpay::paysign::jsapi(&key, "wxd678efh567hg6787", "wx201410272009395522657a690389285100");
/// assert_eq!(params.package, "prepay_id=wx201410272009395522657a690389285100");
/// assert!(key.public_key().verify(&params.message(), &params.pay_sign));
/// # Ok::<(), wechatpay::Error>(())
/// ```
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JsapiParams {
    /// The app id the order was placed with (公众号 or 小程序).
    pub app_id: String,
    /// Unix seconds, as a string.
    pub time_stamp: String,
    /// A random string.
    pub nonce_str: String,
    /// `prepay_id=…`.
    pub package: String,
    /// Always `RSA`.
    pub sign_type: String,
    /// base64 RSA-SHA256 over `appId\ntimeStamp\nnonceStr\npackage\n`.
    pub pay_sign: String,
}

impl JsapiParams {
    /// The message `pay_sign` covers: `appId\ntimeStamp\nnonceStr\npackage\n`.
    pub fn message(&self) -> Vec<u8> {
        formatter::joined_by_line_feed([&self.app_id, &self.time_stamp, &self.nonce_str, &self.package])
    }
}

/// What the APP OpenSDK's `PayReq` takes (`appid`, `partnerid`, `prepayid`, `package`, `noncestr`,
/// `timestamp`, `sign`). Every value is a string.
///
/// ```
/// # let key = wechatpay::PrivateKey::load(include_str!("../tests/fixtures/merchant_key.pem"))?;
/// let params = wechatpay::paysign::app(&key, "wxd678efh567hg6787", "1900000109", "wx201410272009395522657a690389285100");
/// assert_eq!(params.package, "Sign=WXPay");
/// assert!(key.public_key().verify(&params.message(), &params.sign));
/// # Ok::<(), wechatpay::Error>(())
/// ```
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppParams {
    /// The mobile app's app id.
    pub appid: String,
    /// The merchant id (`mchid`).
    pub partnerid: String,
    /// The `prepay_id` of `POST v3/pay/transactions/app`.
    pub prepayid: String,
    /// Always `Sign=WXPay`.
    pub package: String,
    /// A random string.
    pub noncestr: String,
    /// Unix seconds, as a string.
    pub timestamp: String,
    /// base64 RSA-SHA256 over `appid\ntimestamp\nnoncestr\nprepayid\n`.
    pub sign: String,
}

impl AppParams {
    /// The message `sign` covers: `appid\ntimestamp\nnoncestr\nprepayid\n`.
    pub fn message(&self) -> Vec<u8> {
        formatter::joined_by_line_feed([&self.appid, &self.timestamp, &self.noncestr, &self.prepayid])
    }
}

/// The prepay id without a `prepay_id=` prefix, so either form may be passed.
fn bare(prepay_id: &str) -> &str {
    prepay_id.strip_prefix("prepay_id=").unwrap_or(prepay_id)
}

/// Signs JSAPI / mini-program payment parameters with a fresh timestamp and nonce. `prepay_id` is the
/// id the order answered with (a `prepay_id=…` package is accepted too).
pub fn jsapi(key: &PrivateKey, appid: &str, prepay_id: &str) -> JsapiParams {
    jsapi_at(key, appid, prepay_id, formatter::timestamp(), &formatter::nonce())
}

/// [`jsapi`] with a given timestamp and nonce (deterministic, for tests and ports of fixed examples).
pub fn jsapi_at(key: &PrivateKey, appid: &str, prepay_id: &str, timestamp: i64, nonce: &str) -> JsapiParams {
    let mut params = JsapiParams {
        app_id: appid.to_owned(),
        time_stamp: timestamp.to_string(),
        nonce_str: nonce.to_owned(),
        package: format!("prepay_id={}", bare(prepay_id)),
        sign_type: "RSA".to_owned(),
        pay_sign: String::new(),
    };
    params.pay_sign = key.sign(&params.message());
    params
}

/// Signs APP payment parameters with a fresh timestamp and nonce; `mchid` becomes `partnerid`.
///
/// ```
/// # let key = wechatpay::PrivateKey::load(include_str!("../tests/fixtures/merchant_key.pem"))?;
/// let params = wechatpay::paysign::app(&key, "wxd678efh567hg6787", "1900000109", "WX1217752501201407033233368018");
/// assert_eq!(params.package, "Sign=WXPay");
/// assert!(key.public_key().verify(&params.message(), &params.sign));
/// # Ok::<(), wechatpay::Error>(())
/// ```
pub fn app(key: &PrivateKey, appid: &str, mchid: &str, prepay_id: &str) -> AppParams {
    app_at(
        key,
        appid,
        mchid,
        prepay_id,
        formatter::timestamp(),
        &formatter::nonce(),
    )
}

/// [`app`] with a given timestamp and nonce.
pub fn app_at(key: &PrivateKey, appid: &str, mchid: &str, prepay_id: &str, timestamp: i64, nonce: &str) -> AppParams {
    let mut params = AppParams {
        appid: appid.to_owned(),
        partnerid: mchid.to_owned(),
        prepayid: bare(prepay_id).to_owned(),
        package: "Sign=WXPay".to_owned(),
        noncestr: nonce.to_owned(),
        timestamp: timestamp.to_string(),
        sign: String::new(),
    };
    params.sign = key.sign(&params.message());
    params
}
