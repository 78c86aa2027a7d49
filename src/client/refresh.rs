//! In-process platform-certificate refresh: a background thread that downloads `v3/certificates`
//! periodically and when asked, through the client's own pipeline, and swaps the client's keyring.
//!
//! What a refresh trusts is [`crate::protocol::listing`]'s rule: with no configured key the APIv3 key is
//! the root of trust (a bootstrap); with configured keys only a download signed by a key the client
//! already trusts. Configured keys are never replaced or removed.

use std::collections::BTreeSet;
use std::fmt;
use std::sync::mpsc;
use std::sync::{Mutex, Weak};
use std::time::{Duration, Instant, SystemTime};

use http::Method;

use crate::client::Inner;
use crate::crypto::apiv3_key::ApiV3Key;
use crate::crypto::keyring::Keyring;
use crate::error::{Error, Result};
use crate::protocol::listing::{self, keys, PlatformCertificate, Vouching, PATH};
use crate::protocol::options::Options;

/// Default shortest time between two certificate refreshes: 5 s.
pub const DEFAULT_REFRESH_MIN_INTERVAL: Duration = Duration::from_secs(5);

/// In-process certificate refresh for a client: a background thread that downloads `v3/certificates`
/// periodically and when asked, and swaps the client's keyring. Requests never wait on it, except one
/// whose answer names an unknown serial, which waits for the next refresh and is verified once more.
pub(crate) struct Refresher {
    apiv3_key: ApiV3Key,
    pub(crate) on_unknown_serial: bool,
    min_interval: Duration,
    /// Ids the user configured: a refresh never removes them.
    configured: BTreeSet<String>,
    wake: Option<Mutex<mpsc::Sender<()>>>,
    state: Mutex<State>,
    done: tokio::sync::watch::Sender<u64>,
}

#[derive(Default)]
struct State {
    running: bool,
    last_start: Option<Instant>,
    /// When the latest completed refresh started.
    last_done_start: Option<Instant>,
    last_error: Option<String>,
    /// Serials the latest successful download brought.
    downloaded: BTreeSet<String>,
    last_success: Option<SystemTime>,
    /// When the refresher thread will next download by itself.
    next_attempt: Option<SystemTime>,
    /// Failures in a row, for the backoff.
    failures: u32,
}

/// What a client's certificate refresh has done and will do ([`crate::Client::refresh_state`]): a
/// failing refresh is never silent.
///
/// ```
/// // Certificate mode: a merchant with platform certificates (public-key merchants have none).
/// let server = wechatpay::mock::MockServer::builder().certificate_mode(true).start()?;
/// let client = server.client_builder().apiv3_key(server.apiv3_key()).build()?;
/// client.refresh_certificates()?;
/// let state = client.refresh_state().unwrap(); // `None` without an APIv3 key
/// assert!(state.last_success.is_some() && state.last_error.is_none());
/// # Ok::<(), wechatpay::Error>(())
/// ```
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshState {
    /// When a refresh last succeeded.
    pub last_success: Option<SystemTime>,
    /// Why the latest refresh failed, if it did (cleared by a success).
    pub last_error: Option<String>,
    /// Failures in a row since the last success.
    pub failures: u32,
    /// When the background thread will next refresh by itself (periodic refresh only): after a failure,
    /// sooner than the interval, backing off.
    pub next_attempt: Option<SystemTime>,
}

/// The first wait after a failed periodic refresh; it doubles with each failure in a row, up to the
/// interval.
const FIRST_RETRY: Duration = Duration::from_secs(10);

/// How a client refreshes, from its builder.
pub(crate) struct RefreshSettings {
    pub(crate) apiv3_key: ApiV3Key,
    pub(crate) interval: Option<Duration>,
    pub(crate) on_unknown_serial: bool,
    pub(crate) min_interval: Duration,
}

impl fmt::Debug for Refresher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Refresher")
            .field("apiv3_key", &self.apiv3_key)
            .field("on_unknown_serial", &self.on_unknown_serial)
            .field("min_interval", &self.min_interval)
            .finish_non_exhaustive()
    }
}

impl Refresher {
    /// What it has done and will do.
    pub(crate) fn snapshot(&self) -> RefreshState {
        let st = self.state();
        RefreshState {
            last_success: st.last_success,
            last_error: st.last_error.clone(),
            failures: st.failures,
            next_attempt: st.next_attempt,
        }
    }

    /// The refresher, and (when it refreshes by itself) the receiving end its thread needs.
    pub(crate) fn new(settings: &RefreshSettings, configured: BTreeSet<String>) -> (Self, Option<mpsc::Receiver<()>>) {
        let threaded = settings.interval.is_some() || settings.on_unknown_serial;
        let (tx, rx) = if threaded {
            let (tx, rx) = mpsc::channel();
            (Some(Mutex::new(tx)), Some(rx))
        } else {
            (None, None)
        };
        let refresher = Refresher {
            apiv3_key: settings.apiv3_key.clone(),
            on_unknown_serial: settings.on_unknown_serial,
            min_interval: settings.min_interval,
            configured,
            wake: tx,
            state: Mutex::default(),
            done: tokio::sync::watch::channel(0).0,
        };
        (refresher, rx)
    }

    /// What a refresh trusts. With no configured key, the APIv3 key is the root of trust (a bootstrap, as
    /// PHP's downloader); with configured keys, only a download signed by a key already trusted.
    fn vouching(&self) -> Vouching {
        if self.configured.is_empty() {
            Vouching::Bootstrap
        } else {
            Vouching::Trusted
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn wake(&self) {
        if let Some(tx) = &self.wake {
            let _ = tx.lock().unwrap_or_else(|p| p.into_inner()).send(());
        }
    }

    /// Downloads and swaps the keyring now, on the caller's task (an explicit call: not rate-limited).
    pub(crate) async fn refresh(&self, inner: &Inner) -> Result<Vec<PlatformCertificate>> {
        let started = Instant::now();
        {
            let mut st = self.state();
            st.last_start = Some(st.last_start.map_or(started, |t| t.max(started)));
        }
        let result = fetch(inner, &self.apiv3_key, self.vouching()).await;
        self.apply(inner, &result, started, false);
        result
    }

    /// Swaps in what a refresh brought and tells whoever waits for one.
    fn apply(&self, inner: &Inner, result: &Result<Vec<PlatformCertificate>>, started: Instant, threaded: bool) {
        let mut st = self.state();
        if threaded {
            st.running = false;
        }
        crate::client::trace::refreshed(result.as_ref().map(Vec::len));
        // Downloads can finish out of order (an explicit refresh beside the thread's): one that started before
        // the latest completed one changes nothing — neither its certificates nor its error.
        let superseded = st.last_done_start.is_some_and(|done| done > started);
        match result {
            _ if superseded => {}
            Ok(certs) => {
                let fresh: BTreeSet<String> = certs.iter().map(|c| c.serial_no().to_owned()).collect();
                let stale: BTreeSet<String> = st
                    .downloaded
                    .difference(&fresh)
                    .filter(|id| !self.configured.contains(*id))
                    .cloned()
                    .collect();
                // Configured keys are never replaced or removed, whatever a download says.
                let configured = &self.configured;
                inner.keyring.update(|ring| {
                    ring.without(|id| stale.contains(id))
                        .with(keys(certs).filter(|(id, _)| !configured.contains(id)))
                });
                st.downloaded = fresh;
                st.last_error = None;
                st.last_success = Some(SystemTime::now());
                st.failures = 0;
            }
            Err(e) => {
                st.last_error = Some(e.to_string());
                st.failures = st.failures.saturating_add(1);
            }
        }
        st.last_done_start = Some(st.last_done_start.map_or(started, |t| t.max(started)));
        drop(st);
        self.done.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// Waits (asynchronously) until a refresh that started after `failed_at` has completed, asking for one
    /// if none is under way (the refresher thread keeps to `min_interval`). Returns that refresh's error.
    async fn after(&self, failed_at: Instant) -> Option<String> {
        let mut done = self.done.subscribe();
        loop {
            {
                let st = self.state();
                if st.last_done_start.is_some_and(|s| s >= failed_at) {
                    return st.last_error.clone();
                }
                if !st.running {
                    self.wake();
                }
            }
            if done.changed().await.is_err() {
                return Some("the certificate refresher stopped".into());
            }
        }
    }

    /// Re-verifies an answer whose serial was unknown once a refresh has completed after `failed_at`.
    pub(crate) async fn reverify(
        &self,
        inner: &Inner,
        failed_at: Instant,
        first: Error,
        verify: impl Fn(&Keyring) -> Result<()>,
    ) -> Result<()> {
        // A refresh may have landed since, or be under way and bring the key: try those first, then
        // wait for one surely started after the failure.
        let mut done = self.done.subscribe();
        if verify(&inner.keyring.load()).is_ok() {
            return Ok(());
        }
        let running = self.state().running;
        if running && done.changed().await.is_ok() && verify(&inner.keyring.load()).is_ok() {
            return Ok(());
        }
        let refresh_error = self.after(failed_at).await;
        match verify(&inner.keyring.load()) {
            Ok(()) => Ok(()),
            Err(e) => {
                let e = if e.verification() == first.verification() {
                    first
                } else {
                    e
                };
                Err(match refresh_error {
                    Some(why) => e.with_source(RefreshFailed(why)),
                    None => e,
                })
            }
        }
    }

    /// The loop of the refresher thread: refreshes at start and every `interval` (if set), and when woken,
    /// never two within `min_interval`. Ends when the client is dropped.
    pub(crate) fn run(weak: Weak<Inner>, wake: mpsc::Receiver<()>, interval: Option<Duration>) {
        use mpsc::RecvTimeoutError::{Disconnected, Timeout};
        let mut next_periodic = interval.map(|_| Instant::now());
        loop {
            let woke = match next_periodic {
                Some(at) => wake.recv_timeout(at.saturating_duration_since(Instant::now())),
                None => wake.recv().map_err(|_| Disconnected),
            };
            if let Err(Disconnected) = woke {
                return;
            }
            // Rate limit: no two refreshes within `min_interval`.
            let not_before = {
                let Some(inner) = weak.upgrade() else { return };
                let Some(r) = inner.refresher.as_ref() else { return };
                let st = r.state();
                st.last_start.map(|t| t + r.min_interval)
            };
            if let Some(at) = not_before {
                loop {
                    let now = Instant::now();
                    if now >= at {
                        break;
                    }
                    match wake.recv_timeout(at - now) {
                        Ok(()) => continue,
                        Err(Timeout) => break,
                        Err(Disconnected) => return,
                    }
                }
            }
            let Some(inner) = weak.upgrade() else { return };
            let Some(r) = inner.refresher.as_ref() else { return };
            let started = Instant::now();
            {
                let mut st = r.state();
                st.running = true;
                st.last_start = Some(started);
            }
            // Only now forget the wake-ups: one sent before `running` was set is served by this download.
            while wake.try_recv().is_ok() {}
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                futures::executor::block_on(fetch(&inner, &r.apiv3_key, r.vouching()))
            }));
            let result = outcome.unwrap_or_else(|_| Err(Error::transport("the certificate refresh panicked")));
            r.apply(&inner, &result, started, true);
            if let Some(every) = interval {
                // After a failure, try again well before the next interval, backing off.
                let failures = r.state().failures;
                let wait = match failures {
                    0 => every,
                    n => FIRST_RETRY
                        .max(r.min_interval)
                        .saturating_mul(1 << (n - 1).min(16))
                        .min(every),
                };
                next_periodic = Some(Instant::now() + wait);
                r.state().next_attempt = Some(SystemTime::now() + wait);
            }
            drop(inner);
        }
    }
}

/// Downloads and opens the certificates through the client's own pipeline.
async fn fetch(inner: &Inner, apiv3_key: &ApiV3Key, vouching: Vouching) -> Result<Vec<PlatformCertificate>> {
    let res = inner
        .execute(Method::GET, PATH, &Options::new().unverified_download())
        .await
        .map_err(listing::explain_not_found)?;
    listing::open_with(
        res.headers(),
        res.bytes(),
        apiv3_key,
        &inner.keyring.load(),
        crate::protocol::formatter::timestamp(),
        vouching,
    )
}

/// Why the refresh that should have brought an unknown serial did not.
#[derive(Debug)]
struct RefreshFailed(String);

impl fmt::Display for RefreshFailed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the platform certificate refresh failed: {}", self.0)
    }
}

impl std::error::Error for RefreshFailed {}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use crate::error::Error;

    #[test]
    fn a_download_older_than_the_latest_completed_one_changes_nothing() {
        let key = crate::crypto::keys::PrivateKey::load(include_str!("../../tests/fixtures/merchant_key.pem")).unwrap();
        let client = crate::Client::builder()
            .mchid("1900000109")
            .serial("3775B6A45ACD588826D15E583A95F5DD00000001")
            .private_key_loaded(key.clone())
            .cert_loaded("PUB_KEY_ID_0114232134912410000000000000", key.public_key())
            .apiv3_key("0123456789abcdef0123456789abcdef")
            .build()
            .unwrap();
        let inner = client.inner();
        let refresher = inner.refresher.as_ref().unwrap();
        let older = Instant::now();
        let newer = older + Duration::from_millis(1);
        // The newer download succeeds first; the older one then fails, late.
        refresher.apply(inner, &Ok(Vec::new()), newer, false);
        refresher.apply(inner, &Err(Error::transport("late")), older, false);
        let state = refresher.snapshot();
        assert!(state.last_error.is_none() && state.failures == 0, "{state:?}");
        // A failure of a download that started later is recorded.
        refresher.apply(
            inner,
            &Err(Error::transport("now")),
            newer + Duration::from_millis(1),
            false,
        );
        assert_eq!(refresher.snapshot().failures, 1);
    }
}
