//! APIv3 payments: `v3/pay/transactions/{jsapi,app,h5,native}`, the two queries and `close` (直连), and their
//! 服务商 twins under `v3/pay/partner/transactions/…` (`sp_`/`sub_` fields), on the order book APIv2 shares; and refunds (`v3/refund/domestic/refunds`), which go `PROCESSING → SUCCESS`
//! after a settable delay (or `ABNORMAL` / `CLOSED` when the test says so), each announced to its
//! `notify_url` by the callback courier. A paid order is announced with `TRANSACTION.SUCCESS`.

mod bills;
mod refunds;

use std::sync::Arc;
use std::time::Duration;

use http::Method;
use serde_json::{json, Value};

use super::callbacks::{Courier, Notice};
use super::clock::{parse_rfc3339, rfc3339};
use super::kit::{integer, invalid_request, json_object, missing, object, optional, param_error, path, required, Body};
use super::orders::{now, pay, state_description, Book, Order, Orders, Payer, Save};
use super::{Answer, MockRequest, MockServer, Room};

pub(crate) use refunds::settle;

/// The trade types a prepay route places, by its last segment.
const KINDS: [(&str, &str); 4] = [("jsapi", "JSAPI"), ("app", "APP"), ("h5", "MWEB"), ("native", "NATIVE")];

/// What the family's handlers share.
#[derive(Clone)]
pub(crate) struct Family {
    pub(crate) mchid: String,
    pub(crate) book: Arc<Book>,
    pub(crate) courier: Arc<Courier>,
    /// How long a refund stays `PROCESSING`; `None`: until settled by the test.
    pub(crate) refund_delay: Option<Duration>,
    /// Pay every order this long after it is placed.
    pub(crate) auto_pay: Option<Duration>,
    pub(crate) payer: Payer,
}

/// Installs the payment families of both APIs on one order book, kept in the state dir's `orders.json` and
/// saved after every change (APIv2's red packets come with them).
pub(crate) fn install_family(room: &Room<'_>) -> crate::error::Result<()> {
    let (saved, save): (Option<Orders>, Option<Save>) = match room.dir {
        Some(d) => {
            let dir = d.clone();
            let save: Save = Box::new(move |book| {
                if let Err(e) = dir.write_json("orders.json", book, false) {
                    // A handler cannot fail the request over this; say it where the operator looks.
                    eprintln!("wechatpay sandbox: {e}");
                }
            });
            (d.read_json("orders.json")?, Some(save))
        }
        None => (None, None),
    };
    let shared = &room.server.shared;
    let payer = Payer {
        mchid: shared.identity.mchid.clone(),
        key: shared.identity.apiv2_key.clone(),
        book: Arc::new(Book::new(saved.unwrap_or_default(), save)),
        courier: Arc::clone(&shared.courier),
        v2_notice: super::apiv2::payment_notification,
        v3_notice: transaction_notice,
    };
    super::apiv2::install(room.server, &payer);
    install(room.server, &payer);
    let _ = shared.orders.set(payer);
    Ok(())
}

/// Registers the APIv3 routes on `server`, on the book `payer` pays from.
fn install(server: &MockServer, payer: &Payer) {
    let family = Family {
        mchid: server.mchid().to_owned(),
        book: Arc::clone(&payer.book),
        courier: Arc::clone(&server.shared.courier),
        refund_delay: server.shared.refund_delay,
        auto_pay: server.shared.auto_pay,
        payer: payer.clone(),
    };
    for mode in [Mode::Direct, Mode::Partner] {
        let base = mode.base();
        for (segment, trade_type) in KINDS {
            let f = family.clone();
            server.route(Method::POST, &format!("{base}/{segment}"), move |req| {
                prepay(&f, req, trade_type, mode).unwrap_or_else(|refused| refused)
            });
        }
        let f = family.clone();
        server.route(Method::GET, &format!("{base}/id/{{transaction_id}}"), move |req| {
            query(&f, req, Lookup::TransactionId(path(req, "transaction_id")), mode).unwrap_or_else(|refused| refused)
        });
        let f = family.clone();
        server.route(
            Method::GET,
            &format!("{base}/out-trade-no/{{out_trade_no}}"),
            move |req| {
                query(&f, req, Lookup::OutTradeNo(path(req, "out_trade_no")), mode).unwrap_or_else(|refused| refused)
            },
        );
        let f = family.clone();
        server.route(
            Method::POST,
            &format!("{base}/out-trade-no/{{out_trade_no}}/close"),
            move |req| close(&f, req, mode).unwrap_or_else(|refused| refused),
        );
    }
    refunds::install(server, &family);
    bills::install(server, &family);
}

/// 直连 (a merchant for itself) or 服务商 (a service provider for a sub-merchant, `…/partner/…`): the same
/// order book, with `sp_`/`sub_` fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Direct,
    Partner,
}

impl Mode {
    fn base(self) -> &'static str {
        match self {
            Mode::Direct => "v3/pay/transactions",
            Mode::Partner => "v3/pay/partner/transactions",
        }
    }

    /// The field naming the merchant that calls, and the one naming the app.
    fn mchid_field(self) -> &'static str {
        match self {
            Mode::Direct => "mchid",
            Mode::Partner => "sp_mchid",
        }
    }

    fn appid_field(self) -> &'static str {
        match self {
            Mode::Direct => "appid",
            Mode::Partner => "sp_appid",
        }
    }
}

enum Lookup<'a> {
    TransactionId(&'a str),
    OutTradeNo(&'a str),
}

/// The merchant a request names must be this sandbox's (its own id or a docs' sample one).
fn check_mchid(family: &Family, field: &str, mchid: &str, location: &str) -> Result<(), Answer> {
    if crate::mock::merchant::answers_to(&family.mchid, mchid) {
        Ok(())
    } else {
        Err(param_error(field, location, "与发起请求的商户号不一致"))
    }
}

/// `out_trade_no`: 6 to 32 of `[0-9A-Za-z_-|*]`, as WeChat Pay documents it.
fn check_out_trade_no(value: &str) -> Result<(), Answer> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || "_-|*".contains(c);
    if (6..=32).contains(&value.len()) && value.chars().all(allowed) {
        Ok(())
    } else {
        Err(param_error(
            "out_trade_no",
            "body",
            "应为 6 到 32 位数字、大小写字母、_-|* 组成的字符串",
        ))
    }
}

fn prepay(family: &Family, req: &MockRequest, trade_type: &str, mode: Mode) -> Result<Answer, Answer> {
    let body = json_object(req)?;
    let appid = required(&body, mode.appid_field())?;
    let mchid = required(&body, mode.mchid_field())?;
    check_mchid(family, mode.mchid_field(), mchid, "body")?;
    let (sub_mchid, sub_appid) = match mode {
        Mode::Partner => (Some(required(&body, "sub_mchid")?), optional(&body, "sub_appid")?),
        Mode::Direct => (None, None),
    };
    let description = required(&body, "description")?;
    let out_trade_no = required(&body, "out_trade_no")?;
    check_out_trade_no(out_trade_no)?;
    let notify_url = required(&body, "notify_url")?;
    if !(notify_url.starts_with("https://") || notify_url.starts_with("http://")) {
        return Err(param_error("notify_url", "body", "应为 http(s) 开头的完整地址"));
    }
    let amount = object(&body, "amount")?;
    let total = integer(amount, "amount.total")?;
    if total == 0 {
        return Err(param_error("amount.total", "body", "应不小于 1"));
    }
    if optional(amount, "amount.currency")?.is_some_and(|c| c != "CNY") {
        return Err(param_error("amount.currency", "body", "境内商户号仅支持人民币 CNY"));
    }
    let openid = match (trade_type, mode) {
        ("JSAPI", Mode::Direct) => Some(required(object(&body, "payer")?, "payer.openid")?),
        ("JSAPI", Mode::Partner) => {
            // One of the two: the user's openid under the service provider's app, or the sub-merchant's.
            let payer = object(&body, "payer")?;
            match (
                optional(payer, "payer.sp_openid")?,
                optional(payer, "payer.sub_openid")?,
            ) {
                (Some(id), _) | (None, Some(id)) => Some(id),
                (None, None) => return Err(missing("payer.sp_openid", "body")),
            }
        }
        _ => None,
    };
    if trade_type == "MWEB" {
        let scene = object(&body, "scene_info")?;
        required(scene, "scene_info.payer_client_ip")?;
        required(object(scene, "scene_info.h5_info")?, "scene_info.h5_info.type")?;
    }
    let time_expire = match optional(&body, "time_expire")? {
        Some(text) => Some(parse_rfc3339(text).ok_or_else(|| {
            param_error(
                "time_expire",
                "body",
                "应为 RFC 3339 格式的时间，如 2018-06-08T10:34:56+08:00",
            )
        })?),
        None => None,
    };
    let attach = optional(&body, "attach")?;

    let request = Value::Object(body.clone());
    let mut orders = family.book.lock();
    let now = orders.now();
    if let Some(order) = orders.by_out_trade_no.get_mut(out_trade_no) {
        order.expire(now);
        // The same order placed again (a retry) answers as the first time; anything else is refused.
        return match order.state {
            "NOTPAY" if order.request.as_ref() == Some(&request) => Ok(prepay_answer(order)),
            "NOTPAY" | "USERPAYING" => Err(invalid_request("201 商户订单号重复")),
            "CLOSED" | "REVOKED" => Err(Answer::error(400, "ORDER_CLOSED", "订单已关闭")),
            _ => Err(Answer::error(403, "ORDERPAID", "该订单已支付")),
        };
    }
    if time_expire.is_some_and(|t| t <= now) {
        return Err(param_error("time_expire", "body", "交易结束时间应晚于当前时间"));
    }
    let mut order = Order::placed(
        &mut orders,
        appid,
        out_trade_no,
        description,
        total,
        trade_type,
        "NOTPAY",
    );
    order.v3 = true;
    order.mchid = Some(mchid.to_owned());
    order.notify_url = Some(notify_url.to_owned());
    order.attach = attach.map(str::to_owned);
    order.time_expire = time_expire;
    if let Some(openid) = openid {
        order.openid = openid.to_owned();
    }
    order.sub_mchid = sub_mchid.map(str::to_owned);
    order.sub_appid = sub_appid.map(str::to_owned);
    order.request = Some(request);
    let answer = prepay_answer(&order);
    orders.by_out_trade_no.insert(out_trade_no.to_owned(), order);
    drop(orders);
    if let (Some(delay), Ok(runtime)) = (family.auto_pay, tokio::runtime::Handle::try_current()) {
        // The user at the phone, played: paid after the delay unless closed (or paid) meanwhile.
        let (payer, out_trade_no) = (family.payer.clone(), out_trade_no.to_owned());
        runtime.spawn(async move {
            tokio::time::sleep(delay).await;
            let _ = pay(&payer, &out_trade_no);
        });
    }
    Ok(answer)
}

fn prepay_answer(order: &Order) -> Answer {
    let body = match order.trade_type.as_str() {
        "NATIVE" => json!({"code_url": format!("weixin://wxpay/bizpayurl?pr={}", &order.prepay_id[2..])}),
        "MWEB" => json!({"h5_url": format!(
            "https://wx.tenpay.com/cgi-bin/mmpayweb-bin/checkmweb?prepay_id={}&package=2150917749",
            order.prepay_id
        )}),
        _ => json!({"prepay_id": order.prepay_id}),
    };
    Answer::json(200, &body)
}

/// The order as WeChat Pay answers a query and announces a payment, under the merchant id it was placed
/// under (`mchid`, the sandbox's, for an order that recorded none).
pub(crate) fn transaction(mchid: &str, order: &Order) -> Value {
    let paid = matches!(order.state, "SUCCESS" | "REFUND");
    let mchid = order.merchant(mchid);
    let mut out = match &order.sub_mchid {
        None => json!({"appid": order.appid, "mchid": mchid}),
        Some(sub_mchid) => json!({"sp_appid": order.appid, "sp_mchid": mchid, "sub_mchid": sub_mchid}),
    };
    if let Some(sub_appid) = &order.sub_appid {
        out["sub_appid"] = json!(sub_appid);
    }
    let common = json!({
        "out_trade_no": order.out_trade_no,
        "trade_type": order.trade_type,
        "trade_state": order.state,
        "trade_state_desc": state_description(order.state),
        "amount": {"total": order.total_fee, "currency": "CNY"},
    });
    if let (Value::Object(out), Value::Object(common)) = (&mut out, common) {
        out.extend(common);
    }
    if let Some(attach) = &order.attach {
        out["attach"] = json!(attach);
    }
    if paid {
        out["transaction_id"] = json!(order.transaction_id);
        out["bank_type"] = json!("OTHERS");
        out["success_time"] = json!(rfc3339(order.time));
        out["payer"] = match order.sub_mchid {
            None => json!({"openid": order.openid}),
            Some(_) => json!({"sp_openid": order.openid}),
        };
        out["amount"] = json!({"total": order.total_fee, "payer_total": order.total_fee, "currency": "CNY",
            "payer_currency": "CNY"});
    }
    out
}

/// The `TRANSACTION.SUCCESS` notification of a paid order.
pub(crate) fn transaction_notice(mchid: &str, order: &Order) -> Notice {
    Notice {
        event_type: "TRANSACTION.SUCCESS",
        summary: "支付成功",
        original_type: "transaction",
        create_time: rfc3339(now()),
        resource: transaction(mchid, order),
    }
}

fn query(family: &Family, req: &MockRequest, lookup: Lookup<'_>, mode: Mode) -> Result<Answer, Answer> {
    let field = mode.mchid_field();
    let given = |name: &'static str| {
        req.query(name)
            .filter(|m| !m.is_empty())
            .ok_or_else(|| missing(name, "query"))
    };
    check_mchid(family, field, given(field)?, "query")?;
    let sub_mchid = match mode {
        Mode::Partner => Some(given("sub_mchid")?),
        Mode::Direct => None,
    };
    let mut orders = family.book.lock();
    let now = orders.now();
    let order = match lookup {
        Lookup::TransactionId(id) => orders.by_transaction_id(id).filter(|o| o.state != "NOTPAY"),
        Lookup::OutTradeNo(no) => orders.by_out_trade_no.get_mut(no),
    };
    // An order is found only through the mode, and for the sub-merchant, that placed it.
    let order = order
        .filter(|o| o.sub_mchid.as_deref() == sub_mchid)
        .ok_or_else(|| Answer::error(404, "ORDER_NOT_EXIST", "订单不存在"))?;
    order.expire(now);
    Ok(Answer::json(200, &transaction(&family.mchid, order)))
}

fn close(family: &Family, req: &MockRequest, mode: Mode) -> Result<Answer, Answer> {
    let body: Body = json_object(req)?;
    check_mchid(family, mode.mchid_field(), required(&body, mode.mchid_field())?, "body")?;
    let sub_mchid = match mode {
        Mode::Partner => Some(required(&body, "sub_mchid")?),
        Mode::Direct => None,
    };
    let mut orders = family.book.lock();
    let now = orders.now();
    let order = orders
        .by_out_trade_no
        .get_mut(path(req, "out_trade_no"))
        .filter(|o| o.sub_mchid.as_deref() == sub_mchid)
        .ok_or_else(|| Answer::error(404, "ORDER_NOT_EXIST", "订单不存在"))?;
    order.expire(now);
    match order.state {
        "NOTPAY" | "CLOSED" => {
            order.state = "CLOSED";
            Ok(Answer::no_content())
        }
        _ => Err(Answer::error(400, "ORDERPAID", "订单已支付，不能关闭")),
    }
}
