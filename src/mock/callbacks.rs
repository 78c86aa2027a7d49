//! The sandbox's callbacks (回调通知), sent as WeChat Pay sends them: a JSON envelope whose `resource` is
//! sealed with the APIv3 key (`AEAD_AES_256_GCM`, a 12-character nonce, `associated_data` naming the
//! resource), signed like an answer (`Wechatpay-Timestamp`, `-Nonce`, `-Signature`, `-Serial` with the
//! platform key), POSTed to the merchant's URL and retried on a non-2xx answer or a connection error.
//!
//! Families hand a [`Notice`] to the server's [`Courier`] once they have released their own state lock;
//! delivery runs on the sandbox's runtime and never blocks the request that caused it. WeChat Pay retries for
//! hours (15 s, 15 s, 30 s, 3 min, …); the sandbox's schedule is short and can be set with
//! [`MockServer::callback_retries`]. At most `MAX_IN_FLIGHT` notifications are in delivery at once; beyond
//! that a notification is dropped (WeChat Pay does not guarantee delivery either). Notifications are delivered
//! concurrently, so they may arrive out of order, as WeChat Pay's may.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::Duration;

use http::HeaderValue;
use serde_json::{json, Value};

use super::gateway::{self, Signing};
use super::{MockServer, Shared};
use crate::crypto::aes::AesGcm;
use crate::crypto::aes::AEAD_AES_256_GCM;

/// The waits between delivery attempts unless [`MockServer::callback_retries`] sets others: WeChat Pay's
/// 15 s / 15 s / 30 s / 3 min / 10 min, scaled down so a sandbox session sees the retries.
pub(crate) const DEFAULT_CALLBACK_RETRIES: [Duration; 5] = [
    Duration::from_millis(250),
    Duration::from_millis(250),
    Duration::from_millis(500),
    Duration::from_secs(3),
    Duration::from_secs(10),
];

/// The most retries a schedule may hold (WeChat Pay gives up after 15 attempts).
pub(crate) const MAX_CALLBACK_RETRIES: usize = 15;

/// How many notifications may be in delivery at once.
pub(crate) const MAX_IN_FLIGHT: usize = 256;

/// How long one delivery attempt may take. WeChat Pay waits 5 s for an answer; the sandbox waits longer,
/// so a receiver on a loaded test machine is never retried only for being slow.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(60);

/// A notification to deliver: the plaintext resource and how the envelope describes it.
#[derive(Debug, Clone)]
pub(crate) struct Notice {
    /// `event_type`, e.g. `COUPON.SEND`.
    pub(crate) event_type: &'static str,
    /// `summary`.
    pub(crate) summary: &'static str,
    /// `resource.original_type` and the `associated_data` it is sealed with, e.g. `coupon`.
    pub(crate) original_type: &'static str,
    /// `create_time`, RFC 3339.
    pub(crate) create_time: String,
    /// The plaintext resource.
    pub(crate) resource: Value,
}

/// Which protocol a notification speaks: how it is signed, and what a receiver's success looks like.
#[derive(Debug, Clone, Copy)]
enum Protocol {
    V3,
    V2,
}

/// Delivers one server's notifications.
pub(crate) struct Courier {
    /// Weak: the routes (inside `Shared`) hold the courier.
    shared: Weak<Shared>,
    retries: Mutex<Vec<Duration>>,
    in_flight: Arc<AtomicUsize>,
    attempts: AtomicU64,
    http: OnceLock<Option<reqwest::Client>>,
}

impl Courier {
    /// The courier of the server whose shared state `shared` will be.
    pub(crate) fn new(shared: Weak<Shared>) -> Self {
        Courier {
            shared,
            retries: Mutex::new(DEFAULT_CALLBACK_RETRIES.to_vec()),
            in_flight: Arc::new(AtomicUsize::new(0)),
            attempts: AtomicU64::new(0),
            http: OnceLock::new(),
        }
    }
}

/// The courier of `server`.
pub(crate) fn courier(server: &MockServer) -> Arc<Courier> {
    Arc::clone(&server.shared.courier)
}

impl MockServer {
    /// Sets the waits between callback delivery attempts: after a non-2xx answer or a connection error the
    /// sandbox tries again after each wait in turn, then gives up. At most 15 waits are kept (WeChat Pay makes
    /// at most 15 attempts). Default: 250 ms, 250 ms, 500 ms, 3 s, 10 s — WeChat Pay's 15 s / 15 s / 30 s /
    /// 3 min / 10 min, scaled down.
    ///
    /// ```
    /// use std::time::Duration;
    /// let server = wechatpay::mock::MockServer::start()?;
    /// server.callback_retries([Duration::from_millis(20); 3]); // 4 attempts, 20 ms apart
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn callback_retries(&self, waits: impl IntoIterator<Item = Duration>) {
        let waits: Vec<Duration> = waits.into_iter().take(MAX_CALLBACK_RETRIES).collect();
        *courier(self).retries.lock().unwrap_or_else(|p| p.into_inner()) = waits;
    }

    /// How many callback delivery attempts it has made (every retry counts).
    pub fn callback_attempts(&self) -> u64 {
        courier(self).attempts.load(Ordering::Relaxed)
    }
}

/// Decrements the in-flight count when a delivery ends, however it ends.
struct InFlight(Arc<AtomicUsize>);
impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A random UUID-shaped id, as WeChat Pay's notification ids look.
fn uuid() -> String {
    let mut b = [0u8; 16];
    if getrandom::fill(&mut b).is_err() {
        // No CSPRNG is no reason to fail a sandbox notification; uniqueness is what matters here.
        static SEQ: AtomicU64 = AtomicU64::new(0);
        b[..8].copy_from_slice(&SEQ.fetch_add(1, Ordering::Relaxed).to_be_bytes());
        b[8..].copy_from_slice(&crate::protocol::formatter::timestamp().to_be_bytes());
    }
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &h[..8], &h[8..12], &h[12..16], &h[16..20], &h[20..])
}

impl Courier {
    /// Seals `notice` and delivers it to `url` in the background, with retries. Never blocks; call it after
    /// releasing any family lock.
    pub(crate) fn deliver(self: &Arc<Self>, url: String, notice: Notice) {
        let Some(shared) = self.shared.upgrade() else {
            return;
        };
        let Some(body) = seal(&shared.identity.apiv3_key, &notice) else {
            return;
        };
        drop(shared);
        self.spawn(url, body, Protocol::V3, notice.event_type);
    }

    /// Delivers an APIv2 notification, already signed (or sealed) XML, in the background, with retries
    /// until the receiver answers `return_code` `SUCCESS`.
    pub(crate) fn deliver_xml(self: &Arc<Self>, url: String, body: Vec<u8>, what: &'static str) {
        self.spawn(url, body, Protocol::V2, what);
    }

    fn spawn(self: &Arc<Self>, url: String, body: Vec<u8>, protocol: Protocol, what: &'static str) {
        if self.in_flight.fetch_add(1, Ordering::AcqRel) >= MAX_IN_FLIGHT {
            self.in_flight.fetch_sub(1, Ordering::AcqRel);
            eprintln!("wechatpay sandbox: {MAX_IN_FLIGHT} callbacks already in delivery; dropped a {what}");
            return;
        }
        let guard = InFlight(Arc::clone(&self.in_flight));
        let courier = Arc::clone(self);
        let task = async move {
            let _guard = guard;
            courier.run(url, body, protocol).await;
        };
        match tokio::runtime::Handle::try_current() {
            Ok(handle) => {
                handle.spawn(task);
            }
            // Outside the sandbox runtime (a family called directly): a thread of its own.
            Err(_) => {
                let spawned = std::thread::Builder::new()
                    .name("wechatpay-mock-callback".into())
                    .spawn(move || {
                        if let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() {
                            rt.block_on(task);
                        }
                    });
                if let Err(e) = spawned {
                    eprintln!("wechatpay sandbox: cannot start a callback thread: {e}");
                }
            }
        }
    }

    fn http(&self) -> Option<&reqwest::Client> {
        self.http
            .get_or_init(|| {
                crate::client::transport::http_builder()
                    .timeout(ATTEMPT_TIMEOUT)
                    .redirect(reqwest::redirect::Policy::none())
                    .no_proxy()
                    .build()
                    .map_err(|e| eprintln!("wechatpay sandbox: no HTTP client for callbacks: {e}"))
                    .ok()
            })
            .as_ref()
    }

    /// Attempts delivery, then once after each wait of the schedule, until a 2xx answer.
    async fn run(&self, url: String, body: Vec<u8>, protocol: Protocol) {
        let waits = self.retries.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let mut waits = waits.into_iter();
        loop {
            // Each attempt is signed afresh, as WeChat Pay does; stop once the server is gone.
            let Some(shared) = self.shared.upgrade() else {
                return;
            };
            let headers = match protocol {
                Protocol::V3 => signed_headers(&shared, &body),
                // APIv2 notifications carry their signature in their fields, and a `Request-ID` as WeChat
                // Pay's do.
                Protocol::V2 => {
                    let mut headers = vec![("content-type", HeaderValue::from_static("text/xml; charset=utf-8"))];
                    headers.extend(request_id());
                    headers
                }
            };
            drop(shared);
            self.attempts.fetch_add(1, Ordering::Relaxed);
            if self.attempt(&url, headers, &body, protocol).await {
                return;
            }
            match waits.next() {
                Some(wait) => tokio::time::sleep(wait).await,
                None => return,
            }
        }
    }

    /// One POST; true on a 2xx answer (for APIv2, one whose XML says `SUCCESS`).
    async fn attempt(
        &self,
        url: &str,
        headers: Vec<(&'static str, HeaderValue)>,
        body: &[u8],
        protocol: Protocol,
    ) -> bool {
        let Some(http) = self.http() else {
            return false;
        };
        let mut req = http.post(url).body(body.to_vec());
        for (name, value) in headers {
            req = req.header(name, value);
        }
        let Ok(res) = req.send().await else {
            return false;
        };
        if !res.status().is_success() {
            return false;
        }
        match protocol {
            Protocol::V3 => true,
            Protocol::V2 => res.text().await.is_ok_and(|text| {
                crate::protocol::apiv2::xml::parse(&text)
                    .is_ok_and(|reply| reply.get("return_code").and_then(Value::as_str) == Some("SUCCESS"))
            }),
        }
    }
}

/// The envelope of `notice`, its resource sealed with `apiv3_key`.
fn seal(apiv3_key: &str, notice: &Notice) -> Option<Vec<u8>> {
    let nonce = crate::protocol::formatter::nonce_of_len(12);
    let plaintext = notice.resource.to_string();
    let ciphertext = AesGcm::encrypt(plaintext.as_bytes(), apiv3_key, &nonce, notice.original_type)
        .map_err(|e| eprintln!("wechatpay sandbox: cannot seal a callback: {e}"))
        .ok()?;
    let envelope = json!({
        "id": uuid(),
        "create_time": notice.create_time,
        "resource_type": "encrypt-resource",
        "event_type": notice.event_type,
        "summary": notice.summary,
        "resource": {
            "original_type": notice.original_type,
            "algorithm": AEAD_AES_256_GCM,
            "ciphertext": ciphertext,
            "associated_data": notice.original_type,
            "nonce": nonce,
        },
    });
    Some(envelope.to_string().into_bytes())
}

/// The headers of one delivery attempt: signed as an answer is, plus what WeChat Pay's callbacks carry.
fn signed_headers(shared: &Shared, body: &[u8]) -> Vec<(&'static str, HeaderValue)> {
    let identity = &shared.identity;
    let signing = Signing {
        timestamp: crate::protocol::formatter::timestamp(),
        serial: identity.signing_serial().to_owned(),
        signed_body: None,
        corrupt: false,
    };
    let mut headers = gateway::sign_answer(identity, &signing, body);
    headers.push(("content-type", HeaderValue::from_static("application/json")));
    headers.extend(request_id());
    headers
}

/// The `Request-ID` header a notification of either API carries (通知的唯一标识): a fresh one per attempt.
fn request_id() -> Option<(&'static str, HeaderValue)> {
    HeaderValue::from_str(&uuid()).ok().map(|id| ("request-id", id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_notice_opens_with_the_apiv3_key() {
        let key = "0123456789abcdef0123456789abcdef";
        let notice = Notice {
            event_type: "COUPON.SEND",
            summary: "商家券领券通知",
            original_type: "coupon",
            create_time: "2015-05-20T13:29:35+08:00".into(),
            resource: json!({"coupon_code": "c1"}),
        };
        let body = seal(key, &notice).unwrap();
        let event = crate::notify::decrypt::<Value>(key, &body).unwrap();
        assert_eq!(event.event_type, "COUPON.SEND");
        assert_eq!(event.associated_data, "coupon");
        assert_eq!(event.resource, json!({"coupon_code": "c1"}));
        let envelope: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(envelope["resource"]["nonce"].as_str().unwrap().len(), 12);
        assert_eq!(envelope["id"].as_str().unwrap().len(), 36);
    }

    #[test]
    fn each_server_has_one_courier() {
        let a = MockServer::start().unwrap();
        let b = MockServer::start().unwrap();
        assert!(Arc::ptr_eq(&courier(&a), &courier(&a)));
        assert!(!Arc::ptr_eq(&courier(&a), &courier(&b)));
        a.callback_retries([Duration::from_millis(1); 100]);
        assert_eq!(courier(&a).retries.lock().unwrap().len(), MAX_CALLBACK_RETRIES);
        assert_eq!(
            courier(&b).retries.lock().unwrap().len(),
            DEFAULT_CALLBACK_RETRIES.len()
        );
    }
}
