//! Media uploads against the sandbox, which parses the multipart, authenticates over the `meta` JSON
//! and checks the file's SHA-256; and bill downloads checked against their digest.
#![cfg(feature = "mock")]

mod common;

use std::io::{Read, Seek, SeekFrom};

use serde_json::{json, Value};
use wechatpay::media::{self, Upload};
use wechatpay::mock::{Answer, MockServer};
use wechatpay::{Method, Verification};

fn sandbox() -> (MockServer, wechatpay::Client) {
    let server = MockServer::start().unwrap();
    let client = server.client().unwrap();
    (server, client)
}

/// A PNG-looking file of `len` bytes.
fn image(len: usize) -> Vec<u8> {
    let mut data = b"\x89PNG\r\n\x1a\n".to_vec();
    data.extend((0..len.saturating_sub(8)).map(|i| (i * 7 % 251) as u8));
    data.truncate(len);
    data
}

/// A file in a directory of its own under the temp dir, both removed when dropped: tests leave nothing.
struct TempFile {
    dir: std::path::PathBuf,
    path: std::path::PathBuf,
}

impl AsRef<std::path::Path> for TempFile {
    fn as_ref(&self) -> &std::path::Path {
        &self.path
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn temp_file(name: &str, data: &[u8]) -> TempFile {
    let dir = common::temp_dir(&format!("media-{name}"));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, data).unwrap();
    TempFile { dir, path }
}

#[test]
fn upload_from_a_path_to_every_endpoint() {
    let (_server, client) = sandbox();
    let path = temp_file("logo.png", &image(2748));
    for endpoint in [
        media::MEDIA_UPLOAD,
        media::FAVOR_IMAGE_UPLOAD,
        media::MERCHANT_SERVICE_IMAGE_UPLOAD,
    ] {
        let upload = Upload::from_path(&path).unwrap();
        assert_eq!((upload.filename(), upload.len()), ("logo.png", 2748));
        let res = media::upload(&client, endpoint, upload)
            .wait()
            .unwrap_or_else(|e| panic!("{endpoint}: {e}"));
        let body: Value = res.json().unwrap();
        let id = body["media_id"].as_str().or(body["media_url"].as_str()).unwrap();
        assert!(id.len() > 40, "{endpoint}: {body}");
    }
    // A path upload can be sent again (the file is reopened).
    let upload = Upload::from_path(&path).unwrap();
    media::upload(&client, media::MEDIA_UPLOAD, upload.clone())
        .wait()
        .unwrap();
    media::upload(&client, media::MEDIA_UPLOAD, upload).wait().unwrap();
}

#[test]
fn upload_from_readers() {
    let (_server, client) = sandbox();
    let data = image(10_000);
    let from_reader = Upload::from_reader("a.jpg", &data[..]).unwrap();
    let from_seekable = Upload::from_seekable("b.bmp", std::io::Cursor::new(data.clone())).unwrap();
    assert_eq!(from_reader.sha256(), from_seekable.sha256());
    for upload in [from_reader, from_seekable] {
        let res = media::upload(&client, media::MEDIA_UPLOAD, upload).wait().unwrap();
        assert!(res.json::<Value>().unwrap()["media_id"].is_string());
    }
    // Async, with a seekable reader that does not start at 0: only the rest is sent.
    let mut cursor = std::io::Cursor::new(data.clone());
    cursor.seek(SeekFrom::Start(100)).unwrap();
    let upload = Upload::from_seekable("c.png", cursor).unwrap();
    assert_eq!(upload.len(), 9_900);
    let res = futures::executor::block_on(media::upload(&client, media::MEDIA_UPLOAD, upload)).unwrap();
    assert_eq!(res.status(), 200);
}

/// A deterministic pseudo-random "video" produced on demand: no buffer the size of the file exists.
struct LazyVideo {
    len: u64,
    pos: u64,
}

impl LazyVideo {
    fn byte(i: u64) -> u8 {
        let mut x = i.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xDEAD_BEEF;
        x ^= x >> 29;
        (x.wrapping_mul(0xBF58_476D_1CE4_E5B9) >> 56) as u8
    }
}

impl Read for LazyVideo {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = buf.len().min((self.len - self.pos) as usize).min(4096);
        for (i, b) in buf[..n].iter_mut().enumerate() {
            *b = Self::byte(self.pos + i as u64);
        }
        self.pos += n as u64;
        Ok(n)
    }
}

impl Seek for LazyVideo {
    fn seek(&mut self, to: SeekFrom) -> std::io::Result<u64> {
        self.pos = match to {
            SeekFrom::Start(p) => p,
            SeekFrom::Current(d) => self.pos.saturating_add_signed(d),
            SeekFrom::End(d) => self.len.saturating_add_signed(d),
        }
        .min(self.len);
        Ok(self.pos)
    }
}

#[test]
fn a_multi_megabyte_video_is_streamed() {
    let (_server, client) = sandbox();
    let len = 4_500_000;
    let upload = Upload::from_seekable("intro.mp4", LazyVideo { len, pos: 0 }).unwrap();
    assert_eq!(upload.len(), len);
    let meta: Value = serde_json::from_slice(upload.meta_json()).unwrap();
    assert_eq!(meta["filename"], "intro.mp4");
    let res = media::upload(&client, media::VIDEO_UPLOAD, upload.clone())
        .wait()
        .unwrap();
    assert!(res.json::<Value>().unwrap()["media_id"].is_string());
    // Its reader is spent: sending it again is a clear error, not a wrong upload.
    let e = media::upload(&client, media::VIDEO_UPLOAD, upload).wait().unwrap_err();
    assert!(e.is_request() || e.is_transport(), "{e}");
    assert!(format!("{e} {e:?}").contains("already sent"), "{e:?}");

    // The same from a file on disk.
    let mut bytes = Vec::new();
    LazyVideo { len, pos: 0 }.read_to_end(&mut bytes).unwrap();
    let path = temp_file("intro.mp4", &bytes);
    drop(bytes);
    let res = media::upload(&client, media::VIDEO_UPLOAD, Upload::from_path(&path).unwrap())
        .wait()
        .unwrap();
    assert_eq!(res.status(), 200);
}

#[test]
fn a_tampered_sha256_is_refused_by_the_sandbox() {
    let (_server, client) = sandbox();
    let upload = Upload::from_bytes("logo.png", image(2748)).unwrap();
    let wrong = wechatpay::hash::sha256_hex(b"something else");
    let upload = upload.meta(&json!({"filename": "logo.png", "sha256": wrong})).unwrap();
    let e = media::upload(&client, media::MEDIA_UPLOAD, upload).wait().unwrap_err();
    assert_eq!((e.status(), e.code()), (Some(400), Some("PARAM_ERROR")), "{e}");
    assert!(e.api_message().unwrap().contains("sha256"), "{e}");
}

#[test]
fn custom_meta_is_what_is_signed() {
    let (_server, client) = sandbox();
    let upload = Upload::from_bytes("receipt.png", image(500)).unwrap();
    let meta = json!({"filename": "receipt.png", "sha256": upload.sha256(), "transaction_id": "4200000000"});
    let upload = upload.meta(&meta).unwrap();
    media::upload(&client, media::MEDIA_UPLOAD, upload).wait().unwrap();
}

#[test]
fn an_upload_with_a_json_body_is_refused_before_sending() {
    let (server, client) = sandbox();
    let before = server.requests();
    let upload = Upload::from_bytes("a.png", image(10)).unwrap();
    let e = media::upload_with(&client, media::MEDIA_UPLOAD, json!({"json": {"a": 1}}), upload)
        .wait()
        .unwrap_err();
    assert!(e.is_request(), "{e}");
    assert_eq!(server.requests(), before);
}

/// A sandbox that serves a trade bill query and its file, with the file's real or a wrong digest.
fn bill_sandbox(honest: bool) -> (MockServer, wechatpay::Client) {
    let csv = "交易时间,公众账号ID,商户号\n`2026-11-22 10:00:00,`wx8888888888888888,`1900000109\n";
    let digest = if honest {
        wechatpay::hash::sha1_hex(csv.as_bytes())
    } else {
        wechatpay::hash::sha1_hex(b"another bill")
    };
    serving_bill(csv.as_bytes().to_vec(), "text/plain", &digest, "")
}

/// A sandbox whose trade bill query answers `digest` and a `download_url` (its `token`, then `tail`) into
/// a file server handing out `file`, only to a request carrying that query.
fn serving_bill(
    file: Vec<u8>,
    content_type: &'static str,
    digest: &str,
    tail: &str,
) -> (MockServer, wechatpay::Client) {
    let (server, client) = sandbox();
    let token = "6XIv5TUPto7pByrTQKhd6kwvyKLG2uY2wMMR8cNXqaA_Cv_isgaUtBzp4QtiozLO";
    let download_url = format!("{}v3/billdownload/file?token={token}{tail}", server.base_uri());
    let digest = digest.to_owned();
    server.route(Method::GET, "v3/bill/tradebill", move |req| {
        assert_eq!(req.query("bill_date"), Some("2026-11-22"));
        Answer::json(
            200,
            &json!({"hash_type": "SHA1", "hash_value": digest, "download_url": download_url}),
        )
    });
    let tartype = tail.strip_prefix("&tartype=").map(str::to_owned);
    server.route(Method::GET, "v3/billdownload/file", move |req| {
        if req.query("token") == Some(token) && req.query("tartype") == tartype.as_deref() {
            Answer::bytes(200, content_type, file.clone())
        } else {
            Answer::error(400, "PARAM_ERROR", "token 无效")
        }
    });
    (server, client)
}

/// A bill sandbox, a client, and its answer to the day's bill query.
fn queried_bill(honest: bool) -> (MockServer, wechatpay::Client, Value) {
    let (server, client) = bill_sandbox(honest);
    let bill: Value = client["v3/bill/tradebill"]
        .get(json!({"query": {"bill_date": "2026-11-22"}}))
        .unwrap()
        .json()
        .unwrap();
    (server, client, bill)
}

/// A GZIP trade bill as WeChat Pay serves one: the gzip of a CSV that starts with a byte-order mark, its
/// `download_url` carrying `tartype=GZIP`; and the CSV. The digest is over the CSV when `over_csv`, as
/// WeChat Pay documents it ("原始账单（gzip需要解压缩）的摘要值"), else over the gzip bytes.
fn gzip_bill(over_csv: bool) -> (MockServer, wechatpay::Client, Value, Vec<u8>) {
    use std::io::Write as _;
    let csv = "\u{feff}交易时间,公众账号ID,商户号\r\n`2026-11-22 10:00:00,`wx8888888888888888,`1900000109\r\n"
        .repeat(100)
        .into_bytes();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&csv).unwrap();
    let gz = gz.finish().unwrap();
    let digest = wechatpay::hash::sha1_hex(if over_csv { &csv } else { &gz });
    let (server, client) = serving_bill(gz, "application/x-gzip", &digest, "&tartype=GZIP");
    let bill: Value = client["v3/bill/tradebill"]
        .get(json!({"query": {"bill_date": "2026-11-22", "tar_type": "GZIP"}}))
        .unwrap()
        .json()
        .unwrap();
    (server, client, bill, csv)
}

#[test]
fn a_downloaded_bill_matches_its_digest() {
    let (_server, client, bill) = queried_bill(true);
    let csv = media::download_bill(&client, &bill).wait().unwrap();
    assert!(std::str::from_utf8(&csv).unwrap().starts_with("交易时间"));
    media::check_bill(&csv, &bill).unwrap();
}

#[test]
fn a_bill_download_takes_options_such_as_progress() {
    let (_server, client, bill) = queried_bill(true);
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = std::sync::Arc::clone(&seen);
    let options = wechatpay::Options::new().on_progress(move |got, total| log.lock().unwrap().push((got, total)));
    let csv = media::download_bill_with(&client, &bill, options).wait().unwrap();
    let seen = seen.lock().unwrap();
    let last = *seen.last().expect("progress was reported");
    assert_eq!(last.0, csv.len() as u64, "{seen:?}");
}

#[test]
fn a_bill_that_does_not_match_its_digest_is_refused() {
    let (_server, client, bill) = queried_bill(false);
    let e = media::download_bill(&client, &bill).wait().unwrap_err();
    assert_eq!(e.verification(), Some(Verification::DigestMismatch), "{e}");
    assert!(e.to_string().contains("SHA1"), "{e}");
}

#[test]
fn a_gzip_bill_is_checked_over_the_csv_it_holds() {
    let (_server, client, bill, csv) = gzip_bill(true);
    // Fetched with the `download_url`'s whole query (`token` and `tartype`), handed back as downloaded.
    let gz = media::download_bill(&client, &bill).wait().unwrap();
    assert_eq!(&gz[..2], b"\x1f\x8b", "gzip, as downloaded");
    let mut unpacked = Vec::new();
    flate2::read::GzDecoder::new(&gz[..])
        .read_to_end(&mut unpacked)
        .unwrap();
    assert_eq!(unpacked, csv);
    media::check_bill(&gz, &bill).unwrap();
    media::check_bill(&csv, &bill).unwrap();
}

#[test]
fn a_gzip_bill_whose_digest_is_over_the_gzip_bytes_is_refused() {
    let (_server, client, bill, _) = gzip_bill(false);
    let e = media::download_bill(&client, &bill).wait().unwrap_err();
    assert_eq!(e.verification(), Some(Verification::DigestMismatch), "{e}");
    assert!(e.to_string().contains("SHA1"), "{e}");
    // Bytes that only look like gzip are not the bill either.
    let e = media::check_bill(b"\x1f\x8b not the bill", &bill).unwrap_err();
    assert_eq!(e.verification(), Some(Verification::DigestMismatch), "{e}");
}

#[test]
fn uploads_port_as_a_chain_call_with_the_clients_settings() {
    let (server, client) = sandbox();
    let file = Upload::from_bytes("logo.png", image(2_748)).unwrap();
    // An upload meant to succeed keeps the default timeout (60 s): a busy machine cannot fail it.
    let res = client["v3/merchant/media/upload"]
        .post(wechatpay::Options::new().upload(file.clone()))
        .unwrap();
    assert!(res.json::<Value>().unwrap()["media_id"].is_string());
    // The client's own settings (here a short timeout) apply to uploads too. The answer is held back 100
    // times longer than that timeout, so only the timeout can end the call.
    let short = server
        .client_builder()
        .timeout(std::time::Duration::from_millis(300))
        .build()
        .unwrap();
    server.inject(wechatpay::mock::Fault::Delay(std::time::Duration::from_secs(30)), 1);
    let e = short["v3/merchant/media/upload"]
        .post(wechatpay::Options::new().upload(file))
        .unwrap_err();
    assert!(e.is_timeout(), "{e}");
}
