//! Callbacks end to end: the sandbox sends `COUPON.SEND` / `COUPON.USE` to a receiver that verifies and
//! decrypts them with `wechatpay::notify`; tampered, replayed, wrong-key and wrong-APIv3-key callbacks are
//! refused with the right error; a non-2xx answer makes the sandbox try again.
#![cfg(feature = "mock")]

mod common;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use bytes::Bytes;
use http::HeaderMap;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use serde::Deserialize;
use serde_json::{json, Value};
use wechatpay::mock::MockServer;
use wechatpay::notify::{Event, Notifier, Reply};
use wechatpay::{verify, Keyring, PrivateKey, Verification};

/// A callback as the receiver got it, and the status it answered.
struct Got {
    headers: HeaderMap,
    body: Vec<u8>,
    status: u16,
}

/// A small HTTP server on 127.0.0.1:0 that hands every request to `answer` and reports it on a channel.
struct Receiver {
    addr: SocketAddr,
    got: mpsc::Receiver<Got>,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl Receiver {
    fn start(answer: impl Fn(usize, &HeaderMap, &[u8]) -> Reply + Send + Sync + 'static) -> Receiver {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, got) = mpsc::channel();
        let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
        let answer = Arc::new(answer);
        let seen = Arc::new(AtomicUsize::new(0));
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                loop {
                    let stream = tokio::select! {
                        _ = &mut stopped => return,
                        accepted = listener.accept() => match accepted { Ok((s, _)) => s, Err(_) => continue },
                    };
                    let (tx, answer, seen) = (tx.clone(), Arc::clone(&answer), Arc::clone(&seen));
                    tokio::spawn(async move {
                        let service = hyper::service::service_fn(move |req: http::Request<hyper::body::Incoming>| {
                            let (tx, answer, seen) = (tx.clone(), Arc::clone(&answer), Arc::clone(&seen));
                            async move {
                                let (parts, body) = req.into_parts();
                                let body = body.collect().await.map(|c| c.to_bytes()).unwrap_or_default();
                                let reply = answer(seen.fetch_add(1, Ordering::SeqCst), &parts.headers, &body);
                                let _ = tx.send(Got {
                                    headers: parts.headers,
                                    body: body.to_vec(),
                                    status: reply.status(),
                                });
                                let res = reply.into_response().map(|b| Full::new(Bytes::from(b)));
                                Ok::<_, Infallible>(res)
                            }
                        });
                        let _ = hyper::server::conn::http1::Builder::new()
                            .serve_connection(TokioIo::new(stream), service)
                            .await;
                    });
                }
            });
        });
        Receiver { addr, got, _stop: stop }
    }

    fn url(&self) -> String {
        format!("http://{}/wechatpay/notify", self.addr)
    }

    /// The next callback, waited for with a deadline no slow machine reaches (it comes in milliseconds).
    fn next(&self) -> Got {
        self.got
            .recv_timeout(Duration::from_secs(60))
            .expect("a callback within 60 s")
    }

    /// Asserts that no further callback arrives within a short wait. It cannot fail because the machine is
    /// slow (a late callback is still one that should not exist); it can only miss a very late one.
    #[track_caller]
    fn assert_no_more(&self, why: &str) {
        assert!(self.got.recv_timeout(Duration::from_millis(300)).is_err(), "{why}");
    }
}

/// `COUPON.SEND`'s decrypted resource.
#[derive(Debug, Deserialize)]
struct CouponSend {
    event_type: String,
    coupon_code: String,
    stock_id: String,
    send_time: String,
    openid: String,
    send_channel: String,
    send_merchant: String,
}

/// `COUPON.USE`'s decrypted resource (the fields this test reads).
#[derive(Debug, Deserialize)]
struct CouponUse {
    stock_creator_mchid: String,
    stock_id: String,
    coupon_id: String,
    status: String,
    coupon_type: String,
    no_cash: bool,
    singleitem: bool,
    normal_coupon_information: NormalCoupon,
    consume_information: Consume,
}

#[derive(Debug, Deserialize)]
struct NormalCoupon {
    coupon_amount: u64,
    transaction_minimum: u64,
}

#[derive(Debug, Deserialize)]
struct Consume {
    consume_time: String,
    consume_mchid: String,
    transaction_id: String,
}

const APPID: &str = "wx1234567889999";
const OPENID: &str = "xsd3434454567676";

fn keyring(server: &MockServer) -> Keyring {
    Keyring::new([(server.public_key_id().to_owned(), server.platform_key().public_key())])
}

fn notifier(server: &MockServer) -> Notifier {
    Notifier::new(keyring(server), server.apiv3_key()).unwrap()
}

/// A receiver that verifies and decrypts every callback and answers the documented way.
fn verifying_receiver(notifier: Notifier) -> Receiver {
    Receiver::start(move |_, headers, body| match notifier.open::<Value>(headers, body) {
        Ok(_) => Reply::success(),
        Err(e) => Reply::from_error(&e),
    })
}

fn register(server: &MockServer, url: &str) {
    let client = server.client().unwrap();
    let set = client["v3/marketing/busifavor/callbacks"]
        .post(json!({"json": {"mchid": server.mchid(), "notify_url": url}}))
        .unwrap()
        .json::<Value>()
        .unwrap();
    assert_eq!(set["notify_url"], url);
    assert_eq!(set["mchid"], server.mchid());
    assert!(set["update_time"].as_str().unwrap().ends_with("+08:00"), "{set}");
}

fn send(server: &MockServer, code: &str) {
    server.client().unwrap()["v3/marketing/busifavor/coupons/send"]
        .post(
            json!({"json": {"stock_id": "100088", "openid": OPENID, "out_request_no": format!("send-{code}"),
            "appid": APPID, "coupon_code": code}}),
        )
        .unwrap();
}

fn use_coupon(server: &MockServer, code: &str) {
    server.client().unwrap()["v3/marketing/busifavor/coupons/use"]
        .post(
            json!({"json": {"coupon_code": code, "stock_id": "100088", "appid": APPID, "openid": OPENID,
            "use_time": "2015-05-20T13:29:35+08:00", "use_request_no": format!("use-{code}")}}),
        )
        .unwrap();
}

#[test]
fn the_notify_url_is_set_and_read_back_as_documented() {
    let server = MockServer::start().unwrap();
    let client = server.client().unwrap();
    let err = client["v3/marketing/busifavor/callbacks"]
        .get(json!({"query": {"mchid": server.mchid()}}))
        .unwrap_err();
    assert_eq!((err.status(), err.code()), (Some(404), Some("RESOURCE_NOT_EXISTS")));
    register(&server, "https://example.com/notify");
    let got = client["v3/marketing/busifavor/callbacks"]
        .get(json!({"query": {"mchid": server.mchid()}}))
        .unwrap()
        .json::<Value>()
        .unwrap();
    assert_eq!(
        got,
        json!({"notify_url": "https://example.com/notify", "mchid": server.mchid()})
    );
    for (body, field) in [
        (json!({"mchid": server.mchid()}), "notify_url"),
        (json!({"notify_url": "ftp://example.com/x"}), "notify_url"),
        (json!({"notify_url": "not a url"}), "notify_url"),
        (
            json!({"mchid": "1999999999", "notify_url": "https://example.com/n"}),
            "mchid",
        ),
    ] {
        let err = client["v3/marketing/busifavor/callbacks"]
            .post(json!({ "json": body }))
            .unwrap_err();
        assert_eq!((err.status(), err.code()), (Some(400), Some("PARAM_ERROR")), "{body}");
        assert_eq!(err.detail().unwrap()["field"], field, "{body}");
    }
    let err = client["v3/marketing/busifavor/callbacks"].get(json!({})).unwrap_err();
    assert_eq!(err.detail().unwrap()["field"], "mchid");
}

#[test]
fn coupon_send_and_use_arrive_verified_and_decrypted() {
    let server = MockServer::start().unwrap();
    // One attempt per notification: on a slow machine an attempt may outlast the sandbox's own attempt
    // timeout and be retried, and a retry here would look like an extra notification.
    server.callback_retries([]);
    let receiver = verifying_receiver(notifier(&server));
    register(&server, &receiver.url());
    send(&server, "notify-e2e-1");

    let sent = receiver.next();
    assert_eq!(sent.status, 204);
    for header in [
        "wechatpay-timestamp",
        "wechatpay-nonce",
        "wechatpay-signature",
        "wechatpay-serial",
        "request-id",
    ] {
        assert!(sent.headers.contains_key(header), "{header}");
    }
    assert_eq!(sent.headers["wechatpay-signature-type"], "WECHATPAY2-SHA256-RSA2048");
    assert_eq!(sent.headers["wechatpay-serial"], server.public_key_id());
    assert_eq!(sent.headers["content-type"], "application/json");
    let event: Event<CouponSend> = notifier(&server).open(&sent.headers, &sent.body).unwrap();
    assert_eq!(event.event_type, "COUPON.SEND");
    assert_eq!(event.resource_type, "encrypt-resource");
    assert_eq!(event.original_type, "coupon");
    assert!(!event.id.is_empty() && !event.summary.is_empty());
    let coupon = &event.resource;
    assert_eq!(coupon.event_type, "EVENT_TYPE_BUSICOUPON_SEND");
    assert_eq!(
        (
            coupon.coupon_code.as_str(),
            coupon.stock_id.as_str(),
            coupon.openid.as_str()
        ),
        ("notify-e2e-1", "100088", OPENID)
    );
    assert_eq!(coupon.send_channel, "BUSICOUPON_SEND_CHANNEL_API");
    assert_eq!(coupon.send_merchant, server.mchid());
    assert!(coupon.send_time.ends_with("+08:00"));
    let envelope: Value = serde_json::from_slice(&sent.body).unwrap();
    assert_eq!(envelope["resource"]["algorithm"], "AEAD_AES_256_GCM");
    assert_eq!(envelope["resource"]["nonce"].as_str().unwrap().len(), 12);

    use_coupon(&server, "notify-e2e-1");
    let used = receiver.next();
    assert_eq!(used.status, 204);
    let event: Event<CouponUse> = notifier(&server).open(&used.headers, &used.body).unwrap();
    assert_eq!(event.event_type, "COUPON.USE");
    let coupon = &event.resource;
    assert_eq!(
        (coupon.coupon_id.as_str(), coupon.stock_id.as_str()),
        ("notify-e2e-1", "100088")
    );
    assert_eq!(
        (coupon.status.as_str(), coupon.coupon_type.as_str()),
        ("USED", "NORMAL")
    );
    assert_eq!(coupon.stock_creator_mchid, server.mchid());
    assert!(!coupon.no_cash && !coupon.singleitem);
    assert_eq!(
        (
            coupon.normal_coupon_information.coupon_amount,
            coupon.normal_coupon_information.transaction_minimum
        ),
        (500, 1000)
    );
    assert_eq!(coupon.consume_information.consume_mchid, server.mchid());
    assert_eq!(coupon.consume_information.transaction_id.len(), 28);
    assert!(coupon.consume_information.consume_time.ends_with("+08:00"));

    // A replayed send (same request number) changes nothing, so it notifies nothing.
    send(&server, "notify-e2e-1");
    receiver.assert_no_more("a replayed send notifies nothing");
}

#[test]
fn certificate_mode_callbacks_name_the_certificate_serial() {
    let server = MockServer::builder().certificate_mode(true).start().unwrap();
    let ring = server.client().unwrap().keyring().clone();
    let notifier = Notifier::new(ring, server.apiv3_key()).unwrap();
    let receiver = verifying_receiver(notifier.clone());
    register(&server, &receiver.url());
    send(&server, "notify-cert-1");
    let got = receiver.next();
    assert_eq!(got.status, 204);
    assert_eq!(got.headers["wechatpay-serial"], server.platform_certificate_serial());
    notifier.open::<Value>(&got.headers, &got.body).unwrap();
}

/// One genuine callback, as the receiver got it.
fn genuine(server: &MockServer, code: &str) -> Got {
    let receiver = verifying_receiver(notifier(server));
    register(server, &receiver.url());
    send(server, code);
    let got = receiver.next();
    assert_eq!(got.status, 204);
    got
}

fn resign(key: &PrivateKey, headers: &HeaderMap, body: &[u8], timestamp: i64) -> HeaderMap {
    let mut headers = headers.clone();
    let ts = timestamp.to_string();
    let nonce = headers[verify::NONCE].to_str().unwrap().to_owned();
    headers.insert(verify::TIMESTAMP, ts.parse().unwrap());
    headers.insert(
        verify::SIGNATURE,
        key.sign(&verify::answer_message(&ts, &nonce, body)).parse().unwrap(),
    );
    headers
}

fn step(result: wechatpay::Result<Event>) -> Verification {
    let e = result.unwrap_err();
    assert!(e.is_verification() && !e.is_decode(), "{e:?}");
    e.verification().unwrap()
}

#[test]
fn tampered_replayed_and_wrong_key_callbacks_are_refused() {
    let server = MockServer::start().unwrap();
    let Got { headers, body, .. } = genuine(&server, "notify-refused-1");
    let notifier = notifier(&server);
    notifier.open::<Value>(&headers, &body).unwrap();

    // Tampered: one byte of the body changed, or the body re-serialized.
    let mut tampered = body.clone();
    let at = tampered.iter().position(|&b| b == b'E').unwrap();
    tampered[at] = b'F';
    assert_eq!(step(notifier.open(&headers, &tampered)), Verification::BadSignature);
    let reserialized = serde_json::to_vec_pretty(&serde_json::from_slice::<Value>(&body).unwrap()).unwrap();
    assert_eq!(step(notifier.open(&headers, &reserialized)), Verification::BadSignature);

    // The window's exact edges, at a fixed `now` (sans-IO): opened 300 s either side of its timestamp it
    // passes, 301 s either side it is stale.
    let ts: i64 = headers[verify::TIMESTAMP].to_str().unwrap().parse().unwrap();
    for now in [ts + 301, ts - 301] {
        assert_eq!(
            step(notifier.open_at(&headers, &body, now)),
            Verification::StaleTimestamp
        );
    }
    for now in [ts + 300, ts - 300] {
        notifier.open_at::<Value>(&headers, &body, now).unwrap();
    }
    // Against this machine's clock, only skews no delay can carry across the edge: an hour old, an hour
    // ahead.
    for skew in [-3600, 3600] {
        let stale = resign(
            server.platform_key(),
            &headers,
            &body,
            wechatpay::formatter::timestamp() + skew,
        );
        assert_eq!(step(notifier.open(&stale, &body)), Verification::StaleTimestamp);
    }

    // Signed with another key under the same serial; or naming a key this keyring does not hold.
    let impostor = PrivateKey::generate();
    let forged = resign(&impostor, &headers, &body, wechatpay::formatter::timestamp());
    assert_eq!(step(notifier.open(&forged, &body)), Verification::BadSignature);
    let other_ring = Keyring::new([(
        "PUB_KEY_ID_0000000000000000000000000001".to_owned(),
        impostor.public_key(),
    )]);
    let stranger = Notifier::new(other_ring, server.apiv3_key()).unwrap();
    let e = stranger.open::<Value>(&headers, &body).unwrap_err();
    assert_eq!(e.verification(), Some(Verification::UnknownSerial));
    assert!(e.to_string().contains("PUB_KEY_ID_0000000000000000000000000001"), "{e}");

    // A missing header.
    let mut missing = headers.clone();
    missing.remove(verify::SIGNATURE);
    assert_eq!(step(notifier.open(&missing, &body)), Verification::MissingHeader);

    // The one-shot function agrees.
    wechatpay::notify::open::<Value>(&keyring(&server), server.apiv3_key(), &headers, &body).unwrap();
}

#[test]
fn a_wrong_apiv3_key_is_a_decode_error_not_a_verification_error() {
    let server = MockServer::start().unwrap();
    let Got { headers, body, .. } = genuine(&server, "notify-apiv3-1");
    let wrong = Notifier::new(keyring(&server), "ffffffffffffffffffffffffffffffff").unwrap();
    let e = wrong.open::<Value>(&headers, &body).unwrap_err();
    assert!(e.is_decode() && !e.is_verification(), "{e:?}");
    assert!(!format!("{e} {e:?}").contains(server.apiv3_key()));
    assert_eq!(Reply::from_error(&e).status(), 400);

    // A receiver with the wrong APIv3 key answers 4xx, so the sandbox tries again.
    server.callback_retries([Duration::from_millis(20); 2]);
    let receiver = verifying_receiver(wrong);
    register(&server, &receiver.url());
    send(&server, "notify-apiv3-2");
    let first = receiver.next();
    assert_eq!(first.status, 400);
    assert_eq!(
        serde_json::from_slice::<Value>(&first.body).unwrap()["resource"],
        serde_json::from_slice::<Value>(&receiver.next().body).unwrap()["resource"]
    );
    receiver.next();
    receiver.assert_no_more("3 attempts, then it gives up");
}

#[test]
fn a_non_2xx_answer_gets_the_callback_again() {
    let server = MockServer::start().unwrap();
    server.callback_retries([Duration::from_millis(30); 3]);
    let notifier = notifier(&server);
    let receiver = Receiver::start(move |n, headers, body| {
        if n == 0 {
            return Reply::fail(500, "busy");
        }
        match notifier.open::<Value>(headers, body) {
            Ok(_) => Reply::success(),
            Err(e) => Reply::from_error(&e),
        }
    });
    register(&server, &receiver.url());
    let before = server.callback_attempts();
    send(&server, "notify-retry-1");
    let first = receiver.next();
    let second = receiver.next();
    assert_eq!((first.status, second.status), (500, 204));
    let id = |g: &Got| serde_json::from_slice::<Value>(&g.body).unwrap()["id"].clone();
    assert_eq!(id(&first), id(&second), "a retry is the same notification");
    assert_ne!(
        first.headers[verify::NONCE],
        second.headers[verify::NONCE],
        "signed afresh"
    );
    receiver.assert_no_more("no more after a 2xx");
    assert_eq!(server.callback_attempts() - before, 2);
}

#[test]
fn an_unreachable_receiver_is_retried_then_given_up() {
    let server = MockServer::start().unwrap();
    server.callback_retries([Duration::from_millis(10); 2]);
    // A port nobody listens on, held so that no other test's receiver can start there meanwhile.
    let closed = common::closed_port();
    register(&server, &format!("http://127.0.0.1:{}/notify", closed.port));
    let before = server.callback_attempts();
    send(&server, "notify-unreachable-1");
    // Waited for with a deadline no slow machine reaches.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while server.callback_attempts() - before < 3 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    // Then nothing more: this short wait cannot fail on a slow machine, only miss a very late fourth.
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(server.callback_attempts() - before, 3);
}

#[test]
fn the_notify_url_survives_a_restart_with_a_state_dir() {
    let dir = std::env::temp_dir().join(format!("wechatpay-notify-state-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    {
        let server = MockServer::builder().state_dir(&dir).start().unwrap();
        register(&server, "https://example.com/kept");
    }
    let server = MockServer::builder().state_dir(&dir).start().unwrap();
    let got = server.client().unwrap()["v3/marketing/busifavor/callbacks"]
        .get(json!({"query": {"mchid": server.mchid()}}))
        .unwrap()
        .json::<Value>()
        .unwrap();
    assert_eq!(got["notify_url"], "https://example.com/kept");
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_client_opens_callbacks_with_its_live_keyring_and_apiv3_key() {
    let server = MockServer::start().unwrap();
    let got = genuine(&server, "CLIENT0001");
    let client = server.client_builder().apiv3_key(server.apiv3_key()).build().unwrap();
    let event: Event = client.open_notification(&got.headers, &got.body).unwrap();
    assert_eq!(event.event_type, "COUPON.SEND");
    assert_eq!(event.resource["coupon_code"], "CLIENT0001");
    let shown = format!("{event:?}");
    assert!(
        shown.contains("COUPON.SEND") && !shown.contains("CLIENT0001"),
        "no personal data: {shown}"
    );

    let without_key = server.client().unwrap();
    let e = without_key
        .open_notification::<Value>(&got.headers, &got.body)
        .unwrap_err();
    assert!(e.is_config() && e.to_string().contains("apiv3_key"), "{e}");
}
