//! A callback receiver: a small HTTP server that verifies and decrypts WeChat Pay's callbacks with
//! `wechatpay::notify` and answers the documented way (204 on success, 4xx/5xx `{"code":"FAIL",…}` otherwise).
//!
//! Run against the embedded sandbox: it starts one, listens on 127.0.0.1 (any free port), registers its URL
//! through `v3/marketing/busifavor/callbacks`, sends and uses a coupon, prints the two decrypted events
//! (`COUPON.SEND`, `COUPON.USE`) and exits.
//!
//! ```text
//! cargo run --example notify_receiver --features mock
//! ```
//!
//! Against WeChat Pay itself, build the `Notifier` from the keyring your client verifies answers with
//! (`client.keyring()`) and your APIv3 key, and serve the same handler behind your public HTTPS URL.

use std::convert::Infallible;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use tokio::sync::mpsc;
use wechatpay::mock::MockServer;
use wechatpay::notify::{Event, Notifier, Reply};
use wechatpay::Keyring;

/// Callbacks are small; refuse anything larger than this.
const MAX_BODY: usize = 1 << 20;

/// Verifies, decrypts and acknowledges one callback; hands the event on.
async fn handle(
    req: http::Request<Incoming>,
    notifier: Notifier,
    events: mpsc::Sender<Event>,
) -> Result<http::Response<Full<Bytes>>, Infallible> {
    let reply = if req.method() != http::Method::POST {
        Reply::fail(405, "只接受 POST")
    } else {
        let (parts, body) = req.into_parts();
        match Limited::new(body, MAX_BODY).collect().await {
            Err(_) => Reply::fail(413, "通知过大或读取失败"),
            Ok(body) => match notifier.open::<Value>(&parts.headers, &body.to_bytes()) {
                Ok(event) => {
                    // Do the business here (idempotently: the same notification may come again), then ack.
                    let _ = events.send(event).await;
                    Reply::success()
                }
                Err(e) => {
                    eprintln!("refused a callback: {e}");
                    Reply::from_error(&e)
                }
            },
        }
    };
    Ok(reply.into_response().map(|body| Full::new(Bytes::from(body))))
}

/// Serves callbacks on `listener` until the process exits.
async fn serve(listener: tokio::net::TcpListener, notifier: Notifier, events: mpsc::Sender<Event>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let (notifier, events) = (notifier.clone(), events.clone());
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| handle(req, notifier.clone(), events.clone()));
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let sandbox = MockServer::start()?;
    let client = sandbox.client()?;

    // The keys that verify answers verify callbacks too; the APIv3 key decrypts them.
    let keyring = Keyring::new([(sandbox.public_key_id().to_owned(), sandbox.platform_key().public_key())]);
    let notifier = Notifier::new(keyring, sandbox.apiv3_key())?;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let notify_url = format!("http://{}/wechatpay/notify", listener.local_addr()?);
    let (tx, mut events) = mpsc::channel(8);
    tokio::spawn(serve(listener, notifier, tx));
    println!("receiving callbacks at {notify_url}");

    let set = client["v3/marketing/busifavor/callbacks"]
        .post_async(json!({"json": {"mchid": sandbox.mchid(), "notify_url": notify_url}}))
        .await?;
    println!("notify URL set: {}", set.json::<Value>()?);

    let code = format!("notify{}", wechatpay::formatter::timestamp());
    client["v3/marketing/busifavor/coupons/send"]
        .post_async(
            json!({"json": {"stock_id": "100088", "openid": "xsd3434454567676", "appid": "wx1234567889999",
            "out_request_no": format!("send-{code}"), "coupon_code": code}}),
        )
        .await?;
    client["v3/marketing/busifavor/coupons/use"]
        .post_async(
            json!({"json": {"stock_id": "100088", "coupon_code": code, "appid": "wx1234567889999",
            "openid": "xsd3434454567676", "use_time": "2015-05-20T13:29:35+08:00",
            "use_request_no": format!("use-{code}")}}),
        )
        .await?;

    for _ in 0..2 {
        let event = tokio::time::timeout(Duration::from_secs(30), events.recv())
            .await?
            .ok_or("the receiver stopped")?;
        println!(
            "{} {} ({}), created {}:\n{:#}",
            event.event_type, event.id, event.summary, event.create_time, event.resource
        );
    }
    Ok(())
}
