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

use std::fmt;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use serde::Serialize;

use crate::client::Client;
use crate::error::{Error, Result, Verification};
use crate::hash::{self, Algorithm, Hasher};
use crate::options::Options;
use crate::pending::{Pending, ResponseFuture};

/// `v3/merchant/media/upload`: images (JPG, BMP, PNG; up to 2 MB), answering `media_id`.
pub const MEDIA_UPLOAD: &str = "v3/merchant/media/upload";
/// `v3/merchant/media/video_upload`: videos (AVI, WMV, MPEG, MP4, MOV, MKV, FLV, F4V, M4V, RMVB; up to
/// 5 MB), answering `media_id`.
pub const VIDEO_UPLOAD: &str = "v3/merchant/media/video_upload";
/// `v3/marketing/favor/media/image-upload`: coupon images (up to 2 MB), answering `media_url`.
pub const FAVOR_IMAGE_UPLOAD: &str = "v3/marketing/favor/media/image-upload";
/// `v3/merchant-service/images/upload`: complaint images (up to 2 MB), answering `media_id`.
pub const MERCHANT_SERVICE_IMAGE_UPLOAD: &str = "v3/merchant-service/images/upload";

/// How much of a file is read at a time while hashing and sending it.
const CHUNK: usize = 64 << 10;
/// How many chunks may wait between the reading thread and the connection.
const IN_FLIGHT: usize = 4;

type Reader = Box<dyn Read + Send>;

/// Where an upload's bytes come from.
#[derive(Clone)]
enum Source {
    Bytes(Bytes),
    Path(PathBuf),
    /// A reader that can be sent once (taken when the request goes out).
    Reader(Arc<Mutex<Option<Reader>>>),
}

/// A file to upload: its name, its bytes (in memory, on disk, or behind a reader), and its `meta`.
///
/// Cheap to clone. An upload made by [`Upload::from_path`] or [`Upload::from_bytes`] can be sent any
/// number of times; one made by [`Upload::from_seekable`] streams its reader and can be sent once.
#[derive(Clone)]
pub struct Upload {
    filename: String,
    sha256: String,
    len: u64,
    content_type: String,
    meta: Bytes,
    source: Source,
}

/// The default meta: `{"filename": …, "sha256": …}`, in that order, as PHP's `MediaUtil` writes it.
#[derive(Serialize)]
struct DefaultMeta<'a> {
    filename: &'a str,
    sha256: &'a str,
}

/// The `Content-Type` of the `file` part, from the file name's extension.
fn guess_content_type(filename: &str) -> &'static str {
    let ext = filename
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "jpg" | "jpeg" => "image/jpeg",
        "png" => "image/png",
        "bmp" => "image/bmp",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "mp4" | "m4v" => "video/mp4",
        "avi" => "video/x-msvideo",
        "wmv" => "video/x-ms-wmv",
        "mpeg" | "mpg" => "video/mpeg",
        "mov" => "video/quicktime",
        "mkv" => "video/x-matroska",
        "flv" | "f4v" => "video/x-flv",
        "rmvb" => "application/vnd.rn-realmedia-vbr",
        "3gp" => "video/3gpp",
        _ => "application/octet-stream",
    }
}

/// SHA-256 and length of everything `reader` yields, read in chunks.
fn hash_reader(reader: &mut dyn Read) -> std::io::Result<(String, u64)> {
    let mut hasher = Hasher::new(Algorithm::Sha256);
    let mut buf = vec![0u8; CHUNK];
    let mut len = 0u64;
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        hasher.update(&buf[..n]);
        len += n as u64;
    }
    Ok((hasher.finish_hex(), len))
}

fn check_filename(filename: &str) -> Result<()> {
    if filename.is_empty() {
        return Err(Error::request(
            "an upload needs a file name (WeChat Pay checks its extension)",
        ));
    }
    if filename.chars().any(char::is_control) {
        return Err(Error::request("the upload's file name holds control characters"));
    }
    Ok(())
}

impl Upload {
    fn new(filename: String, sha256: String, len: u64, source: Source) -> Result<Self> {
        check_filename(&filename)?;
        let meta = serde_json::to_vec(&DefaultMeta {
            filename: &filename,
            sha256: &sha256,
        })
        .expect("two strings serialize");
        Ok(Upload {
            content_type: guess_content_type(&filename).to_owned(),
            filename,
            sha256,
            len,
            meta: meta.into(),
            source,
        })
    }

    /// The file at `path`, named by its last component. Its SHA-256 is computed now, reading the file in
    /// chunks; its bytes are read again, in chunks, when the request is sent.
    pub fn from_path(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let shown = path.display();
        let filename = path
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| Error::request(format!("`{shown}` does not end in a UTF-8 file name")))?
            .to_owned();
        let mut file = std::fs::File::open(path)
            .map_err(|e| Error::request(format!("cannot open the upload `{shown}`")).with_source(e))?;
        let (sha256, len) =
            hash_reader(&mut file).map_err(|e| Error::request(format!("cannot read `{shown}`")).with_source(e))?;
        Self::new(filename, sha256, len, Source::Path(path.to_owned()))
    }

    /// Bytes already in memory, sent as `filename`.
    ///
    /// ```
    /// let upload = wechatpay::media::Upload::from_bytes("logo.png", &b"\x89PNG\r\n\x1a\n"[..])?;
    /// assert_eq!(
    ///     std::str::from_utf8(upload.meta_json()).unwrap(),
    ///     r#"{"filename":"logo.png","sha256":"4c4b6a3be1314ab86138bef4314dde022e600960d8689a2c8f8631802d20dab6"}"#
    /// );
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn from_bytes(filename: impl Into<String>, bytes: impl Into<Bytes>) -> Result<Self> {
        let bytes = bytes.into();
        let sha256 = hash::sha256_hex(&bytes);
        Self::new(filename.into(), sha256, bytes.len() as u64, Source::Bytes(bytes))
    }

    /// Everything `reader` yields, read into memory now (for images and other small files; WeChat Pay takes
    /// at most 2 MB for images). For large data use [`Upload::from_path`] or [`Upload::from_seekable`].
    pub fn from_reader(filename: impl Into<String>, mut reader: impl Read) -> Result<Self> {
        let mut bytes = Vec::new();
        reader
            .read_to_end(&mut bytes)
            .map_err(|e| Error::request("cannot read the upload").with_source(e))?;
        Self::from_bytes(filename, bytes)
    }

    /// A reader that can rewind, streamed: read once now for the SHA-256, rewound to where it was, and
    /// read again in chunks while the request is sent — never held in memory. The upload can be sent once.
    pub fn from_seekable<R>(filename: impl Into<String>, mut reader: R) -> Result<Self>
    where
        R: Read + Seek + Send + 'static,
    {
        let io = |e: std::io::Error| Error::request("cannot read the upload").with_source(e);
        let start = reader.stream_position().map_err(io)?;
        let (sha256, len) = hash_reader(&mut reader).map_err(io)?;
        reader.seek(SeekFrom::Start(start)).map_err(io)?;
        let boxed: Reader = Box::new(reader.take(len));
        Self::new(
            filename.into(),
            sha256,
            len,
            Source::Reader(Arc::new(Mutex::new(Some(boxed)))),
        )
    }

    /// Replaces the `meta` with `meta` serialized as JSON (PHP's `MediaUtil::setMeta`), for endpoints that
    /// want more than `filename` and `sha256`. This JSON is what the request's signature covers.
    ///
    /// ```
    /// let upload = wechatpay::media::Upload::from_bytes("a.png", &b"png"[..])?;
    /// let meta = serde_json::json!({"filename": "a.png", "sha256": upload.sha256(), "bank_type": "CMB"});
    /// let upload = upload.meta(&meta)?;
    /// assert!(std::str::from_utf8(upload.meta_json()).unwrap().contains("bank_type"));
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn meta<T: Serialize + ?Sized>(mut self, meta: &T) -> Result<Self> {
        let json = serde_json::to_vec(meta)
            .map_err(|e| Error::request("the upload's meta could not be serialized").with_source(e))?;
        self.meta = json.into();
        Ok(self)
    }

    /// Sets the `Content-Type` of the `file` part (by default guessed from the file name's extension).
    pub fn content_type(mut self, content_type: &str) -> Result<Self> {
        if content_type.is_empty() || content_type.chars().any(|c| c.is_control() || !c.is_ascii()) {
            return Err(Error::request("the upload's content type must be printable ASCII"));
        }
        self.content_type = content_type.to_owned();
        Ok(self)
    }

    /// The file name.
    pub fn filename(&self) -> &str {
        &self.filename
    }

    /// The file's SHA-256, lower-case hex.
    pub fn sha256(&self) -> &str {
        &self.sha256
    }

    /// The file's size in bytes.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the file is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The `meta` JSON: what is signed, and the first part of what is sent.
    pub fn meta_json(&self) -> &[u8] {
        &self.meta
    }

    /// The multipart body this upload sends, with a fresh boundary.
    pub fn into_multipart(self) -> Multipart {
        let boundary = format!("wechatpay-{}", crate::formatter::nonce());
        let filename = escape_quoted(&self.filename);
        let mut head = Vec::with_capacity(self.meta.len() + 256);
        head.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"meta\"\r\nContent-Type: application/json\r\n\r\n"
            )
            .as_bytes(),
        );
        head.extend_from_slice(&self.meta);
        head.extend_from_slice(
            format!(
                "\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\nContent-Type: {}\r\n\r\n",
                self.content_type
            )
            .as_bytes(),
        );
        let tail = format!("\r\n--{boundary}--\r\n");
        Multipart {
            content_type: format!("multipart/form-data; boundary={boundary}"),
            meta: self.meta,
            head: head.into(),
            len: self.len,
            source: self.source,
            tail: Bytes::from(tail),
        }
    }
}

impl fmt::Debug for Upload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Upload")
            .field("filename", &self.filename)
            .field("sha256", &self.sha256)
            .field("len", &self.len)
            .field("content_type", &self.content_type)
            .finish_non_exhaustive()
    }
}

/// A quoted-string parameter as browsers write it (WHATWG): `"`, CR and LF percent-encoded.
fn escape_quoted(s: &str) -> String {
    s.replace('"', "%22").replace('\r', "%0D").replace('\n', "%0A")
}

/// A `multipart/form-data` body of a `meta` part and a `file` part, as an upload sends it.
///
/// It rides in [`crate::Prepared::multipart`]: the request's signature covers [`Multipart::meta`] (which
/// is also [`crate::Prepared::body`]), and these bytes are what is sent. Cheap to clone.
#[derive(Clone)]
pub struct Multipart {
    content_type: String,
    meta: Bytes,
    head: Bytes,
    len: u64,
    source: Source,
    tail: Bytes,
}

impl Multipart {
    /// `multipart/form-data; boundary=…`.
    pub fn content_type(&self) -> &str {
        &self.content_type
    }

    /// The `meta` JSON, which is what the request's signature covers.
    pub fn meta(&self) -> &[u8] {
        &self.meta
    }

    /// The size of the whole body in bytes.
    pub fn len(&self) -> u64 {
        self.head.len() as u64 + self.len + self.tail.len() as u64
    }

    /// Whether it can be sent more than once: false for an upload streamed from a reader
    /// ([`Upload::from_seekable`]), which is therefore never retried.
    pub fn replayable(&self) -> bool {
        !matches!(self.source, Source::Reader(_))
    }

    /// Whether the body is empty (never: it always has its boundaries).
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The body as a stream of chunks: the head in memory, the file read in chunks on a blocking thread
    /// (at most a few chunks ahead of the connection), then the closing boundary. Must run inside a tokio
    /// runtime.
    pub(crate) fn into_stream(self) -> Result<impl futures::Stream<Item = std::io::Result<Bytes>> + Send + 'static> {
        use futures::StreamExt as _;

        let expected = self.len;
        let file: futures::stream::BoxStream<'static, std::io::Result<Bytes>> = match self.source {
            Source::Bytes(bytes) => futures::stream::iter([Ok(bytes)]).boxed(),
            Source::Path(path) => {
                let file = std::fs::File::open(&path).map_err(|e| {
                    Error::request(format!("cannot open the upload `{}`", path.display())).with_source(e)
                })?;
                chunked(Box::new(file.take(expected)), expected)
            }
            Source::Reader(slot) => {
                let reader = slot.lock().unwrap_or_else(|p| p.into_inner()).take().ok_or_else(|| {
                    Error::request(
                        "this upload's reader was already sent; make a new `Upload` (or use `from_path` or \
                         `from_bytes`, which can be sent again)",
                    )
                })?;
                chunked(reader, expected)
            }
        };
        Ok(futures::stream::iter([Ok(self.head)])
            .chain(file)
            .chain(futures::stream::iter([Ok(self.tail)])))
    }
}

/// Reads `reader` in chunks on a blocking thread into a bounded channel; an error if it yields other than
/// `expected` bytes (the file changed since it was hashed).
fn chunked(mut reader: Reader, expected: u64) -> futures::stream::BoxStream<'static, std::io::Result<Bytes>> {
    use futures::StreamExt as _;

    let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<Bytes>>(IN_FLIGHT);
    tokio::task::spawn_blocking(move || {
        let mut sent = 0u64;
        loop {
            let mut buf = vec![0u8; CHUNK];
            let n = match reader.read(&mut buf) {
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    let _ = tx.blocking_send(Err(e));
                    return;
                }
            };
            if n == 0 {
                if sent != expected {
                    let _ = tx.blocking_send(Err(std::io::Error::new(
                        std::io::ErrorKind::UnexpectedEof,
                        format!("the upload yielded {sent} bytes, but {expected} were hashed (did it change?)"),
                    )));
                }
                return;
            }
            buf.truncate(n);
            sent += n as u64;
            if tx.blocking_send(Ok(buf.into())).is_err() {
                return; // the request was dropped
            }
        }
    });
    futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|item| (item, rx)) }).boxed()
}

impl fmt::Debug for Multipart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Multipart")
            .field("content_type", &self.content_type)
            .field("len", &self.len())
            .finish_non_exhaustive()
    }
}

/// Uploads `file` to `path_template` (e.g. [`MEDIA_UPLOAD`]): signs its `meta` JSON, sends the multipart,
/// and verifies the answer. Wait on the result for a blocking call, or await it.
pub fn upload(client: &Client, path_template: &str, file: Upload) -> ResponseFuture {
    upload_with(client, path_template, Options::new(), file)
}

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
    let bill = bill.clone();
    let client = client.clone();
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
        let mut options = Options::new();
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
    fn meta_has_the_php_shape() {
        let upload = Upload::from_bytes("logo.png", vec![7u8; 2748]).unwrap();
        let meta: serde_json::Value = serde_json::from_slice(upload.meta_json()).unwrap();
        assert_eq!(meta["filename"], "logo.png");
        assert_eq!(meta["sha256"], hash::sha256_hex(&[7u8; 2748]));
        assert!(std::str::from_utf8(upload.meta_json())
            .unwrap()
            .starts_with(r#"{"filename":"logo.png","sha256":""#));
    }

    #[test]
    fn multipart_layout() {
        let mp = Upload::from_bytes("a\"b.jpg", &b"DATA"[..]).unwrap().into_multipart();
        let boundary = mp
            .content_type()
            .strip_prefix("multipart/form-data; boundary=")
            .unwrap()
            .to_owned();
        let mut all = mp.head.to_vec();
        all.extend_from_slice(b"DATA");
        all.extend_from_slice(&mp.tail);
        assert_eq!(all.len() as u64, mp.len());
        let text = String::from_utf8(all).unwrap();
        assert!(text.contains("filename=\"a%22b.jpg\""));
        assert!(text.contains("Content-Type: image/jpeg\r\n\r\nDATA\r\n"));
        assert!(text.ends_with(&format!("\r\n--{boundary}--\r\n")));
    }

    #[test]
    fn bad_names_and_digests_are_refused() {
        assert!(Upload::from_bytes("", &b""[..]).unwrap_err().is_request());
        assert!(Upload::from_bytes("a\nb.png", &b""[..]).unwrap_err().is_request());
        assert!(check_digest(b"x", "MD5", "00").unwrap_err().is_decode());
        let e = check_digest(b"x", "SHA256", &hash::sha256_hex(b"y")).unwrap_err();
        assert_eq!(e.verification(), Some(Verification::DigestMismatch));
        check_digest(b"x", "sha256", &hash::sha256_hex(b"x").to_uppercase()).unwrap();
        assert!(check_bill(b"x", &serde_json::json!({"hash_type": "SHA1"}))
            .unwrap_err()
            .is_decode());
    }
}
