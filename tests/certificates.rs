//! Platform certificates against the sandbox: bootstrap download, tampering, the public-key-only 404,
//! rotation picked up by refresh with no failed request, periodic refresh, and keyring swaps under load.
#![cfg(feature = "mock")]

mod common;

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use wechatpay::aes::AesGcm;
use wechatpay::certificates::{self, PlatformCertificate};
use wechatpay::keyring::Keyring;
use wechatpay::mock::{Answer, Fault, MockServer};
use wechatpay::{Client, Method, PrivateKey, Verification};

const STOCK: &str = "v3/marketing/busifavor/stocks/{stock_id}";

fn stock(client: &Client) -> wechatpay::Result<wechatpay::Response> {
    client[STOCK].get(json!({"stock_id": "100088"}))
}

/// A client of `server` that trusts only a key unrelated to it.
fn stranger(server: &MockServer) -> Client {
    server
        .client_builder()
        .clear_certs()
        .cert_loaded(
            "PUB_KEY_ID_0000000000000000000000000001",
            PrivateKey::generate().public_key(),
        )
        .build()
        .unwrap()
}

fn is_rfc3339_cst(s: &str) -> bool {
    s.len() == 25 && s.ends_with("+08:00") && s.as_bytes()[10] == b'T'
}

#[test]
fn bootstrap_download_in_certificate_mode() {
    let server = MockServer::builder().certificate_mode(true).start().unwrap();
    let client = stranger(&server);
    // It cannot verify anything yet…
    let e = stock(&client).unwrap_err();
    assert_eq!(e.verification(), Some(Verification::UnknownSerial), "{e}");

    // …but it can download the certificates and verify that answer with them.
    let certs: Vec<PlatformCertificate> = certificates::download(&client, server.apiv3_key()).unwrap();
    assert_eq!(certs.len(), 1);
    let cert = &certs[0];
    assert_eq!(cert.serial_no(), server.platform_certificate_serial());
    assert_eq!(cert.pem(), server.platform_certificate_pem());
    assert_eq!(cert.public_key().certificate_serial(), Some(cert.serial_no()));
    assert!(is_rfc3339_cst(cert.effective_time()), "{}", cert.effective_time());
    assert!(is_rfc3339_cst(cert.expire_time()), "{}", cert.expire_time());
    assert!(cert.effective_time() < cert.expire_time());
    assert!(!format!("{cert:?}").contains("BEGIN"), "Debug stays short");

    client.update_keyring(|ring| ring.with(certificates::keys(&certs)));
    stock(&client).unwrap();

    // The async twin runs on any executor.
    let again = futures::executor::block_on(certificates::download_async(&client, server.apiv3_key())).unwrap();
    assert_eq!(again[0].serial_no(), cert.serial_no());
}

#[test]
fn in_public_key_mode_there_are_no_platform_certificates() {
    // As WeChat Pay answers a merchant onboarded with a public key: a signed 404, explained by the client.
    let server = MockServer::start().unwrap();
    let client = server.client().unwrap();
    let e = certificates::download(&client, server.apiv3_key()).unwrap_err();
    assert_eq!((e.status(), e.code()), (Some(404), Some("RESOURCE_NOT_EXISTS")), "{e}");
    assert!(e.to_string().contains("PUB_KEY_ID_"), "{e}");
    // The public key keeps verifying everything else.
    stock(&client).unwrap();
}

#[test]
fn tampered_downloads_are_refused() {
    let server = MockServer::builder().certificate_mode(true).start().unwrap();
    let client = stranger(&server);
    let key = server.apiv3_key().to_owned();

    // The body changed after signing.
    server.inject_path("/v3/certificates", Fault::TamperBody);
    let e = certificates::download(&client, &key).unwrap_err();
    assert_eq!(e.verification(), Some(Verification::BadSignature), "{e}");
    server.clear_faults();

    // A wrong signature.
    server.inject_path("/v3/certificates", Fault::BadSignature);
    let e = certificates::download(&client, &key).unwrap_err();
    assert_eq!(e.verification(), Some(Verification::BadSignature), "{e}");
    server.clear_faults();

    // The wrong APIv3 key: a decryption error that never shows the key.
    let wrong = "0123456789abcdef0123456789abcdef";
    let e = certificates::download(&client, wrong).unwrap_err();
    assert!(e.is_decode(), "{e}");
    assert!(!format!("{e} {e:?}").contains(wrong));
    // One type checks the APIv3 key everywhere, with one error kind.
    let e = certificates::download(&client, "short").unwrap_err();
    assert!(e.is_key() && e.to_string().contains("32 bytes"), "{e}");
    assert!(!format!("{e} {e:?}").contains("short"));

    // A listing whose ciphertext was altered, or whose serial does not match its certificate.
    let pem = server.platform_certificate_pem();
    let serial = server.platform_certificate_serial().to_owned();
    let listing = move |serial: &str, tamper: bool| {
        let mut ciphertext = AesGcm::encrypt(pem.as_bytes(), &key, "0123456789ab", "certificate").unwrap();
        if tamper {
            let flipped = if ciphertext.starts_with('A') { "B" } else { "A" };
            ciphertext.replace_range(0..1, flipped);
        }
        json!({"data": [{"serial_no": serial, "effective_time": "2024-01-01T00:00:00+08:00",
            "expire_time": "2034-01-01T00:00:00+08:00", "encrypt_certificate": {"algorithm": "AEAD_AES_256_GCM",
            "nonce": "0123456789ab", "associated_data": "certificate", "ciphertext": ciphertext}}]})
    };
    let tampered = listing(&serial, true);
    server.route(Method::GET, "v3/certificates", move |_| Answer::json(200, &tampered));
    let e = certificates::download(&client, server.apiv3_key()).unwrap_err();
    assert!(e.is_decode() && e.to_string().contains("does not decrypt"), "{e}");
    let mislabelled = listing("1234567890ABCDEF1234567890ABCDEF12345678", false);
    server.route(Method::GET, "v3/certificates", move |_| Answer::json(200, &mislabelled));
    let e = certificates::download(&client, server.apiv3_key()).unwrap_err();
    assert!(e.is_decode() && e.to_string().contains("whose own serial"), "{e}");
    server.route(Method::GET, "v3/certificates", |_| {
        Answer::json(200, &json!({"data": []}))
    });
    let e = certificates::download(&client, server.apiv3_key()).unwrap_err();
    assert!(e.is_decode(), "{e}");
}

#[test]
fn a_forged_download_cannot_replace_a_trusted_certificate() {
    // A download bringing a certificate under a serial the client already trusts, with another key:
    // refused whole, whatever signed it, so it can never replace the trusted key.
    let server = MockServer::builder().certificate_mode(true).start().unwrap();
    let client = server
        .client_builder()
        .clear_certs()
        .cert_loaded(
            server.platform_certificate_serial(),
            PrivateKey::generate().public_key(),
        )
        .build()
        .unwrap();
    let e = certificates::download(&client, server.apiv3_key()).unwrap_err();
    assert_eq!(e.verification(), Some(Verification::UntrustedCertificate), "{e}");
}

#[test]
fn a_public_key_only_merchant_is_told_what_to_do() {
    let server = MockServer::start().unwrap();
    server.inject_path("/v3/certificates", Fault::Status(404));
    let e = certificates::download(&server.client().unwrap(), server.apiv3_key()).unwrap_err();
    assert!(e.is_api(), "{e}");
    assert_eq!(e.status(), Some(404));
    assert_eq!(e.code(), Some("RESOURCE_NOT_EXISTS"));
    assert!(e.request_id().is_some());
    let text = e.to_string();
    assert!(
        text.contains("public-key mode") || text.contains("public key"),
        "{text}"
    );
    assert!(text.contains("PUB_KEY_ID_"), "{text}");
}

#[test]
fn rotation_is_picked_up_with_no_failed_request() {
    let server = Arc::new(MockServer::builder().certificate_mode(true).start().unwrap());
    let old_serial = server.platform_certificate_serial().to_owned();
    let client = server
        .client_builder()
        .apiv3_key(server.apiv3_key())
        .refresh_on_unknown_serial(true)
        .refresh_min_interval(Duration::from_millis(100))
        .build()
        .unwrap();
    let done = Arc::new(AtomicUsize::new(0));
    let workers: Vec<_> = (0..4)
        .map(|_| {
            let client = client.clone();
            let done = Arc::clone(&done);
            std::thread::spawn(move || {
                for _ in 0..40 {
                    let res = stock(&client).expect("no request fails across a rotation");
                    done.fetch_add(1, Ordering::SeqCst);
                    drop(res);
                }
            })
        })
        .collect();
    // Rotate once some requests are done (polled, with a deadline far beyond any slow machine).
    let deadline = Instant::now() + Duration::from_secs(60);
    while done.load(Ordering::SeqCst) < 40 {
        assert!(
            Instant::now() < deadline && !workers.iter().all(|w| w.is_finished()),
            "the workers stalled or failed before 40 requests"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    // As WeChat Pay does, the new certificate is served before it signs; a client with configured keys
    // learns it then, from a download signed by the certificate it trusts (a periodic refresh's job).
    let issued = server.issue_platform_certificate();
    client.refresh_certificates().unwrap();
    let new_serial = server.rotate_platform_key().unwrap();
    assert_eq!(new_serial, issued);
    assert_ne!(new_serial, old_serial);
    assert_eq!(server.platform_certificate_serial(), new_serial);
    assert_eq!(
        server.served_certificate_serials(),
        [old_serial.clone(), new_serial.clone()]
    );
    for w in workers {
        w.join().expect("every request succeeded");
    }
    assert_eq!(done.load(Ordering::SeqCst), 160);
    // Answers after the rotation name the new certificate, which the client now holds.
    let res = stock(&client).unwrap();
    assert_eq!(res.header("wechatpay-serial"), Some(new_serial.as_str()));
    let ring = client.keyring();
    assert!(ring.get(&new_serial).is_some() && ring.get(&old_serial).is_some());

    // After the overlap, a refresh drops nothing the user configured (the old certificate was).
    server.retire_old_platform_certificates();
    assert_eq!(server.served_certificate_serials(), std::slice::from_ref(&new_serial));
    let certs = client.refresh_certificates().unwrap();
    assert_eq!(certs.len(), 1);
    assert!(client.keyring().get(&old_serial).is_some());
}

#[test]
fn a_refresh_drops_certificates_no_longer_served_and_async_requests_survive_rotation() {
    let server = Arc::new(MockServer::builder().certificate_mode(true).start().unwrap());
    // Bootstrapped: no certificate configured at all.
    let client = server
        .client_builder()
        .clear_certs()
        .apiv3_key(server.apiv3_key())
        .refresh_on_unknown_serial(true)
        .refresh_min_interval(Duration::from_millis(50))
        .build()
        .unwrap();
    assert!(client.keyring().is_empty());
    stock(&client).unwrap();
    let first = server.platform_certificate_serial().to_owned();
    assert!(client.keyring().get(&first).is_some());

    let rt = tokio::runtime::Runtime::new().unwrap();
    let results = rt.block_on(async {
        let mut futures = Vec::new();
        for i in 0..100 {
            if i == 50 {
                server.rotate_platform_key().unwrap();
            }
            futures.push(tokio::spawn(client[STOCK].get_async(json!({"stock_id": "100088"}))));
            tokio::task::yield_now().await;
        }
        let mut out = Vec::new();
        for f in futures {
            out.push(f.await.unwrap());
        }
        out
    });
    let failed: Vec<String> = results
        .iter()
        .filter_map(|r| r.as_ref().err().map(|e| e.to_string()))
        .collect();
    assert!(failed.is_empty(), "{} failed: {:?}", failed.len(), failed.first());

    let second = server.platform_certificate_serial().to_owned();
    server.retire_old_platform_certificates();
    // A background refresh the rotation set off may still be under way, its download made before the
    // retirement: the refresher applies downloads in the order they finish, so one finishing after the
    // explicit refresh below puts `first` back until the next refresh. Which comes last is scheduling,
    // so refresh until the keyring shows the retirement; a keyring that never drops `first` still fails.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        client.refresh_certificates().unwrap();
        let ring = client.keyring();
        assert!(ring.get(&second).is_some());
        if ring.get(&first).is_none() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "a downloaded certificate no longer served leaves the keyring"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn periodic_refresh() {
    let server = MockServer::builder().certificate_mode(true).start().unwrap();
    let client = server
        .client_builder()
        .clear_certs()
        .apiv3_key(server.apiv3_key())
        .refresh_certificates_every(Duration::from_millis(200))
        .refresh_on_unknown_serial(false)
        .refresh_min_interval(Duration::from_millis(10))
        .build()
        .unwrap();
    let wait_for = |serial: &str| {
        // Polled with a deadline no slow machine reaches; the refresh itself comes every 200 ms.
        let deadline = Instant::now() + Duration::from_secs(60);
        while client.keyring().get(serial).is_none() {
            assert!(Instant::now() < deadline, "no periodic refresh brought {serial}");
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    // The first refresh runs when the client is built.
    wait_for(server.platform_certificate_serial());
    stock(&client).unwrap();
    let new_serial = server.rotate_platform_key().unwrap();
    wait_for(&new_serial);
    stock(&client).unwrap();
}

#[test]
fn without_refresh_an_unknown_serial_fails_and_refresh_needs_the_apiv3_key() {
    let server = MockServer::builder().certificate_mode(true).start().unwrap();
    let client = server.client().unwrap();
    server.rotate_platform_key().unwrap();
    let e = stock(&client).unwrap_err();
    assert_eq!(e.verification(), Some(Verification::UnknownSerial), "{e}");
    let e = client.refresh_certificates().unwrap_err();
    assert!(e.is_config() && e.to_string().contains("apiv3_key"), "{e}");

    let e = server
        .client_builder()
        .refresh_on_unknown_serial(true)
        .build()
        .unwrap_err();
    assert!(e.is_config() && e.to_string().contains("APIv3 key"), "{e}");
    let e = server
        .client_builder()
        .apiv3_key("not thirty-two bytes")
        .build()
        .unwrap_err();
    assert!(e.is_key() && !e.to_string().contains("thirty"), "{e}");

    // The key never shows in Debug output.
    let builder = server.client_builder().apiv3_key(server.apiv3_key());
    assert!(!format!("{builder:?}").contains(server.apiv3_key()));
    let client = builder.refresh_on_unknown_serial(true).build().unwrap();
    assert!(!format!("{client:?}").contains(server.apiv3_key()));
    // With refresh, the same answer verifies.
    stock(&client).unwrap();
}

#[test]
fn an_unknown_serial_that_stays_unknown_fails_after_one_refresh() {
    let server = MockServer::builder().certificate_mode(true).start().unwrap();
    let client = server
        .client_builder()
        .apiv3_key(server.apiv3_key())
        .refresh_on_unknown_serial(true)
        .refresh_min_interval(Duration::from_millis(10))
        .build()
        .unwrap();
    let before = server.requests();
    server.inject(Fault::UnknownSerial, 1);
    let e = stock(&client).unwrap_err();
    assert_eq!(e.verification(), Some(Verification::UnknownSerial), "{e}");
    assert_eq!(server.requests() - before, 2, "the request and one download");

    // A refresh that fails is the failed request's `source()`.
    server.inject(Fault::UnknownSerial, 1);
    server.inject_path("/v3/certificates", Fault::Status(500));
    let e = stock(&client).unwrap_err();
    assert_eq!(e.verification(), Some(Verification::UnknownSerial), "{e}");
    let source = std::error::Error::source(&e).expect("the refresh error").to_string();
    assert!(source.contains("refresh failed"), "{source}");
}

#[test]
fn keyring_swaps_while_requests_are_in_flight() {
    let server = Arc::new(MockServer::start().unwrap());
    let client = server.client().unwrap();
    let good = client.keyring();
    let extra = good.with([(
        "PUB_KEY_ID_0000000000000000000000000009".to_owned(),
        PrivateKey::generate().public_key(),
    )]);
    let stop = Arc::new(AtomicBool::new(false));
    let swaps = Arc::new(AtomicU64::new(0));
    let swapper = {
        let client = client.clone();
        let (stop, swaps) = (Arc::clone(&stop), Arc::clone(&swaps));
        let (good, extra) = (good.clone(), extra.clone());
        std::thread::spawn(move || {
            let mut n = 0u64;
            while !stop.load(Ordering::SeqCst) {
                client.set_keyring(if n.is_multiple_of(2) {
                    extra.clone()
                } else {
                    good.clone()
                });
                client.update_keyring(|ring| ring.without(|_| false));
                n += 1;
                swaps.store(n, Ordering::SeqCst);
            }
            n
        })
    };
    // Half the answers are held back until the keyring has been swapped twice more, so swaps land while
    // each of them is in flight (signed request sent, answer not yet verified) however the threads are
    // scheduled; a deadline far beyond any slow machine turns a stalled swapper into a failure.
    let held = Arc::clone(&swaps);
    server.route(Method::GET, "v3/held/{n}", move |_| {
        let from = held.load(Ordering::SeqCst);
        let deadline = Instant::now() + Duration::from_secs(60);
        while held.load(Ordering::SeqCst) < from + 2 {
            assert!(Instant::now() < deadline, "the keyring was not swapped");
            std::thread::sleep(Duration::from_millis(1));
        }
        Answer::json(200, &json!({"held": true}))
    });
    let rt = tokio::runtime::Runtime::new().unwrap();
    let results = rt.block_on(async {
        let futures: Vec<_> = (0..60)
            .map(|i| {
                let call = if i % 2 == 0 {
                    client["v3/held/{n}"].get_async(json!({ "n": i }))
                } else {
                    client[STOCK].get_async(json!({"stock_id": "100088"}))
                };
                tokio::spawn(call)
            })
            .collect();
        let mut out = Vec::new();
        for f in futures {
            out.push(f.await.unwrap());
        }
        out
    });
    stop.store(true, Ordering::SeqCst);
    let swaps = swapper.join().unwrap();
    assert!(swaps >= 2, "only {swaps} swaps");
    assert!(
        results.iter().all(Result::is_ok),
        "{:?}",
        results.iter().find(|r| r.is_err())
    );

    // A snapshot never changes under its holder.
    let snapshot: Keyring = client.keyring();
    client.set_keyring(Keyring::default());
    assert!(snapshot.get(server.public_key_id()).is_some());
    assert_eq!(
        stock(&client).unwrap_err().verification(),
        Some(Verification::UnknownSerial)
    );
}

#[test]
fn a_rotated_key_survives_a_restart() {
    let dir = common::temp_dir("rotate");
    let rotated = {
        let server = MockServer::builder()
            .certificate_mode(true)
            .state_dir(&dir)
            .start()
            .unwrap();
        let serial = server.rotate_platform_key().unwrap();
        server.client().unwrap();
        serial
    };
    let server = MockServer::builder()
        .certificate_mode(true)
        .state_dir(&dir)
        .start()
        .unwrap();
    assert_eq!(server.platform_certificate_serial(), rotated);
    stock(&server.client().unwrap()).unwrap();
    let certs = certificates::download(&stranger(&server), server.apiv3_key()).unwrap();
    assert_eq!(certs[0].serial_no(), rotated);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_apiv3_key_alone_is_enough_to_bootstrap_certificates() {
    let server = MockServer::builder().certificate_mode(true).start().unwrap();
    let client = server
        .client_builder()
        .clear_certs()
        .apiv3_key(server.apiv3_key())
        .build()
        .unwrap();
    assert!(client.keyring().is_empty());
    // No refresh configured: the download verifies itself, then the keyring is filled by hand.
    let certs = wechatpay::certificates::download(&client, server.apiv3_key()).unwrap();
    assert_eq!(certs[0].serial_no(), server.platform_certificate_serial());
    client.update_keyring(|ring| ring.with(wechatpay::certificates::keys(&certs)));
    stock(&client).unwrap();
    // Without the APIv3 key, a client with no certificate is refused at build.
    let e = server.client_builder().clear_certs().build().unwrap_err();
    assert!(e.is_config() && e.to_string().contains("at least one `cert`"), "{e}");
}
