//! The busifavor family's rules, driven through its state directly (no HTTP).

use super::*;

/// A moment in 2023 (a Tuesday, 06:13:20 in Beijing).
const NOW: i64 = 1_700_000_000;
const OPENID: &str = "xsd3434454567676";
const APPID: &str = "wx1234567889999";
const CODE: &str = "sxxe34343434";

fn body(value: Value) -> Body {
    match value {
        Value::Object(map) => map,
        other => panic!("not an object: {other}"),
    }
}

/// Seed 003's payload, verbatim.
fn send_seed() -> Value {
    json!({"openid": OPENID, "appid": APPID, "stock_id": "100088",
           "out_request_no": "1002600620019090123143254435", "coupon_code": CODE})
}

/// Seed 004's payload, verbatim.
fn use_seed() -> Value {
    json!({"coupon_code": CODE, "stock_id": "100088", "appid": APPID,
           "use_time": "2015-05-20T13:29:35+08:00", "use_request_no": "1002600620019090123143254435",
           "openid": OPENID})
}

/// Seeds 000/002's shape, filled in.
fn link(out_request_no: &str, out_trade_no: &str) -> Value {
    json!({"stock_id": "100088", "coupon_code": CODE, "out_trade_no": out_trade_no,
           "out_request_no": out_request_no})
}

fn deactivate_body(no: &str) -> Value {
    json!({"coupon_code": CODE, "stock_id": "100088", "deactivate_request_no": no, "deactivate_reason": "测试"})
}

/// A trimmed version of the create-stock page's example.
fn stock_body(out_request_no: &str, mode: &str, max_coupons: u64, per_user: u64) -> Value {
    json!({
        "stock_name": "8月1日活动券", "belong_merchant": "10000022", "goods_name": "xxx商品使用",
        "stock_type": "NORMAL",
        "coupon_use_rule": {
            "coupon_available_time": {"available_begin_time": "2015-05-20T13:29:35+08:00",
                                      "available_end_time": "2099-05-20T13:29:35+08:00"},
            "fixed_normal_coupon": {"discount_amount": 5, "transaction_minimum": 100},
            "use_method": "OFF_LINE"
        },
        "stock_send_rule": {"max_coupons": max_coupons, "max_coupons_per_user": per_user,
                            "transferable": true},
        "out_request_no": out_request_no,
        "coupon_code_mode": mode
    })
}

fn send_body(stock_id: &str, openid: &str, no: &str, code: Option<&str>) -> Value {
    let mut v = json!({"openid": openid, "appid": APPID, "stock_id": stock_id, "out_request_no": no});
    if let Some(code) = code {
        v["coupon_code"] = json!(code);
    }
    v
}

fn ok(result: Result<Done, Answer>) -> Value {
    match result {
        Ok(done) => done.answer,
        Err(refused) => panic!(
            "refused: {} {}",
            refused.status(),
            String::from_utf8_lossy(refused.body())
        ),
    }
}

/// `(status, code, whole body)` of a refusal.
fn refused<T: std::fmt::Debug>(result: Result<T, Answer>) -> (u16, String, Value) {
    let answer = result.expect_err("expected a refusal");
    let json: Value = serde_json::from_slice(answer.body()).expect("errors are JSON");
    (
        answer.status(),
        json["code"].as_str().unwrap_or_default().to_owned(),
        json,
    )
}

fn create(state: &mut Busifavor, no: &str, mode: &str, max_coupons: u64, per_user: u64) -> String {
    let answer = ok(state.create_stock(&body(stock_body(no, mode, max_coupons, per_user)), NOW));
    answer["stock_id"].as_str().expect("a stock_id").to_owned()
}

fn coupon_state(state: &Busifavor, code: &str, now: i64) -> String {
    let view = state.user_coupon(OPENID, code, APPID, now).expect("the coupon exists");
    view["coupon_state"].as_str().unwrap_or_default().to_owned()
}

fn is_beijing_time(v: &Value) -> bool {
    v.as_str()
        .is_some_and(|s| s.ends_with("+08:00") && parse_rfc3339(s).is_some())
}

#[test]
fn the_seed_pages_run_verbatim() {
    let mut state = Busifavor::seeded();
    let sent = ok(state.send(&body(send_seed()), NOW));
    assert_eq!(
        sent,
        json!({"stock_id": "100088", "coupon_code": CODE, "out_request_no": "1002600620019090123143254435"})
    );
    let associated = ok(state.associate(&body(link("assoc-0001", "order-0001")), NOW));
    assert!(is_beijing_time(&associated["wechatpay_associate_time"]), "{associated}");
    let disassociated = ok(state.disassociate(&body(link("dis-0001", "order-0001")), NOW));
    assert!(
        is_beijing_time(&disassociated["wechatpay_disassociate_time"]),
        "{disassociated}"
    );
    let used = ok(state.use_coupon(&body(use_seed()), NOW + 5));
    assert_eq!(used["stock_id"], "100088");
    assert_eq!(used["openid"], OPENID);
    assert_eq!(used["wechatpay_use_time"], rfc3339(NOW + 5));

    let view = state.user_coupon(OPENID, CODE, APPID, NOW + 10).unwrap();
    assert_eq!(view["coupon_state"], "USED");
    assert_eq!(view["use_request_no"], "1002600620019090123143254435");
    assert_eq!(view["send_request_no"], "1002600620019090123143254435");
    assert_eq!(view["use_time"], rfc3339(NOW + 5));
    assert_eq!(view["receive_time"], rfc3339(NOW));
    assert_eq!(view["stock_name"], "沙箱商家券");
    for field in ["available_start_time", "expire_time", "receive_time"] {
        assert!(is_beijing_time(&view[field]), "{field}: {view}");
    }
}

#[test]
fn the_seeded_stock_takes_merchant_codes() {
    let state = Busifavor::seeded();
    let stock = &state.stocks[SEEDED_STOCK_ID];
    assert_eq!(stock.code_mode, CodeMode::MerchantApi);
    let view = state.stock_view(SEEDED_STOCK_ID, NOW).unwrap();
    assert_eq!(view["stock_id"], "100088");
    assert_eq!(view["stock_state"], "RUNNING");
    assert_eq!(view["coupon_code_mode"], "MERCHANT_API");
    assert!(view.get("out_request_no").is_none());
    assert_eq!(view["send_count_information"]["total_send_num"], 0);
}

#[test]
fn a_missing_or_empty_required_field_is_named() {
    type Op = fn(&mut Busifavor, &Body, i64) -> Result<Done, Answer>;
    let cases: [(&str, Op, Value, &[&str]); 6] = [
        (
            "send",
            Busifavor::send,
            send_seed(),
            &["openid", "appid", "stock_id", "out_request_no"],
        ),
        (
            "associate",
            Busifavor::associate,
            link("a1", "o1"),
            &["stock_id", "coupon_code", "out_trade_no", "out_request_no"],
        ),
        (
            "disassociate",
            Busifavor::disassociate,
            link("d1", "o1"),
            &["stock_id", "coupon_code", "out_trade_no", "out_request_no"],
        ),
        (
            "use",
            Busifavor::use_coupon,
            use_seed(),
            &["coupon_code", "appid", "use_time", "use_request_no"],
        ),
        (
            "deactivate",
            Busifavor::deactivate,
            deactivate_body("x1"),
            &["coupon_code", "stock_id", "deactivate_request_no"],
        ),
        (
            "create",
            Busifavor::create_stock,
            stock_body("s1", "MERCHANT_API", 10, 1),
            &[
                "stock_name",
                "belong_merchant",
                "goods_name",
                "stock_type",
                "coupon_use_rule",
                "stock_send_rule",
                "out_request_no",
                "coupon_code_mode",
            ],
        ),
    ];
    let mut state = Busifavor::seeded();
    ok(state.send(&body(send_seed()), NOW));
    let before = state.clone();
    for (name, op, valid, fields) in cases {
        for field in fields {
            for absent in [None, Some(json!("")), Some(Value::Null)] {
                let mut request = body(valid.clone());
                match &absent {
                    None => request.remove(*field),
                    Some(v) => request.insert((*field).to_owned(), v.clone()),
                };
                let (status, code, json) = refused(op(&mut state, &request, NOW));
                assert_eq!(
                    (status, code.as_str()),
                    (400, "PARAM_ERROR"),
                    "{name} without {field}: {json}"
                );
                assert_eq!(json["detail"]["field"], *field, "{name} without {field}: {json}");
                let message = json["message"].as_str().unwrap();
                assert!(message.contains(field), "{name}: {message}");
            }
        }
        assert_eq!(state, before, "{name}: a refused request changed the state");
    }
}

#[test]
fn nested_and_typed_fields_are_checked_and_named() {
    let mut state = Busifavor::seeded();
    let cases = [
        ("/coupon_use_rule/use_method", Value::Null, "coupon_use_rule.use_method"),
        (
            "/coupon_use_rule/use_method",
            json!("BY_HAND"),
            "coupon_use_rule.use_method",
        ),
        (
            "/coupon_use_rule/coupon_available_time/available_end_time",
            json!("tomorrow"),
            "coupon_use_rule.coupon_available_time.available_end_time",
        ),
        (
            "/coupon_use_rule/fixed_normal_coupon",
            Value::Null,
            "coupon_use_rule.fixed_normal_coupon",
        ),
        (
            "/stock_send_rule/max_coupons",
            json!("10"),
            "stock_send_rule.max_coupons",
        ),
        (
            "/stock_send_rule/max_coupons_per_user",
            json!(0),
            "stock_send_rule.max_coupons_per_user",
        ),
        ("/coupon_code_mode", json!("MERCHANT_INPUT"), "coupon_code_mode"),
        ("/stock_name", json!(42), "stock_name"),
    ];
    for (pointer, value, field) in cases {
        let mut request = stock_body("s1", "MERCHANT_API", 10, 1);
        *request.pointer_mut(pointer).unwrap() = value;
        let (status, code, json) = refused(state.create_stock(&body(request), NOW));
        assert_eq!((status, code.as_str()), (400, "PARAM_ERROR"), "{json}");
        assert_eq!(json["detail"]["field"], field, "{json}");
    }
    let (_, _, json) = refused(state.send(&body(json!({"openid": 1, "appid": APPID})), NOW));
    assert_eq!(json["detail"]["field"], "openid");
    let mut bad_time = use_seed();
    bad_time["use_time"] = json!("2015-05-20 13:29:35");
    let (_, _, json) = refused(state.use_coupon(&body(bad_time), NOW));
    assert_eq!(json["detail"]["field"], "use_time");
    assert_eq!(state, Busifavor::seeded());
}

#[test]
fn an_unknown_stock_or_coupon_is_404() {
    let mut state = Busifavor::seeded();
    let not_found = |r: (u16, String, Value)| assert_eq!((r.0, r.1.as_str()), (404, "RESOURCE_NOT_EXISTS"), "{}", r.2);
    let mut send = send_seed();
    send["stock_id"] = json!("999999");
    not_found(refused(state.send(&body(send), NOW)));
    not_found(refused(state.stock_view("999999", NOW)));
    // The coupon is not sent yet.
    not_found(refused(state.associate(&body(link("a1", "o1")), NOW)));
    not_found(refused(state.use_coupon(&body(use_seed()), NOW)));
    not_found(refused(state.deactivate(&body(deactivate_body("x1")), NOW)));
    not_found(refused(state.user_coupon(OPENID, CODE, APPID, NOW)));
    ok(state.send(&body(send_seed()), NOW));
    let mut other_stock = link("a2", "o1");
    other_stock["stock_id"] = json!("999999");
    not_found(refused(state.associate(&body(other_stock), NOW)));
    not_found(refused(state.user_coupon("someone-else", CODE, APPID, NOW)));
    not_found(refused(state.user_coupon(OPENID, CODE, "wx-other", NOW)));
}

#[test]
fn a_coupon_is_associated_with_one_order_at_a_time() {
    let mut state = Busifavor::seeded();
    ok(state.send(&body(send_seed()), NOW));
    ok(state.associate(&body(link("a1", "order-1")), NOW));
    let before = state.clone();
    for (no, order) in [("a2", "order-2"), ("a3", "order-1")] {
        let (status, code, json) = refused(state.associate(&body(link(no, order)), NOW));
        assert_eq!((status, code.as_str()), (400, "INVALID_REQUEST"), "{json}");
    }
    assert_eq!(state, before);
    ok(state.disassociate(&body(link("d1", "order-1")), NOW));
    ok(state.associate(&body(link("a4", "order-2")), NOW));
}

#[test]
fn only_the_associated_order_can_be_disassociated() {
    let mut state = Busifavor::seeded();
    ok(state.send(&body(send_seed()), NOW));
    let (status, code, _) = refused(state.disassociate(&body(link("d1", "order-1")), NOW));
    assert_eq!(
        (status, code.as_str()),
        (400, "INVALID_REQUEST"),
        "nothing is associated yet"
    );
    ok(state.associate(&body(link("a1", "order-1")), NOW));
    let before = state.clone();
    let (status, code, json) = refused(state.disassociate(&body(link("d2", "order-2")), NOW));
    assert_eq!((status, code.as_str()), (400, "INVALID_REQUEST"));
    assert!(json["message"].as_str().unwrap().contains("order-1"), "{json}");
    assert_eq!(state, before);
    ok(state.disassociate(&body(link("d3", "order-1")), NOW));
    let (_, code, _) = refused(state.disassociate(&body(link("d4", "order-1")), NOW));
    assert_eq!(code, "INVALID_REQUEST", "already disassociated");
}

#[test]
fn only_an_unused_coupon_can_be_associated() {
    let mut state = Busifavor::seeded();
    ok(state.send(&body(send_seed()), NOW));
    ok(state.use_coupon(&body(use_seed()), NOW));
    let (status, code, json) = refused(state.associate(&body(link("a1", "order-1")), NOW));
    assert_eq!((status, code.as_str()), (400, "INVALID_REQUEST"));
    assert!(json["message"].as_str().unwrap().contains("USED"), "{json}");
}

#[test]
fn use_needs_the_owner_the_appid_and_the_stock() {
    let mut state = Busifavor::seeded();
    ok(state.send(&body(send_seed()), NOW));
    let other_stock = create(&mut state, "s1", "MERCHANT_API", 10, 10);
    let before = state.clone();
    for (field, value) in [
        ("openid", json!("someone-else")),
        ("appid", json!("wx-other")),
        ("stock_id", json!(other_stock)),
    ] {
        let mut request = use_seed();
        request[field] = value;
        let (status, code, json) = refused(state.use_coupon(&body(request), NOW));
        assert_eq!(
            (status, code.as_str()),
            (404, "RESOURCE_NOT_EXISTS"),
            "wrong {field}: {json}"
        );
    }
    assert_eq!(state, before);
    assert_eq!(coupon_state(&state, CODE, NOW), "SENDED");
    // openid and stock_id are optional in a use request.
    let mut minimal = use_seed();
    minimal
        .as_object_mut()
        .unwrap()
        .retain(|k, _| k != "openid" && k != "stock_id");
    ok(state.use_coupon(&body(minimal), NOW));
    assert_eq!(coupon_state(&state, CODE, NOW), "USED");
}

#[test]
fn only_a_sended_coupon_can_be_used_or_deactivated() {
    let mut state = Busifavor::seeded();
    ok(state.send(&body(send_seed()), NOW));
    ok(state.use_coupon(&body(use_seed()), NOW));
    let mut again = use_seed();
    again["use_request_no"] = json!("use-again");
    let (status, code, _) = refused(state.use_coupon(&body(again.clone()), NOW));
    assert_eq!((status, code.as_str()), (400, "INVALID_REQUEST"), "used twice");
    let (_, code, _) = refused(state.deactivate(&body(deactivate_body("x1")), NOW));
    assert_eq!(code, "INVALID_REQUEST", "a used coupon cannot be deactivated");

    let mut state = Busifavor::seeded();
    ok(state.send(&body(send_seed()), NOW));
    let answer = ok(state.deactivate(&body(deactivate_body("x1")), NOW));
    assert_eq!(answer["wechatpay_deactivate_time"], rfc3339(NOW));
    assert_eq!(coupon_state(&state, CODE, NOW), "DEACTIVATED");
    let (_, code, json) = refused(state.use_coupon(&body(use_seed()), NOW));
    assert_eq!(code, "INVALID_REQUEST", "{json}");
    assert!(json["message"].as_str().unwrap().contains("DEACTIVATED"));
    let (_, code, _) = refused(state.deactivate(&body(deactivate_body("x2")), NOW));
    assert_eq!(code, "INVALID_REQUEST", "deactivated twice");
}

#[test]
fn a_coupon_expires() {
    let mut state = Busifavor::seeded();
    let mut request = stock_body("s1", "MERCHANT_API", 10, 10);
    request["coupon_use_rule"]["coupon_available_time"]["available_second_after_receive"] = json!(3600);
    let stock_id = ok(state.create_stock(&body(request), NOW))["stock_id"]
        .as_str()
        .unwrap()
        .to_owned();
    ok(state.send(&body(send_body(&stock_id, OPENID, "r1", Some(CODE))), NOW));
    let view = state.user_coupon(OPENID, CODE, APPID, NOW).unwrap();
    assert_eq!(view["expire_time"], rfc3339(NOW + 3600));
    assert_eq!(coupon_state(&state, CODE, NOW + 3599), "SENDED");
    assert_eq!(coupon_state(&state, CODE, NOW + 3600), "EXPIRED");
    let mut use_it = use_seed();
    use_it["stock_id"] = json!(stock_id);
    let (_, code, json) = refused(state.use_coupon(&body(use_it.clone()), NOW + 3600));
    assert_eq!(code, "INVALID_REQUEST");
    assert!(json["message"].as_str().unwrap().contains("EXPIRED"), "{json}");
    let mut link_it = link("a1", "o1");
    link_it["stock_id"] = json!(stock_id);
    assert_eq!(
        refused(state.associate(&body(link_it), NOW + 3600)).1,
        "INVALID_REQUEST"
    );
    ok(state.use_coupon(&body(use_it), NOW + 3599));
}

#[test]
fn sends_stay_within_the_stock_limits() {
    let mut state = Busifavor::seeded();
    let stock_id = create(&mut state, "s1", "WECHATPAY_MODE", 3, 2);
    ok(state.send(&body(send_body(&stock_id, "u1", "r1", None)), NOW));
    ok(state.send(&body(send_body(&stock_id, "u1", "r2", None)), NOW));
    let before = state.clone();
    let (status, code, json) = refused(state.send(&body(send_body(&stock_id, "u1", "r3", None)), NOW));
    assert_eq!((status, code.as_str()), (403, "RULE_LIMIT"), "{json}");
    assert!(json["message"].as_str().unwrap().contains("max_coupons_per_user"));
    assert_eq!(state, before);
    ok(state.send(&body(send_body(&stock_id, "u2", "r4", None)), NOW));
    let (status, code, json) = refused(state.send(&body(send_body(&stock_id, "u3", "r5", None)), NOW));
    assert_eq!((status, code.as_str()), (403, "RULE_LIMIT"));
    assert!(json["message"].as_str().unwrap().contains("max_coupons"));
    let view = state.stock_view(&stock_id, NOW).unwrap();
    assert_eq!(view["send_count_information"]["total_send_num"], 3);
    assert_eq!(view["send_count_information"]["total_send_amount"], 15);
}

#[test]
fn sends_stay_within_the_daily_limit() {
    let mut state = Busifavor::seeded();
    let mut request = stock_body("s1", "WECHATPAY_MODE", 10, 10);
    request["stock_send_rule"]["max_coupons_by_day"] = json!(1);
    let stock_id = ok(state.create_stock(&body(request), NOW))["stock_id"]
        .as_str()
        .unwrap()
        .to_owned();
    ok(state.send(&body(send_body(&stock_id, "u1", "r1", None)), NOW));
    let (status, code, _) = refused(state.send(&body(send_body(&stock_id, "u2", "r2", None)), NOW + 60));
    assert_eq!((status, code.as_str()), (403, "RULE_LIMIT"));
    ok(state.send(&body(send_body(&stock_id, "u2", "r3", None)), NOW + 86_400));
    let view = state.stock_view(&stock_id, NOW + 86_400).unwrap();
    assert_eq!(view["send_count_information"]["today_send_num"], 1);
    assert_eq!(view["send_count_information"]["total_send_num"], 2);
}

#[test]
fn coupon_codes_follow_the_stock_code_mode_and_stay_unique() {
    let mut state = Busifavor::seeded();
    let wechat = create(&mut state, "s1", "WECHATPAY_MODE", 1000, 1000);
    let (status, code, json) = refused(state.send(&body(send_body(&wechat, OPENID, "r0", Some("mine"))), NOW));
    assert_eq!((status, code.as_str()), (400, "PARAM_ERROR"));
    assert_eq!(json["detail"]["field"], "coupon_code");
    let mut codes = std::collections::HashSet::new();
    for i in 0..300 {
        let answer = ok(state.send(&body(send_body(&wechat, OPENID, &format!("r{i}"), None)), NOW));
        assert!(
            codes.insert(answer["coupon_code"].as_str().unwrap().to_owned()),
            "{answer}"
        );
    }
    // A merchant code that looks like the next generated one does not make a duplicate.
    let next = format!("{:012}", 880_000_000_000 + state.code_serial + 1);
    ok(state.send(&body(send_body(SEEDED_STOCK_ID, OPENID, "m1", Some(&next))), NOW));
    let generated = ok(state.send(&body(send_body(SEEDED_STOCK_ID, OPENID, "m2", None)), NOW));
    assert_ne!(generated["coupon_code"], json!(next));
    // A merchant code cannot be sent twice.
    let before = state.clone();
    let (status, code, _) = refused(state.send(&body(send_body(SEEDED_STOCK_ID, "u2", "m3", Some(&next))), NOW));
    assert_eq!((status, code.as_str()), (400, "INVALID_REQUEST"));
    assert_eq!(state, before);
}

#[test]
fn request_numbers_are_idempotency_keys() {
    type Op = fn(&mut Busifavor, &Body, i64) -> Result<Done, Answer>;
    let mut state = Busifavor::seeded();
    // (endpoint, op, first request, the same number with another body, its key)
    let mut changed_send = send_seed();
    changed_send["openid"] = json!("someone-else");
    let mut changed_use = use_seed();
    changed_use["use_time"] = json!("2016-05-20T13:29:35+08:00");
    let mut changed_deactivate = deactivate_body("x1");
    changed_deactivate["deactivate_reason"] = json!("另一个原因");
    let cases: [(&str, Op, Value, Value, &str); 6] = [
        (
            "create",
            Busifavor::create_stock,
            stock_body("s1", "MERCHANT_API", 5, 5),
            stock_body("s1", "MERCHANT_API", 6, 5),
            "out_request_no",
        ),
        ("send", Busifavor::send, send_seed(), changed_send, "out_request_no"),
        (
            "associate",
            Busifavor::associate,
            link("a1", "order-1"),
            link("a1", "order-2"),
            "out_request_no",
        ),
        (
            "disassociate",
            Busifavor::disassociate,
            link("d1", "order-1"),
            link("d1", "order-2"),
            "out_request_no",
        ),
        ("use", Busifavor::use_coupon, use_seed(), changed_use, "use_request_no"),
        (
            "deactivate",
            Busifavor::deactivate,
            deactivate_body("x1"),
            changed_deactivate,
            "deactivate_request_no",
        ),
    ];
    for (name, op, first, changed, key) in cases {
        if name == "deactivate" {
            // Deactivation needs a fresh, unused coupon.
            ok(state.send(
                &body(send_body(SEEDED_STOCK_ID, OPENID, "resend", Some("fresh-code"))),
                NOW,
            ));
        }
        let first = if name == "deactivate" {
            let mut f = first;
            f["coupon_code"] = json!("fresh-code");
            f
        } else {
            first
        };
        let changed = if name == "deactivate" {
            let mut c = changed;
            c["coupon_code"] = json!("fresh-code");
            c
        } else {
            changed
        };
        let done = op(&mut state, &body(first.clone()), NOW)
            .unwrap_or_else(|a| panic!("{name}: {}", String::from_utf8_lossy(a.body())));
        assert!(done.changed, "{name}");
        let after_first = state.clone();
        // A retry later, with the keys in another order, answers the original answer.
        let mut reordered: Vec<(String, Value)> = body(first).into_iter().collect();
        reordered.reverse();
        let replay = op(&mut state, &reordered.into_iter().collect(), NOW + 100).unwrap();
        assert_eq!(replay.answer, done.answer, "{name}");
        assert!(!replay.changed, "{name}");
        let (status, code, json) = refused(op(&mut state, &body(changed), NOW + 100));
        assert_eq!((status, code.as_str()), (400, "PARAM_ERROR"), "{name}: {json}");
        assert_eq!(json["detail"]["field"], key, "{name}: {json}");
        assert!(json["message"].as_str().unwrap().contains(key), "{name}: {json}");
        assert_eq!(state, after_first, "{name}: the refused retry changed the state");
    }
    // Namespaces are per endpoint: seed 003's out_request_no equals seed 004's use_request_no.
    assert_eq!(state.coupons[CODE].state, CouponState::Used);
}

#[test]
fn the_list_filters_and_pages() {
    let mut state = Busifavor::seeded();
    let other = create(&mut state, "s1", "WECHATPAY_MODE", 100, 100);
    for i in 0..5 {
        ok(state.send(
            &body(send_body(
                SEEDED_STOCK_ID,
                OPENID,
                &format!("a{i}"),
                Some(&format!("code-{i}")),
            )),
            NOW,
        ));
    }
    for i in 0..3 {
        ok(state.send(&body(send_body(&other, OPENID, &format!("b{i}"), None)), NOW));
    }
    ok(state.send(&body(send_body(SEEDED_STOCK_ID, "someone-else", "c0", None)), NOW));
    let mut use_one = use_seed();
    use_one["coupon_code"] = json!("code-1");
    ok(state.use_coupon(&body(use_one), NOW));

    let list = |q: &[(&str, &str)]| {
        let query: Vec<(String, String)> = q.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        state.user_coupons(OPENID, &query, NOW)
    };
    let all = list(&[("appid", APPID)]).unwrap();
    assert_eq!(
        (all["total_count"].clone(), all["offset"].clone(), all["limit"].clone()),
        (json!(8), json!(0), json!(20))
    );
    assert_eq!(all["data"].as_array().unwrap().len(), 8);
    let by_stock = list(&[("appid", APPID), ("stock_id", SEEDED_STOCK_ID)]).unwrap();
    assert_eq!(by_stock["total_count"], 5);
    let used = list(&[("appid", APPID), ("coupon_state", "USED")]).unwrap();
    assert_eq!(used["total_count"], 1);
    assert_eq!(used["data"][0]["coupon_code"], "code-1");
    let sended = list(&[
        ("appid", APPID),
        ("coupon_state", "SENDED"),
        ("stock_id", SEEDED_STOCK_ID),
    ])
    .unwrap();
    assert_eq!(sended["total_count"], 4);
    assert_eq!(
        list(&[("appid", APPID), ("belong_merchant", "10000022")]).unwrap()["total_count"],
        3
    );
    assert_eq!(
        list(&[("appid", APPID), ("creator_merchant", "nobody")]).unwrap()["total_count"],
        0
    );
    assert_eq!(list(&[("appid", "wx-other")]).unwrap()["total_count"], 0);

    let mut seen = Vec::new();
    for offset in ["0", "3", "6"] {
        let page = list(&[("appid", APPID), ("offset", offset), ("limit", "3")]).unwrap();
        assert_eq!(page["total_count"], 8);
        assert_eq!(page["limit"], 3);
        seen.extend(
            page["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["coupon_code"].clone()),
        );
    }
    let everything: Vec<Value> = all["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["coupon_code"].clone())
        .collect();
    assert_eq!(seen, everything);

    let field = |r: Result<Value, Answer>| refused(r).2["detail"]["field"].clone();
    assert_eq!(field(list(&[])), "appid");
    assert_eq!(field(list(&[("appid", APPID), ("limit", "51")])), "limit");
    assert_eq!(field(list(&[("appid", APPID), ("offset", "-1")])), "offset");
    assert_eq!(
        field(list(&[("appid", APPID), ("coupon_state", "LOST")])),
        "coupon_state"
    );
}

#[test]
fn a_created_stock_answers_and_reads_back() {
    let mut state = Busifavor::seeded();
    let answer = ok(state.create_stock(&body(stock_body("s1", "WECHATPAY_MODE", 5, 1)), NOW));
    assert_eq!(answer["create_time"], rfc3339(NOW));
    let stock_id = answer["stock_id"].as_str().unwrap();
    assert_ne!(stock_id, SEEDED_STOCK_ID);
    let view = state.stock_view(stock_id, NOW).unwrap();
    assert_eq!(view["stock_name"], "8月1日活动券");
    assert_eq!(view["coupon_code_mode"], "WECHATPAY_MODE");
    assert_eq!(view["stock_send_rule"]["max_coupons"], 5);
    let second = ok(state.create_stock(&body(stock_body("s2", "WECHATPAY_MODE", 5, 1)), NOW));
    assert_ne!(second["stock_id"], answer["stock_id"]);
}

#[test]
fn the_state_survives_serde() {
    let mut state = Busifavor::seeded();
    ok(state.send(&body(send_seed()), NOW));
    ok(state.associate(&body(link("a1", "order-1")), NOW));
    let text = serde_json::to_string(&state).unwrap();
    let mut back: Busifavor = serde_json::from_str(&text).unwrap();
    assert_eq!(back, state);
    // Receipts survive too: the retry still answers the original answer.
    let replay = back.associate(&body(link("a1", "order-1")), NOW + 1).unwrap();
    assert!(!replay.changed);
    assert_eq!(serde_json::from_str::<Busifavor>("{}").unwrap(), Busifavor::default());
}

#[test]
fn install_serves_the_endpoints_and_reports_each_change() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let server = MockServer::start().unwrap();
    let state = Arc::new(Mutex::new(Busifavor::seeded()));
    let changes = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&changes);
    routes(
        &server,
        Arc::clone(&state),
        Arc::new(move |s: &Busifavor| {
            assert!(!s.coupons.is_empty());
            counter.fetch_add(1, Ordering::SeqCst);
        }),
    );
    let client = server.client().unwrap();
    let res = client["v3/marketing/busifavor/coupons/send"]
        .post(json!({"json": send_seed()}))
        .unwrap();
    assert_eq!(res.json::<Value>().unwrap()["coupon_code"], CODE);
    assert_eq!(changes.load(Ordering::SeqCst), 1);
    // A replay and a refusal change nothing, and neither does reading.
    client["v3/marketing/busifavor/coupons/send"]
        .post(json!({"json": send_seed()}))
        .unwrap();
    let err = client["v3/marketing/busifavor/coupons/associate"]
        .post(json!({"json": link("", "order-1")}))
        .unwrap_err();
    assert_eq!((err.status(), err.code()), (Some(400), Some("PARAM_ERROR")));
    assert_eq!(err.detail().unwrap()["field"], "out_request_no");
    let view = client["v3/marketing/busifavor/users/{openid}/coupons/{coupon_code}/appids/{appid}"]
        .get(json!({"openid": OPENID, "coupon_code": CODE, "appid": APPID}))
        .unwrap();
    assert_eq!(view.json::<Value>().unwrap()["coupon_state"], "SENDED");
    let list = client["v3/marketing/busifavor/users/{openid}/coupons"]
        .get(json!({"openid": OPENID, "query": {"appid": APPID}}))
        .unwrap();
    assert_eq!(list.json::<Value>().unwrap()["total_count"], 1);
    let stock = client["v3/marketing/busifavor/stocks/{stock_id}"]
        .get(json!({"stock_id": "100088"}))
        .unwrap();
    assert_eq!(
        stock.json::<Value>().unwrap()["send_count_information"]["total_send_num"],
        1
    );
    assert_eq!(changes.load(Ordering::SeqCst), 1);
    client["v3/marketing/busifavor/coupons/use"]
        .post(json!({"json": use_seed()}))
        .unwrap();
    assert_eq!(changes.load(Ordering::SeqCst), 2);
    assert_eq!(state.lock().unwrap().coupons[CODE].state, CouponState::Used);
    let err = client["v3/marketing/busifavor/coupons/deactivate"]
        .post(json!({"body": "[1]"}))
        .unwrap_err();
    assert_eq!(err.code(), Some("PARAM_ERROR"));
}
