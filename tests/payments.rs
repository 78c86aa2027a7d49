//! The sandbox's APIv3 payments: order, pay (played by the sandbox), the `TRANSACTION.SUCCESS` callback,
//! queries, close, refunds and their callbacks — in the six call styles, and the refusals WeChat Pay makes.
#![cfg(feature = "mock")]

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::{json, Value};
use wechatpay::mock::MockServer;
use wechatpay::Client;

/// Receives callbacks: each one's headers and body, answered 200.
struct Receiver {
    url: String,
    got: mpsc::Receiver<(http::HeaderMap, Vec<u8>)>,
}

impl Receiver {
    fn start() -> Receiver {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/notify", listener.local_addr().unwrap());
        let (tx, got) = mpsc::channel();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut headers = http::HeaderMap::new();
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                    if let Some((name, value)) = line.split_once(':') {
                        if let (Ok(name), Ok(value)) = (
                            http::HeaderName::from_bytes(name.trim().as_bytes()),
                            value.trim().parse(),
                        ) {
                            headers.insert(name, value);
                        }
                    }
                }
                let length = headers
                    .get("content-length")
                    .and_then(|v| v.to_str().ok()?.parse().ok())
                    .unwrap_or(0);
                let mut body = vec![0; length];
                reader.read_exact(&mut body).unwrap();
                let _ = stream.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
                if tx.send((headers, body)).is_err() {
                    return;
                }
            }
        });
        Receiver { url, got }
    }

    /// The next callback, opened by the client: verified against the platform key, decrypted with the
    /// APIv3 key. Waited for with a deadline no slow machine reaches.
    fn next(&self, client: &Client) -> wechatpay::notify::Event<Value> {
        let (headers, body) = self
            .got
            .recv_timeout(Duration::from_secs(60))
            .expect("a callback within 60 s");
        client
            .open_notification(&headers, &body)
            .expect("a callback that verifies and decrypts")
    }
}

fn sandbox() -> (MockServer, Client) {
    let server = MockServer::start().unwrap();
    let client = server.client_builder().apiv3_key(server.apiv3_key()).build().unwrap();
    (server, client)
}

fn jsapi(server: &MockServer, out_trade_no: &str, total: u64, notify_url: &str) -> Value {
    json!({"json": {"appid": "wxd678efh567hg6787", "mchid": server.mchid(), "description": "Image形象店-深圳腾大-QQ公仔",
        "out_trade_no": out_trade_no, "notify_url": notify_url, "amount": {"total": total, "currency": "CNY"},
        "payer": {"openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"}}})
}

type Style = fn(&Client, &str, wechatpay::Method, Value) -> wechatpay::Result<wechatpay::Response>;

fn styles() -> [(&'static str, Style); 6] {
    use wechatpay::Method;
    fn call(node: &wechatpay::Chain, method: Method, options: Value) -> wechatpay::Result<wechatpay::Response> {
        match method {
            Method::GET => node.get(options),
            _ => node.post(options),
        }
    }
    async fn call_async(
        node: &wechatpay::Chain,
        method: Method,
        options: Value,
    ) -> wechatpay::Result<wechatpay::Response> {
        match method {
            Method::GET => node.get_async(options).await,
            _ => node.post_async(options).await,
        }
    }
    [
        ("sync chain", |c, p, m, o| {
            let node = p.split('/').fold(&c[""], |node, segment| &node[segment]);
            call(node, m, o)
        }),
        ("sync declarative", |c, p, m, o| call(&c.chain(p), m, o)),
        ("sync property", |c, p, m, o| call(&c[p], m, o)),
        ("async chain", |c, p, m, o| {
            let node = p.split('/').fold(c.chain(""), |node, segment| node.chain(segment));
            futures::executor::block_on(call_async(&node, m, o))
        }),
        ("async declarative", |c, p, m, o| {
            futures::executor::block_on(call_async(&c.chain(p), m, o))
        }),
        ("async property", |c, p, m, o| {
            futures::executor::block_on(call_async(&c[p], m, o))
        }),
    ]
}

#[test]
fn order_pay_query_refund_and_their_callbacks_in_all_six_styles() {
    use wechatpay::Method;
    let (server, client) = sandbox();
    let receiver = Receiver::start();
    for (i, (style, call)) in styles().iter().enumerate() {
        let out_trade_no = format!("1217752501201407033233368{i:03}");
        let placed = call(
            &client,
            "v3/pay/transactions/jsapi",
            Method::POST,
            jsapi(&server, &out_trade_no, 100, &receiver.url),
        )
        .unwrap_or_else(|e| panic!("{style}: {e:#}"));
        let prepay_id = placed.json::<Value>().unwrap()["prepay_id"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(prepay_id.starts_with("wx"), "{style}");

        let query = json!({"out_trade_no": out_trade_no, "query": {"mchid": server.mchid()}});
        let found = call(
            &client,
            "v3/pay/transactions/out-trade-no/{out_trade_no}",
            Method::GET,
            query.clone(),
        )
        .unwrap();
        assert_eq!(found.json::<Value>().unwrap()["trade_state"], "NOTPAY", "{style}");

        server.pay(&out_trade_no).unwrap(); // the user, at the phone
        let paid = receiver.next(&client);
        assert_eq!(
            (paid.event_type.as_str(), paid.original_type.as_str()),
            ("TRANSACTION.SUCCESS", "transaction")
        );
        assert_eq!(paid.resource["out_trade_no"], out_trade_no.as_str(), "{style}");
        assert_eq!(paid.resource["trade_state"], "SUCCESS");
        let transaction_id = paid.resource["transaction_id"].as_str().unwrap().to_owned();

        let by_id = json!({"transaction_id": transaction_id, "query": {"mchid": server.mchid()}});
        let found = call(&client, "v3/pay/transactions/id/{transaction_id}", Method::GET, by_id).unwrap();
        let found: Value = found.json().unwrap();
        assert_eq!(
            (found["trade_state"].as_str(), found["amount"]["payer_total"].as_u64()),
            (Some("SUCCESS"), Some(100))
        );

        let refund = json!({"json": {"out_trade_no": out_trade_no, "out_refund_no": format!("R{out_trade_no}"),
            "notify_url": receiver.url, "amount": {"refund": 30, "total": 100, "currency": "CNY"}}});
        let asked: Value = call(&client, "v3/refund/domestic/refunds", Method::POST, refund)
            .unwrap()
            .json()
            .unwrap();
        assert_eq!(asked["status"], "PROCESSING", "{style}");
        let done = receiver.next(&client);
        assert_eq!(done.event_type, "REFUND.SUCCESS", "{style}");
        assert_eq!(done.resource["refund_status"], "SUCCESS");
        let again = json!({"out_refund_no": format!("R{out_trade_no}")});
        let settled: Value = call(
            &client,
            "v3/refund/domestic/refunds/{out_refund_no}",
            Method::GET,
            again,
        )
        .unwrap()
        .json()
        .unwrap();
        assert_eq!(settled["status"], "SUCCESS", "{style}");
        let found = call(
            &client,
            "v3/pay/transactions/out-trade-no/{out_trade_no}",
            Method::GET,
            query,
        )
        .unwrap();
        assert_eq!(found.json::<Value>().unwrap()["trade_state"], "REFUND", "{style}");
    }
}

#[test]
fn double_payment_over_refund_and_bad_orders_are_refused() {
    let (server, client) = sandbox();
    let receiver = Receiver::start();
    let order = jsapi(&server, "D0000001", 100, &receiver.url);
    client["v3/pay/transactions/jsapi"].post(&order).unwrap();
    // The same order again (a retry) answers the same; other content under its number is refused.
    let first = client["v3/pay/transactions/jsapi"]
        .post(&order)
        .unwrap()
        .json::<Value>()
        .unwrap();
    let mut other = order.clone();
    other["json"]["amount"]["total"] = json!(200);
    let e = client["v3/pay/transactions/jsapi"].post(&other).unwrap_err();
    assert_eq!((e.status(), e.code()), (Some(400), Some("INVALID_REQUEST")), "{e}");
    server.pay("D0000001").unwrap();
    receiver.next(&client);
    assert!(server
        .pay("D0000001")
        .unwrap_err()
        .to_string()
        .contains("not waiting for payment"));
    let e = client["v3/pay/transactions/jsapi"].post(&order).unwrap_err();
    assert_eq!(e.code(), Some("ORDERPAID"));
    let close = json!({"out_trade_no": "D0000001", "json": {"mchid": server.mchid()}});
    assert_eq!(
        client["v3/pay/transactions/out-trade-no/{out_trade_no}/close"]
            .post(&close)
            .unwrap_err()
            .code(),
        Some("ORDERPAID")
    );
    assert!(first["prepay_id"].is_string());

    let refund = |no: &str, fee: u64| json!({"json": {"out_trade_no": "D0000001", "out_refund_no": no, "amount": {"refund": fee, "total": 100, "currency": "CNY"}}});
    client["v3/refund/domestic/refunds"].post(refund("DR1", 60)).unwrap();
    client["v3/refund/domestic/refunds"].post(refund("DR1", 60)).unwrap(); // the same refund, answered again
    let e = client["v3/refund/domestic/refunds"]
        .post(refund("DR2", 41))
        .unwrap_err();
    assert_eq!((e.status(), e.code()), (Some(403), Some("NOT_ENOUGH")), "{e}");

    // Required fields, named as WeChat Pay names them.
    let mut no_openid = jsapi(&server, "D0000002", 1, &receiver.url);
    no_openid["json"]["payer"] = json!({});
    let e = client["v3/pay/transactions/jsapi"].post(no_openid).unwrap_err();
    assert_eq!(e.detail().unwrap()["field"], "payer.openid", "{e}");
    let mut stranger = jsapi(&server, "D0000003", 1, &receiver.url);
    stranger["json"]["mchid"] = json!("1999999999"); // neither the sandbox's nor a docs' sample id
    assert_eq!(
        client["v3/pay/transactions/jsapi"]
            .post(stranger)
            .unwrap_err()
            .detail()
            .unwrap()["field"],
        "mchid"
    );
    let short = jsapi(&server, "D1", 1, &receiver.url);
    assert_eq!(
        client["v3/pay/transactions/jsapi"]
            .post(short)
            .unwrap_err()
            .detail()
            .unwrap()["field"],
        "out_trade_no"
    );
    let native = json!({"json": {"appid": "wxd678efh567hg6787", "mchid": server.mchid(), "description": "QQ公仔",
        "out_trade_no": "D0000004", "notify_url": receiver.url, "amount": {"total": 1}}});
    let code_url = client["v3/pay/transactions/native"]
        .post(native)
        .unwrap()
        .json::<Value>()
        .unwrap();
    assert!(code_url["code_url"]
        .as_str()
        .unwrap()
        .starts_with("weixin://wxpay/bizpayurl?pr="));
    let missing = json!({"out_trade_no": "nope", "query": {"mchid": server.mchid()}});
    let e = client["v3/pay/transactions/out-trade-no/{out_trade_no}"]
        .get(missing)
        .unwrap_err();
    assert_eq!((e.status(), e.code()), (Some(404), Some("ORDER_NOT_EXIST")));
    let e = client["v3/refund/domestic/refunds"]
        .post(
            refund("DR3", 1)
                .as_object()
                .map(|o| {
                    let mut o = o.clone();
                    o["json"]["out_trade_no"] = json!("nope");
                    Value::Object(o)
                })
                .unwrap(),
        )
        .unwrap_err();
    assert_eq!(e.status(), Some(404));
}

#[test]
fn two_hundred_concurrent_refunds_never_refund_more_than_was_paid() {
    let (server, client) = sandbox();
    client["v3/pay/transactions/jsapi"]
        .post(jsapi(&server, "C0000001", 100, "http://127.0.0.1:9/notify"))
        .unwrap();
    server.pay("C0000001").unwrap();
    let node = &client["v3/refund/domestic/refunds"];
    let calls = (0..200).map(|i| {
        node.post_async(
            json!({"json": {"out_trade_no": "C0000001", "out_refund_no": format!("CR{i:04}"),
            "amount": {"refund": 1, "total": 100, "currency": "CNY"}}}),
        )
    });
    let results = futures::executor::block_on(futures::future::join_all(calls));
    let refunded = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(refunded, 100, "exactly what was paid, one fen at a time");
    assert!(results
        .iter()
        .filter_map(|r| r.as_ref().err())
        .all(|e| e.code() == Some("NOT_ENOUGH")));
}

#[test]
fn closed_expired_abnormal_and_closed_refunds() {
    let server = MockServer::builder().refund_delay(None).start().unwrap();
    let client = server.client_builder().apiv3_key(server.apiv3_key()).build().unwrap();
    let receiver = Receiver::start();

    // Closed before payment: it cannot be paid.
    client["v3/pay/transactions/jsapi"]
        .post(jsapi(&server, "X0000001", 10, &receiver.url))
        .unwrap();
    let close = json!({"out_trade_no": "X0000001", "json": {"mchid": server.mchid()}});
    assert_eq!(
        client["v3/pay/transactions/out-trade-no/{out_trade_no}/close"]
            .post(&close)
            .unwrap()
            .status(),
        204
    );
    assert!(server.pay("X0000001").unwrap_err().to_string().contains("CLOSED"));

    // time_expire: a past one is refused; once a future one has passed, the order is closed.
    let mut past = jsapi(&server, "X0000002", 10, &receiver.url);
    past["json"]["time_expire"] = json!("2018-06-08T10:34:56+08:00");
    assert_eq!(
        client["v3/pay/transactions/jsapi"]
            .post(past)
            .unwrap_err()
            .detail()
            .unwrap()["field"],
        "time_expire"
    );
    let soon = wechatpay::formatter::timestamp() + 2;
    let mut expiring = jsapi(&server, "X0000003", 10, &receiver.url);
    expiring["json"]["time_expire"] = json!(rfc3339_utc(soon));
    client["v3/pay/transactions/jsapi"].post(expiring).unwrap();
    while wechatpay::formatter::timestamp() <= soon {
        std::thread::sleep(Duration::from_millis(100)); // until the clock has passed it, however long that takes
    }
    let query = json!({"out_trade_no": "X0000003", "query": {"mchid": server.mchid()}});
    let found = client["v3/pay/transactions/out-trade-no/{out_trade_no}"]
        .get(query)
        .unwrap();
    assert_eq!(found.json::<Value>().unwrap()["trade_state"], "CLOSED");
    assert!(server.pay("X0000003").is_err());

    // Refunds wait for the test: ABNORMAL and CLOSED, each announced.
    client["v3/pay/transactions/jsapi"]
        .post(jsapi(&server, "X0000004", 20, &receiver.url))
        .unwrap();
    server.pay("X0000004").unwrap();
    receiver.next(&client);
    for (no, outcome, event) in [
        ("XR1", "ABNORMAL", "REFUND.ABNORMAL"),
        ("XR2", "CLOSED", "REFUND.CLOSED"),
    ] {
        let refund = json!({"json": {"out_trade_no": "X0000004", "out_refund_no": no, "notify_url": receiver.url,
            "amount": {"refund": 10, "total": 20, "currency": "CNY"}}});
        client["v3/refund/domestic/refunds"].post(refund).unwrap();
        server.settle_refund(no, outcome).unwrap();
        let event_got = receiver.next(&client);
        assert_eq!(event_got.event_type, event);
        assert_eq!(event_got.resource["refund_status"], outcome);
    }
    assert!(server
        .settle_refund("XR1", "SUCCESS")
        .unwrap_err()
        .to_string()
        .contains("not PROCESSING"));
    assert!(server.settle_refund("nope", "SUCCESS").is_err());
    assert!(server.settle_refund("XR1", "DONE").is_err());
}

#[test]
fn a_refund_comes_from_the_funds_it_asked_for_and_its_callback_says_so() {
    let (server, client) = sandbox();
    let receiver = Receiver::start();
    client["v3/pay/transactions/jsapi"]
        .post(jsapi(&server, "F0000001", 100, &receiver.url))
        .unwrap();
    server.pay("F0000001").unwrap();
    receiver.next(&client);
    // Without `funds_account`, the unsettled funds (WeChat Pay's default); with `AVAILABLE`, the available
    // balance. The answer says `funds_account`; the callback, as its page documents, `fund_source`.
    for (no, asked, account, source) in [
        ("FR1", None, "UNSETTLED", "REFUND_SOURCE_UNSETTLED_FUNDS"),
        ("FR2", Some("AVAILABLE"), "AVAILABLE", "REFUND_SOURCE_RECHARGE_FUNDS"),
    ] {
        let mut refund = json!({"json": {"out_trade_no": "F0000001", "out_refund_no": no,
            "notify_url": receiver.url, "amount": {"refund": 10, "total": 100, "currency": "CNY"}}});
        if let Some(asked) = asked {
            refund["json"]["funds_account"] = json!(asked);
        }
        let answer: Value = client["v3/refund/domestic/refunds"]
            .post(refund)
            .unwrap()
            .json()
            .unwrap();
        assert_eq!(answer["funds_account"], account, "{no}");
        let done = receiver.next(&client);
        assert_eq!(done.event_type, "REFUND.SUCCESS", "{no}");
        assert_eq!(done.resource["fund_source"], source, "{no}");
        assert_eq!(
            done.resource["amount"],
            json!({"total": 100, "refund": 10, "payer_total": 100, "payer_refund": 10, "currency": "CNY",
                "payer_currency": "CNY"}),
            "{no}"
        );
        let queried: Value = client["v3/refund/domestic/refunds/{out_refund_no}"]
            .get(json!({"out_refund_no": no}))
            .unwrap()
            .json()
            .unwrap();
        assert_eq!(queried["funds_account"], account, "{no}");
    }
    let refund = json!({"json": {"out_trade_no": "F0000001", "out_refund_no": "FR3", "funds_account": "BASIC",
        "amount": {"refund": 10, "total": 100, "currency": "CNY"}}});
    let e = client["v3/refund/domestic/refunds"].post(refund).unwrap_err();
    assert_eq!(e.detail().unwrap()["field"], "funds_account", "{e}");
}

/// `secs` as RFC 3339 in UTC (`2026-11-30T04:30:00Z`), from the civil calendar.
fn rfc3339_utc(secs: i64) -> String {
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Howard Hinnant's days-to-civil.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[test]
fn fields_documented_as_encrypted_are_encrypted_unless_already_or_told_otherwise() {
    let (server, client) = sandbox();
    let mut order = jsapi(&server, "E0000001", 1, "http://127.0.0.1:9/notify");
    order["json"]["payer"]["identity"] = json!({"type": "IDCARD", "number": "110101199003071234", "name": "张三"});
    let prepared = client
        .prepare(wechatpay::Method::POST, "v3/pay/transactions/jsapi", &order)
        .unwrap();
    let sent: Value = serde_json::from_slice(prepared.body()).unwrap();
    assert_eq!(prepared.headers()["wechatpay-serial"], server.public_key_id());
    let identity = &sent["payer"]["identity"];
    assert_eq!(identity["type"], "IDCARD", "only the documented fields");
    for (field, plain) in [("number", "110101199003071234"), ("name", "张三")] {
        let sealed = identity[field].as_str().unwrap();
        assert_eq!(
            server.platform_key().decrypt(sealed).unwrap(),
            plain.as_bytes(),
            "{field}"
        );
    }
    assert_eq!(client.send(prepared).unwrap().status(), 200);

    // A value already sealed for the key is left as it is; the plaintext one beside it is sealed.
    let sealed = server.platform_key().public_key().encrypt("张三".as_bytes()).unwrap();
    order["json"]["out_trade_no"] = json!("E0000002");
    order["json"]["payer"]["identity"]["name"] = json!(sealed);
    let prepared = client
        .prepare(wechatpay::Method::POST, "v3/pay/transactions/jsapi", &order)
        .unwrap();
    let sent: Value = serde_json::from_slice(prepared.body()).unwrap();
    assert_eq!(sent["payer"]["identity"]["name"], sealed.as_str());
    assert_ne!(sent["payer"]["identity"]["number"], "110101199003071234");

    // `"sensitive": []` says the call handles it: sent as given, no Wechatpay-Serial.
    order["sensitive"] = json!([]);
    let prepared = client
        .prepare(wechatpay::Method::POST, "v3/pay/transactions/jsapi", &order)
        .unwrap();
    assert!(String::from_utf8_lossy(prepared.body()).contains("110101199003071234"));
    assert!(prepared.headers().get("wechatpay-serial").is_none());

    // With no platform key to encrypt with, a documented field in plaintext is never sent.
    let bootstrap = server
        .client_builder()
        .clear_certs()
        .apiv3_key(server.apiv3_key())
        .build()
        .unwrap();
    order.as_object_mut().unwrap().remove("sensitive");
    let e = bootstrap
        .prepare(wechatpay::Method::POST, "v3/pay/transactions/jsapi", &order)
        .unwrap_err();
    assert!(e.is_request() && e.to_string().contains("payer.identity"), "{e}");
}

#[test]
fn the_days_bills_download_with_their_digest_and_a_tampered_one_is_refused() {
    let (server, client) = sandbox();
    client["v3/pay/transactions/jsapi"]
        .post(jsapi(&server, "B0000001", 1234, "http://127.0.0.1:9/notify"))
        .unwrap();
    server.pay("B0000001").unwrap();
    let refund = json!({"json": {"out_trade_no": "B0000001", "out_refund_no": "BR1",
        "amount": {"refund": 234, "total": 1234, "currency": "CNY"}}});
    let refunded: Value = client["v3/refund/domestic/refunds"]
        .post(refund)
        .unwrap()
        .json()
        .unwrap();
    // The days they happened on, in Beijing (the sandbox bills today too): read back, so a run across
    // midnight asks for the right days.
    let query = json!({"out_trade_no": "B0000001", "query": {"mchid": server.mchid()}});
    let order: Value = client["v3/pay/transactions/out-trade-no/{out_trade_no}"]
        .get(query)
        .unwrap()
        .json()
        .unwrap();
    let pay_day = order["success_time"].as_str().unwrap()[..10].to_owned();
    let refund_day = refunded["create_time"].as_str().unwrap()[..10].to_owned();
    let trade_bill = |day: &str| {
        let bill: Value = client["v3/bill/tradebill"]
            .get(json!({"query": {"bill_date": day}}))
            .unwrap()
            .json()
            .unwrap();
        assert_eq!(bill["hash_type"], "SHA1");
        let csv = wechatpay::media::download_bill(&client, &bill).wait().unwrap();
        (bill, String::from_utf8(csv.to_vec()).unwrap())
    };
    let (bill, csv) = trade_bill(&pay_day);
    // A bill file starts with a UTF-8 byte-order mark, as WeChat Pay's do.
    assert!(
        csv.starts_with("\u{feff}交易时间,") && csv.contains("`B0000001") && csv.contains("`12.34"),
        "{csv}"
    );
    let (_, refunds) = trade_bill(&refund_day);
    assert!(refunds.contains("`BR1") && refunds.contains("`2.34"), "{refunds}");
    let today = pay_day;

    let gz: Value = client["v3/bill/tradebill"]
        .get(json!({"query": {"bill_date": today, "tar_type": "GZIP"}}))
        .unwrap()
        .json()
        .unwrap();
    // As WeChat Pay's: the download URL carries `tartype=GZIP`, and the digest is the CSV's, before
    // compression — which `download_bill` checks by unzipping.
    let url = gz["download_url"].as_str().unwrap();
    assert!(url.contains("?token=") && url.ends_with("&tartype=GZIP"), "{url}");
    let packed = wechatpay::media::download_bill(&client, &gz).wait().unwrap();
    assert_eq!(&packed[..2], b"\x1f\x8b", "gzip, as downloaded");
    let mut unpacked = String::new();
    std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&packed[..]), &mut unpacked).unwrap();
    assert_eq!(unpacked, csv);
    assert_eq!(gz["hash_value"], wechatpay::hash::sha1_hex(unpacked.as_bytes()));
    assert_ne!(gz["hash_value"], wechatpay::hash::sha1_hex(&packed));

    let fund: Value = client["v3/bill/fundflowbill"]
        .get(json!({"query": {"bill_date": today}}))
        .unwrap()
        .json()
        .unwrap();
    let flows = String::from_utf8(wechatpay::media::download_bill(&client, &fund).wait().unwrap().to_vec()).unwrap();
    assert!(
        flows.starts_with("\u{feff}记账时间,") && flows.contains("`收入") && flows.contains("`支出"),
        "{flows}"
    );

    let mut tampered = bill.clone();
    tampered["hash_value"] = json!(wechatpay::hash::sha1_hex(b"another file"));
    let e = wechatpay::media::download_bill(&client, &tampered).wait().unwrap_err();
    assert_eq!(e.verification(), Some(wechatpay::Verification::DigestMismatch), "{e}");

    let e = client["v3/bill/tradebill"]
        .get(json!({"query": {"bill_date": "2000-01-01"}}))
        .unwrap_err();
    assert_eq!(e.code(), Some("NO_STATEMENT_EXIST"));
    let e = client["v3/bill/tradebill"]
        .get(json!({"query": {"bill_date": "20000101"}}))
        .unwrap_err();
    assert_eq!(e.detail().unwrap()["field"], "bill_date");
}

#[test]
fn a_restarted_sandbox_keeps_its_orders_and_refunds() {
    let dir = std::env::temp_dir().join(format!(
        "wechatpay-test-orders-{}-{}",
        std::process::id(),
        wechatpay::formatter::nonce()
    ));
    // The state dir holds private keys: removed however the test ends.
    struct Removed(std::path::PathBuf);
    impl Drop for Removed {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
    let _removed = Removed(dir.clone());
    let first = MockServer::builder()
        .state_dir(&dir)
        .refund_delay(None)
        .start()
        .unwrap();
    let client = first.client().unwrap();
    client["v3/pay/transactions/jsapi"]
        .post(jsapi(&first, "S0000001", 100, "http://127.0.0.1:9/notify"))
        .unwrap();
    first.pay("S0000001").unwrap();
    let refund = json!({"json": {"out_trade_no": "S0000001", "out_refund_no": "SR1",
        "amount": {"refund": 40, "total": 100, "currency": "CNY"}}});
    client["v3/refund/domestic/refunds"].post(&refund).unwrap();
    let v2 = json!({"xml": {"appid": "wx8888888888888888", "mch_id": first.mchid(), "body": "QQ公仔",
        "out_trade_no": "S0000002", "total_fee": 5, "spbill_create_ip": "8.8.8.8", "auth_code": "134567890123456789"}});
    client["v2/pay/micropay"].post(&v2).unwrap();
    drop(first);

    let again = MockServer::builder()
        .state_dir(&dir)
        .refund_delay(None)
        .start()
        .unwrap();
    let client = again.client().unwrap();
    let query = json!({"out_trade_no": "S0000001", "query": {"mchid": again.mchid()}});
    let order: Value = client["v3/pay/transactions/out-trade-no/{out_trade_no}"]
        .get(query)
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(order["trade_state"], "REFUND");
    let kept: Value = client["v3/refund/domestic/refunds/{out_refund_no}"]
        .get(json!({"out_refund_no": "SR1"}))
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(kept["status"], "PROCESSING");
    again.settle_refund("SR1", "SUCCESS").unwrap();
    // Never more than paid, across the restart; and the same refund is still the same refund.
    client["v3/refund/domestic/refunds"].post(&refund).unwrap();
    let more = json!({"json": {"out_trade_no": "S0000001", "out_refund_no": "SR2",
        "amount": {"refund": 61, "total": 100, "currency": "CNY"}}});
    assert_eq!(
        client["v3/refund/domestic/refunds"].post(more).unwrap_err().code(),
        Some("NOT_ENOUGH")
    );
    let v2query = json!({"xml": {"appid": "wx8888888888888888", "mch_id": again.mchid(), "out_trade_no": "S0000002"}});
    let found = client["v2/pay/orderquery"]
        .post(v2query)
        .unwrap()
        .xml::<Value>()
        .unwrap();
    assert_eq!(found["trade_state"], "SUCCESS");
    drop(again);
}

#[test]
fn partner_orders_share_the_book_and_answer_with_sp_and_sub_fields() {
    let (server, client) = sandbox();
    let receiver = Receiver::start();
    let order = json!({"json": {"sp_appid": "wx8888888888888888", "sp_mchid": server.mchid(), "sub_mchid": "1900000109",
        "sub_appid": "wxd678efh567hg6787", "description": "QQ公仔", "out_trade_no": "P0000001",
        "notify_url": receiver.url, "amount": {"total": 8}, "payer": {"sub_openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"}}});
    let placed: Value = client["v3/pay/partner/transactions/jsapi"]
        .post(&order)
        .unwrap()
        .json()
        .unwrap();
    assert!(placed["prepay_id"].is_string());
    let mut no_payer = order.clone();
    no_payer["json"]["out_trade_no"] = json!("P0000002");
    no_payer["json"]["payer"] = json!({});
    let e = client["v3/pay/partner/transactions/jsapi"].post(no_payer).unwrap_err();
    assert_eq!(e.detail().unwrap()["field"], "payer.sp_openid", "{e}");

    server.pay("P0000001").unwrap();
    let paid = receiver.next(&client);
    assert_eq!(
        (&paid.resource["sp_mchid"], &paid.resource["sub_mchid"]),
        (&json!(server.mchid()), &json!("1900000109"))
    );
    let query =
        |sub: &str| json!({"out_trade_no": "P0000001", "query": {"sp_mchid": server.mchid(), "sub_mchid": sub}});
    let found: Value = client["v3/pay/partner/transactions/out-trade-no/{out_trade_no}"]
        .get(query("1900000109"))
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(
        (found["trade_state"].as_str(), found["sub_appid"].as_str()),
        (Some("SUCCESS"), Some("wxd678efh567hg6787"))
    );
    // Another sub-merchant, or the 直连 path, does not see it.
    let e = client["v3/pay/partner/transactions/out-trade-no/{out_trade_no}"]
        .get(query("1230000109"))
        .unwrap_err();
    assert_eq!(e.code(), Some("ORDER_NOT_EXIST"));
    let direct = json!({"out_trade_no": "P0000001", "query": {"mchid": server.mchid()}});
    assert_eq!(
        client["v3/pay/transactions/out-trade-no/{out_trade_no}"]
            .get(direct)
            .unwrap_err()
            .status(),
        Some(404)
    );
    let e = client["v3/pay/partner/transactions/out-trade-no/{out_trade_no}"]
        .get(json!({"out_trade_no": "P0000001", "query": {"sp_mchid": server.mchid()}}))
        .unwrap_err();
    assert_eq!(e.detail().unwrap()["field"], "sub_mchid");
}

#[test]
fn a_failed_payment_and_the_moved_clock() {
    let (server, client) = sandbox();
    let state = |no: &str| -> String {
        let query = json!({"out_trade_no": no, "query": {"mchid": server.mchid()}});
        let order: Value = client["v3/pay/transactions/out-trade-no/{out_trade_no}"]
            .get(query)
            .unwrap()
            .json()
            .unwrap();
        order["trade_state"].as_str().unwrap().to_owned()
    };
    client["v3/pay/transactions/jsapi"]
        .post(jsapi(&server, "F0000001", 1, "http://127.0.0.1:9/notify"))
        .unwrap();
    server.fail_payment("F0000001").unwrap();
    assert_eq!(state("F0000001"), "PAYERROR");
    assert!(server.pay("F0000001").is_err() && server.fail_payment("F0000001").is_err());
    assert!(server.fail_payment("nope").unwrap_err().to_string().contains("nope"));

    // An hour from now, then the clock moved on by two: closed at its time_expire, never paid.
    let mut order = jsapi(&server, "F0000002", 1, "http://127.0.0.1:9/notify");
    order["json"]["time_expire"] = json!(rfc3339_utc(wechatpay::formatter::timestamp() + 3600));
    client["v3/pay/transactions/jsapi"].post(order).unwrap();
    assert_eq!(state("F0000002"), "NOTPAY");
    server.advance_clock(Duration::from_secs(2 * 3600));
    assert_eq!(state("F0000002"), "CLOSED");
    assert!(server.pay("F0000002").unwrap_err().to_string().contains("CLOSED"));

    // The control API fails a payment too.
    client["v3/pay/transactions/jsapi"]
        .post(jsapi(&server, "F0000003", 1, "http://127.0.0.1:9/notify"))
        .unwrap();
    let http = reqwest::blocking::Client::new();
    let res = http
        .post(format!("{}_sandbox/fail/F0000003", server.base_uri()))
        .send()
        .unwrap();
    assert_eq!(res.status(), 204);
    assert_eq!(state("F0000003"), "PAYERROR");
}

/// The docs' samples name merchants of their own (`1230000109`; 服务商 `sp_mchid`s such as `1900000100`): a client
/// configured as one of them, signing with the sandbox's merchant key, runs the samples' flow unchanged, and
/// every answer and notification speaks of the merchant the request named.
#[test]
fn the_docs_sample_merchants_order_query_and_are_notified_with_the_sandbox_keys() {
    let server = MockServer::start().unwrap();
    assert_eq!(server.mchid(), wechatpay::mock::MCHID);
    let receiver = Receiver::start();
    let docs = server
        .client_builder()
        .mchid("1230000109")
        .apiv3_key(server.apiv3_key())
        .build()
        .unwrap();
    // openapi/v3/pay/transactions/jsapi.md's body, its `time_expire` (2018) left out and the notify URL ours.
    let order = json!({"json": {"appid": "wxd678efh567hg6787", "mchid": "1230000109",
        "description": "Image形象店-深圳腾大-QQ公仔", "attach": "自定义数据", "out_trade_no": "1217752501201407033233368018",
        "amount": {"total": 100, "currency": "CNY"}, "notify_url": receiver.url, "goods_tag": "WXG",
        "payer": {"openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"}}});
    let placed: Value = docs["v3/pay/transactions/jsapi"].post(&order).unwrap().json().unwrap();
    assert!(placed["prepay_id"].is_string(), "{placed}");
    // openapi/v3/pay/transactions/out-trade-no/{out_trade_no}.md, verbatim.
    let query = json!({"out_trade_no": "1217752501201407033233368018", "query": {"mchid": "1230000109"}});
    let found: Value = docs["v3/pay/transactions/out-trade-no/{out_trade_no}"]
        .get(&query)
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(
        (found["mchid"].as_str(), found["trade_state"].as_str()),
        (Some("1230000109"), Some("NOTPAY")),
        "{found}"
    );
    server.pay("1217752501201407033233368018").unwrap();
    let paid = receiver.next(&docs);
    assert_eq!(
        (paid.resource["mchid"].as_str(), paid.resource["attach"].as_str()),
        (Some("1230000109"), Some("自定义数据"))
    );
    let found: Value = docs["v3/pay/transactions/out-trade-no/{out_trade_no}"]
        .get(&query)
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(found["trade_state"], "SUCCESS", "{found}");
    // openapi/v2/pay/orderquery.md's merchant too, through APIv2 on the same book.
    let v2query = json!({"xml": {"appid": "wxd678efh567hg6787", "mch_id": "1230000109",
        "out_trade_no": "1217752501201407033233368018"}});
    let found: Value = docs["v2/pay/orderquery"].post(v2query).unwrap().xml().unwrap();
    assert_eq!(
        (found["mch_id"].as_str(), found["trade_state"].as_str()),
        (Some("1230000109"), Some("SUCCESS")),
        "{found}"
    );
    // The same merchant under its own id sees the order too: one merchant, one book.
    let own = json!({"out_trade_no": "1217752501201407033233368018", "query": {"mchid": server.mchid()}});
    assert_eq!(
        server.client().unwrap()["v3/pay/transactions/out-trade-no/{out_trade_no}"]
            .get(own)
            .unwrap()
            .status(),
        200
    );

    // A 服务商 sample's merchant (`sp_mchid` 1900000100, its sub-merchant 1900000109), the same way.
    let partner = server.client_builder().mchid("1900000100").build().unwrap();
    let order = json!({"json": {"sp_appid": "wx8888888888888888", "sp_mchid": "1900000100",
        "sub_appid": "wxd678efh567hg6999", "sub_mchid": "1900000109", "description": "Image形象店-深圳腾大-QQ公仔",
        "out_trade_no": "1217752501201407033233368019", "amount": {"total": 100, "currency": "CNY"},
        "notify_url": "https://www.weixin.qq.com/wxpay/pay.php",
        "payer": {"sp_openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"}}});
    partner["v3/pay/partner/transactions/jsapi"].post(order).unwrap();
    let found: Value = partner["v3/pay/partner/transactions/out-trade-no/{out_trade_no}"]
        .get(json!({"out_trade_no": "1217752501201407033233368019",
            "query": {"sp_mchid": "1900000100", "sub_mchid": "1900000109"}}))
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(
        (found["sp_mchid"].as_str(), found["sub_mchid"].as_str()),
        (Some("1900000100"), Some("1900000109")),
        "{found}"
    );

    // Any other merchant is a stranger: its signature is refused as WeChat Pay refuses it.
    let stranger = server.client_builder().mchid("1999999999").build().unwrap();
    let e = stranger["v3/pay/transactions/out-trade-no/{out_trade_no}"]
        .get(json!({"out_trade_no": "1217752501201407033233368018", "query": {"mchid": "1999999999"}}))
        .unwrap_err();
    assert_eq!((e.status(), e.code()), (Some(401), Some("SIGN_ERROR")), "{e}");
    assert_eq!(e.detail().unwrap()["field"], "mchid", "{e}");
}
