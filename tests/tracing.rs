//! The `tracing` feature: what a call's span and events carry, and what they must never carry.
#![cfg(all(feature = "tracing", feature = "mock"))]

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};
use wechatpay::mock::{Fault, MockServer};
use wechatpay::RetryPolicy;

/// Everything recorded, one line per span creation, field record or event: `name field=value …`.
#[derive(Clone, Default)]
struct Capture {
    lines: Arc<Mutex<Vec<String>>>,
    next: Arc<AtomicU64>,
}

struct Fields(String);

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let _ = write!(self.0, " {}={:?}", field.name(), value);
    }
}

impl Subscriber for Capture {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, span: &Attributes<'_>) -> Id {
        let mut fields = Fields(format!("span {}", span.metadata().name()));
        span.record(&mut fields);
        self.lines.lock().unwrap().push(fields.0);
        Id::from_u64(self.next.fetch_add(1, Ordering::Relaxed) + 1)
    }
    fn record(&self, _: &Id, values: &Record<'_>) {
        let mut fields = Fields("record".into());
        values.record(&mut fields);
        self.lines.lock().unwrap().push(fields.0);
    }
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        let mut fields = Fields("event".into());
        event.record(&mut fields);
        self.lines.lock().unwrap().push(fields.0);
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

#[test]
fn a_call_has_one_span_with_the_template_and_no_secret_or_personal_value() {
    let server = MockServer::start().unwrap();
    let client = server
        .client_builder()
        .retry(RetryPolicy::default().base_delay(Duration::from_millis(5)))
        .build()
        .unwrap();
    let capture = Capture::default();
    let openid = "o-PERSONAL-openid-value";
    tracing::subscriber::with_default(capture.clone(), || {
        server.inject(Fault::Status(503), 1);
        client["v3/marketing/busifavor/users/{openid}/coupons"]
            .get(json!({"openid": openid, "query": {"appid": "wx1234567889999", "stock_id": "100088"}}))
            .unwrap();
        server.inject(Fault::BadSignature, 1);
        client["v3/marketing/busifavor/stocks/{stock_id}"]
            .get(json!({"stock_id": "100088"}))
            .unwrap_err();
    });
    let lines = capture.lines.lock().unwrap().clone();
    let text = lines.join("\n");

    let spans: Vec<&String> = lines.iter().filter(|l| l.starts_with("span wechatpay.call")).collect();
    assert_eq!(spans.len(), 2, "{text}");
    assert!(spans[0].contains("http.method=GET"), "{text}");
    assert!(
        spans[0].contains("url.template=v3/marketing/busifavor/users/{openid}/coupons"),
        "{text}"
    );
    assert!(
        spans[0].contains(&format!("server.address={}", server.addr())),
        "{text}"
    );
    assert!(text.contains("record attempts=2"), "the retried call: {text}");
    assert!(text.contains("http.status=200"), "{text}");
    assert!(text.contains("request_id=\"08"), "{text}");
    assert!(text.contains("wechatpay: retrying"), "a retry event: {text}");
    assert!(
        text.contains("wechatpay: answer not verified"),
        "a verification event: {text}"
    );
    assert!(text.contains("error.kind=\"verification\""), "{text}");

    // Never the expanded path, a query value, a body, a header value, a key or a signature.
    let authorization_prefix = "WECHATPAY2-SHA256-RSA2048";
    for secret in [
        openid,
        "wx1234567889999",
        server.apiv3_key(),
        authorization_prefix,
        "signature",
        "BEGIN",
        server.merchant_serial(),
    ] {
        assert!(!text.contains(secret), "{secret:?} leaked into a trace:\n{text}");
    }
}
