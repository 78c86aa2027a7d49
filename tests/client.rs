//! The client against the sandbox gateway on 127.0.0.1: every request signature checked by the server,
//! every answer signature checked by the client.
#![cfg(feature = "mock")]

use std::time::Duration;

use bytes::Bytes;
use serde_json::{json, Value};
use wechatpay::mock::{Answer, Fault, MockRequest, MockServer};
use wechatpay::{Client, Method, Options, RetryPolicy, Verification};

/// What arrived at the server, echoed back.
fn echo(req: &MockRequest) -> Answer {
    let body: Value = if req.body.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&req.body).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&req.body).into()))
    };
    Answer::json(
        200,
        &json!({
            "method": req.method.as_str(),
            "path": req.path,
            "params": req.params,
            "query": req.query,
            "body": body,
            "serial": req.headers.get("wechatpay-serial").and_then(|v| v.to_str().ok()),
        }),
    )
}

fn sandbox() -> (MockServer, Client) {
    let server = MockServer::start().expect("sandbox starts");
    for method in [Method::GET, Method::PUT, Method::POST, Method::PATCH, Method::DELETE] {
        server.route(method.clone(), "v3/echo/{id}", echo);
        server.route(method, "v3/echo", echo);
    }
    server.route(Method::POST, "v3/marketing/busifavor/coupons/use", echo);
    server.route(Method::DELETE, "v3/nothing", |_| Answer::no_content());
    let client = server.client().expect("client builds");
    (server, client)
}

fn body_of(res: &wechatpay::Response) -> Value {
    res.json().expect("JSON answer")
}

#[tokio::test(flavor = "multi_thread")]
async fn six_call_styles_reach_the_same_endpoint() {
    let (_server, client) = sandbox();
    let payload = json!({"json": {
        "coupon_code": "sxxe34343434", "stock_id": "100088", "appid": "wx1234567889999",
        "use_time": "2015-05-20T13:29:35+08:00", "use_request_no": "1002600620019090123143254435",
        "openid": "xsd3434454567676"}});
    let answers = vec![
        client["v3"]["marketing"]["busifavor"]["coupons"]["use"]
            .post_async(payload.clone())
            .await
            .unwrap(),
        client
            .chain("v3/marketing/busifavor/coupons/use")
            .post_async(payload.clone())
            .await
            .unwrap(),
        client["v3/marketing/busifavor/coupons/use"]
            .post_async(payload.clone())
            .await
            .unwrap(),
        client["v3"]["marketing"]["busifavor"]["coupons"]["use"]
            .post(payload.clone())
            .unwrap(),
        client
            .chain("v3/marketing/busifavor/coupons/use")
            .post(payload.clone())
            .unwrap(),
        client["v3/marketing/busifavor/coupons/use"]
            .post(payload.clone())
            .unwrap(),
    ];
    for res in answers {
        let echoed = body_of(&res);
        assert_eq!(echoed["path"], "/v3/marketing/busifavor/coupons/use");
        assert_eq!(echoed["body"], payload["json"]);
        assert!(res.request_id().is_some());
    }
}

#[test]
fn all_five_verbs_sync_and_async() {
    let (_server, client) = sandbox();
    let node = &client["v3/echo/{id}"];
    let opts = || json!({"id": "42", "json": {"k": "v"}});
    let sync = [
        ("GET", node.get(json!({"id": "42"})).unwrap()),
        ("PUT", node.put(opts()).unwrap()),
        ("POST", node.post(opts()).unwrap()),
        ("PATCH", node.patch(opts()).unwrap()),
        ("DELETE", node.delete(opts()).unwrap()),
    ];
    let asyncs = futures::executor::block_on(async {
        [
            ("GET", node.get_async(json!({"id": "42"})).await.unwrap()),
            ("PUT", node.put_async(opts()).await.unwrap()),
            ("POST", node.post_async(opts()).await.unwrap()),
            ("PATCH", node.patch_async(opts()).await.unwrap()),
            ("DELETE", node.delete_async(opts()).await.unwrap()),
        ]
    });
    for (method, res) in sync.into_iter().chain(asyncs) {
        let echoed = body_of(&res);
        assert_eq!(echoed["method"], method);
        assert_eq!(echoed["path"], "/v3/echo/42");
        if method == "GET" {
            assert_eq!(echoed["body"], Value::Null, "GET sends no body");
        } else {
            assert_eq!(echoed["body"], json!({"k": "v"}));
        }
    }
}

#[test]
fn placeholders_and_query_are_encoded_and_signed_as_sent() {
    let (_server, client) = sandbox();
    let res = client["v3/echo/{id}"]
        .get(json!({"id": "a b/中", "query": {"limit": 10, "q": "x&y=z 中"}}))
        .unwrap();
    let echoed = body_of(&res);
    assert_eq!(echoed["path"], "/v3/echo/a%20b%2F%E4%B8%AD");
    assert_eq!(echoed["params"], json!([["id", "a b/中"]]));
    assert_eq!(echoed["query"], json!([["limit", "10"], ["q", "x&y=z 中"]]));

    // The typed builder says the same thing.
    let typed = Options::new()
        .param("id", "a b/中")
        .query("limit", 10)
        .query("q", "x&y=z 中");
    assert_eq!(body_of(&client["v3/echo/{id}"].get(typed).unwrap()), echoed);

    // `{+var}` keeps a pre-encoded id as it is (the vectors' media_slot_url).
    let pre = "ChsyMDAyMDgwMjAyMjAyMTgxMTA0NDEzMTEwMzASGzMwMDIwMDAyMDIyMDIxODE1MDQ0MTcwOTI5NhgAIO%2FFR1pAGKAMwAjgB";
    let res = client["v3/echo/{+id}"].get(json!({"id": pre})).unwrap();
    assert_eq!(body_of(&res)["path"], format!("/v3/echo/{pre}"));
}

#[test]
fn non_ascii_and_slash_bodies_round_trip() {
    let (_server, client) = sandbox();
    let payload = json!({"备注": "商家券 / 满100减10", "url": "https://example.com/a/b?c=d", "emoji": "🎫"});
    let res = client["v3/echo"].post(json!({"json": payload})).unwrap();
    assert_eq!(body_of(&res)["body"], payload);

    #[derive(serde::Serialize)]
    struct Typed<'a> {
        name: &'a str,
    }
    let res = client["v3/echo"]
        .post(Options::new().json(&Typed { name: "张三/李四" }))
        .unwrap();
    assert_eq!(body_of(&res)["body"], json!({"name": "张三/李四"}));

    let res = client["v3/echo"]
        .post(json!({"body": "{\"raw\":\"原样/发送\"}"}))
        .unwrap();
    assert_eq!(body_of(&res)["body"], json!({"raw": "原样/发送"}));
}

#[test]
fn no_content_answers_verify_over_an_empty_body() {
    let (server, client) = sandbox();
    let res = client["v3/nothing"].delete(()).unwrap();
    assert_eq!(res.status(), 204);
    assert!(res.bytes().is_empty());
    assert_eq!(res.json::<Value>().unwrap(), Value::Null);

    // A 204 whose signature covers a non-empty body is refused.
    server.inject(Fault::SignBody(Bytes::from_static(b"{\"a\":1}")), 1);
    let e = client["v3/nothing"].delete(()).unwrap_err();
    assert_eq!(e.verification(), Some(Verification::BadSignature), "{e}");
}

#[test]
fn every_forged_answer_is_refused_with_its_step() {
    let (server, client) = sandbox();
    let call = || client["v3/echo"].get(());
    call().unwrap();
    // The sandbox signs with its clock plus the skew; the client checks against its own clock a moment
    // later. Those moments differ by however long the call took (up to the client's 60 s timeout), so a
    // skew near the 300 s edge could land on either side of it: this end-to-end test uses skews no such
    // delay can move across the edge. The exact edge (300 in, 301 out) is `src/verify.rs`'s unit test, at a
    // fixed `now`.
    let cases: Vec<(Fault, Verification)> = vec![
        (Fault::TamperBody, Verification::BadSignature),
        (Fault::BadSignature, Verification::BadSignature),
        (Fault::SkewTimestamp(3600), Verification::StaleTimestamp),
        (Fault::SkewTimestamp(-3600), Verification::StaleTimestamp),
        (Fault::UnknownSerial, Verification::UnknownSerial),
        (Fault::MissingHeader("wechatpay-timestamp"), Verification::MissingHeader),
        (Fault::MissingHeader("wechatpay-nonce"), Verification::MissingHeader),
        (Fault::MissingHeader("wechatpay-signature"), Verification::MissingHeader),
        (Fault::MissingHeader("wechatpay-serial"), Verification::MissingHeader),
    ];
    for (fault, step) in cases {
        server.inject(fault.clone(), 1);
        let e = call().unwrap_err();
        assert!(e.is_verification(), "{fault:?}: {e}");
        assert_eq!(e.verification(), Some(step), "{fault:?}: {e}");
    }
    // Well inside the window, either way (a delay d makes these 100 - d and 100 + d: inside for any call
    // that completes within the client's timeout).
    for secs in [100, -100] {
        server.inject(Fault::SkewTimestamp(secs), 1);
        call().unwrap_or_else(|e| panic!("{secs} s off: {e}"));
    }

    server.inject(Fault::UnknownSerial, 1);
    let e = call().unwrap_err();
    assert!(
        e.to_string().contains(server.public_key_id()),
        "lists the configured ids: {e}"
    );
}

#[test]
fn api_errors_carry_status_code_message_and_request_id() {
    let (server, client) = sandbox();
    let e = client["v3/nowhere/at/all"].get(()).unwrap_err();
    assert!(e.is_api());
    assert_eq!(e.status(), Some(404));
    assert_eq!(e.code(), Some("RESOURCE_NOT_EXISTS"));
    assert!(e.api_message().is_some());
    assert_eq!(e.detail().unwrap()["path"], "/v3/nowhere/at/all");
    let id = e.request_id().expect("Request-ID").to_owned();
    assert!(e.to_string().contains(&id), "{e}");

    for (status, code) in [
        (400, "PARAM_ERROR"),
        (403, "NO_AUTH"),
        (429, "FREQUENCY_LIMITED"),
        (500, "SYSTEM_ERROR"),
    ] {
        server.inject(Fault::Status(status), 1);
        // One attempt: 429 and 5xx GETs are otherwise retried (see tests/retry.rs).
        let e = client["v3/echo"]
            .get(Options::new().retry(RetryPolicy::none()))
            .unwrap_err();
        assert_eq!((e.status(), e.code()), (Some(status), Some(code)), "{e}");
    }
}

#[test]
fn redirects_are_not_followed() {
    let (server, client) = sandbox();
    server.inject(Fault::Status(302), 1);
    let e = client["v3/echo"].get(()).unwrap_err();
    assert!(e.is_api() && e.status() == Some(302), "{e}");
    assert!(
        e.to_string().contains("redirect") && e.to_string().contains("base_uri"),
        "{e}"
    );
}

#[test]
fn oversized_answers_are_refused_with_or_without_content_length() {
    let (server, _) = sandbox();
    server.route(Method::GET, "v3/big", |_| {
        Answer::bytes(200, "text/plain", vec![b'x'; 300_000])
    });
    let client = server.client_builder().max_response_size(100_000).build().unwrap();
    let e = client["v3/big"].get(()).unwrap_err();
    assert!(e.is_transport() && e.to_string().contains("cap"), "{e}");
    server.inject(Fault::Chunked, 1);
    let e = client["v3/big"].get(()).unwrap_err();
    assert!(e.is_transport() && e.to_string().contains("cap"), "{e}");
    // Under the cap, chunked answers are read whole and verified.
    server.route(Method::GET, "v3/small", |_| {
        Answer::bytes(200, "text/plain", vec![b'y'; 50_000])
    });
    server.inject(Fault::Chunked, 1);
    assert_eq!(client["v3/small"].get(()).unwrap().bytes().len(), 50_000);
}

#[test]
fn timeouts_and_dropped_connections_are_typed() {
    // Only calls meant to time out get a short timeout, and their answer is held back 100 times longer,
    // so only the timeout can end them however slow the machine. Every other call keeps the default (60 s):
    // a busy machine must not turn the dropped connection below into a timeout.
    let (server, client) = sandbox();
    let short = server
        .client_builder()
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    server.inject(Fault::Delay(Duration::from_secs(30)), 1);
    let e = short["v3/echo"].get(()).unwrap_err();
    assert!(e.is_timeout(), "{e}");

    server.inject(Fault::Delay(Duration::from_secs(30)), 1);
    let e = client["v3/echo"]
        .get(Options::new().timeout(Duration::from_millis(300)))
        .unwrap_err();
    assert!(e.is_timeout(), "per-request timeout: {e}");

    server.inject(Fault::Drop, 1);
    let e = client["v3/echo"]
        .get(Options::new().retry(RetryPolicy::none()))
        .unwrap_err();
    assert!(e.is_transport(), "{e}");
    assert!(std::error::Error::source(&e).is_some(), "keeps the cause");
}

#[test]
fn hostile_placeholder_values_never_change_the_endpoint() {
    let (server, client) = sandbox();
    for value in [
        "../../v2/pay",
        "a/../../b",
        "x?y=1",
        "x#frag",
        "a\r\nX-Injected: 1",
        "%2e%2e",
        "..%2F",
    ] {
        match client["v3/echo/{id}"].get(json!({"id": value})) {
            Ok(res) => {
                let echoed = body_of(&res);
                assert_eq!(
                    echoed["params"],
                    json!([["id", value]]),
                    "{value:?} arrives as one segment"
                );
                assert!(echoed["path"].as_str().unwrap().starts_with("/v3/echo/"));
            }
            Err(e) => assert!(e.is_path(), "{value:?}: {e}"),
        }
    }
    for value in ["", ".", ".."] {
        let e = client["v3/echo/{id}"].get(json!({"id": value})).unwrap_err();
        assert!(e.is_path(), "{value:?}: {e}");
    }
    for value in ["a/b", "a?b", "a#b", "..", "%2E%2e"] {
        let e = client["v3/echo/{+id}"].get(json!({"id": value})).unwrap_err();
        assert!(e.is_path(), "{{+id}} = {value:?}: {e}");
    }
    let e = client["v3/echo"]
        .get(json!({"headers": {"X-A": "a\r\nX-B: b"}}))
        .unwrap_err();
    assert!(e.is_request(), "{e}");
    let e = client["v3/echo"]
        .get(json!({"headers": {"Authorization": "forged"}}))
        .unwrap_err();
    assert!(e.is_request(), "{e}");
    // Nothing above reached any other endpoint.
    assert!(server.requests() > 0);
}

#[test]
fn missing_placeholders_and_unknown_options_are_errors_naming_them() {
    let (server, client) = sandbox();
    let before = server.requests();
    let e = client["v3/echo/{id}"].get(()).unwrap_err();
    assert!(e.is_path() && e.to_string().contains("{id}"), "{e}");
    let e = client["v3/echo"].post(json!({"jsno": {"a": 1}})).unwrap_err();
    assert!(e.is_request() && e.to_string().contains("`jsno`"), "{e}");
    let e = client["v3/echo/{id}"]
        .get(json!({"id": "1", "stock_idd": "2"}))
        .unwrap_err();
    assert!(e.to_string().contains("placeholders: [id]"), "{e}");
    let e = client["v2/pay/micropay"].post(json!({"json": {"a": 1}})).unwrap_err();
    assert!(e.is_request() && e.to_string().contains("APIv2"), "{e}");
    let e = client["v3/echo"].post(json!({"xml": {"a": 1}})).unwrap_err();
    assert!(e.is_request() && e.to_string().contains("APIv2"), "{e}");
    assert_eq!(server.requests(), before, "nothing was sent");
}

#[test]
fn the_sandbox_refuses_wrong_key_stale_and_replayed_requests() {
    let (server, client) = sandbox();
    // A client signing with another key.
    let stranger = server
        .client_builder()
        .private_key(include_str!("fixtures/merchant_key.pem"))
        .build()
        .unwrap();
    let e = stranger["v3/echo"].get(()).unwrap_err();
    assert_eq!((e.status(), e.code()), (Some(401), Some("SIGN_ERROR")), "{e}");

    // Replay and staleness, with hand-built requests.
    let prepared = client.prepare(Method::GET, "v3/echo", ()).unwrap();
    // Sends `p` by hand, with another `Authorization` if given.
    let send = |p: &wechatpay::Prepared, authorization: Option<String>| {
        let http = reqwest::blocking::Client::new();
        let mut headers = p.headers().clone();
        if let Some(auth) = authorization {
            headers.insert("authorization", auth.parse().unwrap());
        }
        http.get(p.url().clone())
            .headers(headers)
            .send()
            .unwrap()
            .status()
            .as_u16()
    };
    assert_eq!(send(&prepared, None), 200);
    assert_eq!(send(&prepared, None), 401, "the same nonce again is a replay");

    // An hour old, or an hour ahead: far enough outside the 300 s window that no delay before the
    // sandbox reads its clock matters. The exact edge is the gateway's unit test (`src/mock/gateway.rs`).
    let key = server.merchant_key();
    for skew in [-3600, 3600] {
        let stale = wechatpay::sign::Authorization::sign_at(
            key,
            server.mchid(),
            server.merchant_serial(),
            "GET",
            "/v3/echo",
            b"",
            wechatpay::formatter::timestamp() + skew,
            wechatpay::formatter::nonce(),
        );
        let p = client.prepare(Method::GET, "v3/echo", ()).unwrap();
        assert_eq!(send(&p, Some(stale.to_string())), 401, "{skew} s off");
    }

    // The body is part of what is signed.
    let p = client
        .prepare(Method::POST, "v3/echo", json!({"json": {"a": 1}}))
        .unwrap();
    let http = reqwest::blocking::Client::new();
    let req = http
        .post(p.url().clone())
        .headers(p.headers().clone())
        .body(r#"{"a":2}"#);
    assert_eq!(req.send().unwrap().status().as_u16(), 401);
}

#[tokio::test(flavor = "multi_thread")]
async fn sixty_four_concurrent_async_calls() {
    let (server, client) = sandbox();
    let calls = (0..64).map(|i| client["v3/echo/{id}"].get_async(json!({ "id": i })));
    let answers = futures::future::join_all(calls).await;
    let mut ids = std::collections::HashSet::new();
    for (i, res) in answers.into_iter().enumerate() {
        let res = res.unwrap();
        assert_eq!(body_of(&res)["path"], format!("/v3/echo/{i}"));
        ids.insert(res.request_id().unwrap().to_owned());
    }
    assert_eq!(ids.len(), 64);
    assert_eq!(server.requests(), 64);
}

#[test]
fn unsigned_downloads_skip_verification_only_where_documented() {
    let (server, client) = sandbox();
    let gz = Bytes::from_static(b"\x1f\x8b\x08\x00bill");
    let bill = gz.clone();
    server.route(Method::GET, "v3/billdownload/file", move |_| {
        Answer::bytes(200, "application/x-gzip", bill.clone())
    });
    server.route(Method::GET, "v3/merchant-service/images/{media}", |_| {
        Answer::bytes(200, "image/png", "png")
    });
    server.route(Method::GET, "v3/elsewhere/download", |_| {
        Answer::bytes(200, "application/x-gzip", "gz")
    });
    for path in [
        "/v3/billdownload/file",
        "/v3/merchant-service/images/abc",
        "/v3/elsewhere/download",
    ] {
        server.inject_path(path, Fault::BadSignature);
    }
    let res = client["v3/billdownload/file"]
        .get(json!({"query": {"token": "t"}}))
        .unwrap();
    assert_eq!(res.bytes(), &gz);
    client["v3/merchant-service/images/{media}"]
        .get(json!({"media": "abc"}))
        .unwrap();
    // Anywhere else a bad signature is refused, unless the caller explicitly opts out for a download.
    let e = client["v3/elsewhere/download"].get(()).unwrap_err();
    assert_eq!(e.verification(), Some(Verification::BadSignature));
    let res = client["v3/elsewhere/download"]
        .get(Options::new().unverified_download())
        .unwrap();
    assert_eq!(res.text().unwrap(), "gz");
}

#[test]
fn statements_are_checked_against_their_signed_sha1() {
    let (server, client) = sandbox();
    let csv = "交易时间,金额\n2024-05-20,100\n";
    let sha1 = "1a23efd8665bc155f17a9f0ecd695d6d3bc9e910";
    server.route(Method::GET, "v3/global/statements", move |_| {
        Answer::bytes(200, "text/csv", csv).header("Wechatpay-Statement-Sha1", sha1)
    });
    // WeChat Pay signs the stand-in `{"sha1":"…"}`, not the CSV.
    server.inject_path(
        "/v3/global/statements",
        Fault::SignBody(format!(r#"{{"sha1":"{sha1}"}}"#).into()),
    );
    let res = client["v3/global/statements"]
        .get(json!({"query": {"date": "2024-05-20"}}))
        .unwrap();
    assert_eq!(res.text().unwrap(), csv);

    // A CSV that does not match its (validly signed) SHA-1 is refused.
    server.route(Method::GET, "v3/global/statements", move |_| {
        Answer::bytes(200, "text/csv", "交易时间,金额\n2024-05-20,999\n").header("Wechatpay-Statement-Sha1", sha1)
    });
    let e = client["v3/global/statements"].get(()).unwrap_err();
    assert_eq!(e.verification(), Some(Verification::DigestMismatch), "{e}");
}

#[test]
fn sensitive_fields_are_encrypted_for_the_platform_and_answers_decrypted_with_the_merchant_key() {
    let (server, client) = sandbox();
    let res = client["v3/echo"]
        .post(
            json!({"json": {"name": "张三", "contact": {"mobile": "13800138000"}, "amount": 1},
                     "sensitive": ["name", "contact.mobile"]}),
        )
        .unwrap();
    let echoed = body_of(&res);
    assert_eq!(
        echoed["serial"],
        server.public_key_id(),
        "Wechatpay-Serial names the encrypting key"
    );
    let platform = server.platform_key();
    let arrived = |v: &Value| String::from_utf8(platform.decrypt(v.as_str().unwrap()).unwrap()).unwrap();
    assert_eq!(arrived(&echoed["body"]["name"]), "张三");
    assert_eq!(arrived(&echoed["body"]["contact"]["mobile"]), "13800138000");
    assert_eq!(echoed["body"]["amount"], 1);

    // A typo must not send plaintext.
    let before = server.requests();
    let e = client["v3/echo"]
        .post(Options::new().json(&json!({"name": "张三"})).sensitive(["nmae"]))
        .unwrap_err();
    assert!(e.is_request() && e.to_string().contains("nmae"), "{e}");
    let e = client["v3/echo"]
        .post(json!({"json": {"name": "x"}, "sensitive": ["name"], "headers": {"Wechatpay-Serial": "PUB_KEY_ID_UNKNOWN"}}))
        .unwrap_err();
    assert!(e.is_request(), "{e}");
    assert_eq!(server.requests(), before);

    // An answer carrying a field encrypted for the merchant.
    let secret = server.merchant_key().public_key().encrypt("李四".as_bytes()).unwrap();
    server.route(Method::GET, "v3/secret", move |_| {
        Answer::json(200, &json!({"name": secret, "n": 2}))
    });
    let mut answer: Value = client["v3/secret"].get(()).unwrap().json().unwrap();
    client.decrypt_fields(&mut answer, &["name", "absent"]).unwrap();
    assert_eq!(answer, json!({"name": "李四", "n": 2}));
}

#[test]
fn debug_output_never_shows_signature_inputs_or_secrets() {
    let (server, client) = sandbox();
    let prepared = client
        .prepare(
            Method::POST,
            "v3/echo/{id}",
            json!({"id": "o-user-42", "json": {"id_card": "110101199003071234"}}),
        )
        .unwrap();
    let shown = format!("{prepared:?} {client:?} {:?}", server.merchant_key());
    for secret in [
        "o-user-42",
        "110101199003071234",
        "PRIVATE KEY",
        &prepared.headers()["authorization"].to_str().unwrap()[40..],
    ] {
        assert!(!shown.contains(secret), "{secret} in {shown}");
    }
}

#[test]
fn download_progress_is_reported_chunk_by_chunk() {
    use std::sync::{Arc, Mutex};
    let (server, client) = sandbox();
    server.route(Method::GET, "v3/bill", |_| {
        Answer::bytes(200, "application/x-gzip", vec![7u8; 200_000])
    });
    for chunked in [false, true] {
        if chunked {
            server.inject(Fault::Chunked, 1);
        }
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&seen);
        let res = client["v3/bill"]
            .get(Options::new().on_progress(move |got, total| log.lock().unwrap().push((got, total))))
            .unwrap();
        let seen = seen.lock().unwrap();
        assert!(!seen.is_empty());
        assert!(seen.windows(2).all(|w| w[0].0 < w[1].0), "grows: {seen:?}");
        let (last, total) = *seen.last().unwrap();
        assert_eq!(last, res.bytes().len() as u64);
        assert_eq!(
            total,
            if chunked { None } else { Some(200_000) },
            "total announced unless chunked"
        );
    }
}

#[test]
fn the_sandbox_survives_an_extreme_timestamp() {
    let (_server, client) = sandbox();
    let p = client.prepare(Method::GET, "v3/echo", ()).unwrap();
    let forged = r#"WECHATPAY2-SHA256-RSA2048 mchid="1900000109",serial_no="3775B6A45ACD588826D15E583A95F5DD00000001",timestamp="-9223372036854775808",nonce_str="n",signature="s""#;
    let mut headers = p.headers().clone();
    headers.insert("authorization", forged.parse().unwrap());
    let http = reqwest::blocking::Client::new();
    let req = http.get(p.url().clone()).headers(headers);
    assert_eq!(req.send().unwrap().status().as_u16(), 401);
    // Still serving.
    client["v3/echo"].get(()).unwrap();
}

#[test]
fn a_prepared_request_is_sent_as_it_was_signed() {
    let (server, client) = sandbox();
    let prepared = client
        .prepare(Method::POST, "v3/echo/{id}", json!({"id": "7", "json": {"a": 1}}))
        .unwrap();
    let (url, headers) = (prepared.url().clone(), prepared.headers().clone());
    let before = server.requests();
    let res = client.send(prepared).unwrap();
    assert_eq!(server.requests(), before + 1, "one request, signed once");
    assert_eq!(body_of(&res)["body"], json!({"a": 1}));
    // The same signature again is a replay, refused by the gateway.
    let replay = reqwest::blocking::Client::new()
        .post(url)
        .headers(headers)
        .body(r#"{"a":1}"#);
    assert_eq!(replay.send().unwrap().status().as_u16(), 401);
}
