//! The order book the payment families share: APIv2's 付款码 and 统一下单 orders and APIv3's
//! `v3/pay/transactions/…` ones live side by side, so a test may place an order with one API and query,
//! refund or pay it through the other, as a merchant migrating between them does. Paying an order sends
//! the notification of the API that placed it.

use std::collections::HashMap;
use std::ops::{Deref, DerefMut};
use std::sync::{Arc, Mutex, MutexGuard};

use serde::{Deserialize, Serialize};

use crate::mock::callbacks::Courier;

use crate::protocol::apiv2::SignType;

/// A state or status name. An alias, not `&'static str` written out, so serde's derive does not take it for
/// a string borrowed from the input (`word` reads it back as the same `&'static str`).
pub(crate) type Word = &'static str;

/// Saves the book (to the state dir) after a change.
pub(crate) type Save = Box<dyn Fn(&Orders) + Send + Sync>;

/// Every order the sandbox has taken, by `out_trade_no`.
#[derive(Default)]
pub(crate) struct Book {
    orders: Mutex<Orders>,
    save: Option<Save>,
}

impl Book {
    /// A book holding `orders`, saved by `save` after every change.
    pub(crate) fn new(orders: Orders, save: Option<Save>) -> Self {
        Book {
            orders: Mutex::new(orders),
            save,
        }
    }

    /// The orders, locked. Hold the lock for one request's work only; never while delivering. Changed
    /// through the guard, the book is saved when the guard goes.
    pub(crate) fn lock(&self) -> BookGuard<'_> {
        BookGuard {
            orders: self.orders.lock().unwrap_or_else(|p| p.into_inner()),
            changed: false,
            save: self.save.as_deref(),
        }
    }
}

/// The locked orders; saves them on drop if they were borrowed mutably.
pub(crate) struct BookGuard<'a> {
    orders: MutexGuard<'a, Orders>,
    changed: bool,
    save: Option<&'a (dyn Fn(&Orders) + Send + Sync)>,
}

impl Deref for BookGuard<'_> {
    type Target = Orders;
    fn deref(&self) -> &Orders {
        &self.orders
    }
}

impl DerefMut for BookGuard<'_> {
    fn deref_mut(&mut self) -> &mut Orders {
        self.changed = true;
        &mut self.orders
    }
}

impl Drop for BookGuard<'_> {
    fn drop(&mut self) {
        if let (true, Some(save)) = (self.changed, self.save) {
            save(&self.orders);
        }
    }
}

#[derive(Default, Serialize, Deserialize)]
pub(crate) struct Orders {
    pub(crate) by_out_trade_no: HashMap<String, Order>,
    /// Numbers the orders and refunds the sandbox issues.
    issued: u64,
    /// How far the sandbox's clock for orders is ahead of this machine's, in seconds
    /// ([`crate::mock::MockServer::advance_clock`]); not kept across restarts.
    #[serde(skip)]
    pub(crate) ahead: i64,
}

impl Orders {
    /// The order book's time: this machine's, plus what the test moved it on by.
    pub(crate) fn now(&self) -> i64 {
        now() + self.ahead
    }

    /// The next number for an order or refund id.
    pub(crate) fn next(&mut self) -> u64 {
        self.issued += 1;
        self.issued
    }

    /// The order `out_trade_no` when it is waiting for payment (its `time_expire` applied first); else
    /// why not.
    pub(crate) fn awaiting_payment(&mut self, out_trade_no: &str) -> Result<&mut Order, String> {
        let now = self.now();
        let order = self
            .by_out_trade_no
            .get_mut(out_trade_no)
            .ok_or_else(|| format!("no order `{out_trade_no}`"))?;
        order.expire(now);
        if matches!(order.state, "NOTPAY" | "USERPAYING") {
            Ok(order)
        } else {
            Err(format!(
                "the order `{out_trade_no}` is {}, not waiting for payment",
                order.state
            ))
        }
    }

    /// The order with this `transaction_id`.
    pub(crate) fn by_transaction_id(&mut self, id: &str) -> Option<&mut Order> {
        self.by_out_trade_no.values_mut().find(|o| o.transaction_id == id)
    }
}

/// An order, as either API placed it.
#[derive(Serialize, Deserialize)]
pub(crate) struct Order {
    /// Placed through APIv3 (JSON, `TRANSACTION.SUCCESS`), else APIv2 (XML).
    pub(crate) v3: bool,
    /// The merchant id it was placed under (the sandbox's own or a docs' sample one), which its answers,
    /// notifications and bill lines echo; `None` in books written before the sandbox answered to several.
    #[serde(default)]
    pub(crate) mchid: Option<String>,
    pub(crate) appid: String,
    pub(crate) out_trade_no: String,
    pub(crate) transaction_id: String,
    /// `body` (APIv2) or `description` (APIv3).
    pub(crate) body: String,
    /// In fen.
    pub(crate) total_fee: u64,
    pub(crate) trade_type: String,
    /// `NOTPAY`, `USERPAYING`, `SUCCESS`, `REFUND`, `CLOSED`, `REVOKED` or `PAYERROR`.
    #[serde(with = "word")]
    pub(crate) state: Word,
    pub(crate) prepay_id: String,
    pub(crate) auth_code: Option<String>,
    /// Where its payment notification goes.
    pub(crate) notify_url: Option<String>,
    /// How an APIv2 order was signed, and so how its notifications are.
    #[serde(with = "sign_type")]
    pub(crate) sign_type: SignType,
    pub(crate) openid: String,
    /// A 服务商 order: the sub-merchant it is for (and its appid), the service provider being `mchid`.
    #[serde(default)]
    pub(crate) sub_mchid: Option<String>,
    #[serde(default)]
    pub(crate) sub_appid: Option<String>,
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
    /// A new order, numbered and timed by the book; the families set what else they know.
    pub(crate) fn placed(
        orders: &mut Orders,
        appid: &str,
        out_trade_no: &str,
        body: &str,
        total_fee: u64,
        trade_type: &str,
        state: &'static str,
    ) -> Self {
        let (n, now) = (orders.next(), orders.now());
        Order {
            v3: false,
            mchid: None,
            appid: appid.to_owned(),
            out_trade_no: out_trade_no.to_owned(),
            transaction_id: format!("4200{:08}{:012}", std::process::id() % 100_000_000, n),
            body: body.to_owned(),
            total_fee,
            trade_type: trade_type.to_owned(),
            state,
            prepay_id: format!("wx{}{:016}", compact_time(now), n),
            auth_code: None,
            notify_url: None,
            sign_type: SignType::Md5,
            openid: "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o".to_owned(),
            sub_mchid: None,
            sub_appid: None,
            attach: None,
            time_expire: None,
            request: None,
            time: now,
            refunds: Vec::new(),
        }
    }

    /// The merchant id its answers echo: the one it was placed under, else the sandbox's `mchid`.
    pub(crate) fn merchant<'a>(&'a self, mchid: &'a str) -> &'a str {
        self.mchid.as_deref().unwrap_or(mchid)
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
#[derive(Serialize, Deserialize)]
pub(crate) struct Refund {
    pub(crate) out_refund_no: String,
    pub(crate) refund_id: String,
    pub(crate) refund_fee: u64,
    /// `PROCESSING`, `SUCCESS`, `ABNORMAL` or `CLOSED`.
    #[serde(with = "word")]
    pub(crate) status: Word,
    pub(crate) notify_url: Option<String>,
    pub(crate) reason: Option<String>,
    /// Refunded from the available balance (可用余额: APIv3 `funds_account` `AVAILABLE`, APIv2
    /// `refund_account` `REFUND_SOURCE_RECHARGE_FUNDS`), as the request asked; else from the unsettled
    /// funds, WeChat Pay's default. Its notification and query say which.
    #[serde(default)]
    pub(crate) available_funds: bool,
    /// When it was asked for, and when it succeeded, in seconds.
    pub(crate) time: i64,
    pub(crate) success_time: Option<i64>,
}

impl Refund {
    pub(crate) fn new(time: i64, n: u64, out_refund_no: &str, refund_fee: u64, status: &'static str) -> Self {
        Refund {
            out_refund_no: out_refund_no.to_owned(),
            refund_id: format!("5030{:08}{:012}", std::process::id() % 100_000_000, n),
            refund_fee,
            status,
            notify_url: None,
            reason: None,
            available_funds: false,
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

/// What paying an order needs: the merchant, its APIv2 key, the book, the courier of notifications, and
/// how each API words a payment notification (given by the families, so the book depends on neither).
#[derive(Clone)]
pub(crate) struct Payer {
    pub(crate) mchid: String,
    pub(crate) key: String,
    pub(crate) book: Arc<Book>,
    pub(crate) courier: Arc<Courier>,
    /// APIv2's signed XML notification, from the merchant, the APIv2 key and the order.
    pub(crate) v2_notice: fn(&str, &str, &Order) -> Vec<u8>,
    /// APIv3's `TRANSACTION.SUCCESS`, from the merchant and the order.
    pub(crate) v3_notice: fn(&str, &Order) -> crate::mock::callbacks::Notice,
}

/// Pays an unpaid order (the user confirming on the phone) and sends its payment notification, in the
/// API that placed it, to its `notify_url`; an error says why it cannot be paid.
pub(crate) fn pay(payer: &Payer, out_trade_no: &str) -> Result<(), String> {
    let delivery = {
        let mut orders = payer.book.lock();
        let now = orders.now();
        let order = orders.awaiting_payment(out_trade_no)?;
        order.state = "SUCCESS";
        order.time = now;
        order.notify_url.clone().map(|url| {
            if order.v3 {
                Delivery::V3(url, (payer.v3_notice)(&payer.mchid, order))
            } else {
                Delivery::V2(url, (payer.v2_notice)(&payer.mchid, &payer.key, order))
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

fn yuan(fen: u64) -> String {
    format!("{}.{:02}", fen / 100, fen % 100)
}

/// The UTF-8 byte-order mark every bill file starts with, as WeChat Pay's do (spreadsheets then read the
/// CSV as UTF-8; the Node SDK's `Formatter.castCsvBill` drops these three bytes before parsing). Part of the
/// file: the bill's digest covers it.
pub(crate) const BOM: &str = "\u{feff}";

/// `yyyy-MM-dd HH:mm:ss` in Beijing time, as bills write times.
fn bill_time(secs: i64) -> String {
    crate::protocol::formatter::rfc3339(secs, 8 * 3600)[..19].replace('T', " ")
}

/// The trade bill (交易账单) of `day` (`yyyyMMdd`) in WeChat Pay's CSV layout: the [`BOM`], a header, a line
/// per payment and per refund of that day (`bill_type` `ALL`, `SUCCESS` or `REFUND`), then the totals; every
/// value starts with a backtick, as WeChat Pay writes them so spreadsheets keep them as text. `None` when
/// the day has nothing to bill. WeChat Pay bills only past days; the sandbox bills today too, so a test can
/// reconcile what it has just done. `mchid` fills the 商户号 of an order that recorded none.
pub(crate) fn trade_bill(orders: &Orders, mchid: &str, day: &str, bill_type: &str) -> Option<String> {
    let mut lines = vec![
        "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,\
         应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,\
         手续费,费率,订单金额,申请退款金额,费率备注"
            .to_owned(),
    ];
    let (mut count, mut paid, mut refunded) = (0u64, 0u64, 0u64);
    let mut sorted: Vec<&Order> = orders.by_out_trade_no.values().collect();
    sorted.sort_by_key(|o| (o.time, o.out_trade_no.clone()));
    for order in sorted
        .iter()
        .filter(|o| matches!(o.state, "SUCCESS" | "REFUND" | "REVOKED"))
    {
        let row = |time: i64, state: &str, refund: Option<&Refund>| {
            let cells = [
                bill_time(time),
                order.appid.clone(),
                order.merchant(mchid).to_owned(),
                "0".into(),
                String::new(),
                order.transaction_id.clone(),
                order.out_trade_no.clone(),
                order.openid.clone(),
                order.trade_type.clone(),
                state.into(),
                "OTHERS".into(),
                "CNY".into(),
                yuan(if refund.is_some() { 0 } else { order.total_fee }),
                "0.00".into(),
                refund.map_or("0".into(), |r| r.refund_id.clone()),
                refund.map_or("0".into(), |r| r.out_refund_no.clone()),
                yuan(refund.map_or(0, |r| r.refund_fee)),
                "0.00".into(),
                refund.map_or(String::new(), |_| "ORIGINAL".into()),
                refund.map_or(String::new(), |r| r.status.into()),
                order.body.replace(',', " "),
                order.attach.clone().unwrap_or_default().replace(',', " "),
                "0.00000".into(),
                "0.60%".into(),
                yuan(order.total_fee),
                yuan(refund.map_or(0, |r| r.refund_fee)),
                String::new(),
            ];
            cells.iter().map(|c| format!("`{c}")).collect::<Vec<_>>().join(",")
        };
        if compact_time(order.time).starts_with(day) && bill_type != "REFUND" {
            lines.push(row(order.time, "SUCCESS", None));
            count += 1;
            paid += order.total_fee;
        }
        for r in order.refunds.iter().filter(|r| compact_time(r.time).starts_with(day)) {
            if bill_type != "SUCCESS" {
                lines.push(row(r.time, "REFUND", Some(r)));
                count += 1;
                refunded += r.refund_fee;
            }
        }
    }
    if count == 0 {
        return None;
    }
    lines.push("总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额".into());
    lines.push(format!(
        "`{count},`{},`{},`0.00,`0.00000,`{},`{}",
        yuan(paid),
        yuan(refunded),
        yuan(paid),
        yuan(refunded)
    ));
    let mut csv = BOM.to_owned();
    csv.push_str(&lines.join("\r\n"));
    csv.push_str("\r\n");
    Some(csv)
}

/// The fund-flow bill (资金账单) of `day` (`yyyyMMdd`) of the basic account: the [`BOM`], a header, a line
/// per payment credited and per refund debited, then the totals, in WeChat Pay's layout. `None` when nothing
/// moved that day.
pub(crate) fn fundflow_bill(orders: &Orders, day: &str) -> Option<String> {
    let mut entries: Vec<(i64, String, String, &str, &str, u64)> = Vec::new();
    for order in orders
        .by_out_trade_no
        .values()
        .filter(|o| matches!(o.state, "SUCCESS" | "REFUND"))
    {
        if compact_time(order.time).starts_with(day) {
            entries.push((
                order.time,
                order.transaction_id.clone(),
                order.out_trade_no.clone(),
                "交易",
                "收入",
                order.total_fee,
            ));
        }
        for r in order
            .refunds
            .iter()
            .filter(|r| r.status != "CLOSED" && compact_time(r.time).starts_with(day))
        {
            entries.push((
                r.time,
                r.refund_id.clone(),
                r.out_refund_no.clone(),
                "退款",
                "支出",
                r.refund_fee,
            ));
        }
    }
    if entries.is_empty() {
        return None;
    }
    entries.sort();
    let mut lines = vec![
        "记账时间,微信支付业务单号,资金流水单号,业务名称,业务类型,收支类型,收支金额（元）,账户结余（元）,资金变更提交申请人,备注,业务凭证号"
            .to_owned(),
    ];
    let (mut balance, mut income, mut incomes, mut outgo, mut outgos) = (0i64, 0u64, 0u64, 0u64, 0u64);
    for (i, (time, id, voucher, name, direction, fen)) in entries.iter().enumerate() {
        if *direction == "收入" {
            balance += *fen as i64;
            (income, incomes) = (income + fen, incomes + 1);
        } else {
            balance -= *fen as i64;
            (outgo, outgos) = (outgo + fen, outgos + 1);
        }
        let balance_text = format!("{}{}", if balance < 0 { "-" } else { "" }, yuan(balance.unsigned_abs()));
        let cells = [
            bill_time(*time),
            id.clone(),
            format!("{:028}", i + 1),
            (*name).to_owned(),
            (*name).to_owned(),
            (*direction).to_owned(),
            yuan(*fen),
            balance_text,
            "system".into(),
            String::new(),
            voucher.clone(),
        ];
        lines.push(cells.iter().map(|c| format!("`{c}")).collect::<Vec<_>>().join(","));
    }
    lines.push("资金流水总笔数,收入笔数,收入金额,支出笔数,支出金额".into());
    lines.push(format!(
        "`{},`{incomes},`{},`{outgos},`{}",
        entries.len(),
        yuan(income),
        yuan(outgo)
    ));
    let mut csv = BOM.to_owned();
    csv.push_str(&lines.join("\r\n"));
    csv.push_str("\r\n");
    Some(csv)
}

/// `bytes` gzipped, as WeChat Pay serves a bill asked for with `tar_type=GZIP`.
pub(crate) fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write as _;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    // Writing to memory cannot fail.
    let _ = gz.write_all(bytes);
    gz.finish().unwrap_or_default()
}

/// The states and statuses, saved as their names and read back as the same `&'static str`.
mod word {
    use serde::{Deserialize, Deserializer, Serializer};

    const WORDS: [&str; 9] = [
        "NOTPAY",
        "USERPAYING",
        "SUCCESS",
        "REFUND",
        "CLOSED",
        "REVOKED",
        "PAYERROR",
        "PROCESSING",
        "ABNORMAL",
    ];

    pub(super) fn serialize<S: Serializer>(word: &&'static str, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(word)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<&'static str, D::Error> {
        let text = String::deserialize(d)?;
        WORDS
            .iter()
            .find(|w| **w == text)
            .copied()
            .ok_or_else(|| serde::de::Error::custom(format!("`{text}` is not an order state or refund status")))
    }
}

/// An APIv2 sign type, saved as WeChat Pay's name for it.
mod sign_type {
    use serde::{Deserialize, Deserializer, Serializer};

    use crate::protocol::apiv2::SignType;

    pub(super) fn serialize<S: Serializer>(t: &SignType, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(t.as_str())
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<SignType, D::Error> {
        let text = String::deserialize(d)?;
        SignType::parse(&text).ok_or_else(|| serde::de::Error::custom(format!("`{text}` is not a sign type")))
    }
}

/// Fails an unpaid order's payment (the bank refused it): the order becomes `PAYERROR`; WeChat Pay sends no
/// notification for that. An error says why it cannot fail.
pub(crate) fn fail(book: &Book, out_trade_no: &str) -> Result<(), String> {
    book.lock().awaiting_payment(out_trade_no)?.state = "PAYERROR";
    Ok(())
}
