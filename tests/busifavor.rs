//! The sandbox's busifavor (商家券) endpoints, end to end over 127.0.0.1: the seed pages verbatim, the
//! answers' shapes, and the rules under concurrency.
#![cfg(feature = "mock")]

use std::collections::HashSet;

use futures::future::join_all;
use serde_json::{json, Value};
use wechatpay::mock::MockServer;
use wechatpay::{Client, Error};

const OPENID: &str = "xsd3434454567676";
const APPID: &str = "wx1234567889999";
const CODE: &str = "sxxe34343434";
const SEND: &str = "v3/marketing/busifavor/coupons/send";
const USE: &str = "v3/marketing/busifavor/coupons/use";

/// Seed 003's request, verbatim.
fn send_seed() -> Value {
    json!({"json": {
        "openid": OPENID, "appid": APPID, "stock_id": "100088",
        "out_request_no": "1002600620019090123143254435", "coupon_code": CODE,
    }})
}

/// Seed 004's request, verbatim.
fn use_seed() -> Value {
    json!({"json": {
        "coupon_code": CODE, "stock_id": "100088", "appid": APPID,
        "use_time": "2015-05-20T13:29:35+08:00", "use_request_no": "1002600620019090123143254435",
        "openid": OPENID,
    }})
}

/// Seeds 000/002's shape, with the seeded coupon and a real order.
fn link(out_request_no: &str, out_trade_no: &str) -> Value {
    json!({"json": {"stock_id": "100088", "coupon_code": CODE, "out_trade_no": out_trade_no,
                    "out_request_no": out_request_no}})
}

fn json(res: wechatpay::Response) -> Value {
    res.json::<Value>().expect("a JSON answer")
}

fn is_beijing_time(v: &Value) -> bool {
    let s = v.as_str().unwrap_or_default();
    s.len() == 25 && s.ends_with("+08:00") && s.as_bytes()[10] == b'T'
}

/// A stock that generates its codes, from the create-stock page's example with the limits changed.
fn create_stock(client: &Client, out_request_no: &str, max_coupons: u64, per_user: u64) -> String {
    let res = client["v3/marketing/busifavor/stocks"]
        .post(json!({"json": {
            "stock_name": "8月1日活动券", "belong_merchant": "10000022", "comment": "活动使用",
            "goods_name": "xxx商品使用", "stock_type": "NORMAL",
            "coupon_use_rule": {
                "coupon_available_time": {"available_begin_time": "2015-05-20T13:29:35+08:00",
                                          "available_end_time": "2099-05-20T13:29:35+08:00"},
                "fixed_normal_coupon": {"discount_amount": 5, "transaction_minimum": 100},
                "use_method": "OFF_LINE",
            },
            "stock_send_rule": {"max_coupons": max_coupons, "max_coupons_per_user": per_user},
            "out_request_no": out_request_no,
            "coupon_code_mode": "WECHATPAY_MODE",
        }}))
        .expect("the stock is created");
    let answer = json(res);
    assert!(is_beijing_time(&answer["create_time"]), "{answer}");
    answer["stock_id"].as_str().expect("a stock_id").to_owned()
}

/// Every coupon of `openid` in `stock_id`, read page by page.
fn list_all(client: &Client, openid: &str, stock_id: &str) -> Vec<Value> {
    let mut all = Vec::new();
    loop {
        let page = json(
            client["v3/marketing/busifavor/users/{openid}/coupons"]
                .get(json!({"openid": openid,
                            "query": {"appid": APPID, "stock_id": stock_id, "offset": all.len(), "limit": 50}}))
                .expect("the list answers"),
        );
        let data = page["data"].as_array().expect("data").clone();
        let total = page["total_count"].as_u64().expect("total_count") as usize;
        all.extend(data.iter().cloned());
        if data.is_empty() || all.len() >= total {
            assert_eq!(all.len(), total);
            return all;
        }
    }
}

fn sent_count(client: &Client, stock_id: &str) -> u64 {
    let view = json(
        client["v3/marketing/busifavor/stocks/{stock_id}"]
            .get(json!({"stock_id": stock_id}))
            .expect("the stock answers"),
    );
    view["send_count_information"]["total_send_num"]
        .as_u64()
        .expect("total_send_num")
}

fn api_error(result: Result<wechatpay::Response, Error>) -> (u16, String, Value) {
    let err = result.expect_err("expected an error answer");
    assert!(err.is_api(), "{err}");
    (
        err.status().unwrap_or_default(),
        err.code().unwrap_or_default().to_owned(),
        err.detail().cloned().unwrap_or(Value::Null),
    )
}

#[test]
fn the_seed_pages_run_verbatim_in_every_call_style() {
    let server = MockServer::start().unwrap();
    let client = server.client().unwrap();
    let expected = json!({"stock_id": "100088", "coupon_code": CODE, "out_request_no": "1002600620019090123143254435"});

    // Seed 003 six times: the first sends, the retries (same out_request_no, same body) answer the same.
    let answers = [
        client["v3"]["marketing"]["busifavor"]["coupons"]["send"]
            .post_async(send_seed())
            .wait(),
        client.chain(SEND).post_async(send_seed()).wait(),
        client[SEND].post_async(send_seed()).wait(),
        client["v3"]["marketing"]["busifavor"]["coupons"]["send"].post(send_seed()),
        client.chain(SEND).post(send_seed()),
        client[SEND].post(send_seed()),
    ];
    for answer in answers {
        assert_eq!(json(answer.unwrap()), expected);
    }
    assert_eq!(list_all(&client, OPENID, "100088").len(), 1);

    let associated = json(
        client["v3/marketing/busifavor/coupons/associate"]
            .post(link("assoc-1", "order-1"))
            .unwrap(),
    );
    assert!(is_beijing_time(&associated["wechatpay_associate_time"]), "{associated}");
    let disassociated = json(
        client["v3/marketing/busifavor/coupons/disassociate"]
            .post(link("dis-1", "order-1"))
            .unwrap(),
    );
    assert!(
        is_beijing_time(&disassociated["wechatpay_disassociate_time"]),
        "{disassociated}"
    );

    let used = json(client[USE].post(use_seed()).unwrap());
    assert_eq!((&used["stock_id"], &used["openid"]), (&json!("100088"), &json!(OPENID)));
    assert!(is_beijing_time(&used["wechatpay_use_time"]), "{used}");
    // Seed 004's retries answer the first answer, although the coupon is now used.
    assert_eq!(json(client.chain(USE).post_async(use_seed()).wait().unwrap()), used);

    let coupon = json(
        client["v3/marketing/busifavor/users/{openid}/coupons/{coupon_code}/appids/{appid}"]
            .get(json!({"openid": OPENID, "coupon_code": CODE, "appid": APPID}))
            .unwrap(),
    );
    assert_eq!(coupon["coupon_state"], "USED");
    assert_eq!(coupon["stock_id"], "100088");
    assert_eq!(coupon["use_request_no"], "1002600620019090123143254435");
    for field in ["available_start_time", "expire_time", "receive_time", "use_time"] {
        assert!(is_beijing_time(&coupon[field]), "{field}: {coupon}");
    }
}

#[test]
fn refusals_carry_wechat_codes() {
    let server = MockServer::start().unwrap();
    let client = server.client().unwrap();

    let (status, code, detail) = api_error(client["v3/marketing/busifavor/coupons/associate"].post(link("", "o1")));
    assert_eq!(
        (status, code.as_str(), &detail["field"]),
        (400, "PARAM_ERROR", &json!("out_request_no"))
    );

    let (status, code, _) = api_error(client["v3/marketing/busifavor/stocks/{stock_id}"].get(json!({"stock_id": "1"})));
    assert_eq!((status, code.as_str()), (404, "RESOURCE_NOT_EXISTS"));
    let (status, code, _) = api_error(client[USE].post(use_seed()));
    assert_eq!(
        (status, code.as_str()),
        (404, "RESOURCE_NOT_EXISTS"),
        "the coupon was never sent"
    );

    client[SEND].post(send_seed()).unwrap();
    let mut other = send_seed();
    other["json"]["openid"] = json!("someone-else");
    let (status, code, detail) = api_error(client[SEND].post(other));
    assert_eq!(
        (status, code.as_str(), &detail["field"]),
        (400, "PARAM_ERROR", &json!("out_request_no"))
    );

    let stock_id = create_stock(&client, "stock-1", 10, 1);
    let send =
        |no: &str| json!({"json": {"openid": OPENID, "appid": APPID, "stock_id": stock_id, "out_request_no": no}});
    client[SEND].post(send("limit-1")).unwrap();
    let (status, code, _) = api_error(client[SEND].post(send("limit-2")));
    assert_eq!(
        (status, code.as_str()),
        (403, "RULE_LIMIT"),
        "max_coupons_per_user is 1"
    );

    client[USE].post(use_seed()).unwrap();
    let mut again = use_seed();
    again["json"]["use_request_no"] = json!("use-again");
    let (status, code, _) = api_error(client[USE].post(again));
    assert_eq!(
        (status, code.as_str()),
        (400, "INVALID_REQUEST"),
        "a used coupon cannot be used again"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_sends_neither_lose_nor_duplicate_coupons() {
    let server = MockServer::start().unwrap();
    let client = server.client().unwrap();
    let stock_id = create_stock(&client, "stock-concurrent", 150, 1000);

    let sends = (0..200).map(|i| {
        client[SEND].post_async(json!({"json": {
            "openid": format!("user-{}", i % 10), "appid": APPID, "stock_id": stock_id,
            "out_request_no": format!("concurrent-{i:04}"),
        }}))
    });
    let results = join_all(sends).await;

    let mut codes = HashSet::new();
    let mut refused = 0;
    for result in results {
        match result {
            Ok(res) => assert!(codes.insert(json(res)["coupon_code"].as_str().unwrap().to_owned())),
            Err(err) => {
                assert_eq!((err.status(), err.code()), (Some(403), Some("RULE_LIMIT")), "{err}");
                refused += 1;
            }
        }
    }
    assert_eq!((codes.len(), refused), (150, 50), "max_coupons is 150");
    assert_eq!(sent_count(&client, &stock_id), 150);
    let listed: HashSet<String> = (0..10)
        .flat_map(|u| list_all(&client, &format!("user-{u}"), &stock_id))
        .map(|c| c["coupon_code"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(listed, codes);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_concurrent_sends_all_land_with_unique_codes() {
    let server = MockServer::start().unwrap();
    let client = server.client().unwrap();
    // The seeded stock generates a code when the request gives none.
    let sends = (0..200).map(|i| {
        client[SEND].post_async(json!({"json": {
            "openid": "crowd", "appid": APPID, "stock_id": "100088", "out_request_no": format!("crowd-{i:04}"),
        }}))
    });
    let codes: HashSet<String> = join_all(sends)
        .await
        .into_iter()
        .map(|r| {
            json(r.expect("every send lands"))["coupon_code"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(codes.len(), 200);
    let listed: HashSet<String> = list_all(&client, "crowd", "100088")
        .iter()
        .map(|c| c["coupon_code"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(listed, codes);
    assert_eq!(sent_count(&client, "100088"), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_retries_send_once_and_concurrent_uses_use_once() {
    let server = MockServer::start().unwrap();
    let client = server.client().unwrap();

    let retries = join_all((0..50).map(|_| client[SEND].post_async(send_seed()))).await;
    let answers: Vec<Value> = retries
        .into_iter()
        .map(|r| json(r.expect("a retry is answered")))
        .collect();
    assert!(answers.iter().all(|a| *a == answers[0]), "{answers:?}");
    assert_eq!(sent_count(&client, "100088"), 1);

    let uses = join_all((0..50).map(|i| {
        let mut body = use_seed();
        body["json"]["use_request_no"] = json!(format!("use-{i:03}"));
        client[USE].post_async(body)
    }))
    .await;
    let mut used = 0;
    for result in uses {
        match result {
            Ok(_) => used += 1,
            Err(err) => assert_eq!(err.code(), Some("INVALID_REQUEST"), "{err}"),
        }
    }
    assert_eq!(used, 1, "a coupon is used once");
}
