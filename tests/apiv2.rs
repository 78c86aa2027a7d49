//! APIv2 (XML) through the chain, against the embedded sandbox: every style, signatures both ways, the
//! client certificate, typed failures, untrusted answers and bills.
#![cfg(feature = "mock")]

use serde_json::{json, Value};
use wechatpay::mock::{Answer, MockServer};
use wechatpay::{apiv2, Client, Method, Outcome, Verification};

fn micropay(server: &MockServer, out_trade_no: &str) -> Value {
    json!({"xml": {"appid": "wx8888888888888888", "mch_id": server.mchid(), "body": "image形象店-深圳腾大- QQ公仔",
        "out_trade_no": out_trade_no, "total_fee": 888, "spbill_create_ip": "8.8.8.8",
        "auth_code": "120061098828009406"}})
}

fn fields(res: &wechatpay::Response) -> Value {
    res.xml::<Value>().unwrap()
}

#[test]
fn micropay_orderquery_and_refund_in_all_six_styles_over_mutual_tls() {
    // HTTPS with the sandbox's CA: secapi/pay/refund is refused without the merchant's client certificate.
    let server = MockServer::builder().tls(true).start().unwrap();
    let client = server.client().unwrap();
    type Style = fn(&Client, &str, &Value) -> wechatpay::Result<wechatpay::Response>;
    let styles: [(&str, Style); 6] = [
        ("sync chain", |c, p, o| {
            let mut node = &c[""];
            for segment in p.split('/') {
                node = &node[segment];
            }
            node.post(o)
        }),
        ("sync declarative", |c, p, o| c.chain(p).post(o)),
        ("sync property", |c, p, o| c[p].post(o)),
        ("async chain", |c, p, o| {
            let node = p.split('/').fold(c.chain(""), |node, segment| node.chain(segment));
            node.post_async(o).wait()
        }),
        ("async declarative", |c, p, o| {
            futures_executor(c.chain(p).post_async(o))
        }),
        ("async property", |c, p, o| futures_executor(c[p].post_async(o))),
    ];
    for (i, (style, call)) in styles.iter().enumerate() {
        let out_trade_no = format!("1217752501201407033233368{i:03}");
        let paid = call(&client, "v2/pay/micropay", &micropay(&server, &out_trade_no))
            .unwrap_or_else(|e| panic!("{style}: {e:#}"));
        let paid = fields(&paid);
        assert_eq!(
            (&paid["result_code"], &paid["total_fee"]),
            (&json!("SUCCESS"), &json!("888")),
            "{style}"
        );

        let query =
            json!({"xml": {"appid": "wx8888888888888888", "mch_id": server.mchid(), "out_trade_no": out_trade_no}});
        let found = fields(&call(&client, "v2/pay/orderquery", &query).unwrap());
        assert_eq!(found["trade_state"], "SUCCESS", "{style}");
        assert_eq!(found["transaction_id"], paid["transaction_id"], "{style}");

        // secapi/pay/refund is documented as needing the client certificate: presented without asking.
        let refund = json!({"xml": {"appid": "wx8888888888888888", "mch_id": server.mchid(),
            "out_trade_no": out_trade_no, "out_refund_no": format!("R{out_trade_no}"), "total_fee": 888, "refund_fee": 88}});
        let refunded = fields(&call(&client, "v2/secapi/pay/refund", &refund).unwrap());
        assert_eq!(refunded["refund_fee"], "88", "{style}");
    }
}

/// Drives a future to completion on no runtime at all: the futures the client hands out run anywhere.
fn futures_executor<F: std::future::Future>(f: F) -> F::Output {
    futures::executor::block_on(f)
}

#[test]
fn a_client_for_apiv2_alone_needs_only_its_mchid_and_key() {
    let server = MockServer::start().unwrap();
    let client = Client::builder()
        .mchid(server.mchid())
        .apiv2_key(server.apiv2_key())
        .base_uri(&server.base_uri())
        .build()
        .unwrap();
    let res = client["v2/pay/micropay"].post(micropay(&server, "A1")).unwrap();
    assert_eq!(fields(&res)["out_trade_no"], "A1");
    // An HMAC-SHA256 request gets an HMAC-SHA256 answer, verified as such.
    let mut hmac = micropay(&server, "A2");
    hmac["xml"]["sign_type"] = json!("HMAC-SHA256");
    let res = client["v2/pay/micropay"].post(&hmac).unwrap();
    assert_eq!(fields(&res)["sign"].as_str().unwrap().len(), 64);

    let e = client["v3/marketing/busifavor/stocks/100088"].get(()).unwrap_err();
    assert!(e.is_config() && e.to_string().contains("serial"), "{e}");
    let before = server.requests();
    let refund = json!({"xml": {"mch_id": server.mchid(), "out_trade_no": "A1", "out_refund_no": "R1",
        "total_fee": 888, "refund_fee": 1}});
    let e = client["v2/secapi/pay/refund"].post(refund).unwrap_err();
    assert!(e.is_config() && e.to_string().contains("merchant_certificate"), "{e}");
    assert_eq!(e.outcome(), Outcome::NotApplied);
    assert_eq!(server.requests(), before, "refused before sending");

    let no_key = server.client_builder().apiv2_key("").build();
    assert!(no_key.unwrap_err().is_key());
}

#[test]
fn failures_are_typed_and_say_whether_money_may_have_moved() {
    let server = MockServer::start().unwrap();
    let client = server.client().unwrap();

    // Signed with another key: WeChat Pay's communication-layer FAIL.
    let stranger = server
        .client_builder()
        .apiv2_key("another_key_another_key_another_")
        .build()
        .unwrap();
    let e = stranger["v2/pay/micropay"].post(micropay(&server, "F1")).unwrap_err();
    assert!(
        e.is_api() && e.code() == Some("FAIL") && e.api_message() == Some("签名错误"),
        "{e}"
    );
    assert_eq!(e.outcome(), Outcome::NotApplied);

    // The user is still typing the password: unknown, so query.
    let mut paying = micropay(&server, "F2");
    paying["headers"] = json!({"Wechatpay-Negative-Test": "USERPAYING"});
    let e = client["v2/pay/micropay"].post(&paying).unwrap_err();
    assert!(e.is_api() && e.code() == Some("USERPAYING"), "{e}");
    assert_eq!(e.outcome(), Outcome::Unknown);
    assert_eq!(e.detail().unwrap()["err_code_des"], "需要用户输入支付密码");
    let query = json!({"xml": {"appid": "wx8888888888888888", "mch_id": server.mchid(), "out_trade_no": "F2"}});
    assert_eq!(
        fields(&client["v2/pay/orderquery"].post(&query).unwrap())["trade_state"],
        "USERPAYING"
    );

    let missing = json!({"xml": {"appid": "wx8888888888888888", "mch_id": server.mchid(), "out_trade_no": "nope"}});
    let e = client["v2/pay/orderquery"].post(missing).unwrap_err();
    assert_eq!((e.code(), e.outcome()), (Some("ORDERNOTEXIST"), Outcome::NotApplied));

    // Never refund more than was paid.
    client["v2/pay/micropay"].post(micropay(&server, "F3")).unwrap();
    let refund = |no: &str, fee: u32| {
        json!({"xml": {"appid": "wx8888888888888888", "mch_id": server.mchid(), "out_trade_no": "F3",
            "out_refund_no": no, "total_fee": 888, "refund_fee": fee}})
    };
    client["v2/secapi/pay/refund"].post(refund("R1", 800)).unwrap();
    client["v2/secapi/pay/refund"].post(refund("R1", 800)).unwrap(); // the same refund, answered again
    let e = client["v2/secapi/pay/refund"].post(refund("R2", 89)).unwrap_err();
    assert_eq!(e.code(), Some("NOTENOUGH"));
}

#[test]
fn untrusted_answers_are_refused_and_kept_and_unsigned_endpoints_pass() {
    let server = MockServer::start().unwrap();
    let client = server.client().unwrap();
    let key = server.apiv2_key().to_owned();
    let answer = move |tamper: bool, signed: bool| {
        let fields = [
            ("return_code", "SUCCESS"),
            ("result_code", "SUCCESS"),
            ("trade_state", "SUCCESS"),
            ("total_fee", "888"),
        ];
        let sign = apiv2::sign(apiv2::SignType::Md5, fields, &key);
        let mut xml: String = fields.iter().map(|(k, v)| format!("<{k}>{v}</{k}>")).collect();
        if signed {
            xml.push_str(&format!("<sign>{sign}</sign>"));
        }
        if tamper {
            xml = xml.replace(">888<", ">1<");
        }
        format!("<xml>{xml}</xml>")
    };
    let query = json!({"xml": {"appid": "wx8888888888888888", "mch_id": server.mchid(), "out_trade_no": "U1"}});
    for (tamper, signed, step) in [
        (true, true, Verification::BadSignature),
        (false, false, Verification::MissingSignature),
    ] {
        let body = answer(tamper, signed);
        let served = body.clone();
        server.route(Method::POST, "pay/orderquery", move |_| {
            Answer::bytes(200, "text/xml", served.clone())
        });
        let e = client["v2/pay/orderquery"].post(&query).unwrap_err();
        assert_eq!(e.verification(), Some(step), "{e}");
        assert!(e.to_string().contains("NOT trusted"), "{e}");
        assert_eq!(e.body(), Some(body.as_bytes()), "kept for reconciliation");
        assert_eq!(e.outcome(), Outcome::Unknown);
    }
    let good = answer(false, true);
    server.route(Method::POST, "pay/orderquery", move |_| {
        Answer::bytes(200, "text/xml", good.clone())
    });
    client["v2/pay/orderquery"].post(&query).unwrap();

    // XML with a DOCTYPE (external entities, entity bombs) is never parsed.
    let bomb = "<!DOCTYPE lolz [<!ENTITY lol \"lol\"><!ENTITY lol9 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">]>\
                <xml><return_code>&lol9;</return_code></xml>";
    server.route(Method::POST, "pay/orderquery", move |_| {
        Answer::bytes(200, "text/xml", bomb)
    });
    let e = client["v2/pay/orderquery"].post(&query).unwrap_err();
    assert!(e.is_verification() && e.to_string().contains("DOCTYPE"), "{e}");

    // Red packets answer without `sign`, and pass as they came.
    let packet = json!({"xml": {"mch_billno": "10000098201411111234567890", "mch_id": server.mchid(),
        "wxappid": "wx8888888888888888", "send_name": "天虹百货", "re_openid": "oxTWIuGaIt6gTKsQRLau2M0yL16E",
        "total_amount": 1000, "total_num": 1, "wishing": "感谢您参加猜灯谜活动，祝您元宵节快乐！",
        "client_ip": "192.168.0.1", "act_name": "猜灯谜抢红包活动", "remark": "猜越多得越多，快来抢！"}});
    let sent = fields(&client["v2/mmpaymkttransfers/sendredpack"].post(&packet).unwrap());
    assert!(sent.get("sign").is_none() && sent["result_code"] == "SUCCESS");
    let info = json!({"xml": {"mch_billno": "10000098201411111234567890", "mch_id": server.mchid(),
        "appid": "wx8888888888888888", "bill_type": "MCHT"}});
    assert_eq!(
        fields(&client["v2/mmpaymkttransfers/gethbinfo"].post(&info).unwrap())["status"],
        "SENT"
    );
}

#[test]
fn typed_fields_both_ways_and_the_days_bill() {
    #[derive(serde::Serialize)]
    struct Micropay<'a> {
        appid: &'a str,
        mch_id: &'a str,
        body: &'a str,
        out_trade_no: &'a str,
        total_fee: u64,
        spbill_create_ip: &'a str,
        auth_code: &'a str,
    }
    #[derive(serde::Deserialize)]
    struct Paid {
        transaction_id: String,
        total_fee: u64,
        time_end: String,
    }
    let server = MockServer::start().unwrap();
    let client = server.client().unwrap();
    let order = Micropay {
        appid: "wx8888888888888888",
        mch_id: server.mchid(),
        body: "QQ公仔",
        out_trade_no: "B1",
        total_fee: 1234,
        spbill_create_ip: "8.8.8.8",
        auth_code: "134567890123456789",
    };
    let paid: Paid = client["v2/pay/micropay"]
        .post(wechatpay::Options::new().xml(&order))
        .unwrap()
        .xml()
        .unwrap();
    assert_eq!(paid.total_fee, 1234);

    let bill = |date: &str| json!({"xml": {"appid": "wx8888888888888888", "mch_id": server.mchid(), "bill_date": date, "bill_type": "ALL"}});
    let csv = client["v2/pay/downloadbill"].post(bill(&paid.time_end[..8])).unwrap();
    let csv = csv.text().unwrap();
    // A bill file starts with a UTF-8 byte-order mark, as WeChat Pay's do.
    assert!(
        csv.starts_with("\u{feff}交易时间,") && csv.contains(&format!("`{}", paid.transaction_id)),
        "{csv}"
    );
    assert!(csv.contains("`12.34"), "{csv}");
    let mut gzip = bill(&paid.time_end[..8]);
    gzip["xml"]["tar_type"] = json!("GZIP");
    let gz = client["v2/pay/downloadbill"].post(gzip).unwrap();
    let mut unpacked = String::new();
    std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&gz.bytes()[..]), &mut unpacked).unwrap();
    assert_eq!(unpacked, csv);
    let e = client["v2/pay/downloadbill"].post(bill("20000101")).unwrap_err();
    assert!(e.is_api() && e.api_message() == Some("No Bill Exist"), "{e}");
}

#[test]
fn over_https_security_endpoints_demand_the_merchant_certificate_of_the_ca() {
    let server = MockServer::builder().tls(true).start().unwrap();
    let ca = server.ca_certificate_pem().unwrap().to_owned();
    let client = server.client().unwrap();
    client["v2/pay/micropay"].post(micropay(&server, "T1")).unwrap();
    let refund = json!({"xml": {"appid": "wx8888888888888888", "mch_id": server.mchid(), "out_trade_no": "T1",
        "out_refund_no": "RT1", "total_fee": 888, "refund_fee": 8}});
    assert_eq!(
        fields(&client["v2/secapi/pay/refund"].post(&refund).unwrap())["refund_fee"],
        "8"
    );

    // The apiclient_cert.p12 WeChat Pay hands out, whose passphrase is the mchid, does the same.
    let p12 = Client::builder()
        .mchid(server.mchid())
        .apiv2_key(server.apiv2_key())
        .merchant_p12(server.merchant_p12().unwrap(), None)
        .root_certificate(&ca)
        .base_uri(&server.base_uri())
        .build()
        .unwrap();
    let refund2 = json!({"xml": {"appid": "wx8888888888888888", "mch_id": server.mchid(), "out_trade_no": "T1",
        "out_refund_no": "RT2", "total_fee": 888, "refund_fee": 8}});
    p12["v2/secapi/pay/refund"].post(&refund2).unwrap();
    let wrong = Client::builder()
        .mchid(server.mchid())
        .apiv2_key(server.apiv2_key())
        .merchant_p12(server.merchant_p12().unwrap(), Some("not the mchid"))
        .build()
        .unwrap_err();
    assert!(
        wrong.is_key() && !wrong.to_string().contains("not the mchid"),
        "{wrong}"
    );

    // Asking for security on any endpoint sends the certificate along.
    let asked = json!({"security": true, "xml": {"appid": "wx8888888888888888", "mch_id": server.mchid(), "out_trade_no": "T1"}});
    assert_eq!(
        fields(&client["v2/pay/orderquery"].post(asked).unwrap())["trade_state"],
        "REFUND"
    );

    // A request that says it needs no certificate (a client that has none would send it so) is refused.
    let bare = Client::builder()
        .mchid(server.mchid())
        .apiv2_key(server.apiv2_key())
        .root_certificate(&ca)
        .base_uri(&server.base_uri())
        .build()
        .unwrap();
    assert!(
        bare["v2/pay/micropay"].post(micropay(&server, "T2")).is_ok(),
        "no certificate needed"
    );
    let mut refund3 = refund2.clone();
    refund3["xml"]["out_refund_no"] = json!("RT3");
    let prepared = bare.prepare(Method::POST, "v2/secapi/pay/refund", refund3.clone());
    assert!(prepared.unwrap_err().is_config(), "refused before sending");

    // A merchant certificate of another CA fails the handshake: nothing is refunded.
    let stranger_key = wechatpay::PrivateKey::load(include_str!("fixtures/platform_key.pem")).unwrap();
    let stranger = MockServer::builder()
        .merchant_key(stranger_key.clone())
        .start()
        .unwrap();
    let foreign = Client::builder()
        .mchid(server.mchid())
        .apiv2_key(server.apiv2_key())
        .merchant_certificate(stranger.merchant_certificate_pem(), &stranger_key.to_pkcs8_pem())
        .root_certificate(&ca)
        .base_uri(&server.base_uri())
        .build()
        .unwrap();
    let e = foreign["v2/secapi/pay/refund"].post(&refund3).unwrap_err();
    assert!(e.is_transport(), "{e:#}");
    let query = json!({"xml": {"appid": "wx8888888888888888", "mch_id": server.mchid(), "out_refund_no": "RT3"}});
    assert_eq!(
        client["v2/pay/refundquery"].post(query).unwrap_err().code(),
        Some("REFUNDNOTEXIST")
    );

    // And without the CA, the sandbox's own server certificate is not trusted.
    let untrusting = Client::builder()
        .mchid(server.mchid())
        .apiv2_key(server.apiv2_key())
        .base_uri(&server.base_uri())
        .build()
        .unwrap();
    assert!(untrusting["v2/pay/micropay"]
        .post(micropay(&server, "T3"))
        .unwrap_err()
        .is_transport());
}

#[test]
fn over_https_a_call_without_the_certificate_is_refused_by_the_endpoint() {
    // A raw request, as a client that forgot the certificate sends it (ours refuses before sending).
    let server = MockServer::builder().tls(true).start().unwrap();
    let ca = reqwest::Certificate::from_pem(server.ca_certificate_pem().unwrap().as_bytes()).unwrap();
    let http = reqwest::blocking::Client::builder()
        .add_root_certificate(ca)
        .build()
        .unwrap();
    let prepared = server
        .client()
        .unwrap()
        .prepare(
            Method::POST,
            "v2/secapi/pay/refund",
            json!({"xml": {
        "appid": "wx8888888888888888", "mch_id": server.mchid(), "out_trade_no": "T1", "out_refund_no": "R",
        "total_fee": 888, "refund_fee": 8}}),
        )
        .unwrap();
    let body = http
        .post(prepared.url().as_str())
        .body(prepared.body().to_vec())
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(
        body.contains("<return_code>FAIL</return_code>") && body.contains("证书"),
        "{body}"
    );
}

/// An APIv2 notification as received: its `Request-ID` header, and its body.
struct Received {
    request_id: Option<String>,
    body: Vec<u8>,
}

/// A receiver of APIv2 notifications: answers each with the XML `SUCCESS` and hands it over.
fn receiver() -> (String, std::sync::mpsc::Receiver<Received>) {
    use std::io::{BufRead as _, BufReader, Read as _, Write as _};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/notify", listener.local_addr().unwrap());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let (mut length, mut request_id) = (0, None);
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some((name, value)) = line.split_once(':') {
                    if name.eq_ignore_ascii_case("content-length") {
                        length = value.trim().parse().unwrap_or(0);
                    } else if name.eq_ignore_ascii_case("request-id") {
                        request_id = Some(value.trim().to_owned());
                    }
                }
            }
            let mut body = vec![0; length];
            reader.read_exact(&mut body).unwrap();
            let reply = apiv2_reply();
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\ncontent-type: text/xml\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{reply}",
                reply.len()
            );
            if tx.send(Received { request_id, body }).is_err() {
                return;
            }
        }
    });
    (url, rx)
}

fn apiv2_reply() -> String {
    wechatpay::notify::apiv2::reply(true, "OK")
}

#[test]
fn the_sandbox_notifies_payments_and_refunds_and_they_open() {
    let server = MockServer::start().unwrap();
    let client = server.client().unwrap();
    let (url, got) = receiver();
    // Every notification carries a `Request-ID` header, as WeChat Pay's do.
    let wait = || {
        let got = got
            .recv_timeout(std::time::Duration::from_secs(60))
            .expect("a notification within 60 s");
        assert!(got.request_id.as_ref().is_some_and(|id| !id.is_empty()), "a Request-ID");
        got.body
    };
    // The payer and `attach` the order names; not the docs' sample openid, so an echo is told from a default.
    let payer = "oUpF8uKbTqhhfN9-XxK2pB5L0CqQ";
    let order = json!({"xml": {"appid": "wx8888888888888888", "mch_id": server.mchid(), "body": "QQ公仔",
        "out_trade_no": "N1", "total_fee": 500, "spbill_create_ip": "8.8.8.8", "notify_url": url,
        "trade_type": "JSAPI", "openid": payer, "attach": "深圳分店", "sign_type": "HMAC-SHA256"}});
    let prepay = fields(&client.chain("v2/pay/unifiedorder").post(&order).unwrap());
    assert!(prepay["prepay_id"].as_str().unwrap().starts_with("wx"));
    let query = json!({"xml": {"appid": "wx8888888888888888", "mch_id": server.mchid(), "out_trade_no": "N1"}});
    let unpaid = fields(&client.chain("v2/pay/orderquery").post(&query).unwrap());
    assert_eq!(unpaid["trade_state"], "NOTPAY");
    assert_eq!(unpaid["attach"], "深圳分店");

    server.pay("N1").unwrap();
    let paid = wechatpay::notify::apiv2::open_payment(&wait(), server.apiv2_key()).unwrap();
    assert_eq!(
        (&paid["out_trade_no"], &paid["total_fee"]),
        (&json!("N1"), &json!("500"))
    );
    assert_eq!((&paid["openid"], &paid["attach"]), (&json!(payer), &json!("深圳分店")));
    assert_eq!(
        paid["sign"].as_str().unwrap().len(),
        64,
        "signed as the order was: HMAC-SHA256"
    );
    let found = fields(&client.chain("v2/pay/orderquery").post(&query).unwrap());
    assert_eq!(found["trade_state"], "SUCCESS");
    assert_eq!(
        (&found["openid"], &found["attach"]),
        (&json!(payer), &json!("深圳分店"))
    );
    assert!(server.pay("nope").unwrap_err().to_string().contains("nope"));

    // The refund notification says what its page documents, and where the money came from: the unsettled
    // funds unless the request asked for the available balance (`REFUND_SOURCE_RECHARGE_FUNDS`).
    for (no, asked, account) in [
        ("NR1", None, "REFUND_SOURCE_UNSETTLED_FUNDS"),
        (
            "NR2",
            Some("REFUND_SOURCE_RECHARGE_FUNDS"),
            "REFUND_SOURCE_RECHARGE_FUNDS",
        ),
    ] {
        let mut refund = json!({"xml": {"appid": "wx8888888888888888", "mch_id": server.mchid(),
            "out_trade_no": "N1", "out_refund_no": no, "total_fee": 500, "refund_fee": 200, "notify_url": url}});
        if let Some(asked) = asked {
            refund["xml"]["refund_account"] = json!(asked);
        }
        client["v2/secapi/pay/refund"].post(&refund).unwrap();
        let refunded = wechatpay::notify::apiv2::open_refund(&wait(), server.apiv2_key()).unwrap();
        assert_eq!(
            (&refunded["out_refund_no"], &refunded["refund_status"]),
            (&json!(no), &json!("SUCCESS"))
        );
        assert_eq!(
            (&refunded["refund_fee"], &refunded["cash_refund_fee"]),
            (&json!("200"), &json!("200")),
            "{no}"
        );
        assert_eq!(refunded["refund_account"], account, "{no}");
        let query = json!({"xml": {"appid": "wx8888888888888888", "mch_id": server.mchid(), "out_refund_no": no}});
        let found = fields(&client["v2/pay/refundquery"].post(&query).unwrap());
        assert_eq!(found["refund_account_0"], account, "{no}");
    }
    let mut odd = json!({"xml": {"appid": "wx8888888888888888", "mch_id": server.mchid(), "out_trade_no": "N1",
        "out_refund_no": "NR3", "total_fee": 500, "refund_fee": 1, "refund_account": "BASIC"}});
    let e = client["v2/secapi/pay/refund"].post(&odd).unwrap_err();
    assert!(e.to_string().contains("refund_account"), "{e}");
    odd["xml"]["refund_account"] = json!("REFUND_SOURCE_UNSETTLED_FUNDS");
    client["v2/secapi/pay/refund"].post(&odd).unwrap();
}

#[test]
fn closeorder_answers_its_result_msg() {
    let server = MockServer::start().unwrap();
    let client = server.client().unwrap();
    let order = |no: &str| {
        json!({"xml": {"appid": "wx8888888888888888", "mch_id": server.mchid(), "body": "QQ公仔",
            "out_trade_no": no, "total_fee": 1, "spbill_create_ip": "8.8.8.8",
            "notify_url": "http://127.0.0.1:9/notify", "trade_type": "NATIVE"}})
    };
    let close =
        |no: &str| json!({"xml": {"appid": "wx8888888888888888", "mch_id": server.mchid(), "out_trade_no": no}});
    client.chain("v2/pay/unifiedorder").post(order("C1")).unwrap();
    let closed = fields(&client.chain("v2/pay/closeorder").post(close("C1")).unwrap());
    assert_eq!(
        (&closed["result_code"], &closed["result_msg"]),
        (&json!("SUCCESS"), &json!("OK"))
    );
    // A paid order cannot be closed: a business FAIL, with its `result_msg` too.
    client.chain("v2/pay/unifiedorder").post(order("C2")).unwrap();
    server.pay("C2").unwrap();
    let e = client.chain("v2/pay/closeorder").post(close("C2")).unwrap_err();
    assert_eq!(e.code(), Some("ORDERPAID"), "{e}");
    let body = String::from_utf8_lossy(e.body().expect("the answer, kept"));
    assert!(body.contains("<result_msg>"), "{body}");
}

#[test]
fn the_user_is_played_by_auto_pay_and_by_the_control_api() {
    let server = MockServer::builder()
        .auto_pay_after(std::time::Duration::from_millis(50))
        .start()
        .unwrap();
    let client = server.client().unwrap();
    let (url, got) = receiver();
    let order = |no: &str| {
        json!({"xml": {"appid": "wx8888888888888888", "mch_id": server.mchid(), "body": "QQ公仔",
            "out_trade_no": no, "total_fee": 1, "spbill_create_ip": "8.8.8.8", "notify_url": url,
            "trade_type": "NATIVE"}})
    };
    client["v2/pay/unifiedorder"].post(order("AP1")).unwrap();
    // No one at the phone: the sandbox pays it and says so.
    let paid = got
        .recv_timeout(std::time::Duration::from_secs(60))
        .expect("a notification within 60 s");
    let paid = wechatpay::notify::apiv2::open_payment(&paid.body, server.apiv2_key()).unwrap();
    assert_eq!(paid["out_trade_no"], "AP1");

    // The control API, as a test in any language calls it: unsigned, on the sandbox's own address.
    let plain = MockServer::start().unwrap();
    let client = plain.client().unwrap();
    let mut no_notify = order("CP1");
    no_notify["xml"]["notify_url"] = json!("http://127.0.0.1:9/notify");
    client["v2/pay/unifiedorder"].post(&no_notify).unwrap();
    let http = reqwest::blocking::Client::new();
    let pay = |no: &str| {
        http.post(format!("{}_sandbox/pay/{no}", plain.base_uri()))
            .send()
            .unwrap()
    };
    assert_eq!(pay("CP1").status(), 204);
    let again = pay("CP1");
    assert_eq!(again.status(), 409);
    assert!(again.text().unwrap().contains("SUCCESS"));
    assert_eq!(pay("nope").status(), 404);
    let query = json!({"xml": {"appid": "wx8888888888888888", "mch_id": plain.mchid(), "out_trade_no": "CP1"}});
    assert_eq!(
        fields(&client["v2/pay/orderquery"].post(&query).unwrap())["trade_state"],
        "SUCCESS"
    );
    // Control requests are not WeChat Pay requests.
    assert_eq!(
        http.get(format!("{}_sandbox/nothing", plain.base_uri()))
            .send()
            .unwrap()
            .status(),
        404
    );
}
