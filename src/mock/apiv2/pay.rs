//! APIv2 payments: 付款码支付 (`pay/micropay`), 统一下单 (`pay/unifiedorder`), query, close, reverse, refunds
//! and their query, and the day's bill (`pay/downloadbill`), on one order book.

use std::sync::Arc;

use http::Method;

use crate::mock::apiv2::{fail, read, refuse, signed, xml_answer, V2Request};
use crate::mock::callbacks::{courier, Courier};
use crate::mock::orders::{
    compact_time, gzip, pay, state_description, trade_bill, Book, BookGuard, Order, Orders, Payer, Refund,
};
use crate::mock::{Answer, MockRequest, MockServer};
use crate::protocol::apiv2::{sign, xml, SignType};

impl Order {
    /// The fields of a paid order, as micropay and orderquery answer them and its payment notification
    /// says them: the order's own payer (the `openid` a JSAPI order named) and its `attach`, echoed.
    fn fields(&self, with_state: bool) -> Vec<(String, String)> {
        let mut fields = vec![
            ("appid".into(), self.appid.clone()),
            ("result_code".into(), "SUCCESS".into()),
            ("openid".into(), self.openid.clone()),
            ("is_subscribe".into(), "N".into()),
            ("trade_type".into(), self.trade_type.clone()),
            ("bank_type".into(), "OTHERS".into()),
            ("total_fee".into(), self.total_fee.to_string()),
            ("fee_type".into(), "CNY".into()),
            ("cash_fee".into(), self.total_fee.to_string()),
            ("transaction_id".into(), self.transaction_id.clone()),
            ("out_trade_no".into(), self.out_trade_no.clone()),
            ("time_end".into(), compact_time(self.time)),
        ];
        if let Some(attach) = &self.attach {
            fields.push(("attach".into(), attach.clone()));
        }
        if with_state {
            fields.push(("trade_state".into(), self.state.into()));
            fields.push(("trade_state_desc".into(), state_description(self.state).into()));
        }
        fields
    }
}

/// Registers the payment routes on `server`, sharing `book`.
pub(crate) fn install(server: &MockServer, payer: &Payer) {
    type Handler = fn(&Context, &V2Request) -> Answer;
    let routes: [(&str, Handler); 8] = [
        ("pay/micropay", micropay),
        ("pay/unifiedorder", unifiedorder),
        ("pay/orderquery", orderquery),
        ("pay/closeorder", closeorder),
        ("secapi/pay/reverse", reverse),
        ("secapi/pay/refund", refund),
        ("pay/refundquery", refundquery),
        ("pay/downloadbill", downloadbill),
    ];
    for (path, handler) in routes {
        let context = Context {
            mchid: server.mchid().to_owned(),
            key: server.apiv2_key().to_owned(),
            book: Arc::clone(&payer.book),
            courier: courier(server),
            payer: payer.clone(),
            auto_pay: server.shared.auto_pay,
        };
        server.route(Method::POST, path, move |req: &MockRequest| {
            match read(&context.mchid, &context.key, path, req) {
                Ok(v2) => handler(&context, &v2),
                Err(refused) => refused,
            }
        });
    }
}

struct Context {
    mchid: String,
    key: String,
    book: Arc<Book>,
    courier: Arc<Courier>,
    payer: Payer,
    /// Pay every order this long after it is placed ([`crate::mock::MockBuilder::auto_pay_after`]).
    auto_pay: Option<std::time::Duration>,
}

impl Context {
    /// Signed, echoing the merchant the request named.
    fn ok(&self, req: &V2Request, fields: Vec<(String, String)>) -> Answer {
        signed(&self.key, req.sign_type, &req.mchid, fields)
    }

    fn refuse(&self, req: &V2Request, code: &str, description: &str) -> Answer {
        refuse(&self.key, req, &req.mchid, code, description)
    }

    fn orders(&self) -> BookGuard<'_> {
        self.book.lock()
    }
}

fn amount(req: &V2Request, name: &str) -> Result<u64, Answer> {
    req.get(name)
        .and_then(|v| v.parse::<u64>().ok())
        .filter(|&v| v > 0)
        .ok_or_else(|| fail(&format!("{name}参数格式错误")))
}

/// Finds the order a query names, by `transaction_id` or `out_trade_no`.
fn find<'a>(orders: &'a mut Orders, req: &V2Request) -> Option<&'a mut Order> {
    if let Some(id) = req.get("transaction_id") {
        return orders.by_out_trade_no.values_mut().find(|o| o.transaction_id == id);
    }
    orders.by_out_trade_no.get_mut(req.get("out_trade_no")?)
}

fn new_order(orders: &mut Orders, req: &V2Request, total_fee: u64, trade_type: &str, state: &'static str) -> Order {
    let mut order = Order::placed(
        orders,
        req.get("appid").unwrap_or_default(),
        req.get("out_trade_no").unwrap_or_default(),
        req.get("body").unwrap_or_default(),
        total_fee,
        trade_type,
        state,
    );
    order.mchid = Some(req.mchid.clone());
    order.auth_code = req.get("auth_code").map(str::to_owned);
    order.notify_url = req.get("notify_url").map(str::to_owned);
    order.sign_type = req.sign_type;
    // The payer a JSAPI order names is the one who pays it (a 付款码 payer is the code's, the sandbox's own).
    if let Some(openid) = req.get("openid") {
        order.openid = openid.to_owned();
    }
    order.attach = req.get("attach").map(str::to_owned);
    order
}

fn micropay(cx: &Context, req: &V2Request) -> Answer {
    let required = [
        "appid",
        "body",
        "out_trade_no",
        "total_fee",
        "spbill_create_ip",
        "auth_code",
    ];
    if let Err(refused) = req.require(&required) {
        return refused;
    }
    let total_fee = match amount(req, "total_fee") {
        Ok(v) => v,
        Err(refused) => return refused,
    };
    let auth_code = req.get("auth_code").unwrap_or_default();
    if auth_code.len() != 18 || !auth_code.bytes().all(|b| b.is_ascii_digit()) {
        return cx.refuse(req, "AUTH_CODE_INVALID", "授权码检验错误");
    }
    let mut orders = cx.orders();
    let out_trade_no = req.get("out_trade_no").unwrap_or_default();
    if let Some(order) = orders.by_out_trade_no.get(out_trade_no) {
        // A retry of the same payment answers as the first did; anything else reuses the number.
        let same = order.total_fee == total_fee && order.auth_code.as_deref() == Some(auth_code);
        return match (same, order.state) {
            (true, "SUCCESS") => cx.ok(req, order.fields(false)),
            (true, "USERPAYING") => cx.refuse(req, "USERPAYING", "需要用户输入支付密码"),
            _ => cx.refuse(req, "OUT_TRADE_NO_USED", "商户订单号重复"),
        };
    }
    match req.negative.as_deref() {
        Some("USERPAYING") => {
            let order = new_order(&mut orders, req, total_fee, "MICROPAY", "USERPAYING");
            orders.by_out_trade_no.insert(out_trade_no.to_owned(), order);
            cx.refuse(req, "USERPAYING", "需要用户输入支付密码")
        }
        Some(code) => cx.refuse(req, code, "negative test"),
        None => {
            let order = new_order(&mut orders, req, total_fee, "MICROPAY", "SUCCESS");
            let answer = cx.ok(req, order.fields(false));
            orders.by_out_trade_no.insert(out_trade_no.to_owned(), order);
            answer
        }
    }
}

fn unifiedorder(cx: &Context, req: &V2Request) -> Answer {
    let required = [
        "appid",
        "body",
        "out_trade_no",
        "total_fee",
        "spbill_create_ip",
        "notify_url",
        "trade_type",
    ];
    if let Err(refused) = req.require(&required) {
        return refused;
    }
    let total_fee = match amount(req, "total_fee") {
        Ok(v) => v,
        Err(refused) => return refused,
    };
    let trade_type = req.get("trade_type").unwrap_or_default();
    if !["JSAPI", "NATIVE", "APP", "MWEB"].contains(&trade_type) {
        return fail("trade_type参数格式错误");
    }
    if trade_type == "JSAPI" && req.get("openid").is_none() && req.get("sub_openid").is_none() {
        return cx.refuse(req, "PARAM_ERROR", "trade_type=JSAPI时（即JSAPI支付），此参数必传");
    }
    let mut orders = cx.orders();
    let out_trade_no = req.get("out_trade_no").unwrap_or_default();
    if let Some(order) = orders.by_out_trade_no.get(out_trade_no) {
        return match order.state {
            "NOTPAY" if order.total_fee == total_fee && order.trade_type == trade_type => {
                cx.ok(req, prepay_fields(order))
            }
            "NOTPAY" => cx.refuse(req, "INVALID_REQUEST", "201 商户订单号重复"),
            "CLOSED" => cx.refuse(req, "ORDERCLOSED", "订单已关闭"),
            _ => cx.refuse(req, "ORDERPAID", "该订单已支付"),
        };
    }
    if let Some(code) = req.negative.as_deref() {
        return cx.refuse(req, code, "negative test");
    }
    let order = new_order(&mut orders, req, total_fee, trade_type, "NOTPAY");
    let answer = cx.ok(req, prepay_fields(&order));
    orders.by_out_trade_no.insert(out_trade_no.to_owned(), order);
    if let (Some(delay), Ok(runtime)) = (cx.auto_pay, tokio::runtime::Handle::try_current()) {
        // The user at the phone, played: paid after the delay unless closed (or paid) meanwhile.
        let (payer, out_trade_no) = (cx.payer.clone(), out_trade_no.to_owned());
        runtime.spawn(async move {
            tokio::time::sleep(delay).await;
            let _ = pay(&payer, &out_trade_no);
        });
    }
    answer
}

fn prepay_fields(order: &Order) -> Vec<(String, String)> {
    let mut fields = vec![
        ("appid".into(), order.appid.clone()),
        ("result_code".into(), "SUCCESS".into()),
        ("prepay_id".into(), order.prepay_id.clone()),
        ("trade_type".into(), order.trade_type.clone()),
    ];
    match order.trade_type.as_str() {
        "NATIVE" => fields.push((
            "code_url".into(),
            format!("weixin://wxpay/bizpayurl?pr={}", &order.prepay_id[2..]),
        )),
        "MWEB" => fields.push((
            "mweb_url".into(),
            format!(
                "https://wx.tenpay.com/cgi-bin/mmpayweb-bin/checkmweb?prepay_id={}",
                order.prepay_id
            ),
        )),
        _ => {}
    }
    fields
}

fn orderquery(cx: &Context, req: &V2Request) -> Answer {
    if let Err(refused) = req.require(&["appid"]) {
        return refused;
    }
    if req.get("transaction_id").is_none() && req.get("out_trade_no").is_none() {
        return fail("缺少参数out_trade_no");
    }
    let mut orders = cx.orders();
    match find(&mut orders, req) {
        Some(order) => {
            let mut fields = order.fields(true);
            if order.state == "NOTPAY" || order.state == "CLOSED" || order.state == "USERPAYING" {
                // Unpaid orders have no payer, bank or time yet.
                fields.retain(|(k, _)| {
                    !["openid", "is_subscribe", "bank_type", "cash_fee", "time_end"].contains(&k.as_str())
                });
            }
            cx.ok(req, fields)
        }
        None => cx.refuse(req, "ORDERNOTEXIST", "订单不存在"),
    }
}

fn closeorder(cx: &Context, req: &V2Request) -> Answer {
    if let Err(refused) = req.require(&["appid", "out_trade_no"]) {
        return refused;
    }
    let mut orders = cx.orders();
    // `closeorder` answers a `result_msg` (documented as required) beside its `result_code`: `OK`, or what
    // was refused.
    let refuse = |code: &str, description: &str| {
        let fields = vec![
            ("appid".into(), req.get("appid").unwrap_or_default().into()),
            ("result_code".into(), "FAIL".into()),
            ("result_msg".into(), description.into()),
            ("err_code".into(), code.into()),
            ("err_code_des".into(), description.into()),
        ];
        cx.ok(req, fields)
    };
    let Some(order) = find(&mut orders, req) else {
        return refuse("ORDERNOTEXIST", "订单不存在");
    };
    match order.state {
        "NOTPAY" | "CLOSED" => {
            order.state = "CLOSED";
            cx.ok(
                req,
                vec![
                    ("appid".into(), order.appid.clone()),
                    ("result_code".into(), "SUCCESS".into()),
                    ("result_msg".into(), "OK".into()),
                ],
            )
        }
        _ => refuse("ORDERPAID", "订单已支付，不能发起关单"),
    }
}

fn reverse(cx: &Context, req: &V2Request) -> Answer {
    if let Err(refused) = req.require(&["appid"]) {
        return refused;
    }
    let mut orders = cx.orders();
    let Some(order) = find(&mut orders, req) else {
        return cx.refuse(req, "ORDERNOTEXIST", "订单不存在");
    };
    if !order.refunds.is_empty() {
        return cx.refuse(req, "REVERSE_EXPIRE", "订单已发生退款，不能撤销");
    }
    order.state = "REVOKED";
    cx.ok(
        req,
        vec![
            ("appid".into(), order.appid.clone()),
            ("result_code".into(), "SUCCESS".into()),
            ("recall".into(), "N".into()),
        ],
    )
}

fn refund(cx: &Context, req: &V2Request) -> Answer {
    if let Err(refused) = req.require(&["appid", "out_refund_no", "total_fee", "refund_fee"]) {
        return refused;
    }
    if req.get("transaction_id").is_none() && req.get("out_trade_no").is_none() {
        return fail("缺少参数out_trade_no");
    }
    let (total_fee, refund_fee) = match (amount(req, "total_fee"), amount(req, "refund_fee")) {
        (Ok(t), Ok(r)) => (t, r),
        (Err(refused), _) | (_, Err(refused)) => return refused,
    };
    // Where the money comes from: the unsettled funds unless the request asks for the available balance.
    let available_funds = match req.get("refund_account") {
        None | Some("REFUND_SOURCE_UNSETTLED_FUNDS") => false,
        Some("REFUND_SOURCE_RECHARGE_FUNDS") => true,
        Some(_) => return fail("refund_account参数格式错误"),
    };
    if let Some(code) = req.negative.as_deref() {
        return cx.refuse(req, code, "negative test");
    }
    let mut orders = cx.orders();
    let n = orders.next();
    let now = orders.now();
    let Some(order) = find(&mut orders, req) else {
        return cx.refuse(req, "ORDERNOTEXIST", "订单不存在");
    };
    if !matches!(order.state, "SUCCESS" | "REFUND") {
        return cx.refuse(req, "TRADE_STATE_ERROR", "订单状态错误");
    }
    if total_fee != order.total_fee {
        return cx.refuse(req, "PARAM_ERROR", "订单金额或退款金额与之前请求不一致，请核实后再试");
    }
    let out_refund_no = req.get("out_refund_no").unwrap_or_default();
    let existing = order.refunds.iter().position(|r| r.out_refund_no == out_refund_no);
    let index = match existing {
        // The same out_refund_no is the same refund: answered again, never paid twice.
        Some(i) if order.refunds[i].refund_fee == refund_fee => i,
        Some(_) => return cx.refuse(req, "PARAM_ERROR", "订单金额或退款金额与之前请求不一致，请核实后再试"),
        None => {
            if order.refunded() + refund_fee > order.total_fee {
                return cx.refuse(req, "NOTENOUGH", "订单可退金额不足");
            }
            // APIv2 refunds succeed at once in the sandbox.
            let mut refund = Refund::new(now, n, out_refund_no, refund_fee, "SUCCESS");
            refund.available_funds = available_funds;
            order.refunds.push(refund);
            order.state = "REFUND";
            order.refunds.len() - 1
        }
    };
    let refund = &order.refunds[index];
    if let (None, Some(url)) = (existing, req.get("notify_url")) {
        // Spawned, not sent here: nothing waits on the receiver while the book is locked.
        let body = refund_notification(order.merchant(&cx.mchid), &cx.key, order, refund);
        cx.courier.deliver_xml(url.to_owned(), body, "refund notification");
    }
    cx.ok(
        req,
        vec![
            ("appid".into(), order.appid.clone()),
            ("result_code".into(), "SUCCESS".into()),
            ("transaction_id".into(), order.transaction_id.clone()),
            ("out_trade_no".into(), order.out_trade_no.clone()),
            ("out_refund_no".into(), refund.out_refund_no.clone()),
            ("refund_id".into(), refund.refund_id.clone()),
            ("refund_fee".into(), refund.refund_fee.to_string()),
            ("total_fee".into(), order.total_fee.to_string()),
            ("cash_fee".into(), order.total_fee.to_string()),
            ("cash_refund_fee".into(), refund.refund_fee.to_string()),
        ],
    )
}

/// The payment notification of a paid APIv2 order: its fields, signed as the order was, from the merchant
/// it was placed under (`mchid`, the sandbox's, for an order that recorded none).
pub(crate) fn payment_notification(mchid: &str, key: &str, order: &Order) -> Vec<u8> {
    let mut fields = vec![
        ("return_code".to_owned(), "SUCCESS".to_owned()),
        ("mch_id".into(), order.merchant(mchid).to_owned()),
    ];
    fields.push(("nonce_str".into(), crate::protocol::formatter::nonce_of_len(16)));
    fields.extend(order.fields(false));
    if order.sign_type == SignType::HmacSha256 {
        fields.push(("sign_type".into(), "HMAC-SHA256".into()));
    }
    let signature = sign(
        order.sign_type,
        fields.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        key,
    );
    fields.push(("sign".into(), signature));
    xml::write(fields.iter().map(|(k, v)| (k.as_str(), v.as_str()))).into_bytes()
}

/// `refund_account`: where a refund's money came from, as the request asked.
fn refund_account(refund: &Refund) -> &'static str {
    if refund.available_funds {
        "REFUND_SOURCE_RECHARGE_FUNDS"
    } else {
        "REFUND_SOURCE_UNSETTLED_FUNDS"
    }
}

/// A refund notification: unsigned, its result sealed in `req_info` (AES-256-ECB under the MD5 of the
/// APIv2 key), with the fields its page documents (`cash_refund_fee`, the `refund_account` asked for…).
fn refund_notification(mchid: &str, key: &str, order: &Order, refund: &Refund) -> Vec<u8> {
    let (total, refunded) = (order.total_fee.to_string(), refund.refund_fee.to_string());
    let inner = xml::write([
        ("transaction_id", order.transaction_id.as_str()),
        ("out_trade_no", &order.out_trade_no),
        ("refund_id", &refund.refund_id),
        ("out_refund_no", &refund.out_refund_no),
        ("total_fee", &total),
        ("settlement_total_fee", &total),
        ("refund_fee", &refunded),
        ("settlement_refund_fee", &refunded),
        ("cash_refund_fee", &refunded),
        ("refund_status", "SUCCESS"),
        (
            "success_time",
            &crate::protocol::formatter::rfc3339(refund.time, 8 * 3600)[..19].replace('T', " "),
        ),
        ("refund_recv_accout", "支付用户的零钱"),
        ("refund_account", refund_account(refund)),
        ("refund_request_source", "API"),
    ])
    .replacen("<xml>", "<root>", 1)
    .replace("</xml>", "</root>");
    let aes_key = crate::crypto::hash::md5_hex(key.as_bytes());
    let sealed = crate::php::apiv2::AesEcb::encrypt(inner.as_bytes(), &aes_key).unwrap_or_default();
    let nonce = crate::protocol::formatter::nonce_of_len(16);
    xml::write([
        ("return_code", "SUCCESS"),
        ("appid", order.appid.as_str()),
        ("mch_id", mchid),
        ("nonce_str", &nonce),
        ("req_info", &sealed),
    ])
    .into_bytes()
}

fn refundquery(cx: &Context, req: &V2Request) -> Answer {
    if let Err(refused) = req.require(&["appid"]) {
        return refused;
    }
    let mut orders = cx.orders();
    let by_refund = req.get("out_refund_no").or(req.get("refund_id"));
    let order = match by_refund {
        Some(id) => orders
            .by_out_trade_no
            .values_mut()
            .find(|o| o.refunds.iter().any(|r| r.out_refund_no == id || r.refund_id == id)),
        None if req.get("transaction_id").is_some() || req.get("out_trade_no").is_some() => find(&mut orders, req),
        None => return fail("缺少参数out_refund_no"),
    };
    let Some(order) = order.filter(|o| !o.refunds.is_empty()) else {
        return cx.refuse(req, "REFUNDNOTEXIST", "退款订单查询失败");
    };
    let refunds: Vec<&Refund> = order
        .refunds
        .iter()
        .filter(|r| by_refund.is_none_or(|id| r.out_refund_no == id || r.refund_id == id))
        .collect();
    let mut fields = vec![
        ("appid".into(), order.appid.clone()),
        ("result_code".into(), "SUCCESS".into()),
        ("transaction_id".into(), order.transaction_id.clone()),
        ("out_trade_no".into(), order.out_trade_no.clone()),
        ("total_fee".into(), order.total_fee.to_string()),
        ("cash_fee".into(), order.total_fee.to_string()),
        ("refund_count".into(), refunds.len().to_string()),
    ];
    for (i, r) in refunds.iter().enumerate() {
        fields.push((format!("out_refund_no_{i}"), r.out_refund_no.clone()));
        fields.push((format!("refund_id_{i}"), r.refund_id.clone()));
        fields.push((format!("refund_fee_{i}"), r.refund_fee.to_string()));
        fields.push((format!("refund_status_{i}"), "SUCCESS".into()));
        fields.push((format!("refund_account_{i}"), refund_account(r).into()));
        fields.push((format!("refund_recv_accout_{i}"), "支付用户的零钱".into()));
        fields.push((
            format!("refund_success_time_{i}"),
            crate::protocol::formatter::rfc3339(r.time, 8 * 3600)[..19].replace('T', " "),
        ));
    }
    cx.ok(req, fields)
}

/// The day's bill in WeChat Pay's CSV layout: a header, one line per payment (and per refund), then the
/// totals. Values start with a backtick, as WeChat Pay writes them so spreadsheets keep them as text.
fn downloadbill(cx: &Context, req: &V2Request) -> Answer {
    if let Err(refused) = req.require(&["appid", "bill_date", "bill_type"]) {
        return refused;
    }
    let bill_type = req.get("bill_type").unwrap_or_default();
    if !["ALL", "SUCCESS", "REFUND"].contains(&bill_type) {
        return fail("bill_type参数格式错误");
    }
    let day = req.get("bill_date").unwrap_or_default();
    let Some(csv) = trade_bill(&cx.orders(), &cx.mchid, day, bill_type) else {
        return xml_answer([
            ("return_code", "FAIL"),
            ("return_msg", "No Bill Exist"),
            ("error_code", "20002"),
        ]);
    };
    if req.get("tar_type") == Some("GZIP") {
        return Answer::bytes(200, "application/x-gzip", gzip(csv.as_bytes()));
    }
    Answer::bytes(200, "text/plain;charset=utf-8", csv)
}
