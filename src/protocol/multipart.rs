//! The multipart layout of an upload (sans-IO but for reading the file once to hash it): the `meta` JSON
//! WeChat Pay signs, and the `multipart/form-data` body around it. Sending it is the transport's job;
//! [`crate::media`] is the feature built on it.

use std::fmt;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use serde::Serialize;

use crate::crypto::hash::{self, Algorithm, Hasher};
use crate::error::{Error, Result};

/// How much of a file is read at a time while hashing and sending it.
pub(crate) const CHUNK: usize = 64 << 10;
/// How many chunks may wait between the reading thread and the connection.
pub(crate) const IN_FLIGHT: usize = 4;

pub(crate) type Reader = Box<dyn Read + Send>;

/// Where an upload's bytes come from.
#[derive(Clone)]
pub(crate) enum Source {
    Bytes(Bytes),
    Path(PathBuf),
    /// A reader that can be sent once (taken when the request goes out).
    Reader(Arc<Mutex<Option<Reader>>>),
}

/// A file to upload: its name, its bytes (in memory, on disk, or behind a reader), and its `meta`.
///
/// Cheap to clone. An upload made by [`Upload::from_path`] or [`Upload::from_bytes`] can be sent any
/// number of times; one made by [`Upload::from_seekable`] streams its reader and can be sent once.
///
/// ```
/// use wechatpay::media::{self, Upload};
///
/// let server = wechatpay::mock::MockServer::start()?;
/// let client = server.client()?;
/// let logo = Upload::from_bytes("logo.png", &b"\x89PNG\r\n\x1a\n"[..])?;
/// let res = media::upload(&client, media::MEDIA_UPLOAD, logo).wait()?;
/// println!("{}", res.json::<serde_json::Value>()?["media_id"]);
/// # Ok::<(), wechatpay::Error>(())
/// ```
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
    /// chunks; its bytes are read again, in chunks, when the request is sent. A `file://` path is taken as
    /// the key loader takes one (`file:///path/to/logo.png`), so that one spelling names every file.
    ///
    /// ```no_run
    /// let video = wechatpay::media::Upload::from_path("/path/to/intro.mp4")?; // never held in memory
    /// assert_eq!(video.filename(), "intro.mp4");
    /// let logo = wechatpay::media::Upload::from_path("file:///path/to/logo.png")?;
    /// assert_eq!(logo.filename(), "logo.png");
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn from_path(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let path = path
            .to_str()
            .and_then(|text| text.strip_prefix("file://"))
            .map_or(path, Path::new);
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
    ///
    /// ```
    /// let body: &[u8] = b"GIF89a"; // anything `Read`: a file, a socket, an HTTP body
    /// let upload = wechatpay::media::Upload::from_reader("pixel.gif", body)?;
    /// assert_eq!(upload.len(), 6);
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn from_reader(filename: impl Into<String>, mut reader: impl Read) -> Result<Self> {
        let mut bytes = Vec::new();
        reader
            .read_to_end(&mut bytes)
            .map_err(|e| Error::request("cannot read the upload").with_source(e))?;
        Self::from_bytes(filename, bytes)
    }

    /// A reader that can rewind, streamed: read once now for the SHA-256, rewound to where it was, and
    /// read again in chunks while the request is sent — never held in memory. The upload can be sent once.
    ///
    /// ```
    /// let video = std::io::Cursor::new(vec![0u8; 4096]); // e.g. a `std::fs::File`
    /// let upload = wechatpay::media::Upload::from_seekable("intro.mp4", video)?;
    /// assert_eq!(upload.len(), 4096);
    /// assert!(!upload.into_multipart().replayable()); // so never retried
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
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
    ///
    /// ```
    /// let upload = wechatpay::media::Upload::from_bytes("scan", &b"%PDF-1.7"[..])?; // no extension to guess from
    /// let upload = upload.content_type("application/pdf")?;
    /// # let _ = upload;
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
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
    ///
    /// ```
    /// let upload = wechatpay::media::Upload::from_bytes("logo.png", &b"png"[..])?;
    /// let meta = upload.meta_json().to_vec();
    /// let body = upload.into_multipart();
    /// assert!(body.content_type().starts_with("multipart/form-data; boundary="));
    /// assert_eq!(body.meta(), &meta[..]); // what is signed
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn into_multipart(self) -> Multipart {
        let boundary = format!("wechatpay-{}", crate::protocol::formatter::nonce());
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
///
/// ```
/// # let server = wechatpay::mock::MockServer::start()?;
/// # let client = server.client()?;
/// use wechatpay::{media::Upload, Method, Options};
/// let upload = Upload::from_bytes("logo.png", &b"png"[..])?;
/// let prepared = client.prepare(Method::POST, "v3/merchant/media/upload", Options::new().upload(upload))?;
/// let multipart = prepared.multipart().unwrap();
/// assert_eq!(multipart.meta(), &prepared.body()[..]); // the signature covers the meta alone
/// assert!(multipart.len() > prepared.body().len() as u64);
/// # Ok::<(), wechatpay::Error>(())
/// ```
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

    /// What the transport streams: the head, where the file comes from and its length, the tail.
    pub(crate) fn parts(self) -> (Bytes, Source, u64, Bytes) {
        (self.head, self.source, self.len, self.tail)
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
}

impl fmt::Debug for Multipart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Multipart")
            .field("content_type", &self.content_type)
            .field("len", &self.len())
            .finish_non_exhaustive()
    }
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
    fn a_file_url_names_the_same_file_as_its_path() {
        let dir = std::env::temp_dir().join(format!("wechatpay-upload-url-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = std::path::absolute(dir.join("logo.png")).unwrap();
        std::fs::write(&file, b"\x89PNG\r\n\x1a\n").unwrap();
        let by_path = Upload::from_path(&file).unwrap();
        let by_url = Upload::from_path(format!("file://{}", file.display())).unwrap();
        assert_eq!(by_url.filename(), "logo.png");
        assert_eq!(by_url.meta_json(), by_path.meta_json());
        let missing = Upload::from_path(format!("file://{}", dir.join("gone.png").display())).unwrap_err();
        assert!(
            missing.is_request() && !missing.to_string().contains("file://"),
            "{missing}"
        );
        std::fs::remove_dir_all(&dir).ok();
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
    fn bad_names_are_refused() {
        assert!(Upload::from_bytes("", &b""[..]).unwrap_err().is_request());
        assert!(Upload::from_bytes("a\nb.png", &b""[..]).unwrap_err().is_request());
    }
}
