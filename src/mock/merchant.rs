//! Whom the sandbox serves: one merchant ([`MockBuilder::mchid`](super::MockBuilder::mchid), [`MCHID`] by
//! default) that also answers to the merchant ids the docs' samples use ([`SAMPLE_MCHIDS`]), so a sample runs
//! against it unchanged. They are one merchant under several names: the same merchant key and serial sign
//! for each, one order book and one set of stocks serve them all, and an answer echoes the id a request
//! named.

use crate::error::{Error, Result};

/// The merchant ids the docs' samples (wechatpay-php's `openapi/` pages) use as the caller's own — `mchid`
/// of the 直连 payments (`1230000109`), the 服务商 `sp_mchid`s (`1230000109`, `1900000100`), APIv2's `mch_id`s
/// (`1900000109`, …) and the red-packet and busifavor callback pages' `10000098`. The sandbox answers to
/// each of them besides its own [`MCHID`](super::MCHID) or [`MockBuilder::mchid`](super::MockBuilder::mchid),
/// with the same merchant key and serial: in the `Authorization` header and in the body and query fields
/// naming the caller (`mchid`, `sp_mchid`, `mch_id`). A sub-merchant (`sub_mchid`) is not the caller and is
/// taken as given.
///
/// ```
/// use serde_json::json;
/// use wechatpay::mock::{MockServer, SAMPLE_MCHIDS};
///
/// let server = MockServer::start()?;
/// // The client of the docs' own merchant, signing with the sandbox's key.
/// let client = server.client_builder().mchid(SAMPLE_MCHIDS[0]).build()?;
/// let order = json!({"json": {"appid": "wxd678efh567hg6787", "mchid": "1230000109", "description": "QQ公仔",
///     "out_trade_no": "1217752501201407033233368018", "notify_url": "https://www.weixin.qq.com/wxpay/pay.php",
///     "amount": {"total": 100, "currency": "CNY"}, "payer": {"openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"}}});
/// assert_eq!(client["v3/pay/transactions/jsapi"].post(order)?.status(), 200);
/// # Ok::<(), wechatpay::Error>(())
/// ```
pub const SAMPLE_MCHIDS: [&str; 4] = ["1230000109", "1900000109", "1900000100", "10000098"];

/// Whether the sandbox serving `mchid` answers a caller naming itself `id`: its own id, or a docs' sample id.
pub(crate) fn answers_to(mchid: &str, id: &str) -> bool {
    id == mchid || SAMPLE_MCHIDS.contains(&id)
}

/// A merchant id the sandbox can serve: what a client takes (letters, digits, `_` and `-`; WeChat Pay's are
/// digits), so it fits an `Authorization` header and the subject of the merchant's certificate.
pub(crate) fn check(mchid: &str) -> Result<()> {
    if mchid.is_empty() {
        return Err(Error::config("the sandbox's `mchid` is empty"));
    }
    match mchid
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '_' || *c == '-'))
    {
        Some(c) => Err(Error::config(format!(
            "the sandbox's `mchid` holds {c:?}; only letters, digits, `_` and `-` are allowed (WeChat Pay's are digits)"
        ))),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_merchant_answers_to_its_own_id_and_the_samples_only() {
        assert!(answers_to("1888888888", "1888888888"));
        assert!(SAMPLE_MCHIDS.iter().all(|id| answers_to("1888888888", id)));
        assert!(!answers_to("1888888888", "1999999999"));
        assert!(!answers_to("1888888888", ""));
    }

    #[test]
    fn an_id_that_would_not_fit_a_header_or_a_certificate_is_refused() {
        assert!(check("1888888888").is_ok() && check("sandbox_1-a").is_ok());
        for bad in ["", "19 00", "1900,CN=x", "商户", "1900\"0"] {
            assert!(check(bad).unwrap_err().is_config(), "{bad:?}");
        }
    }
}
