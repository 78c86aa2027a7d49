//! APIv3 refunds: `POST v3/refund/domestic/refunds` and its query. Never more than was paid, whatever
//! arrives at once (the book is locked for each decision); the same `out_refund_no` is the same refund.
//! A refund is `PROCESSING`, then `SUCCESS` after the family's delay, or what [`settle`] makes it; each
//! outcome goes to its `notify_url` as `REFUND.SUCCESS`, `REFUND.ABNORMAL` or `REFUND.CLOSED`. The funds a
//! refund comes from are the ones the request asked for (`funds_account` `AVAILABLE`, the available
//! balance) or else the unsettled funds, WeChat Pay's default: the answers say `funds_account` `AVAILABLE` or
//! `UNSETTLED`, the notification `fund_source` `REFUND_SOURCE_RECHARGE_FUNDS` or
//! `REFUND_SOURCE_UNSETTLED_FUNDS`.

use http::Method;
use serde_json::{json, Value};

use super::Family;
use crate::mock::callbacks::Notice;
use crate::mock::clock::rfc3339;
use crate::mock::kit::{integer, invalid_request, json_object, object, optional, param_error, path, required};
use crate::mock::orders::{Order, Refund};
use crate::mock::{Answer, MockRequest, MockServer};

pub(crate) fn install(server: &MockServer, family: &Family) {
    let f = family.clone();
    server.route(Method::POST, "v3/refund/domestic/refunds", move |req| {
        create(&f, req).unwrap_or_else(|refused| refused)
    });
    let f = family.clone();
    server.route(Method::GET, "v3/refund/domestic/refunds/{out_refund_no}", move |req| {
        query(&f, req).unwrap_or_else(|refused| refused)
    });
}

/// The refund as WeChat Pay answers it and announces it (`notice`: the callback's resource, with the
/// fields its page documents: `refund_status`, `fund_source`, the payer's currency).
fn refund_json(mchid: &str, order: &Order, refund: &Refund, notice: bool) -> Value {
    let mut out = json!({
        "mchid": order.merchant(mchid),
        "refund_id": refund.refund_id,
        "out_refund_no": refund.out_refund_no,
        "transaction_id": order.transaction_id,
        "out_trade_no": order.out_trade_no,
        "user_received_account": "支付用户零钱",
        "amount": {"total": order.total_fee, "refund": refund.refund_fee, "payer_total": order.total_fee,
            "payer_refund": refund.refund_fee, "currency": "CNY"},
    });
    if let Some(time) = refund.success_time {
        out["success_time"] = json!(rfc3339(time));
    }
    if notice {
        out["refund_status"] = json!(refund.status);
        out["fund_source"] = json!(if refund.available_funds {
            "REFUND_SOURCE_RECHARGE_FUNDS"
        } else {
            "REFUND_SOURCE_UNSETTLED_FUNDS"
        });
        out["amount"]["payer_currency"] = json!("CNY");
    } else {
        out["status"] = json!(refund.status);
        out["channel"] = json!("ORIGINAL");
        out["create_time"] = json!(rfc3339(refund.time));
        out["funds_account"] = json!(if refund.available_funds {
            "AVAILABLE"
        } else {
            "UNSETTLED"
        });
        out["amount"]["settlement_refund"] = json!(refund.refund_fee);
        out["amount"]["settlement_total"] = json!(order.total_fee);
        out["amount"]["discount_refund"] = json!(0);
        if let Some(reason) = &refund.reason {
            out["reason"] = json!(reason);
        }
    }
    out
}

fn create(family: &Family, req: &MockRequest) -> Result<Answer, Answer> {
    let body = json_object(req)?;
    let transaction_id = optional(&body, "transaction_id")?;
    let out_trade_no = optional(&body, "out_trade_no")?;
    let out_refund_no = required(&body, "out_refund_no")?;
    let amount = object(&body, "amount")?;
    let refund_fee = integer(amount, "amount.refund")?;
    let total = integer(amount, "amount.total")?;
    if refund_fee == 0 {
        return Err(param_error("amount.refund", "body", "应不小于 1"));
    }
    if optional(amount, "amount.currency")?.is_some_and(|c| c != "CNY") {
        return Err(param_error("amount.currency", "body", "境内商户号仅支持人民币 CNY"));
    }
    let notify_url = optional(&body, "notify_url")?;
    let reason = optional(&body, "reason")?;
    // The one account a refund may be asked to come from; without it, the unsettled funds.
    let available_funds = match optional(&body, "funds_account")? {
        None => false,
        Some("AVAILABLE") => true,
        Some(_) => return Err(param_error("funds_account", "body", "仅支持 AVAILABLE（可用余额）")),
    };

    let mut orders = family.book.lock();
    let n = orders.next();
    let now = orders.now();
    let order = match (transaction_id, out_trade_no) {
        (Some(id), _) => orders.by_transaction_id(id),
        (None, Some(no)) => orders.by_out_trade_no.get_mut(no),
        (None, None) => return Err(crate::mock::kit::missing("out_trade_no", "body")),
    };
    // The message names the order asked for (WeChat Pay's says only 订单不存在): a refund of the wrong
    // order, or of one placed on another sandbox, is then plain from the error alone.
    let order = order.ok_or_else(|| {
        let asked = match (transaction_id, out_trade_no) {
            (Some(id), _) => format!("transaction_id {id}"),
            (None, no) => format!("out_trade_no {}", no.unwrap_or_default()),
        };
        Answer::error(404, "RESOURCE_NOT_EXISTS", &format!("订单不存在：{asked}"))
    })?;
    if let Some(existing) = order.refunds.iter().find(|r| r.out_refund_no == out_refund_no) {
        // A retry of the same refund answers as the first did; never a second refund.
        return if existing.refund_fee == refund_fee {
            Ok(Answer::json(200, &refund_json(&family.mchid, order, existing, false)))
        } else {
            Err(invalid_request("同一个 out_refund_no 的退款金额与之前请求不一致"))
        };
    }
    if !matches!(order.state, "SUCCESS" | "REFUND") {
        return Err(Answer::error(403, "TRADE_STATE_ERROR", "订单未支付，不能退款"));
    }
    if total != order.total_fee {
        return Err(param_error("amount.total", "body", "与订单金额不一致"));
    }
    if order.refunded() + refund_fee > order.total_fee {
        return Err(Answer::error(403, "NOT_ENOUGH", "订单可退金额不足"));
    }
    let mut refund = Refund::new(now, n, out_refund_no, refund_fee, "PROCESSING");
    refund.notify_url = notify_url.map(str::to_owned);
    refund.reason = reason.map(str::to_owned);
    refund.available_funds = available_funds;
    let answer = Answer::json(200, &refund_json(&family.mchid, order, &refund, false));
    order.refunds.push(refund);
    order.state = "REFUND";
    drop(orders);
    if let (Some(delay), Ok(runtime)) = (family.refund_delay, tokio::runtime::Handle::try_current()) {
        let (family, out_refund_no) = (family.clone(), out_refund_no.to_owned());
        runtime.spawn(async move {
            tokio::time::sleep(delay).await;
            let _ = settle(&family, &out_refund_no, "SUCCESS");
        });
    }
    Ok(answer)
}

fn query(family: &Family, req: &MockRequest) -> Result<Answer, Answer> {
    let out_refund_no = path(req, "out_refund_no");
    let orders = family.book.lock();
    orders
        .by_out_trade_no
        .values()
        .find_map(|o| {
            o.refunds
                .iter()
                .find(|r| r.out_refund_no == out_refund_no)
                .map(|r| (o, r))
        })
        .map(|(order, refund)| Answer::json(200, &refund_json(&family.mchid, order, refund, false)))
        .ok_or_else(|| Answer::error(404, "RESOURCE_NOT_EXISTS", "退款单不存在"))
}

/// Ends a `PROCESSING` refund as `SUCCESS`, `ABNORMAL` or `CLOSED`, and announces it to its `notify_url`.
/// A closed refund's amount can be refunded again.
pub(crate) fn settle(family: &Family, out_refund_no: &str, status: &'static str) -> Result<(), String> {
    let (event, summary) = match status {
        "SUCCESS" => ("REFUND.SUCCESS", "退款成功"),
        "ABNORMAL" => ("REFUND.ABNORMAL", "退款异常"),
        "CLOSED" => ("REFUND.CLOSED", "退款关闭"),
        other => {
            return Err(format!(
                "`{other}` is not a refund outcome: SUCCESS, ABNORMAL or CLOSED"
            ))
        }
    };
    let delivery = {
        let mut orders = family.book.lock();
        let now = orders.now();
        let order = orders
            .by_out_trade_no
            .values_mut()
            .find(|o| o.refunds.iter().any(|r| r.out_refund_no == out_refund_no))
            .ok_or_else(|| format!("no refund `{out_refund_no}`"))?;
        let i = order
            .refunds
            .iter()
            .position(|r| r.out_refund_no == out_refund_no)
            .ok_or_else(|| format!("no refund `{out_refund_no}`"))?;
        if order.refunds[i].status != "PROCESSING" {
            return Err(format!(
                "the refund `{out_refund_no}` is {}, not PROCESSING",
                order.refunds[i].status
            ));
        }
        order.refunds[i].status = status;
        if status == "SUCCESS" {
            order.refunds[i].success_time = Some(now);
        }
        let refund = &order.refunds[i];
        refund.notify_url.clone().map(|url| {
            let notice = Notice {
                event_type: event,
                summary,
                original_type: "refund",
                create_time: rfc3339(now),
                resource: refund_json(&family.mchid, order, refund, true),
            };
            (url, notice)
        })
    };
    if let Some((url, notice)) = delivery {
        family.courier.deliver(url, notice);
    }
    Ok(())
}
