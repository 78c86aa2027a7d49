//! Media: uploads as PHP's `MediaUtil` does them, and downloads checked against their digest.
//!
//! # Uploads
//!
//! WeChat Pay's upload endpoints take `multipart/form-data` with two parts: `meta`, a JSON object
//! (`{"filename": "logo.png", "sha256": "…"}` unless the endpoint wants more), and `file`, the bytes. The
//! request's signature covers the `meta` JSON only. An [`Upload`] computes the meta (a first pass over the
//! file for its SHA-256), and [`upload`] signs the meta and sends the multipart, streaming the file from
//! disk (or a reader) in chunks, so a large video is never held in memory.
//!
//! ```no_run
//! use wechatpay::media::{self, Upload};
//!
//! # fn demo(client: &wechatpay::Client) -> Result<(), wechatpay::Error> {
//! let res = media::upload(client, "v3/merchant/media/upload", Upload::from_path("logo.png")?).wait()?;
//! let media_id: String = res.json::<serde_json::Value>()?["media_id"].as_str().unwrap_or_default().into();
//!
//! // A video, streamed from disk:
//! media::upload(client, media::VIDEO_UPLOAD, Upload::from_path("intro.mp4")?).wait()?;
//! # let _ = media_id; Ok(()) }
//! ```
//!
//! The endpoints: [`MEDIA_UPLOAD`] (`v3/merchant/media/upload`), [`VIDEO_UPLOAD`]
//! (`v3/merchant/media/video_upload`), [`FAVOR_IMAGE_UPLOAD`] (`v3/marketing/favor/media/image-upload`)
//! and [`MERCHANT_SERVICE_IMAGE_UPLOAD`] (`v3/merchant-service/images/upload`); any other path works too.
//!
//! # Downloads
//!
//! Bill files (`v3/billdownload/file`) are not signed by WeChat Pay; the signed bill query gives their
//! digest instead. [`download_bill`] fetches the file the query names and checks it; [`check_bill`] and
//! [`check_digest`] check bytes fetched some other way. The digest is over the bill itself — WeChat Pay's
//! `hash_value` is "原始账单（gzip需要解压缩）的摘要值", the original bill's, after gunzip — so a bill asked
//! for with `tar_type=GZIP` is unzipped (as it streams, never held twice) to be checked.

use std::io::Read as _;

use bytes::Bytes;

#[cfg(feature = "client")]
use crate::client::pending::{Pending, ResponseFuture};
#[cfg(feature = "client")]
use crate::client::Client;
use crate::crypto::hash::{self, Algorithm, Hasher};
use crate::error::{Error, Result, Verification};
use crate::protocol::options::Options;

pub use crate::protocol::multipart::{Multipart, Upload};

/// `v3/merchant/media/upload`: images (JPG, BMP, PNG; up to 2 MB), answering `media_id`.
pub const MEDIA_UPLOAD: &str = "v3/merchant/media/upload";
/// `v3/merchant/media/video_upload`: videos (AVI, WMV, MPEG, MP4, MOV, MKV, FLV, F4V, M4V, RMVB; up to
/// 5 MB), answering `media_id`.
pub const VIDEO_UPLOAD: &str = "v3/merchant/media/video_upload";
/// `v3/marketing/favor/media/image-upload`: coupon images (up to 2 MB), answering `media_url`.
pub const FAVOR_IMAGE_UPLOAD: &str = "v3/marketing/favor/media/image-upload";
/// `v3/merchant-service/images/upload`: complaint images (up to 2 MB), answering `media_id`.
pub const MERCHANT_SERVICE_IMAGE_UPLOAD: &str = "v3/merchant-service/images/upload";

#[cfg(feature = "client")]
/// Uploads `file` to `path_template` (e.g. [`MEDIA_UPLOAD`]): signs its `meta` JSON, sends the multipart,
/// and verifies the answer. Wait on the result for a blocking call, or await it.
pub fn upload(client: &Client, path_template: &str, file: Upload) -> ResponseFuture {
    upload_with(client, path_template, Options::new(), file)
}

#[cfg(feature = "client")]
/// [`upload`] with more options: placeholder values, query, headers, timeout. The body is the upload's,
/// so `options` must not set `json`, `body` or `sensitive`.
pub fn upload_with(client: &Client, path_template: &str, options: impl Into<Options>, file: Upload) -> ResponseFuture {
    client.chain(path_template).post_async(options.into().upload(file))
}

/// Checks downloaded bytes against a digest a signed answer gave (`hash_type` `SHA1` or `SHA256`, and
/// `hash_value` in hex, either case). A mismatch is a verification error
/// ([`Verification::DigestMismatch`]). The digest is over `data` as it is: for a bill, use [`check_bill`],
/// which unzips a gzip one first.
///
/// ```
/// let csv = b"trade_time,transaction_id\n";
/// let sha1 = wechatpay::hash::sha1_hex(csv);
/// wechatpay::media::check_digest(csv, "SHA1", &sha1)?;
/// assert!(wechatpay::media::check_digest(b"tampered", "SHA1", &sha1).unwrap_err().is_verification());
/// # Ok::<(), wechatpay::Error>(())
/// ```
pub fn check_digest(data: &[u8], hash_type: &str, hash_value: &str) -> Result<()> {
    let actual = algorithm(hash_type)?.hex(data);
    compare(&actual, hash_type, hash_value, "download")
}

/// The digest algorithm a `hash_type` names.
fn algorithm(hash_type: &str) -> Result<Algorithm> {
    Algorithm::parse(hash_type).ok_or_else(|| {
        Error::decode(format!(
            "unknown `hash_type` {hash_type:?}: expected `SHA1` or `SHA256`"
        ))
    })
}

/// The digest of `what` (hex) against the one the signed answer gave, in constant time.
fn compare(actual: &str, hash_type: &str, hash_value: &str, what: &str) -> Result<()> {
    let expected = hash_value.trim().to_ascii_lowercase();
    if hash::constant_time_eq(actual.as_bytes(), expected.as_bytes()) {
        Ok(())
    } else {
        Err(Error::verify_failed(
            Verification::DigestMismatch,
            format!(
                "the {what}'s {hash_type} is {actual}, but the signed answer gave {expected}: the file is \
                 incomplete or was altered"
            ),
        ))
    }
}

/// Whether `data` is gzip (its magic number): how a bill asked for with `tar_type=GZIP` comes. A CSV bill
/// never starts so (it starts with a byte-order mark, or text).
fn is_gzip(data: &[u8]) -> bool {
    data.starts_with(&[0x1f, 0x8b])
}

/// The digest of what the gzip `data` holds, unzipped as it streams so a large bill is never held twice.
/// Every member is read (a concatenation of gzip members is one file to `gunzip`), and each member's CRC-32
/// and length are checked by the decoder.
fn gunzipped_hex(data: &[u8], algorithm: Algorithm) -> std::io::Result<String> {
    let mut reader = flate2::read::MultiGzDecoder::new(data);
    let mut hasher = Hasher::new(algorithm);
    let mut buf = vec![0; 64 << 10];
    loop {
        match reader.read(&mut buf)? {
            0 => return Ok(hasher.finish_hex()),
            n => hasher.update(&buf[..n]),
        }
    }
}

/// Checks a downloaded bill against the answer of the bill query that named it (`GET v3/bill/tradebill`,
/// `v3/bill/fundflowbill`, …): its `hash_type` and `hash_value`.
///
/// WeChat Pay's digest is over the original bill: for a bill asked for with `tar_type=GZIP`, over the CSV
/// inside the gzip, not over the gzip (the compression is not part of what it vouches for). So gzip `data`
/// is unzipped, as it streams, and the digest checked over what it holds; a gzip that does not unzip
/// (truncated, or not the bill) is a [`Verification::DigestMismatch`] too. A CSV bill is checked as it is.
///
/// ```
/// use std::io::Write as _;
/// let csv = "\u{feff}交易时间,公众账号ID\r\n".as_bytes();
/// let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
/// gz.write_all(csv)?;
/// let gz = gz.finish()?;
/// // The query's answer gives the digest of the CSV, whether the file comes zipped or not.
/// let bill = serde_json::json!({"hash_type": "SHA1", "hash_value": wechatpay::hash::sha1_hex(csv)});
/// wechatpay::media::check_bill(csv, &bill)?;
/// wechatpay::media::check_bill(&gz, &bill)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn check_bill(data: &[u8], bill: &serde_json::Value) -> Result<()> {
    let field = |name: &str| {
        bill.get(name)
            .and_then(|v| v.as_str())
            .ok_or_else(|| Error::decode(format!("the bill answer has no `{name}` string")))
    };
    let (hash_type, hash_value) = (field("hash_type")?, field("hash_value")?);
    if !is_gzip(data) {
        return check_digest(data, hash_type, hash_value);
    }
    let actual = gunzipped_hex(data, algorithm(hash_type)?).map_err(|e| {
        Error::verify_failed(
            Verification::DigestMismatch,
            format!(
                "the download is gzip but does not unzip, so its {hash_type} cannot be the one the signed \
                 answer gave: the file is incomplete or was altered"
            ),
        )
        .with_source(e)
    })?;
    compare(&actual, hash_type, hash_value, "unzipped bill")
}

#[cfg(feature = "client")]
/// Downloads the bill a bill query answered with (its `download_url`, with its `token` and, for a gzip
/// bill, `tartype` query, through this client so the request is signed) and checks it against the answer's
/// `hash_type` and `hash_value` as [`check_bill`] does (a gzip bill unzipped to be checked); returns the
/// file's bytes as downloaded (gzip when the query asked for `tar_type=GZIP`).
///
/// ```no_run
/// # fn demo(client: &wechatpay::Client) -> Result<(), wechatpay::Error> {
/// let bill = client["v3/bill/tradebill"].get(serde_json::json!({"query": {"bill_date": "2026-11-22"}}))?;
/// let csv = wechatpay::media::download_bill(client, &bill.json()?).wait()?;
/// # let _ = csv; Ok(()) }
/// ```
pub fn download_bill(client: &Client, bill: &serde_json::Value) -> Pending<Bytes> {
    download_bill_with(client, bill, Options::new())
}

#[cfg(feature = "client")]
/// [`download_bill`] with more options: a timeout, headers, [`Options::on_progress`] for a large bill.
/// The query comes from the `download_url`, so `options` must not set a body.
///
/// ```no_run
/// # fn demo(client: &wechatpay::Client, bill: &serde_json::Value) -> Result<(), wechatpay::Error> {
/// let options = wechatpay::Options::new().on_progress(|got, total| eprintln!("{got} of {total:?} bytes"));
/// let gzip = wechatpay::media::download_bill_with(client, bill, options).wait()?;
/// # let _ = gzip; Ok(()) }
/// ```
pub fn download_bill_with(client: &Client, bill: &serde_json::Value, options: impl Into<Options>) -> Pending<Bytes> {
    let bill = bill.clone();
    let client = client.clone();
    let options = options.into();
    Pending::new(async move {
        let url = bill
            .get("download_url")
            .and_then(|v| v.as_str())
            .ok_or_else(|| Error::decode("the bill answer has no `download_url` string"))?;
        let url = url::Url::parse(url)
            .map_err(|e| Error::decode(format!("the bill's `download_url` {url:?} is not a URL")).with_source(e))?;
        let base = url::Url::parse(&client.base_uri()).map_err(|e| Error::config("bad base URI").with_source(e))?;
        let path = url
            .path()
            .strip_prefix(base.path())
            .ok_or_else(|| {
                Error::request(format!(
                    "the bill's `download_url` path `{}` is not under the client's base URI `{}`",
                    url.path(),
                    client.base_uri()
                ))
            })?
            .to_owned();
        let mut options = options;
        for (k, v) in url.query_pairs() {
            options = options.query(k, v);
        }
        let res = client.chain(&path).get_async(options.unverified_download()).await?;
        check_bill(res.bytes(), &bill)?;
        Ok(res.bytes().clone())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_digests_are_refused() {
        assert!(check_digest(b"x", "MD5", "00").unwrap_err().is_decode());
        let e = check_digest(b"x", "SHA256", &hash::sha256_hex(b"y")).unwrap_err();
        assert_eq!(e.verification(), Some(Verification::DigestMismatch));
        check_digest(b"x", "sha256", &hash::sha256_hex(b"x").to_uppercase()).unwrap();
        assert!(check_bill(b"x", &serde_json::json!({"hash_type": "SHA1"}))
            .unwrap_err()
            .is_decode());
    }

    fn gzip(data: &[u8]) -> Vec<u8> {
        use std::io::Write as _;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(data).unwrap();
        gz.finish().unwrap()
    }

    fn bill(hash_type: &str, hash_value: &str) -> serde_json::Value {
        serde_json::json!({"hash_type": hash_type, "hash_value": hash_value})
    }

    #[test]
    fn a_gzip_bill_is_checked_over_the_bill_it_holds() {
        let csv = "\u{feff}交易时间,公众账号ID\r\n`2026-11-22 10:00:00,`wx8888888888888888\r\n".repeat(3000);
        let (csv, gz) = (csv.as_bytes(), gzip(csv.as_bytes()));
        assert!(is_gzip(&gz) && !is_gzip(csv));
        // WeChat Pay's digest: the original bill's, whether the file comes zipped or not.
        for (hash_type, over_csv) in [("SHA1", hash::sha1_hex(csv)), ("SHA256", hash::sha256_hex(csv))] {
            check_bill(&gz, &bill(hash_type, &over_csv)).unwrap();
            check_bill(csv, &bill(hash_type, &over_csv)).unwrap();
        }
        // A digest over the gzip bytes is not WeChat Pay's: refused.
        let e = check_bill(&gz, &bill("SHA1", &hash::sha1_hex(&gz))).unwrap_err();
        assert_eq!(e.verification(), Some(Verification::DigestMismatch), "{e}");
        assert!(e.to_string().contains("unzipped bill's SHA1"), "{e}");
        // A truncated gzip, or one of a bill twice as long, is not the bill either.
        let over_csv = bill("SHA1", &hash::sha1_hex(csv));
        let e = check_bill(&gz[..gz.len() - 10], &over_csv).unwrap_err();
        assert_eq!(e.verification(), Some(Verification::DigestMismatch), "{e}");
        assert!(e.to_string().contains("does not unzip"), "{e}");
        let twice = [gz.clone(), gz.clone()].concat();
        let e = check_bill(&twice, &over_csv).unwrap_err();
        assert_eq!(e.verification(), Some(Verification::DigestMismatch), "{e}");
        assert!(check_bill(&gz, &bill("MD5", "00")).unwrap_err().is_decode());
    }
}
