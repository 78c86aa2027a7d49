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
//! digest instead. [`download_bill`] fetches the file the query names and checks it; [`check_digest`]
//! checks bytes fetched some other way.

use bytes::Bytes;

#[cfg(feature = "client")]
use crate::client::pending::{Pending, ResponseFuture};
#[cfg(feature = "client")]
use crate::client::Client;
use crate::crypto::hash::{self, Algorithm};
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
/// ([`Verification::DigestMismatch`]).
///
/// ```
/// let csv = b"trade_time,transaction_id\n";
/// let sha1 = wechatpay::hash::sha1_hex(csv);
/// wechatpay::media::check_digest(csv, "SHA1", &sha1)?;
/// assert!(wechatpay::media::check_digest(b"tampered", "SHA1", &sha1).unwrap_err().is_verification());
/// # Ok::<(), wechatpay::Error>(())
/// ```
pub fn check_digest(data: &[u8], hash_type: &str, hash_value: &str) -> Result<()> {
    let algorithm = Algorithm::parse(hash_type).ok_or_else(|| {
        Error::decode(format!(
            "unknown `hash_type` {hash_type:?}: expected `SHA1` or `SHA256`"
        ))
    })?;
    let actual = algorithm.hex(data);
    let expected = hash_value.trim().to_ascii_lowercase();
    if hash::constant_time_eq(actual.as_bytes(), expected.as_bytes()) {
        Ok(())
    } else {
        Err(Error::verify_failed(
            Verification::DigestMismatch,
            format!(
                "the download's {hash_type} is {actual}, but the signed answer gave {expected}: the file is \
                 incomplete or was altered"
            ),
        ))
    }
}

/// Checks a downloaded bill against the answer of the bill query that named it (`GET v3/bill/tradebill`,
/// `v3/bill/fundflowbill`, …): its `hash_type` and `hash_value`.
pub fn check_bill(data: &[u8], bill: &serde_json::Value) -> Result<()> {
    let field = |name: &str| {
        bill.get(name)
            .and_then(|v| v.as_str())
            .ok_or_else(|| Error::decode(format!("the bill answer has no `{name}` string")))
    };
    check_digest(data, field("hash_type")?, field("hash_value")?)
}

#[cfg(feature = "client")]
/// Downloads the bill a bill query answered with (its `download_url`, through this client so the request
/// is signed) and checks it against the answer's `hash_type` and `hash_value`; returns the file's bytes
/// (gzip when the query asked for `tar_type=GZIP`).
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
}
