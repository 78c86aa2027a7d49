//! The order book the payment families share: APIv2's 付款码 and 统一下单 orders and APIv3's
//! `v3/pay/transactions/…` ones live side by side, so a test may place an order with one API and query,
//! refund or pay it through the other, as a merchant migrating between them does. Paying an order sends
//! the notification of the API that placed it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::mock::callbacks::Courier;
use crate::mock::Shared;
use crate::protocol::apiv2::SignType;

/// Every order the sandbox has taken, by `out_trade_no`.
#[derive(Default)]
pub(crate) struct Book {
    orders: Mutex<Orders>,
}

impl Book {
    /// The orders, locked. Hold the lock for one request's work only; never while delivering.
    pub(crate) fn lock(&self) -> MutexGuard<'_, Orders> {
        self.orders.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[derive(Default)]
pub(crate) struct Orders {
    pub(crate) by_out_trade_no: HashMap<String, Order>,
    /// Numbers the orders and refunds the sandbox issues.
    issued: u64,
}

impl Orders {
    /// The next number for an order or refund id.
    pub(crate) fn next(&mut self) -> u64 {
        self.issued += 1;
        self.issued
    }

    /// The order with this `transaction_id`.
    pub(crate) fn by_transaction_id(&mut self, id: &str) -> Option<&mut Order> {
        self.by_out_trade_no.values_mut().find(|o| o.transaction_id == id)
    }
}

/// An order, as either API placed it.
pub(crate) struct Order {
    /// Placed through APIv3 (JSON, `TRANSACTION.SUCCESS`), else APIv2 (XML).
    pub(crate) v3: bool,
    pub(crate) appid: String,
    pub(crate) out_trade_no: String,
    pub(crate) transaction_id: String,
    /// `body` (APIv2) or `description` (APIv3).
    pub(crate) body: String,
    /// In fen.
    pub(crate) total_fee: u64,
    pub(crate) trade_type: String,
    /// `NOTPAY`, `USERPAYING`, `SUCCESS`, `REFUND`, `CLOSED`, `REVOKED` or `PAYERROR`.
    pub(crate) state: &'static str,
    pub(crate) prepay_id: String,
    pub(crate) auth_code: Option<String>,
    /// Where its payment notification goes.
    pub(crate) notify_url: Option<String>,
    /// How an APIv2 order was signed, and so how its notifications are.
    pub(crate) sign_type: SignType,
    pub(crate) openid: String,
    pub(crate) attach: Option<String>,
    /// When an unpaid order closes by itself (`time_expire`), in seconds.
    pub(crate) time_expire: Option<i64>,
    /// The APIv3 request that placed it: a repeat with the same content answers the same.
    pub(crate) request: Option<serde_json::Value>,
    /// When it was paid (or taken, for an unpaid one), in seconds.
    pub(crate) time: i64,
    pub(crate) refunds: Vec<Refund>,
}

impl Order {
    /// A new order numbered `n`; the families set what else they know.
    pub(crate) fn placed(
        n: u64,
        appid: &str,
        out_trade_no: &str,
        body: &str,
        total_fee: u64,
        trade_type: &str,
        state: &'static str,
    ) -> Self {
        Order {
            v3: false,
            appid: appid.to_owned(),
            out_trade_no: out_trade_no.to_owned(),
            transaction_id: format!("4200{:08}{:012}", std::process::id() % 100_000_000, n),
            body: body.to_owned(),
            total_fee,
            trade_type: trade_type.to_owned(),
            state,
            prepay_id: format!("wx{}{:016}", compact_time(now()), n),
            auth_code: None,
            notify_url: None,
            sign_type: SignType::Md5,
            openid: "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o".to_owned(),
            attach: None,
            time_expire: None,
            request: None,
            time: now(),
            refunds: Vec::new(),
        }
    }

    /// What has been refunded (or is being refunded), in fen: never more than was paid.
    pub(crate) fn refunded(&self) -> u64 {
        self.refunds
            .iter()
            .filter(|r| r.status != "CLOSED")
            .map(|r| r.refund_fee)
            .sum()
    }

    /// Closes an unpaid order whose `time_expire` has passed, as WeChat Pay does when it is next looked at.
    pub(crate) fn expire(&mut self, now: i64) {
        if self.state == "NOTPAY" && self.time_expire.is_some_and(|t| now >= t) {
            self.state = "CLOSED";
        }
    }
}

/// A refund of an order.
pub(crate) struct Refund {
    pub(crate) out_refund_no: String,
    pub(crate) refund_id: String,
    pub(crate) refund_fee: u64,
    /// `PROCESSING`, `SUCCESS`, `ABNORMAL` or `CLOSED`.
    pub(crate) status: &'static str,
    pub(crate) notify_url: Option<String>,
    pub(crate) reason: Option<String>,
    /// When it was asked for, and when it succeeded, in seconds.
    pub(crate) time: i64,
    pub(crate) success_time: Option<i64>,
}

impl Refund {
    pub(crate) fn new(n: u64, out_refund_no: &str, refund_fee: u64, status: &'static str) -> Self {
        let time = now();
        Refund {
            out_refund_no: out_refund_no.to_owned(),
            refund_id: format!("5030{:08}{:012}", std::process::id() % 100_000_000, n),
            refund_fee,
            status,
            notify_url: None,
            reason: None,
            time,
            success_time: (status == "SUCCESS").then_some(time),
        }
    }
}

pub(crate) fn state_description(state: &str) -> &'static str {
    match state {
        "SUCCESS" => "支付成功",
        "REFUND" => "转入退款",
        "NOTPAY" => "未支付",
        "CLOSED" => "已关闭",
        "REVOKED" => "已撤销（付款码支付）",
        "USERPAYING" => "用户支付中（付款码支付）",
        _ => "支付失败",
    }
}

/// `yyyyMMddHHmmss` in Beijing time, as APIv2 writes times.
pub(crate) fn compact_time(secs: i64) -> String {
    crate::protocol::formatter::rfc3339(secs, 8 * 3600)[..19]
        .chars()
        .filter(char::is_ascii_digit)
        .collect()
}

pub(crate) fn now() -> i64 {
    crate::protocol::formatter::timestamp()
}

/// What paying an order needs: the merchant, its APIv2 key, the book and the courier of notifications.
#[derive(Clone)]
pub(crate) struct Payer {
    pub(crate) mchid: String,
    pub(crate) key: String,
    pub(crate) book: Arc<Book>,
    pub(crate) courier: Arc<Courier>,
}

impl Payer {
    pub(crate) fn of(shared: &Shared, book: &Arc<Book>) -> Self {
        Payer {
            mchid: shared.identity.mchid.clone(),
            key: shared.identity.apiv2_key.clone(),
            book: Arc::clone(book),
            courier: Arc::clone(&shared.courier),
        }
    }
}

/// Pays an unpaid order (the user confirming on the phone) and sends its payment notification, in the
/// API that placed it, to its `notify_url`; an error says why it cannot be paid.
pub(crate) fn pay(payer: &Payer, out_trade_no: &str) -> Result<(), String> {
    let now = now();
    let delivery = {
        let mut orders = payer.book.lock();
        let order = orders
            .by_out_trade_no
            .get_mut(out_trade_no)
            .ok_or_else(|| format!("no order `{out_trade_no}`"))?;
        order.expire(now);
        if !matches!(order.state, "NOTPAY" | "USERPAYING") {
            return Err(format!(
                "the order `{out_trade_no}` is {}, not waiting for payment",
                order.state
            ));
        }
        order.state = "SUCCESS";
        order.time = now;
        order.notify_url.clone().map(|url| {
            if order.v3 {
                Delivery::V3(url, crate::mock::payments::transaction_notice(&payer.mchid, order))
            } else {
                Delivery::V2(
                    url,
                    crate::mock::apiv2::payment_notification(&payer.mchid, &payer.key, order),
                )
            }
        })
    };
    // Delivered once the book is unlocked.
    match delivery {
        Some(Delivery::V3(url, notice)) => payer.courier.deliver(url, notice),
        Some(Delivery::V2(url, body)) => payer.courier.deliver_xml(url, body, "payment notification"),
        None => {}
    }
    Ok(())
}

enum Delivery {
    V3(String, crate::mock::callbacks::Notice),
    V2(String, Vec<u8>),
}
