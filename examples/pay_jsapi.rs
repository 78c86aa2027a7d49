//! The flow every merchant integrates first, end to end against the embedded sandbox: a JSAPI order, the
//! pay-sign the page needs, the user paying (played by the sandbox), the `TRANSACTION.SUCCESS` callback
//! received and opened, the order queried, a partial refund and its `REFUND.SUCCESS` callback, and the day's
//! bill downloaded with its digest checked.
//!
//! ```text
//! cargo run --example pay_jsapi --features mock
//! ```
//!
//! Against WeChat Pay, the same calls run with a real client; the callbacks come to your public HTTPS URL,
//! and the user pays on their phone.

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
use wechatpay::{media, paysign};

/// Answers WeChat Pay's callbacks: verified and decrypted, then handed to `events`.
async fn receive(listener: tokio::net::TcpListener, notifier: Notifier, events: mpsc::Sender<Event>) {
    while let Ok((stream, _)) = listener.accept().await {
        let (notifier, events) = (notifier.clone(), events.clone());
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req: http::Request<Incoming>| {
                let (notifier, events) = (notifier.clone(), events.clone());
                async move {
                    let (parts, body) = req.into_parts();
                    let reply = match Limited::new(body, 1 << 20).collect().await {
                        Err(_) => Reply::fail(413, "通知过大或读取失败"),
                        Ok(body) => match notifier.open::<Value>(&parts.headers, &body.to_bytes()) {
                            Ok(event) => {
                                // Record it idempotently (the same callback may come again), then ack.
                                let _ = events.send(event).await;
                                Reply::success()
                            }
                            Err(e) => Reply::from_error(&e),
                        },
                    };
                    Ok::<_, Infallible>(reply.into_response().map(|b| Full::new(Bytes::from(b))))
                }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// The next callback the receiver accepted.
async fn next(events: &mut mpsc::Receiver<Event>) -> Result<Event, &'static str> {
    tokio::time::timeout(Duration::from_secs(30), events.recv())
        .await
        .map_err(|_| "no callback within 30 s")?
        .ok_or("the receiver stopped")
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // No one is at the phone: the sandbox pays each order half a second after it is placed.
    let sandbox = MockServer::builder()
        .auto_pay_after(Duration::from_millis(500))
        .start()?;
    let client = sandbox.client_builder().apiv3_key(sandbox.apiv3_key()).build()?;
    let notifier = Notifier::new(client.keyring(), sandbox.apiv3_key())?;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let notify_url = format!("http://{}/wechatpay/notify", listener.local_addr()?);
    let (tx, mut events) = mpsc::channel(8);
    tokio::spawn(receive(listener, notifier, tx));

    // 1. The order (JSAPI下单), and what the page hands to wx.requestPayment.
    let out_trade_no = format!("JSAPI{}", wechatpay::formatter::timestamp());
    let appid = "wxd678efh567hg6787";
    let placed = client["v3/pay/transactions/jsapi"]
        .post_async(json!({"json": {
            "appid": appid, "mchid": sandbox.mchid(), "description": "Image形象店-深圳腾大-QQ公仔",
            "out_trade_no": out_trade_no, "notify_url": notify_url,
            "amount": {"total": 100, "currency": "CNY"}, "payer": {"openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"},
        }}))
        .await?;
    let prepay_id = placed.json::<Value>()?["prepay_id"]
        .as_str()
        .ok_or("no prepay_id")?
        .to_owned();
    let pay_sign = paysign::jsapi(sandbox.merchant_key(), appid, &prepay_id);
    println!(
        "order {out_trade_no}: prepay_id {prepay_id}\nfor wx.requestPayment: {}",
        serde_json::to_value(&pay_sign)?
    );

    // 2. The user pays; WeChat Pay says so.
    let paid = next(&mut events).await?;
    println!(
        "{} ({}): {}",
        paid.event_type, paid.summary, paid.resource["trade_state"]
    );

    // 3. Trust, but query: the order as WeChat Pay holds it.
    let order: Value = client["v3/pay/transactions/out-trade-no/{out_trade_no}"]
        .get_async(json!({"out_trade_no": out_trade_no, "query": {"mchid": sandbox.mchid()}}))
        .await?
        .json()?;
    println!(
        "queried: {} {} fen, paid at {}",
        order["trade_state"], order["amount"]["payer_total"], order["success_time"]
    );

    // 4. A partial refund, and its outcome.
    let refund: Value = client["v3/refund/domestic/refunds"]
        .post_async(json!({"json": {
            "out_trade_no": out_trade_no, "out_refund_no": format!("R{out_trade_no}"), "reason": "商品已售完",
            "notify_url": notify_url, "amount": {"refund": 30, "total": 100, "currency": "CNY"},
        }}))
        .await?
        .json()?;
    println!("refund {}: {}", refund["out_refund_no"], refund["status"]);
    let refunded = next(&mut events).await?;
    println!(
        "{} ({}): {}",
        refunded.event_type, refunded.summary, refunded.resource["refund_status"]
    );

    // 5. The day's bill (the sandbox bills today too), its digest checked.
    let day = &order["success_time"].as_str().ok_or("no success_time")?[..10];
    let bill: Value = client["v3/bill/tradebill"]
        .get_async(json!({"query": {"bill_date": day, "bill_type": "ALL"}}))
        .await?
        .json()?;
    let csv = media::download_bill(&client, &bill).await?;
    let csv = String::from_utf8_lossy(&csv);
    println!(
        "bill of {day} ({} {}, {} lines):\n{csv}",
        bill["hash_type"],
        bill["hash_value"],
        csv.lines().count()
    );
    Ok(())
}
