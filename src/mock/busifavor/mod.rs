//! The sandbox's busifavor (商家券) family: stocks, the coupons sent from them, and their life cycle.
//!
//! Endpoints (under `v3/marketing/busifavor/`): create a stock (`POST stocks`), query one
//! (`GET stocks/{stock_id}`), send a coupon (`POST coupons/send`), associate it with an order and undo that
//! (`POST coupons/associate`, `POST coupons/disassociate`), use it (`POST coupons/use`), deactivate it
//! (`POST coupons/deactivate`), and read a user's coupons (`GET users/{openid}/coupons/{coupon_code}/appids/{appid}`
//! and `GET users/{openid}/coupons`), and set or read the event notification URL (`POST callbacks`,
//! `GET callbacks?mchid=`).
//!
//! Once a notification URL is set, sending a coupon and using one make the sandbox POST the
//! `COUPON.SEND` / `COUPON.USE` callbacks there, signed and sealed as WeChat Pay does (see `callbacks`).
//!
//! Rules, as WeChat Pay applies them:
//! - a coupon is `SENDED` until it is `USED` or `DEACTIVATED`; a `SENDED` coupon past its `expire_time`
//!   reads as `EXPIRED`. Only a `SENDED` coupon can be used, deactivated or associated with an order;
//! - a coupon is associated with one order at a time, and only that order can be disassociated;
//! - sends stay within the stock's `max_coupons`, `max_coupons_per_user` and `max_coupons_by_day`
//!   (403 `RULE_LIMIT`);
//! - `WECHATPAY_MODE` stocks get generated codes; `MERCHANT_API` / `MERCHANT_UPLOAD` stocks take the code
//!   the request gives, or get a generated one when it gives none. Codes are unique in the sandbox;
//! - request numbers (`out_request_no`, `use_request_no`, `deactivate_request_no`) are idempotency keys,
//!   one namespace per endpoint: the same number with the same body answers the original answer again,
//!   with another body it is refused (400 `PARAM_ERROR` naming the field) and changes nothing;
//! - a missing or empty required field is 400 `PARAM_ERROR` whose `detail.field` and message name it;
//!   an unknown stock or coupon is 404 `RESOURCE_NOT_EXISTS`; a coupon in the wrong state is
//!   400 `INVALID_REQUEST`.
//!
//! Times are RFC 3339 in Beijing time (`+08:00`).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use http::Method;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::callbacks::{self, Notice};
use super::clock::{beijing_day, parse_rfc3339, rfc3339};
use super::kit::{
    count, integer, invalid_request, json_object, missing, not_found, object, one_of, optional, optional_integer,
    param_error, path, required, rule_limit, time, Body, Receipts,
};
use super::merchant::answers_to;
use super::{Answer, MockRequest, MockServer, Room, MCHID};

/// Where every busifavor endpoint lives.
const BASE: &str = "v3/marketing/busifavor";
/// The stock that exists from the start (the seed pages' `100088`).
pub(crate) const SEEDED_STOCK_ID: &str = "100088";
/// The largest page the list endpoint serves.
const MAX_LIMIT: u64 = 50;
/// The page size when the request names none.
const DEFAULT_LIMIT: u64 = 20;

/// The sandbox's busifavor (商家券) state; serde-serializable so it can be persisted.
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Busifavor {
    /// Stocks by `stock_id`.
    #[serde(default)]
    stocks: BTreeMap<String, Stock>,
    /// Coupons by `coupon_code` (unique across the sandbox).
    #[serde(default)]
    coupons: BTreeMap<String, Coupon>,
    /// Answered requests: endpoint → request number → receipt.
    #[serde(default)]
    receipts: Receipts,
    /// The last generated coupon code's serial.
    #[serde(default)]
    code_serial: u64,
    /// Where event notifications (`COUPON.SEND`, `COUPON.USE`) go, once set.
    #[serde(default)]
    callbacks: Option<NotifyUrl>,
    /// The merchant the sandbox serves, set when the family is installed (so not kept: a restart may serve
    /// another); empty: [`MCHID`].
    #[serde(skip)]
    merchant: String,
}

/// The event notification URL set through `POST callbacks`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct NotifyUrl {
    notify_url: String,
    update_time: i64,
}

/// A stock (批次): the definition it was created with, plus what the sandbox enforces from it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Stock {
    stock_id: String,
    /// The create request without `out_request_no`: the fields the query answers echo.
    definition: Body,
    code_mode: CodeMode,
    limits: SendLimits,
    validity: Validity,
    /// The face value of a `NORMAL` coupon, in fen (0 for the other types).
    face_value: u64,
    create_time: i64,
}

/// `coupon_code_mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
enum CodeMode {
    WechatpayMode,
    MerchantApi,
    MerchantUpload,
}

impl CodeMode {
    fn parse(s: &str) -> Option<Self> {
        match s {
            "WECHATPAY_MODE" => Some(CodeMode::WechatpayMode),
            "MERCHANT_API" => Some(CodeMode::MerchantApi),
            "MERCHANT_UPLOAD" => Some(CodeMode::MerchantUpload),
            _ => None,
        }
    }
}

/// `stock_send_rule`'s limits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct SendLimits {
    max_coupons: u64,
    max_coupons_per_user: u64,
    max_coupons_by_day: Option<u64>,
}

/// `coupon_use_rule.coupon_available_time`, as Unix seconds and counts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Validity {
    begin: i64,
    end: i64,
    wait_days_after_receive: Option<u64>,
    available_day_after_receive: Option<u64>,
    available_second_after_receive: Option<u64>,
}

impl Validity {
    /// `(available_start_time, expire_time)` of a coupon received at `receive`.
    fn window(&self, receive: i64) -> (i64, i64) {
        let days = |n: u64| i64::try_from(n).unwrap_or(i64::MAX / 2).saturating_mul(86_400);
        let wait = self.wait_days_after_receive.map_or(0, days);
        let start = self.begin.max(receive.saturating_add(wait));
        let mut expire = self.end;
        if let Some(n) = self.available_day_after_receive {
            expire = expire.min(start.saturating_add(days(n)));
        }
        if let Some(n) = self.available_second_after_receive {
            expire = expire.min(start.saturating_add(i64::try_from(n).unwrap_or(i64::MAX / 2)));
        }
        (start, expire)
    }
}

/// A coupon's stored state; `EXPIRED` is derived from the clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
enum CouponState {
    Sended,
    Used,
    Expired,
    Deactivated,
}

impl CouponState {
    const ALL: [CouponState; 4] = [
        CouponState::Sended,
        CouponState::Used,
        CouponState::Expired,
        CouponState::Deactivated,
    ];

    fn as_str(self) -> &'static str {
        match self {
            CouponState::Sended => "SENDED",
            CouponState::Used => "USED",
            CouponState::Expired => "EXPIRED",
            CouponState::Deactivated => "DEACTIVATED",
        }
    }
}

/// A coupon in a user's card bag.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Coupon {
    coupon_code: String,
    stock_id: String,
    openid: String,
    appid: String,
    state: CouponState,
    send_request_no: String,
    receive_time: i64,
    available_start_time: i64,
    expire_time: i64,
    /// The order it is associated with.
    out_trade_no: Option<String>,
    use_request_no: Option<String>,
    use_time: Option<i64>,
    deactivate_time: Option<i64>,
    deactivate_reason: Option<String>,
}

impl Coupon {
    /// The state as of `now`: a `SENDED` coupon past its expiry is `EXPIRED`.
    fn state_at(&self, now: i64) -> CouponState {
        match self.state {
            CouponState::Sended if now >= self.expire_time => CouponState::Expired,
            state => state,
        }
    }

    /// Refuses anything but a coupon usable at `now`.
    fn ensure_usable(&self, now: i64, action: &str) -> Result<(), Answer> {
        match self.state_at(now) {
            CouponState::Sended => Ok(()),
            state => Err(invalid_request(&format!(
                "券 {} 当前状态为 {}，不可{action}",
                self.coupon_code,
                state.as_str()
            ))),
        }
    }
}

/// A mutating endpoint's answer, and whether it changed the state (a replayed request does not).
#[derive(Debug)]
struct Done {
    answer: Value,
    changed: bool,
}

impl Busifavor {
    /// [`Busifavor::seeded_for`] the default merchant.
    #[cfg(test)]
    pub(crate) fn seeded() -> Self {
        Self::seeded_for(MCHID)
    }

    /// The state a fresh sandbox serving `mchid` starts with (then [`Busifavor::serving`] it): stock `100088`,
    /// belonging to it, taking merchant-chosen codes (`MERCHANT_API`), valid until 2099, with room for a
    /// million coupons and a thousand per user.
    pub(crate) fn seeded_for(mchid: &str) -> Self {
        let definition = json!({
            "stock_name": "沙箱商家券",
            "belong_merchant": mchid,
            "comment": "沙箱预置批次",
            "goods_name": "全场通用",
            "stock_type": "NORMAL",
            "coupon_use_rule": {
                "coupon_available_time": {
                    "available_begin_time": "2015-05-20T00:00:00+08:00",
                    "available_end_time": "2099-12-31T23:59:59+08:00"
                },
                "fixed_normal_coupon": {"discount_amount": 500, "transaction_minimum": 1000},
                "use_method": "OFF_LINE"
            },
            "stock_send_rule": {
                "max_amount": 500_000_000,
                "max_coupons": 1_000_000,
                "max_coupons_per_user": 1000,
                "natural_person_limit": false,
                "prevent_api_abuse": false,
                "transferable": false,
                "shareable": false
            },
            "display_pattern_info": {"description": "沙箱门店可用", "merchant_name": "微信支付沙箱", "background_color": "Color020"},
            "coupon_code_mode": "MERCHANT_API",
            "out_request_no": "seed-100088"
        });
        let Value::Object(body) = definition else {
            unreachable!("a json! object is an object")
        };
        let stock = Stock::define(SEEDED_STOCK_ID, &body, 1_432_051_200).expect("the seeded stock is valid");
        let mut state = Busifavor::default();
        state.stocks.insert(stock.stock_id.clone(), stock);
        state
    }

    /// This state, served as `mchid`'s (not kept with it: the sandbox says whom it serves at each start).
    fn serving(mut self, mchid: &str) -> Self {
        self.merchant = mchid.to_owned();
        self
    }

    /// The merchant the sandbox serves.
    fn mchid(&self) -> &str {
        if self.merchant.is_empty() {
            MCHID
        } else {
            &self.merchant
        }
    }

    /// `POST stocks`: creates a stock; answers `{stock_id, create_time}`.
    fn create_stock(&mut self, body: &Body, now: i64) -> Result<Done, Answer> {
        // Validate the whole definition before the request number decides anything.
        Stock::define("", body, now)?;
        self.once("stocks", "out_request_no", body, |state| {
            let stock_id = (100_089u64..)
                .map(|n| n.to_string())
                .find(|id| !state.stocks.contains_key(id))
                .expect("an unused id exists");
            let stock = Stock::define(&stock_id, body, now)?;
            state.stocks.insert(stock_id.clone(), stock);
            Ok(json!({"stock_id": stock_id, "create_time": rfc3339(now)}))
        })
    }

    /// `GET stocks/{stock_id}`.
    fn stock_view(&self, stock_id: &str, now: i64) -> Result<Value, Answer> {
        let stock = self.stock(stock_id)?;
        let mut view = stock.definition.clone();
        view.insert("stock_id".into(), json!(stock.stock_id));
        view.insert("stock_state".into(), json!("RUNNING"));
        let today = beijing_day(now);
        let (mut total, mut today_num) = (0u64, 0u64);
        for coupon in self.coupons.values().filter(|c| c.stock_id == stock_id) {
            total += 1;
            if beijing_day(coupon.receive_time) == today {
                today_num += 1;
            }
        }
        view.insert(
            "send_count_information".into(),
            json!({
                "total_send_num": total,
                "total_send_amount": total * stock.face_value,
                "today_send_num": today_num,
                "today_send_amount": today_num * stock.face_value,
            }),
        );
        Ok(Value::Object(view))
    }

    /// `POST coupons/send`: answers `{stock_id, coupon_code, out_request_no}`.
    fn send(&mut self, body: &Body, now: i64) -> Result<Done, Answer> {
        let openid = required(body, "openid")?;
        let appid = required(body, "appid")?;
        let stock_id = required(body, "stock_id")?;
        let out_request_no = required(body, "out_request_no")?;
        let coupon_code = optional(body, "coupon_code")?;
        self.once("coupons/send", "out_request_no", body, |state| {
            let stock = state.stock(stock_id)?;
            if stock.code_mode == CodeMode::WechatpayMode && coupon_code.is_some() {
                return Err(param_error(
                    "coupon_code",
                    "body",
                    "WECHATPAY_MODE 批次的券code由微信支付生成，不可指定",
                ));
            }
            if let Some(code) = coupon_code.filter(|code| state.coupons.contains_key(*code)) {
                return Err(invalid_request(&format!("券code {code} 已存在，不可重复发放")));
            }
            state.check_limits(stock, openid, now)?;
            let (available_start_time, expire_time) = stock.validity.window(now);
            let code = match coupon_code {
                Some(code) => code.to_owned(),
                None => state.fresh_code(),
            };
            state.coupons.insert(
                code.clone(),
                Coupon {
                    coupon_code: code.clone(),
                    stock_id: stock_id.to_owned(),
                    openid: openid.to_owned(),
                    appid: appid.to_owned(),
                    state: CouponState::Sended,
                    send_request_no: out_request_no.to_owned(),
                    receive_time: now,
                    available_start_time,
                    expire_time,
                    out_trade_no: None,
                    use_request_no: None,
                    use_time: None,
                    deactivate_time: None,
                    deactivate_reason: None,
                },
            );
            Ok(json!({"stock_id": stock_id, "coupon_code": code, "out_request_no": out_request_no}))
        })
    }

    /// Refuses a send past the stock's `max_coupons`, `max_coupons_by_day` or `max_coupons_per_user`.
    fn check_limits(&self, stock: &Stock, openid: &str, now: i64) -> Result<(), Answer> {
        let today = beijing_day(now);
        let (mut total, mut by_user, mut by_day) = (0u64, 0u64, 0u64);
        for coupon in self.coupons.values().filter(|c| c.stock_id == stock.stock_id) {
            total += 1;
            by_user += u64::from(coupon.openid == openid);
            by_day += u64::from(beijing_day(coupon.receive_time) == today);
        }
        let limits = &stock.limits;
        if total >= limits.max_coupons {
            return Err(rule_limit(&format!(
                "批次 {} 已发放 {total} 张，达到批次最大发放个数 max_coupons",
                stock.stock_id
            )));
        }
        if limits.max_coupons_by_day.is_some_and(|max| by_day >= max) {
            return Err(rule_limit(&format!(
                "批次 {} 今日已发放 {by_day} 张，达到单天发放上限 max_coupons_by_day",
                stock.stock_id
            )));
        }
        if by_user >= limits.max_coupons_per_user {
            return Err(rule_limit(&format!(
                "用户 {openid} 已领取批次 {} 的券 {by_user} 张，达到用户最大可领个数 max_coupons_per_user",
                stock.stock_id
            )));
        }
        Ok(())
    }

    /// A generated coupon code no coupon has.
    fn fresh_code(&mut self) -> String {
        loop {
            self.code_serial += 1;
            let code = format!("{:012}", 880_000_000_000 + self.code_serial);
            if !self.coupons.contains_key(&code) {
                return code;
            }
        }
    }

    /// `POST coupons/associate`: answers `{wechatpay_associate_time}`.
    fn associate(&mut self, body: &Body, now: i64) -> Result<Done, Answer> {
        let link = OrderLink::parse(body)?;
        self.once("coupons/associate", "out_request_no", body, |state| {
            let coupon = state.coupon_in_stock(link.stock_id, link.coupon_code)?;
            coupon.ensure_usable(now, "关联订单")?;
            if let Some(order) = &coupon.out_trade_no {
                return Err(invalid_request(&format!(
                    "券 {} 已关联订单 {order}，请先取消关联",
                    coupon.coupon_code
                )));
            }
            coupon.out_trade_no = Some(link.out_trade_no.to_owned());
            Ok(json!({"wechatpay_associate_time": rfc3339(now)}))
        })
    }

    /// `POST coupons/disassociate`: answers `{wechatpay_disassociate_time}`.
    fn disassociate(&mut self, body: &Body, now: i64) -> Result<Done, Answer> {
        let link = OrderLink::parse(body)?;
        self.once("coupons/disassociate", "out_request_no", body, |state| {
            let coupon = state.coupon_in_stock(link.stock_id, link.coupon_code)?;
            match coupon.out_trade_no.as_deref() {
                Some(order) if order == link.out_trade_no => {}
                Some(order) => {
                    return Err(invalid_request(&format!(
                        "券 {} 关联的是订单 {order}，不是订单 {}",
                        coupon.coupon_code, link.out_trade_no
                    )))
                }
                None => return Err(invalid_request(&format!("券 {} 未关联任何订单", coupon.coupon_code))),
            }
            coupon.out_trade_no = None;
            Ok(json!({"wechatpay_disassociate_time": rfc3339(now)}))
        })
    }

    /// `POST coupons/use`: answers `{stock_id, openid, wechatpay_use_time}`.
    fn use_coupon(&mut self, body: &Body, now: i64) -> Result<Done, Answer> {
        let coupon_code = required(body, "coupon_code")?;
        let stock_id = optional(body, "stock_id")?;
        let appid = required(body, "appid")?;
        let use_time = required(body, "use_time")?;
        let use_request_no = required(body, "use_request_no")?;
        let openid = optional(body, "openid")?;
        optional(body, "out_trade_no")?;
        if parse_rfc3339(use_time).is_none() {
            return Err(param_error(
                "use_time",
                "body",
                "应为 RFC 3339 格式的时间，如 2015-05-20T13:29:35+08:00",
            ));
        }
        self.once("coupons/use", "use_request_no", body, |state| {
            if let Some(stock_id) = stock_id {
                state.stock(stock_id)?;
            }
            let coupon = state
                .coupons
                .get_mut(coupon_code)
                .filter(|c| stock_id.is_none_or(|s| c.stock_id == s))
                .filter(|c| openid.is_none_or(|o| c.openid == o) && c.appid == appid)
                .ok_or_else(|| {
                    not_found(&format!(
                        "用户在公众账号 {appid} 下不存在券 {coupon_code}（或它不属于所给批次）"
                    ))
                })?;
            coupon.ensure_usable(now, "核销")?;
            coupon.state = CouponState::Used;
            coupon.use_request_no = Some(use_request_no.to_owned());
            coupon.use_time = Some(now);
            Ok(json!({"stock_id": coupon.stock_id, "openid": coupon.openid, "wechatpay_use_time": rfc3339(now)}))
        })
    }

    /// `POST coupons/deactivate`: answers `{wechatpay_deactivate_time}`.
    fn deactivate(&mut self, body: &Body, now: i64) -> Result<Done, Answer> {
        let coupon_code = required(body, "coupon_code")?;
        let stock_id = required(body, "stock_id")?;
        required(body, "deactivate_request_no")?;
        let reason = optional(body, "deactivate_reason")?;
        self.once("coupons/deactivate", "deactivate_request_no", body, |state| {
            let coupon = state.coupon_in_stock(stock_id, coupon_code)?;
            coupon.ensure_usable(now, "失效")?;
            coupon.state = CouponState::Deactivated;
            coupon.deactivate_time = Some(now);
            coupon.deactivate_reason = reason.map(str::to_owned);
            Ok(json!({"wechatpay_deactivate_time": rfc3339(now)}))
        })
    }

    /// `POST callbacks`: sets the event notification URL; answers `{update_time, notify_url, mchid}`.
    fn set_callbacks(&mut self, body: &Body, now: i64) -> Result<Done, Answer> {
        let mchid = optional(body, "mchid")?.unwrap_or(self.mchid()).to_owned();
        if !answers_to(self.mchid(), &mchid) {
            return Err(param_error("mchid", "body", "应为调用接口的商户号"));
        }
        let notify_url = required(body, "notify_url")?;
        let valid = url::Url::parse(notify_url).is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.has_host());
        if !valid {
            return Err(param_error("notify_url", "body", "应为 http(s) 开头的合法 URL"));
        }
        self.callbacks = Some(NotifyUrl {
            notify_url: notify_url.to_owned(),
            update_time: now,
        });
        Ok(Done {
            answer: json!({"update_time": rfc3339(now), "notify_url": notify_url, "mchid": mchid}),
            changed: true,
        })
    }

    /// `GET callbacks?mchid=`: answers `{notify_url, mchid}`, or 404 when none is set.
    fn callbacks_view(&self, req: &MockRequest) -> Result<Value, Answer> {
        let mchid = req
            .query("mchid")
            .filter(|m| !m.is_empty())
            .ok_or_else(|| missing("mchid", "query"))?;
        if !answers_to(self.mchid(), mchid) {
            return Err(param_error("mchid", "query", "应为调用接口的商户号"));
        }
        let set = self
            .callbacks
            .as_ref()
            .ok_or_else(|| not_found("尚未设置商家券事件通知地址"))?;
        Ok(json!({"notify_url": set.notify_url, "mchid": mchid}))
    }

    /// The `COUPON.SEND` notification of the coupon a send answered with.
    fn send_notice(&self, _body: &Body, answer: &Value) -> Option<Notice> {
        let coupon = self.coupons.get(answer.get("coupon_code")?.as_str()?)?;
        Some(Notice {
            event_type: "COUPON.SEND",
            summary: "商家券领券通知",
            original_type: "coupon",
            create_time: rfc3339(coupon.receive_time),
            resource: json!({
                "event_type": "EVENT_TYPE_BUSICOUPON_SEND",
                "coupon_code": coupon.coupon_code,
                "stock_id": coupon.stock_id,
                "send_time": rfc3339(coupon.receive_time),
                "openid": coupon.openid,
                "send_channel": "BUSICOUPON_SEND_CHANNEL_API",
                "send_merchant": self.mchid(),
            }),
        })
    }

    /// The `COUPON.USE` notification of the coupon a use request named.
    fn use_notice(&self, body: &Body, _answer: &Value) -> Option<Notice> {
        let coupon = self.coupons.get(body.get("coupon_code")?.as_str()?)?;
        let use_time = coupon.use_time?;
        let definition = &self.stocks.get(&coupon.stock_id)?.definition;
        // A field of the stock's definition, by its path.
        let text = |path: &[&str]| -> Option<Value> {
            let (first, rest) = path.split_first()?;
            rest.iter().try_fold(definition.get(*first)?, |v, k| v.get(k)).cloned()
        };
        let mut resource = json!({
            "stock_creator_mchid": text(&["belong_merchant"]).unwrap_or_else(|| json!(self.mchid())),
            "stock_id": coupon.stock_id,
            "coupon_id": coupon.coupon_code,
            "coupon_name": text(&["stock_name"]).unwrap_or_else(|| json!("")),
            "status": "USED",
            "description": text(&["display_pattern_info", "description"])
                .or_else(|| text(&["comment"]))
                .unwrap_or_else(|| json!("")),
            "create_time": rfc3339(coupon.receive_time),
            "coupon_type": "NORMAL",
            "no_cash": false,
            "available_begin_time": rfc3339(coupon.available_start_time),
            "available_end_time": rfc3339(coupon.expire_time),
            "singleitem": false,
            "consume_information": {
                "consume_time": rfc3339(use_time),
                "consume_mchid": self.mchid(),
                "transaction_id": transaction_id(&coupon.coupon_code, use_time),
            },
        });
        if let Some(normal) = text(&["coupon_use_rule", "fixed_normal_coupon"]) {
            resource["normal_coupon_information"] = json!({
                "coupon_amount": normal.get("discount_amount").cloned().unwrap_or(json!(0)),
                "transaction_minimum": normal.get("transaction_minimum").cloned().unwrap_or(json!(0)),
            });
        }
        Some(Notice {
            event_type: "COUPON.USE",
            summary: "商家券核销通知",
            original_type: "coupon",
            create_time: rfc3339(use_time),
            resource,
        })
    }

    /// `GET users/{openid}/coupons/{coupon_code}/appids/{appid}`.
    fn user_coupon(&self, openid: &str, coupon_code: &str, appid: &str, now: i64) -> Result<Value, Answer> {
        self.coupons
            .get(coupon_code)
            .filter(|c| c.openid == openid && c.appid == appid)
            .map(|c| self.coupon_view(c, now))
            .ok_or_else(|| not_found(&format!("用户 {openid} 在公众账号 {appid} 下不存在券 {coupon_code}")))
    }

    /// `GET users/{openid}/coupons?appid=…`: filters by `stock_id`, `coupon_state`, `creator_merchant`,
    /// `belong_merchant` and `sender_merchant`; pages by `offset` (records to skip) and `limit` (≤ 50).
    fn user_coupons(&self, openid: &str, query: &[(String, String)], now: i64) -> Result<Value, Answer> {
        let param = |name: &str| {
            query
                .iter()
                .find(|(k, v)| k == name && !v.is_empty())
                .map(|(_, v)| v.as_str())
        };
        let appid = param("appid").ok_or_else(|| missing("appid", "query"))?;
        let state = match param("coupon_state") {
            None => None,
            Some(s) => Some(
                CouponState::ALL
                    .into_iter()
                    .find(|state| state.as_str() == s)
                    .ok_or_else(|| {
                        param_error("coupon_state", "query", "应为 SENDED、USED、EXPIRED、DEACTIVATED 之一")
                    })?,
            ),
        };
        let number = |name: &str, default: u64| -> Result<u64, Answer> {
            param(name).map_or(Ok(default), |v| {
                v.parse().map_err(|_| param_error(name, "query", "应为非负整数"))
            })
        };
        let offset = number("offset", 0)?;
        let limit = number("limit", DEFAULT_LIMIT)?;
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(param_error("limit", "query", &format!("应在 1 到 {MAX_LIMIT} 之间")));
        }
        let matches = |name: &str, value: &str| param(name).is_none_or(|wanted| wanted == value);
        // The sandbox merchant (under any id it answers to) creates and sends every stock.
        let by_us = |name: &str| param(name).is_none_or(|id| answers_to(self.mchid(), id));
        let ours = by_us("creator_merchant") && by_us("sender_merchant");
        let found: Vec<&Coupon> = self
            .coupons
            .values()
            .filter(|c| ours && c.openid == openid && c.appid == appid)
            .filter(|c| matches("stock_id", &c.stock_id))
            .filter(|c| state.is_none_or(|s| c.state_at(now) == s))
            .filter(|c| {
                let belong = self
                    .stocks
                    .get(&c.stock_id)
                    .and_then(|s| s.definition.get("belong_merchant"));
                matches("belong_merchant", belong.and_then(Value::as_str).unwrap_or_default())
            })
            .collect();
        let data: Vec<Value> = found
            .iter()
            .skip(usize::try_from(offset).unwrap_or(usize::MAX))
            .take(usize::try_from(limit).unwrap_or(usize::MAX))
            .map(|c| self.coupon_view(c, now))
            .collect();
        Ok(json!({"data": data, "total_count": found.len(), "offset": offset, "limit": limit}))
    }

    /// A coupon as the query endpoints answer it: its stock's description, then its own fields.
    fn coupon_view(&self, coupon: &Coupon, now: i64) -> Value {
        let mut view = Map::new();
        let definition = self.stocks.get(&coupon.stock_id).map(|s| &s.definition);
        for key in [
            "stock_name",
            "belong_merchant",
            "comment",
            "goods_name",
            "stock_type",
            "coupon_use_rule",
            "custom_entrance",
            "display_pattern_info",
        ] {
            if let Some(value) = definition.and_then(|d| d.get(key)) {
                view.insert(key.into(), value.clone());
            }
        }
        view.entry("display_pattern_info").or_insert_with(|| json!({}));
        let send_rule = definition.and_then(|d| d.get("stock_send_rule"));
        let flag = |name: &str| {
            send_rule
                .and_then(|r| r.get(name))
                .and_then(Value::as_bool)
                .unwrap_or(false)
        };
        view.insert("coupon_code".into(), json!(coupon.coupon_code));
        view.insert("coupon_state".into(), json!(coupon.state_at(now).as_str()));
        view.insert("stock_id".into(), json!(coupon.stock_id));
        view.insert("transferable".into(), json!(flag("transferable")));
        view.insert("shareable".into(), json!(flag("shareable")));
        view.insert("send_request_no".into(), json!(coupon.send_request_no));
        if let Some(no) = &coupon.use_request_no {
            view.insert("use_request_no".into(), json!(no));
        }
        view.insert(
            "available_start_time".into(),
            json!(rfc3339(coupon.available_start_time)),
        );
        view.insert("expire_time".into(), json!(rfc3339(coupon.expire_time)));
        view.insert("receive_time".into(), json!(rfc3339(coupon.receive_time)));
        if let Some(t) = coupon.use_time {
            view.insert("use_time".into(), json!(rfc3339(t)));
        }
        Value::Object(view)
    }

    fn stock(&self, stock_id: &str) -> Result<&Stock, Answer> {
        self.stocks
            .get(stock_id)
            .ok_or_else(|| not_found(&format!("批次 {stock_id} 不存在")))
    }

    /// The coupon `coupon_code` of stock `stock_id`, or 404.
    fn coupon_in_stock(&mut self, stock_id: &str, coupon_code: &str) -> Result<&mut Coupon, Answer> {
        self.stock(stock_id)?;
        self.coupons
            .get_mut(coupon_code)
            .filter(|c| c.stock_id == stock_id)
            .ok_or_else(|| not_found(&format!("批次 {stock_id} 下不存在券 {coupon_code}")))
    }

    /// Runs `op` once per request number `body[field]` of `endpoint`: a retry with the same body gets the
    /// first answer again; another body under the same number is refused. `op` must change nothing when
    /// it fails.
    fn once(
        &mut self,
        endpoint: &str,
        field: &str,
        body: &Body,
        op: impl FnOnce(&mut Self) -> Result<Value, Answer>,
    ) -> Result<Done, Answer> {
        if let Some(answer) = self.receipts.replay(endpoint, field, body)? {
            return Ok(Done { answer, changed: false });
        }
        let answer = op(self)?;
        self.receipts.record(endpoint, field, body, answer.clone());
        Ok(Done { answer, changed: true })
    }
}

impl Stock {
    /// Validates a create-stock request into a stock named `stock_id`.
    fn define(stock_id: &str, body: &Body, now: i64) -> Result<Stock, Answer> {
        required(body, "stock_name")?;
        required(body, "belong_merchant")?;
        optional(body, "comment")?;
        required(body, "goods_name")?;
        let stock_type = one_of(body, "stock_type", &["NORMAL", "DISCOUNT", "EXCHANGE"])?;

        let use_rule = object(body, "coupon_use_rule")?;
        let available = object(use_rule, "coupon_use_rule.coupon_available_time")?;
        let time_path = |name: &str| format!("coupon_use_rule.coupon_available_time.{name}");
        let validity = Validity {
            begin: time(available, &time_path("available_begin_time"))?,
            end: time(available, &time_path("available_end_time"))?,
            wait_days_after_receive: optional_integer(available, &time_path("wait_days_after_receive"))?,
            available_day_after_receive: optional_integer(available, &time_path("available_day_after_receive"))?,
            available_second_after_receive: optional_integer(available, &time_path("available_second_after_receive"))?,
        };
        if validity.end < validity.begin {
            return Err(param_error(
                &time_path("available_end_time"),
                "body",
                "不可早于 available_begin_time",
            ));
        }
        let (rule, amount_field) = match stock_type {
            "NORMAL" => ("fixed_normal_coupon", "discount_amount"),
            "DISCOUNT" => ("discount_coupon", "discount_percent"),
            _ => ("exchange_coupon", "exchange_price"),
        };
        let typed = object(use_rule, &format!("coupon_use_rule.{rule}"))?;
        let amount = integer(typed, &format!("coupon_use_rule.{rule}.{amount_field}"))?;
        integer(typed, &format!("coupon_use_rule.{rule}.transaction_minimum"))?;
        one_of(
            use_rule,
            "coupon_use_rule.use_method",
            &["OFF_LINE", "MINI_PROGRAMS", "SELF_CONSUME", "PAYMENT_CODE"],
        )?;

        let send_rule = object(body, "stock_send_rule")?;
        let limits = SendLimits {
            max_coupons: count(send_rule, "stock_send_rule.max_coupons")?,
            max_coupons_per_user: count(send_rule, "stock_send_rule.max_coupons_per_user")?,
            max_coupons_by_day: optional_integer(send_rule, "stock_send_rule.max_coupons_by_day")?,
        };
        required(body, "out_request_no")?;
        let mode = one_of(
            body,
            "coupon_code_mode",
            &["WECHATPAY_MODE", "MERCHANT_API", "MERCHANT_UPLOAD"],
        )?;

        let mut definition = body.clone();
        definition.remove("out_request_no");
        Ok(Stock {
            stock_id: stock_id.to_owned(),
            definition,
            code_mode: CodeMode::parse(mode).expect("checked by one_of"),
            limits,
            validity,
            face_value: if stock_type == "NORMAL" { amount } else { 0 },
            create_time: now,
        })
    }
}

/// The body of associate and disassociate.
struct OrderLink<'a> {
    stock_id: &'a str,
    coupon_code: &'a str,
    out_trade_no: &'a str,
}

impl<'a> OrderLink<'a> {
    fn parse(body: &'a Body) -> Result<Self, Answer> {
        let link = OrderLink {
            stock_id: required(body, "stock_id")?,
            coupon_code: required(body, "coupon_code")?,
            out_trade_no: required(body, "out_trade_no")?,
        };
        required(body, "out_request_no")?;
        Ok(link)
    }
}

// ---- registration ----

/// Registers every busifavor endpoint on `server`. Each handler holds the `state` lock for the whole
/// request, and calls `on_change` (still holding it, so it must not lock `state`) after each mutation.
/// Installs the family, its state read from the state dir's `busifavor.json` (or the `busifavor` of the
/// `state.json` earlier versions wrote) and saved there after every change.
pub(crate) fn install(room: &Room<'_>) -> crate::error::Result<()> {
    let saved = match room.dir {
        Some(d) => match d.read_json::<Busifavor>("busifavor.json")? {
            Some(state) => Some(state),
            None => d.read_json::<Legacy>("state.json")?.map(|l| l.busifavor),
        },
        None => None,
    };
    let dir = room.dir.cloned();
    let on_change: Arc<dyn Fn(&Busifavor) + Send + Sync> = Arc::new(move |state| {
        if let Some(d) = &dir {
            if let Err(e) = d.write_json("busifavor.json", state, false) {
                // A handler cannot fail the request over this; say it where the operator looks.
                eprintln!("wechatpay sandbox: {e}");
            }
        }
    });
    let mchid = room.server.mchid();
    let state = saved.unwrap_or_else(|| Busifavor::seeded_for(mchid)).serving(mchid);
    routes(room.server, Arc::new(Mutex::new(state)), on_change);
    Ok(())
}

/// What `state.json` held before each family had a file of its own.
#[derive(Deserialize)]
struct Legacy {
    busifavor: Busifavor,
}

fn routes(server: &MockServer, state: Arc<Mutex<Busifavor>>, on_change: Arc<dyn Fn(&Busifavor) + Send + Sync>) {
    type Mutation = fn(&mut Busifavor, &Body, i64) -> Result<Done, Answer>;
    /// The notification a change makes, from the state after it, the request and the answer.
    type Emit = fn(&Busifavor, &Body, &Value) -> Option<Notice>;
    let courier = callbacks::courier(server);
    let post = |template: &str, op: Mutation, emit: Option<Emit>| {
        let (state, on_change, courier) = (Arc::clone(&state), Arc::clone(&on_change), Arc::clone(&courier));
        server.route(Method::POST, &format!("{BASE}/{template}"), move |req| {
            let body = match json_object(req) {
                Ok(body) => body,
                Err(refused) => return refused,
            };
            let mut guard = lock(&state);
            match op(&mut guard, &body, now()) {
                Ok(done) => {
                    let mut notice = None;
                    if done.changed {
                        on_change(&guard);
                        let url = guard.callbacks.as_ref().map(|c| c.notify_url.clone());
                        notice = url.zip(emit.and_then(|emit| emit(&guard, &body, &done.answer)));
                    }
                    // Deliver outside the lock: the courier only spawns, but a family lock is no place for I/O.
                    drop(guard);
                    if let Some((url, notice)) = notice {
                        courier.deliver(url, notice);
                    }
                    Answer::json(200, &done.answer)
                }
                Err(refused) => refused,
            }
        });
    };
    post("stocks", Busifavor::create_stock, None);
    post("coupons/send", Busifavor::send, Some(Busifavor::send_notice));
    post("coupons/associate", Busifavor::associate, None);
    post("coupons/disassociate", Busifavor::disassociate, None);
    post("coupons/use", Busifavor::use_coupon, Some(Busifavor::use_notice));
    post("coupons/deactivate", Busifavor::deactivate, None);
    post("callbacks", Busifavor::set_callbacks, None);

    let get = |template: &str, query: fn(&Busifavor, &MockRequest, i64) -> Result<Value, Answer>| {
        let state = Arc::clone(&state);
        server.route(Method::GET, &format!("{BASE}/{template}"), move |req| {
            match query(&lock(&state), req, now()) {
                Ok(answer) => Answer::json(200, &answer),
                Err(refused) => refused,
            }
        });
    };
    get("stocks/{stock_id}", |s, req, now| {
        s.stock_view(path(req, "stock_id"), now)
    });
    get("users/{openid}/coupons/{coupon_code}/appids/{appid}", |s, req, now| {
        s.user_coupon(path(req, "openid"), path(req, "coupon_code"), path(req, "appid"), now)
    });
    get("users/{openid}/coupons", |s, req, now| {
        s.user_coupons(path(req, "openid"), &req.query, now)
    });
    get("callbacks", |s, req, _| s.callbacks_view(req));
}

/// A 28-digit WeChat Pay order number (`transaction_id`), stable for one coupon used at one time.
fn transaction_id(coupon_code: &str, use_time: i64) -> String {
    // FNV-1a: a stable spread of the code over 12 digits.
    let hash = coupon_code.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    format!(
        "4200{:012}{:012}",
        use_time.rem_euclid(1_000_000_000_000),
        hash % 1_000_000_000_000
    )
}

fn lock(state: &Mutex<Busifavor>) -> MutexGuard<'_, Busifavor> {
    state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn now() -> i64 {
    crate::protocol::formatter::timestamp()
}

#[cfg(test)]
mod tests;
