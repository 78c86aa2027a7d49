//! The send pipeline against the sandbox: retries that re-sign and never double-charge, the deadline,
//! `Retry-After`, the outcome of each failure, cancellation on drop, observers, and a load with faults.
#![cfg(feature = "mock")]

mod common;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use wechatpay::mock::{Answer, Fault, MockServer};
use wechatpay::observe::{Observed, Observer};
use wechatpay::{Client, Method, Options, Outcome, RetryPolicy, Verification};

const STOCK: &str = "v3/marketing/busifavor/stocks/{stock_id}";

fn stock(client: &Client, options: Options) -> wechatpay::Result<wechatpay::Response> {
    client[STOCK].get(options.param("stock_id", "100088"))
}

/// Fast waits, so retries do not slow the suite; the rules are the default policy's.
fn quick() -> RetryPolicy {
    RetryPolicy::default().base_delay(Duration::from_millis(5))
}

fn sandbox() -> (MockServer, Client) {
    let server = MockServer::start().unwrap();
    let client = server.client_builder().retry(quick()).build().unwrap();
    (server, client)
}

/// An echo route that counts the POSTs it handled per `out_trade_no`.
fn orders(server: &MockServer) -> Arc<Mutex<HashMap<String, u32>>> {
    let seen = Arc::new(Mutex::new(HashMap::<String, u32>::new()));
    let counter = Arc::clone(&seen);
    server.route(Method::POST, "v3/test/orders", move |req| {
        let body: Value = serde_json::from_slice(&req.body).unwrap_or_default();
        let no = body["out_trade_no"].as_str().unwrap_or_default().to_owned();
        *counter.lock().unwrap().entry(no).or_default() += 1;
        Answer::json(200, &json!({"ok": true}))
    });
    seen
}

#[test]
fn a_get_is_retried_on_transient_failures_and_each_attempt_is_signed_anew() {
    let (server, client) = sandbox();
    // The sandbox refuses a reused nonce, so a retry that re-sent the first signature would get 401.
    for fault in [
        Fault::Status(500),
        Fault::Status(502),
        Fault::Status(503),
        Fault::Status(504),
        Fault::Status(429),
        Fault::Drop,
    ] {
        server.inject(fault.clone(), 2);
        let res = stock(&client, Options::new()).unwrap_or_else(|e| panic!("{fault:?}: {e}"));
        assert_eq!(res.status(), 200, "{fault:?}");
    }
    // Three attempts at most: a third failure is the answer.
    server.inject(Fault::Status(500), 3);
    let e = stock(&client, Options::new()).unwrap_err();
    assert_eq!((e.status(), e.attempts()), (Some(500), 3), "{e}");
    assert!(e.to_string().contains("after 3 attempts"), "{e}");
    // Not retried: a 4xx that is not 429, or an answer that fails verification.
    for fault in [Fault::Status(400), Fault::Status(404), Fault::BadSignature] {
        server.inject(fault.clone(), 1);
        let e = stock(&client, Options::new()).unwrap_err();
        assert_eq!(e.attempts(), 1, "{fault:?}: {e}");
    }
}

#[test]
fn a_post_is_never_sent_twice_unless_it_says_it_is_idempotent() {
    let (server, client) = sandbox();
    let seen = orders(&server);
    server.record(true);
    for (n, fault) in [Fault::Status(500), Fault::Status(503), Fault::Drop, Fault::Status(429)]
        .into_iter()
        .enumerate()
    {
        server.inject(fault.clone(), 1);
        let no = format!("plain-{n}");
        let e = client["v3/test/orders"]
            .post(json!({"json": {"out_trade_no": no}}))
            .unwrap_err();
        assert_eq!(e.attempts(), 1, "{fault:?}: {e}");
        let sent = server
            .received()
            .iter()
            .filter(|r| String::from_utf8_lossy(&r.body).contains(&no))
            .count();
        assert_eq!(sent, 1, "{fault:?}: a plain POST reached the sandbox once");
    }
    // Marked idempotent, the same faults are retried, and the order is handled once.
    for (n, fault) in [Fault::Status(500), Fault::Drop].into_iter().enumerate() {
        server.inject(fault.clone(), 1);
        let no = format!("idempotent-{n}");
        client["v3/test/orders"]
            .post(json!({"json": {"out_trade_no": no}, "idempotent": true}))
            .unwrap_or_else(|e| panic!("{fault:?}: {e}"));
        assert_eq!(
            seen.lock().unwrap()[&no],
            1 + u32::from(matches!(fault, Fault::Status(_)))
        );
    }
    // A failure to connect sent nothing, so even a plain POST may try again: shown with a dead port.
    // Held closed for the whole test: no other test can start listening there.
    let dead = common::closed_port();
    let client = server
        .client_builder()
        .base_uri(&format!("http://127.0.0.1:{}/", dead.port))
        .retry(quick())
        .build()
        .unwrap();
    let e = client["v3/test/orders"].post(json!({"json": {}})).unwrap_err();
    assert!(e.is_transport(), "{e}");
    assert_eq!((e.attempts(), e.outcome()), (3, Outcome::NotApplied), "{e}");
}

#[test]
fn retried_coupon_sends_never_make_a_duplicate() {
    let (server, client) = sandbox();
    // Each send's first answer is lost after the coupon was made (the 500 comes after the handler ran).
    for i in 0..5 {
        server.inject(Fault::Status(500), 1);
        let res = client["v3/marketing/busifavor/coupons/send"]
            .post(json!({
                                "json": {"stock_id": "100088", "appid": "wx1234567889999", "openid": "o-retry",
                         "out_request_no": format!("retry-{i}")},
                "idempotent": true,
            }))
            .unwrap();
        assert_eq!(res.status(), 200);
    }
    let res = client["v3/marketing/busifavor/users/{openid}/coupons"]
        .get(json!({"openid": "o-retry", "query": {"appid": "wx1234567889999", "stock_id": "100088"}}))
        .unwrap();
    let list: Value = res.json().unwrap();
    assert_eq!(list["total_count"], 5, "{list}");
}

#[test]
fn retry_after_is_honoured_and_the_deadline_bounds_every_attempt() {
    let (server, client) = sandbox();
    server.inject(Fault::RetryAfter(Duration::from_secs(1)), 1);
    let started = Instant::now();
    stock(&client, Options::new()).unwrap();
    assert!(started.elapsed() >= Duration::from_secs(1), "waited as told");

    // A Retry-After past the call's deadline ends the call at once with that answer.
    server.inject(Fault::RetryAfter(Duration::from_secs(600)), 1);
    let e = stock(&client, Options::new().timeout(Duration::from_secs(30))).unwrap_err();
    assert_eq!((e.status(), e.attempts()), (Some(503), 1), "{e}");

    // The timeout bounds the whole call: attempts that each stall end with a timeout, never later.
    server.inject(Fault::Delay(Duration::from_secs(30)), 10);
    let (tx, rx) = std::sync::mpsc::channel();
    let worker = client.clone();
    std::thread::spawn(move || {
        let _ = tx.send(stock(
            &worker,
            Options::new()
                .timeout(Duration::from_secs(1))
                .retry(quick().attempt_timeout(Duration::from_millis(300))),
        ));
    });
    let e = rx
        .recv_timeout(Duration::from_secs(25))
        .expect("ends by its deadline")
        .unwrap_err();
    assert!(e.is_timeout(), "{e}");
    assert!(e.attempts() >= 1, "{e}");
    server.clear_faults();

    // A per-call policy wins over the client's.
    server.inject(Fault::Status(500), 1);
    let e = stock(&client, Options::from(json!({"retry": {"max_attempts": 1}}))).unwrap_err();
    assert_eq!(e.attempts(), 1, "{e}");
}

#[test]
fn one_shot_uploads_are_never_retried() {
    use wechatpay::media::{self, Upload};
    let (server, client) = sandbox();
    let png = vec![0x89u8; 256];
    server.inject(Fault::Status(500), 1);
    let once = Upload::from_seekable("x.png", std::io::Cursor::new(png.clone())).unwrap();
    let e = media::upload_with(&client, media::MEDIA_UPLOAD, Options::new().idempotent(true), once)
        .wait()
        .unwrap_err();
    assert_eq!((e.status(), e.attempts()), (Some(500), 1), "{e}");
    server.inject(Fault::Status(500), 1);
    let again = Upload::from_bytes("x.png", png).unwrap();
    media::upload_with(&client, media::MEDIA_UPLOAD, Options::new().idempotent(true), again)
        .wait()
        .unwrap();
}

#[test]
fn every_error_says_whether_wechat_pay_may_have_acted() {
    let (server, client) = sandbox();
    let none = || Options::new().retry(RetryPolicy::none());
    let outcome = |fault: Fault| {
        server.inject(fault, 1);
        stock(&client, none()).unwrap_err().outcome()
    };
    assert_eq!(outcome(Fault::Status(400)), Outcome::NotApplied);
    assert_eq!(outcome(Fault::Status(429)), Outcome::NotApplied);
    assert_eq!(outcome(Fault::Status(500)), Outcome::Unknown);
    assert_eq!(outcome(Fault::Status(503)), Outcome::Unknown);
    assert_eq!(outcome(Fault::Drop), Outcome::Unknown);
    assert_eq!(outcome(Fault::TamperBody), Outcome::Unknown);
    assert_eq!(outcome(Fault::UnknownSerial), Outcome::Unknown);
    server.inject(Fault::Delay(Duration::from_secs(30)), 1);
    let e = stock(&client, none().timeout(Duration::from_millis(300))).unwrap_err();
    assert_eq!((e.is_timeout(), e.outcome()), (true, Outcome::Unknown), "{e}");

    let e = client["v3/x/{id}"].get(()).unwrap_err();
    assert_eq!((e.is_path(), e.outcome()), (true, Outcome::NotApplied));
    let e = client["v3/x"].get(json!({"jsno": {}})).unwrap_err();
    assert_eq!(e.outcome(), Outcome::NotApplied, "{e}");
    let e = stock(&client, none()).unwrap().json::<Vec<u32>>().unwrap_err();
    assert_eq!((e.is_decode(), e.outcome()), (true, Outcome::Applied));
    // Held closed for the whole test: no other test can start listening there.
    let dead = common::closed_port();
    let unreachable = server
        .client_builder()
        .base_uri(&format!("http://127.0.0.1:{}/", dead.port))
        .build()
        .unwrap();
    let e = stock(&unreachable, none()).unwrap_err();
    assert_eq!((e.is_transport(), e.outcome()), (true, Outcome::NotApplied), "{e}");
    let _ = Verification::BadSignature;
}

#[test]
fn a_dropped_future_cancels_its_request() {
    let (server, client) = sandbox();
    server.record(true);
    // The sandbox holds the answer back; the caller gives up first and drops the future.
    server.inject(Fault::Delay(Duration::from_secs(2)), 1);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let body = json!({
        "json": {"stock_id": "100088", "appid": "wx1234567889999", "openid": "o-dropped",
                 "out_request_no": "dropped-1"},
    });
    let call = rt.spawn(client["v3/marketing/busifavor/coupons/send"].post_async(body));
    // Drop the future once the request has surely arrived (the sandbox is holding it): no timer decides.
    let deadline = Instant::now() + Duration::from_secs(60);
    while server.requests() == 0 {
        assert!(Instant::now() < deadline, "the request never arrived");
        std::thread::sleep(Duration::from_millis(10));
    }
    call.abort();
    assert!(rt.block_on(call).unwrap_err().is_cancelled(), "the caller gave up");
    // The hold (2 s) then passes: had the call gone on, the coupon would exist by now.
    std::thread::sleep(Duration::from_secs(3));
    let res = client["v3/marketing/busifavor/users/{openid}/coupons"]
        .get(json!({"openid": "o-dropped", "query": {"appid": "wx1234567889999", "stock_id": "100088"}}))
        .unwrap();
    assert_eq!(res.json::<Value>().unwrap()["total_count"], 0);
}

/// What an observer saw of one attempt: method, template, number, status, Request-ID, error kind.
type Seen = (String, String, u32, Option<u16>, Option<String>, Option<&'static str>);

#[derive(Default)]
struct Recorder {
    attempts: Mutex<Vec<Seen>>,
    outcomes: Mutex<Vec<(u32, Option<u16>, bool)>>,
    calls: AtomicU32,
}

impl Observer for Recorder {
    fn on_attempt(&self, a: &Observed<'_>) {
        self.attempts.lock().unwrap().push((
            a.method.to_string(),
            a.template.to_owned(),
            a.attempt,
            a.status,
            a.request_id.map(str::to_owned),
            a.error.map(|e| e.kind_name()),
        ));
    }

    fn on_outcome(&self, c: &Observed<'_>) {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.outcomes
            .lock()
            .unwrap()
            .push((c.attempt, c.status, c.error.is_some()));
    }
}

#[test]
fn observers_are_told_of_every_attempt_and_outcome() {
    let server = MockServer::start().unwrap();
    let recorder = Arc::new(Recorder::default());
    let client = server
        .client_builder()
        .retry(quick())
        .observer(recorder.clone())
        .build()
        .unwrap();
    server.inject(Fault::Status(503), 1);
    stock(&client, Options::new()).unwrap();
    server.inject(Fault::Status(404), 1);
    stock(&client, Options::new()).unwrap_err();

    let attempts = recorder.attempts.lock().unwrap().clone();
    assert_eq!(attempts.len(), 3, "{attempts:?}");
    for (method, template, ..) in &attempts {
        assert_eq!(
            (method.as_str(), template.as_str()),
            ("GET", STOCK),
            "the template, never the path"
        );
    }
    assert_eq!(
        attempts.iter().map(|a| (a.2, a.3, a.5)).collect::<Vec<_>>(),
        [
            (1, Some(503), Some("api")),
            (2, Some(200), None),
            (1, Some(404), Some("api"))
        ]
    );
    assert!(attempts.iter().all(|a| a.4.is_some()), "every answer had a Request-ID");
    assert_eq!(
        *recorder.outcomes.lock().unwrap(),
        [(2, Some(200), false), (1, Some(404), true)]
    );
    assert_eq!(recorder.calls.load(Ordering::SeqCst), 2);
}

#[test]
fn a_load_with_faults_ends_every_call_typed_and_never_double_sends() {
    let server = MockServer::start().unwrap();
    let seen = orders(&server);
    server.record(true);
    let client = server
        .client_builder()
        .timeout(Duration::from_secs(30))
        .retry(quick().attempt_timeout(Duration::from_millis(500)))
        .build()
        .unwrap();
    server.inject_random(
        vec![
            Fault::Drop,
            Fault::Delay(Duration::from_secs(2)),
            Fault::Status(500),
            Fault::RetryAfter(Duration::from_secs(1)),
            Fault::BadSignature,
            Fault::SkewTimestamp(3600),
            Fault::UnknownSerial,
            Fault::TamperBody,
        ],
        150,
        20261130,
    );

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let results = rt.block_on(async {
        use futures::StreamExt as _;
        futures::stream::iter(0..2000u32)
            .map(|i| {
                let client = client.clone();
                async move {
                    let started = Instant::now();
                    let result = match i % 4 {
                        0 => client[STOCK].get_async(json!({"stock_id": "100088"})).await.map(|_| ()),
                        1 => client["v3/test/orders"]
                            .post_async(json!({"json": {"out_trade_no": format!("plain-{i}")}}))
                            .await
                            .map(|_| ()),
                        2 => client["v3/test/orders"]
                            .post_async(json!({"json": {"out_trade_no": format!("idem-{i}")}, "idempotent": true}))
                            .await
                            .map(|_| ()),
                        _ => client["v3/marketing/busifavor/coupons/send"]
                            .post_async(json!({
                                                                "json": {"stock_id": "100088", "appid": "wx1234567889999",
                                         "openid": format!("o-load-{}", i % 7), "out_request_no": format!("load-{i}")},
                                "idempotent": true,
                            }))
                            .await
                            .map(|_| ()),
                    };
                    (i, started.elapsed(), result)
                }
            })
            .buffer_unordered(64)
            .collect::<Vec<_>>()
            .await
    });
    server.inject_random(Vec::new(), 0, 0);

    assert_eq!(results.len(), 2000);
    let mut failed_gets = 0;
    for (i, elapsed, result) in &results {
        // Every call ended (nothing hung), within its 30 s deadline plus scheduling slack.
        assert!(*elapsed < Duration::from_secs(90), "call {i} took {elapsed:?}");
        if let Err(e) = result {
            // Typed: one of the kinds a fault can cause.
            assert!(
                e.is_api() || e.is_transport() || e.is_timeout() || e.is_verification(),
                "call {i}: {e:?}"
            );
            if i % 4 == 0 {
                failed_gets += 1;
            }
        }
    }
    // GETs recover from transient faults: with a 15% fault rate and 3 attempts, few fail for good
    // (verification failures are not retried, so some do).
    assert!(failed_gets < 100, "{failed_gets} of 500 GETs failed");

    // A plain POST reached the sandbox once at most; every attempt of any POST is in the log.
    let mut sent: HashMap<String, u32> = HashMap::new();
    for r in server.received().iter().filter(|r| r.path == "/v3/test/orders") {
        let body: Value = serde_json::from_slice(&r.body).unwrap();
        *sent
            .entry(body["out_trade_no"].as_str().unwrap().to_owned())
            .or_default() += 1;
    }
    for (no, n) in &sent {
        if no.starts_with("plain-") {
            assert_eq!(*n, 1, "{no} was sent {n} times");
        }
    }
    assert!(seen.lock().unwrap().keys().any(|k| k.starts_with("idem-")));

    // Retried coupon sends made no duplicate: the sandbox made at most one coupon per request number.
    let client = server.client().unwrap();
    let mut coupons = 0;
    for user in 0..7 {
        let res = client["v3/marketing/busifavor/users/{openid}/coupons"]
            .get(json!({"openid": format!("o-load-{user}"),
                        "query": {"appid": "wx1234567889999", "stock_id": "100088", "limit": 10}}))
            .unwrap();
        coupons += res.json::<Value>().unwrap()["total_count"].as_u64().unwrap();
    }
    // At least one coupon per send that succeeded, and at most one per request number that arrived.
    let succeeded = results.iter().filter(|(i, _, r)| i % 4 == 3 && r.is_ok()).count() as u64;
    let arrived: std::collections::HashSet<String> = server
        .received()
        .iter()
        .filter(|r| r.path == "/v3/marketing/busifavor/coupons/send")
        .filter_map(|r| serde_json::from_slice::<Value>(&r.body).ok())
        .map(|b| b["out_request_no"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert!(
        succeeded <= coupons && coupons <= arrived.len() as u64,
        "{succeeded} sends succeeded, {coupons} coupons, {} request numbers arrived",
        arrived.len()
    );
}
