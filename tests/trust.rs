//! Trust boundaries: what an attacker (a forged certificate download, a hostile key file, a path that
//! dresses up as an unsigned download, headers that reframe the body, a request re-wrapped as an upload)
//! and a loaded machine (a refresh that would outlive the request's timeout) must not get past.
#![cfg(feature = "mock")]

mod common;

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::str::FromStr as _;
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde_json::json;
use wechatpay::mock::{Fault, MockServer};
use wechatpay::{certificates, Client, Method, Options, PrivateKey, PublicKey, Verification};

const APIV3_KEY: &str = "0123456789abcdef0123456789abcdef";
const MCHID: &str = "1900000109";
const MERCHANT_SERIAL: &str = "3775B6A45ACD588826D15E583A95F5DD00000001";

/// One canned answer: status, headers and body.
#[derive(Clone)]
struct Canned {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

/// A bare HTTP/1.1 server on 127.0.0.1 that answers every request with what `answer` makes of its
/// request line — signed or not, as the test decides — so a client can be shown forged answers that
/// no honest sandbox would send. Its thread lives until the test process ends.
fn raw_server(answer: impl Fn(&str) -> Canned + Send + Sync + 'static) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let answer = Arc::new(answer);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let answer = Arc::clone(&answer);
            std::thread::spawn(move || serve_one(stream, &*answer));
        }
    });
    addr
}

fn serve_one(stream: TcpStream, answer: &dyn Fn(&str) -> Canned) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut stream = stream;
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
            return;
        }
        let mut length = 0usize;
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            if line == "\r\n" {
                break;
            }
            if let Some((name, value)) = line.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse().unwrap_or(0);
                }
            }
        }
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let canned = answer(request_line.trim_end());
        let mut head = format!(
            "HTTP/1.1 {} X\r\ncontent-length: {}\r\n",
            canned.status,
            canned.body.len()
        );
        for (name, value) in &canned.headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str("\r\n");
        if stream.write_all(head.as_bytes()).is_err() || stream.write_all(&canned.body).is_err() {
            return;
        }
    }
}

/// The `Wechatpay-*` headers of an answer signed by `key` under `serial`, now.
fn signed_headers(key: &PrivateKey, serial: &str, body: &[u8]) -> Vec<(String, String)> {
    let ts = wechatpay::formatter::timestamp().to_string();
    let nonce = wechatpay::formatter::nonce();
    let signature = key.sign(&wechatpay::verify::answer_message(&ts, &nonce, body));
    vec![
        ("wechatpay-timestamp".into(), ts),
        ("wechatpay-nonce".into(), nonce),
        ("wechatpay-signature".into(), signature),
        ("wechatpay-serial".into(), serial.into()),
        ("content-type".into(), "application/json".into()),
    ]
}

/// A self-signed X.509 certificate of `key` with serial `serial` (hex), valid for a year from now.
fn certificate(key: &PrivateKey, serial: &str) -> String {
    let now = SystemTime::now();
    certificate_valid(key, serial, now, now + Duration::from_secs(365 * 86_400))
}

/// A self-signed X.509 certificate of `key` with serial `serial` (hex), valid between the dates given.
fn certificate_valid(key: &PrivateKey, serial: &str, not_before: SystemTime, not_after: SystemTime) -> String {
    use spki::der::{Decode as _, Encode as _};
    use x509_cert::certificate::{Certificate, TbsCertificate, Version};
    let serial = (0..serial.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&serial[i..i + 2], 16).unwrap())
        .collect::<Vec<u8>>();
    let algorithm = spki::AlgorithmIdentifierOwned {
        oid: spki::ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.11"),
        parameters: Some(spki::der::asn1::Null.into()),
    };
    let name = x509_cert::name::Name::from_str("CN=forged").unwrap();
    let tbs = TbsCertificate {
        version: Version::V3,
        serial_number: x509_cert::serial_number::SerialNumber::new(&serial).unwrap(),
        signature: algorithm.clone(),
        issuer: name.clone(),
        validity: x509_cert::time::Validity {
            not_before: x509_cert::time::Time::try_from(not_before).unwrap(),
            not_after: x509_cert::time::Time::try_from(not_after).unwrap(),
        },
        subject: name,
        subject_public_key_info: spki::SubjectPublicKeyInfoOwned::from_der(&key.public_key().to_spki_der()).unwrap(),
        issuer_unique_id: None,
        subject_unique_id: None,
        extensions: None,
    };
    let signature = key.sign_raw(&tbs.to_der().unwrap());
    let cert = Certificate {
        tbs_certificate: tbs,
        signature_algorithm: algorithm,
        signature: spki::der::asn1::BitString::from_bytes(&signature).unwrap(),
    };
    pem_rfc7468::encode_string("CERTIFICATE", pem_rfc7468::LineEnding::LF, &cert.to_der().unwrap()).unwrap()
}

/// A `v3/certificates` body listing `certs` (serial, PEM), sealed with the APIv3 key.
fn listing(certs: &[(&str, &str)]) -> Vec<u8> {
    let data: Vec<_> = certs
        .iter()
        .map(|(serial, pem)| {
            let nonce = "0123456789ab";
            json!({
                "serial_no": serial,
                "effective_time": "2024-01-01T00:00:00+08:00",
                "expire_time": "2034-01-01T00:00:00+08:00",
                "encrypt_certificate": {
                    "algorithm": "AEAD_AES_256_GCM",
                    "nonce": nonce,
                    "associated_data": "certificate",
                    "ciphertext": wechatpay::aes::AesGcm::encrypt(pem.as_bytes(), APIV3_KEY, nonce, "certificate").unwrap(),
                },
            })
        })
        .collect();
    serde_json::to_vec(&json!({ "data": data })).unwrap()
}

const TRUSTED_SERIAL: &str = "5157F09EFDC096DE15EBE81A47057A7232F1B8E1";
const PLANTED_SERIAL: &str = "6A1B2C3D4E5F60718293A4B5C6D7E8F901234567";

/// An attacker who knows the APIv3 key (or replays a sealed listing) serves a download holding a
/// certificate under the client's configured serial with another key, plus a second certificate that
/// signs the download; every other answer is signed by the forged key under the configured serial.
fn forged_gateway(forged: &PrivateKey, planted: &PrivateKey) -> SocketAddr {
    let forged_pem = certificate(forged, TRUSTED_SERIAL);
    let planted_pem = certificate(planted, PLANTED_SERIAL);
    let body = listing(&[(TRUSTED_SERIAL, &forged_pem), (PLANTED_SERIAL, &planted_pem)]);
    let (forged, planted) = (forged.clone(), planted.clone());
    raw_server(move |line| {
        if line.starts_with("GET /v3/certificates ") {
            Canned {
                status: 200,
                headers: signed_headers(&planted, PLANTED_SERIAL, &body),
                body: body.clone(),
            }
        } else {
            let answer = br#"{"forged":true}"#.to_vec();
            Canned {
                status: 200,
                headers: signed_headers(&forged, TRUSTED_SERIAL, &answer),
                body: answer,
            }
        }
    })
}

fn client_of(addr: SocketAddr, trusted: Option<PublicKey>) -> Client {
    let mut builder = Client::builder()
        .mchid(MCHID)
        .serial(MERCHANT_SERIAL)
        .private_key_loaded(PrivateKey::load(include_str!("fixtures/merchant_key.pem")).unwrap())
        .apiv3_key(APIV3_KEY)
        .base_uri(&format!("http://{addr}/"))
        .timeout(Duration::from_secs(30));
    if let Some(key) = trusted {
        builder = builder.cert_loaded(TRUSTED_SERIAL, key);
    }
    builder.build().unwrap()
}

fn trusted_key() -> PublicKey {
    PublicKey::load(include_str!("fixtures/platform_cert.pem")).unwrap()
}

#[test]
fn a_refresh_never_replaces_a_configured_key() {
    let (forged, planted) = (PrivateKey::generate(), PrivateKey::generate());
    let client = client_of(forged_gateway(&forged, &planted), Some(trusted_key()));
    let before = client.keyring();

    let e = client.refresh_certificates().unwrap_err();
    assert_eq!(e.verification(), Some(Verification::UntrustedCertificate), "{e}");
    assert!(e.to_string().contains(TRUSTED_SERIAL), "names the serial: {e}");
    let after = client.keyring();
    assert_eq!(after.ids().collect::<Vec<_>>(), [TRUSTED_SERIAL]);
    assert_eq!(
        after.get(TRUSTED_SERIAL).unwrap().to_spki_der(),
        before.get(TRUSTED_SERIAL).unwrap().to_spki_der(),
        "the configured key is still the configured one"
    );
    // An answer signed by the forged key under the configured serial is refused.
    let e = client["v3/anything"].get(()).unwrap_err();
    assert_eq!(e.verification(), Some(Verification::BadSignature), "{e}");
}

#[test]
fn a_client_with_configured_keys_plants_no_key_on_the_apiv3_key_alone() {
    // No serial collision this time: the download brings one new certificate and is signed by it.
    let planted = PrivateKey::generate();
    let planted_pem = certificate(&planted, PLANTED_SERIAL);
    let body = listing(&[(PLANTED_SERIAL, &planted_pem)]);
    let signer = planted.clone();
    let addr = raw_server(move |_| Canned {
        status: 200,
        headers: signed_headers(&signer, PLANTED_SERIAL, &body),
        body: body.clone(),
    });

    let configured = client_of(addr, Some(trusted_key()));
    let e = configured.refresh_certificates().unwrap_err();
    assert_eq!(e.verification(), Some(Verification::UntrustedCertificate), "{e}");
    assert!(configured.keyring().get(PLANTED_SERIAL).is_none());
    let e = configured["v3/anything"].get(()).unwrap_err();
    assert_eq!(e.verification(), Some(Verification::UnknownSerial), "{e}");

    // A client with no configured key bootstraps from the APIv3 key, as PHP's downloader does.
    let bootstrap = client_of(addr, None);
    bootstrap.refresh_certificates().unwrap();
    assert!(bootstrap.keyring().get(PLANTED_SERIAL).is_some());
    // And the explicit download (the user's own decision) verifies against what it brings.
    let certs = certificates::download(&configured, APIV3_KEY).unwrap();
    assert_eq!(certs[0].serial_no(), PLANTED_SERIAL);
}

#[test]
fn a_configured_client_learns_a_new_certificate_from_a_download_its_key_signs() {
    let server = MockServer::builder().certificate_mode(true).start().unwrap();
    let old = server.platform_certificate_serial().to_owned();
    let client = server
        .client_builder()
        .apiv3_key(server.apiv3_key())
        .refresh_on_unknown_serial(true)
        .build()
        .unwrap();
    // WeChat Pay serves a new certificate before it signs with it: a refresh then is signed by the old one.
    let new = server.issue_platform_certificate();
    assert_eq!(server.served_certificate_serials(), [old.clone(), new.clone()]);
    client.refresh_certificates().unwrap();
    assert!(client.keyring().get(&new).is_some());
    assert_eq!(server.rotate_platform_key().unwrap(), new);
    let res = client["v3/marketing/busifavor/stocks/{stock_id}"]
        .get(json!({"stock_id": "100088"}))
        .unwrap();
    assert_eq!(res.header("wechatpay-serial"), Some(new.as_str()));
}

#[test]
fn certificates_outside_their_validity_are_refused() {
    let day = Duration::from_secs(86_400);
    let now = SystemTime::now();
    for (not_before, not_after, says) in [
        (now - 400 * day, now - 30 * day, "expired at"),
        (now + 7 * day, now + 400 * day, "is not valid before"),
    ] {
        let server = MockServer::builder().certificate_mode(true).start().unwrap();
        let serial = server.issue_platform_certificate_valid(not_before, not_after);
        let client = server.client_builder().apiv3_key(server.apiv3_key()).build().unwrap();

        let e = certificates::download(&client, server.apiv3_key()).unwrap_err();
        assert_eq!(e.verification(), Some(Verification::CertificateValidity), "{e}");
        let text = e.to_string();
        assert!(text.contains(&serial) && text.contains(says), "{text}");
        assert!(text.contains("+08:00"), "names the dates: {text}");

        let e = client.refresh_certificates().unwrap_err();
        assert_eq!(e.verification(), Some(Verification::CertificateValidity), "{e}");
        assert!(client.keyring().get(&serial).is_none());
    }
}

#[test]
fn the_timeout_bounds_the_wait_for_a_certificate_refresh() {
    let server = MockServer::builder().certificate_mode(true).start().unwrap();
    let client = server
        .client_builder()
        .apiv3_key(server.apiv3_key())
        .refresh_on_unknown_serial(true)
        // A refresh just ran, so the next one may not start for an hour.
        .refresh_min_interval(Duration::from_secs(3600))
        .timeout(Duration::from_secs(3))
        .build()
        .unwrap();
    client.refresh_certificates().unwrap();
    server.inject(Fault::UnknownSerial, 1);

    // A watchdog, not a measurement: without the bound the call waits for the hour-long rate limit.
    let (tx, rx) = mpsc::channel();
    let worker = client.clone();
    std::thread::spawn(move || {
        let _ = tx.send(worker["v3/marketing/busifavor/stocks/{stock_id}"].get(json!({"stock_id": "100088"})));
    });
    let result = rx
        .recv_timeout(Duration::from_secs(120))
        .expect("the call ends within its timeout, not after the refresh rate limit");
    let e = result.unwrap_err();
    assert!(e.is_timeout(), "{e}");
}

/// A server that answers everything unsigned, as WeChat Pay answers only its downloads.
fn unsigned_gateway() -> SocketAddr {
    raw_server(|_| Canned {
        status: 200,
        headers: vec![("content-type".into(), "application/octet-stream".into())],
        body: b"bill,csv\n".to_vec(),
    })
}

fn plain_client(base_uri: &str) -> Client {
    Client::builder()
        .mchid(MCHID)
        .serial(MERCHANT_SERIAL)
        .private_key_loaded(PrivateKey::load(include_str!("fixtures/merchant_key.pem")).unwrap())
        .cert_loaded(TRUSTED_SERIAL, trusted_key())
        .base_uri(base_uri)
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

#[test]
fn the_unsigned_download_exception_is_matched_byte_for_byte_for_get_only() {
    let addr = unsigned_gateway();
    let client = plain_client(&format!("http://{addr}/"));
    let unsigned = |r: wechatpay::Result<wechatpay::Response>| r.map(|res| res.bytes().to_vec());
    let missing = |r: wechatpay::Result<wechatpay::Response>| {
        let e = r.unwrap_err();
        assert_eq!(e.verification(), Some(Verification::MissingHeader), "{e}");
    };

    assert_eq!(unsigned(client["v3/billdownload/file"].get(())).unwrap(), b"bill,csv\n");
    unsigned(client["v3/merchant-service/images/{media_id}"].get(json!({"media_id": "abc"}))).unwrap();
    // `%75pload` is `upload`, which is signed.
    missing(client["v3/merchant-service/images/{+id}"].get(json!({"id": "%75pload"})));
    missing(client["v3/merchant-service/images/{id}"].get(json!({"id": "upload"})));
    // Only GET downloads are unsigned.
    missing(client["v3/billdownload/file"].post(json!({"json": {}})));

    // A base path that ends like the exception does not make every answer unsigned…
    let images = plain_client(&format!("http://{addr}/v3/merchant-service/images/"));
    missing(images["v3/marketing/busifavor/stocks"].get(()));
    // …and a base path in front of a genuine download does not make it signed.
    let gateway = plain_client(&format!("http://{addr}/gateway/"));
    unsigned(gateway["v3/billdownload/file"].get(())).unwrap();
}

/// An encrypted PKCS#8 PEM whose key-derivation parameters are `kdf` (the ciphertext is junk: the
/// parameters must be refused before any decryption is tried).
fn encrypted_with(kdf: pkcs8::pkcs5::pbes2::Kdf<'_>) -> String {
    use pkcs8::der::Encode as _;
    let iv = [7u8; 16];
    let params = pkcs8::pkcs5::pbes2::Parameters {
        kdf,
        encryption: pkcs8::pkcs5::pbes2::EncryptionScheme::Aes256Cbc { iv: &iv },
    };
    let junk = [0u8; 64];
    let info = pkcs8::EncryptedPrivateKeyInfo {
        encryption_algorithm: params.into(),
        encrypted_data: &junk,
    };
    pem_rfc7468::encode_string(
        "ENCRYPTED PRIVATE KEY",
        pem_rfc7468::LineEnding::LF,
        &info.to_der().unwrap(),
    )
    .unwrap()
}

#[test]
fn hostile_key_derivation_parameters_are_refused_before_they_run() {
    use pkcs8::pkcs5::pbes2::{Kdf, Pbkdf2Params, Pbkdf2Prf, ScryptParams};
    let salt = [1u8; 16];
    // 64 GiB: without the cap this aborts the process.
    let bomb = encrypted_with(Kdf::Scrypt(ScryptParams {
        salt: &salt,
        cost_parameter: 1 << 26,
        block_size: 8,
        parallelization: 1,
        key_length: None,
    }));
    // The largest count the format allows: minutes of CPU without the cap.
    let slow = encrypted_with(Kdf::Pbkdf2(Pbkdf2Params {
        salt: &salt,
        iteration_count: 100_000_000,
        key_length: None,
        prf: Pbkdf2Prf::HmacWithSha256,
    }));
    for (pem, says) in [(&bomb, "scrypt"), (&slow, "PBKDF2")] {
        let e = PrivateKey::load_encrypted(pem, "passphrase").unwrap_err();
        assert!(e.is_key(), "{e}");
        assert!(e.to_string().contains(says), "{e}");
    }
    // Within the caps, the parameters are used (and the junk then fails as a wrong passphrase).
    let fine = encrypted_with(Kdf::Pbkdf2(Pbkdf2Params {
        salt: &salt,
        iteration_count: 2048,
        key_length: None,
        prf: Pbkdf2Prf::HmacWithSha256,
    }));
    let e = PrivateKey::load_encrypted(&fine, "passphrase").unwrap_err();
    assert!(e.to_string().contains("wrong passphrase"), "{e}");
}

#[test]
fn framing_and_hop_by_hop_headers_are_refused() {
    let server = MockServer::start().unwrap();
    let client = server.client().unwrap();
    for name in [
        "Content-Length",
        "Transfer-Encoding",
        "Host",
        "Connection",
        "Keep-Alive",
        "TE",
        "Upgrade",
    ] {
        let options = Options::from(json!({"json": {"a": 1}, "headers": {name: "7"}}));
        let e = client.prepare(Method::POST, "v3/echo", options).unwrap_err();
        assert!(e.is_request(), "{name}: {e}");
        assert!(
            e.to_string().to_ascii_lowercase().contains(&name.to_ascii_lowercase()),
            "{e}"
        );
        let e = server.client_builder().header(name, "7").build().unwrap_err();
        assert!(e.is_config(), "{name}: {e}");
    }
}

#[test]
fn a_leading_slash_or_an_odd_case_changes_nothing() {
    let server = MockServer::start().unwrap();
    let client = server.client().unwrap();
    let prepared = client
        .prepare(Method::GET, "/v3/marketing/busifavor/stocks/100088", ())
        .unwrap();
    assert_eq!(prepared.target(), "/v3/marketing/busifavor/stocks/100088");
    let res = client.send(prepared).unwrap();
    assert_eq!(res.status(), 200);
    // However written, a `v2` first segment is APIv2, and never reaches the URL.
    for (path, url_path) in [
        ("/v2/pay/micropay", "/pay/micropay"),
        ("V2/pay/micropay", "/pay/micropay"),
        ("//V2/secapi/pay/refund", "/secapi/pay/refund"),
    ] {
        let prepared = client.prepare(Method::POST, path, ()).unwrap();
        assert!(prepared.is_apiv2(), "{path}");
        assert_eq!(prepared.url().path(), url_path, "{path}");
    }
    let e = client.prepare(Method::POST, "v2", ()).unwrap_err();
    assert!(e.is_path() && e.to_string().contains("v2/pay/micropay"), "{e}");
}

/// A `POST` of `body` to `path` signed as the sandbox's merchant, for requests built by hand.
fn signed_post(server: &MockServer, path: &str, body: &[u8]) -> wechatpay::sign::Authorization {
    wechatpay::sign::Authorization::sign(
        server.merchant_key(),
        server.mchid(),
        server.merchant_serial(),
        "POST",
        path,
        body,
    )
}

/// Sends `body` to the sandbox with a hand-made `Authorization`.
fn send_raw(server: &MockServer, path: &str, authorization: &str, content_type: &str, body: Vec<u8>) -> (u16, String) {
    let client = reqwest::blocking::Client::new();
    let res = client
        .post(format!("{}{}", server.base_uri(), path.trim_start_matches('/')))
        .header("authorization", authorization)
        .header("content-type", content_type)
        .header("accept", "application/json")
        .body(body)
        .send()
        .unwrap();
    (res.status().as_u16(), res.text().unwrap())
}

#[test]
fn the_sandbox_signs_only_uploads_over_their_meta_part() {
    let server = MockServer::start().unwrap();
    let path = "/v3/marketing/busifavor/coupons/use";
    let meta = br#"{"filename":"x.png","sha256":"00"}"#;
    let auth = signed_post(&server, path, meta);
    let boundary = "b0undary";
    let mut multipart = Vec::new();
    multipart.extend_from_slice(
        format!(
            "--{boundary}\r\ncontent-disposition: form-data; name=\"meta\"\r\ncontent-type: application/json\r\n\r\n"
        )
        .as_bytes(),
    );
    multipart.extend_from_slice(meta);
    multipart.extend_from_slice(
        format!("\r\n--{boundary}\r\ncontent-disposition: form-data; name=\"file\"; filename=\"x.png\"\r\ncontent-type: image/png\r\n\r\nattacker bytes\r\n--{boundary}--\r\n").as_bytes(),
    );
    let (status, body) = send_raw(
        &server,
        path,
        &auth.to_string(),
        &format!("multipart/form-data; boundary={boundary}"),
        multipart,
    );
    assert_eq!(status, 401, "{body}");
    assert!(body.contains("SIGN_ERROR"), "{body}");
}

#[test]
fn the_sandbox_takes_timestamps_only_in_their_plain_decimal_form() {
    let server = MockServer::start().unwrap();
    let path = "/v3/marketing/busifavor/coupons/use";
    let body = br#"{"coupon_code":"x"}"#.to_vec();
    for spelling in ["+{ts}", "0{ts}", "00{ts}"] {
        let auth = signed_post(&server, path, &body);
        let header = auth.to_string().replace(
            &format!("timestamp=\"{}\"", auth.timestamp),
            &format!(
                "timestamp=\"{}\"",
                spelling.replace("{ts}", &auth.timestamp.to_string())
            ),
        );
        let (status, text) = send_raw(&server, path, &header, "application/json", body.clone());
        assert_eq!(status, 401, "{spelling}: {text}");
        assert!(text.contains("timestamp"), "{spelling}: {text}");
    }
}

#[cfg(feature = "cli")]
#[test]
fn wxpay_mock_serve_leaves_no_key_behind_when_it_cannot_start() {
    let busy = TcpListener::bind("127.0.0.1:0").unwrap();
    let tmp = common::temp_dir("serve-fails");
    std::fs::create_dir_all(&tmp).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_wxpay"))
        .args(["mock", "serve", "--addr", &busy.local_addr().unwrap().to_string()])
        .env("TMPDIR", &tmp)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success(), "the port is taken");
    let left: Vec<_> = std::fs::read_dir(&tmp).unwrap().flatten().map(|e| e.path()).collect();
    std::fs::remove_dir_all(&tmp).unwrap();
    assert!(left.is_empty(), "left behind: {left:?}");
}

#[test]
fn sensitive_fields_are_encrypted_for_the_newest_valid_certificate() {
    let day = Duration::from_secs(86_400);
    let now = SystemTime::now();
    let cert = |serial: &str, from: SystemTime, until: SystemTime| {
        let pem = certificate_valid(&PrivateKey::generate(), serial, from, until);
        (serial.to_owned(), PublicKey::load(&pem).unwrap())
    };
    // Alphabetically first: the expired one; then the older and the newer valid ones.
    let ring = wechatpay::Keyring::new([
        cert("1A00000000000000000000000000000000000001", now - 400 * day, now - day),
        cert(
            "2B00000000000000000000000000000000000002",
            now - 30 * day,
            now + 300 * day,
        ),
        cert("3C00000000000000000000000000000000000003", now - day, now + 400 * day),
    ]);
    let (id, _) = ring.encryption_key(None).unwrap();
    assert_eq!(id, "3C00000000000000000000000000000000000003");
    // A public key still wins (public-key mode), and an explicit choice wins over both.
    let with_public = ring.with([("PUB_KEY_ID_0114232134912410000000000000".to_owned(), trusted_key())]);
    assert_eq!(
        with_public.encryption_key(None).unwrap().0,
        "PUB_KEY_ID_0114232134912410000000000000"
    );
    let chosen = "2B00000000000000000000000000000000000002";
    assert_eq!(with_public.encryption_key(Some(chosen)).unwrap().0, chosen);
}

#[test]
fn a_failing_refresh_is_visible_and_retried_before_the_interval() {
    let server = MockServer::builder().certificate_mode(true).start().unwrap();
    server.inject_path("/v3/certificates", Fault::Status(500));
    let client = server
        .client_builder()
        .apiv3_key(server.apiv3_key())
        .retry(wechatpay::RetryPolicy::none())
        .refresh_certificates_every(Duration::from_secs(3600))
        .build()
        .unwrap();
    // The first refresh runs at build time on the refresher thread: wait (bounded) for it to fail.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let state = loop {
        let state = client.refresh_state().unwrap();
        if state.failures >= 1 {
            break state;
        }
        assert!(std::time::Instant::now() < deadline, "no refresh ran: {state:?}");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(
        state.last_error.as_deref().is_some_and(|e| e.contains("500")),
        "{state:?}"
    );
    assert!(state.last_success.is_none());
    let next = state.next_attempt.expect("a next attempt is planned");
    let wait = next.duration_since(SystemTime::now()).unwrap_or_default();
    assert!(
        wait < Duration::from_secs(600),
        "retried well before the hour: {wait:?}"
    );

    // An explicit refresh that succeeds clears it.
    server.clear_faults();
    client.refresh_certificates().unwrap();
    let state = client.refresh_state().unwrap();
    assert!(
        state.last_error.is_none() && state.failures == 0 && state.last_success.is_some(),
        "{state:?}"
    );
}

#[test]
fn sandbox_answers_name_their_signature_scheme_and_charset_as_wechat_pay_does() {
    let server = MockServer::start().unwrap();
    let client = server.client().unwrap();
    let res = client["v3/marketing/busifavor/stocks/{stock_id}"]
        .get(json!({"stock_id": "100088"}))
        .unwrap();
    assert_eq!(
        res.header("wechatpay-signature-type"),
        Some("WECHATPAY2-SHA256-RSA2048")
    );
    assert_eq!(res.header("content-type"), Some("application/json; charset=utf-8"));
    // Signed errors too.
    let e = client["v3/nowhere"].get(()).unwrap_err();
    assert_eq!(e.status(), Some(404), "{e}");

    // An answer naming another scheme is refused with its own step.
    let key = PrivateKey::generate();
    let addr = raw_server(move |_| {
        let body = br#"{"ok":true}"#.to_vec();
        let mut headers = signed_headers(&key, TRUSTED_SERIAL, &body);
        headers.push(("wechatpay-signature-type".into(), "WECHATPAY2-SM2-WITH-SM3".into()));
        Canned {
            status: 200,
            headers,
            body,
        }
    });
    let e = plain_client(&format!("http://{addr}/"))["v3/anything"]
        .get(())
        .unwrap_err();
    assert_eq!(e.verification(), Some(Verification::UnsupportedSignatureType), "{e}");
}
