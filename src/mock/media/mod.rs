//! The sandbox's media uploads: `POST v3/merchant/media/upload`, `v3/merchant/media/video_upload`,
//! `v3/marketing/favor/media/image-upload` and `v3/merchant-service/images/upload`.
//!
//! Each takes `multipart/form-data` with a `meta` part (JSON with at least `filename` and `sha256`) and a
//! `file` part, checks that the file's SHA-256 is the meta's (400 `PARAM_ERROR` otherwise), that the file
//! is not empty and within the endpoint's size cap, and answers a WeChat-looking `media_id` (or, for
//! coupon images, a `media_url`). As WeChat Pay does, the gateway authenticates an upload over its
//! `meta` JSON only ([`signed_body`]).

use bytes::Bytes;
use http::{HeaderMap, Method};
use serde_json::{json, Value};

use super::{Answer, MockRequest, Room};
use crate::error::Result;
use crate::media::{FAVOR_IMAGE_UPLOAD, MEDIA_UPLOAD, MERCHANT_SERVICE_IMAGE_UPLOAD, VIDEO_UPLOAD};

/// What an upload endpoint answers with.
#[derive(Clone, Copy)]
enum Answers {
    MediaId,
    MediaUrl,
}

/// Registers this family's endpoints.
pub(crate) fn install(room: &Room<'_>) -> Result<()> {
    let server = room.server;
    for (path, cap, answers) in [
        (MEDIA_UPLOAD, 2 << 20, Answers::MediaId),
        (VIDEO_UPLOAD, 5 << 20, Answers::MediaId),
        (FAVOR_IMAGE_UPLOAD, 2 << 20, Answers::MediaUrl),
        (MERCHANT_SERVICE_IMAGE_UPLOAD, 2 << 20, Answers::MediaId),
    ] {
        server.route(Method::POST, path, move |req| accept(req, cap, answers));
    }
    Ok(())
}

/// The upload routes: the only ones whose signature covers the `meta` part instead of the whole body.
const UPLOADS: [&str; 4] = [
    MEDIA_UPLOAD,
    VIDEO_UPLOAD,
    FAVOR_IMAGE_UPLOAD,
    MERCHANT_SERVICE_IMAGE_UPLOAD,
];

/// The bytes WeChat Pay verifies a request's signature over: for a `multipart/form-data` `POST` to an
/// upload route, its `meta` part; `None` for any other request (whose whole body is signed), so a signed
/// request re-wrapped as a multipart elsewhere never authenticates. `path` is the URL path.
pub(crate) fn signed_body(method: &Method, path: &str, headers: &HeaderMap, body: &Bytes) -> Option<Bytes> {
    let route = path.strip_prefix('/').unwrap_or(path);
    if method != Method::POST || !UPLOADS.contains(&route) {
        return None;
    }
    let boundary = boundary(headers)?;
    let parts = parse(body, &boundary).ok()?;
    parts
        .into_iter()
        .find(|p| p.name == "meta")
        .map(|p| body.slice_ref(p.content))
}

/// The `boundary` parameter of a `multipart/form-data` content type.
fn boundary(headers: &HeaderMap) -> Option<String> {
    let ct = headers.get(http::header::CONTENT_TYPE)?.to_str().ok()?;
    let (mime, params) = ct.split_once(';')?;
    if !mime.trim().eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    params.split(';').find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case("boundary")
            .then(|| v.trim().trim_matches('"').to_owned())
            .filter(|b| !b.is_empty() && b.len() <= 70)
    })
}

/// One part of a multipart body.
struct Part<'a> {
    name: String,
    filename: Option<String>,
    content: &'a [u8],
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// A `name="value"` parameter of a `Content-Disposition` header.
fn disposition_param(header: &str, name: &str) -> Option<String> {
    let at = header.find(&format!("{name}=\""))? + name.len() + 2;
    let rest = &header[at..];
    Some(rest[..rest.find('"')?].to_owned())
}

/// Splits a multipart body (RFC 7578) into its parts.
fn parse<'a>(body: &'a [u8], boundary: &str) -> Result<Vec<Part<'a>>, String> {
    let delimiter = format!("--{boundary}");
    let start = find(body, delimiter.as_bytes()).ok_or("the body does not start with the boundary")?;
    let mut rest = &body[start + delimiter.len()..];
    let next = format!("\r\n--{boundary}");
    let mut parts = Vec::new();
    loop {
        if rest.starts_with(b"--") {
            return Ok(parts);
        }
        rest = rest
            .strip_prefix(b"\r\n")
            .ok_or("a boundary line does not end with CRLF")?;
        let head_end = find(rest, b"\r\n\r\n").ok_or("a part has no blank line after its headers")?;
        let head = std::str::from_utf8(&rest[..head_end]).map_err(|_| "a part's headers are not UTF-8")?;
        let content_start = &rest[head_end + 4..];
        let end = find(content_start, next.as_bytes()).ok_or("a part is not closed by the boundary")?;
        let disposition = head
            .split("\r\n")
            .find_map(|line| {
                let (k, v) = line.split_once(':')?;
                k.trim().eq_ignore_ascii_case("content-disposition").then_some(v)
            })
            .ok_or("a part has no Content-Disposition")?;
        parts.push(Part {
            name: disposition_param(disposition, "name").ok_or("a part has no name")?,
            filename: disposition_param(disposition, "filename"),
            content: &content_start[..end],
        });
        rest = &content_start[end + next.len()..];
    }
}

fn param_error(message: &str) -> Answer {
    Answer::error(400, "PARAM_ERROR", message)
}

/// A WeChat-looking media id: 86 characters of base64url.
fn media_id() -> String {
    let mut id = String::with_capacity(86);
    while id.len() < 86 {
        id.push_str(&crate::protocol::formatter::nonce());
    }
    id.truncate(86);
    id
}

fn accept(req: &MockRequest, cap: usize, answers: Answers) -> Answer {
    let Some(boundary) = boundary(&req.headers) else {
        return param_error("上传文件须使用 multipart/form-data 格式");
    };
    let parts = match parse(&req.body, &boundary) {
        Ok(parts) => parts,
        Err(why) => return param_error(&format!("multipart 格式错误: {why}")),
    };
    let Some(meta) = parts.iter().find(|p| p.name == "meta") else {
        return param_error("缺少 meta");
    };
    let Some(file) = parts.iter().find(|p| p.name == "file") else {
        return param_error("缺少 file");
    };
    let meta: Value = match serde_json::from_slice(meta.content) {
        Ok(Value::Object(m)) => Value::Object(m),
        _ => return param_error("meta 不是合法的JSON对象"),
    };
    let (Some(filename), Some(sha256)) = (
        meta.get("filename").and_then(Value::as_str),
        meta.get("sha256").and_then(Value::as_str),
    ) else {
        return param_error("meta 须包含 filename 和 sha256");
    };
    if file.filename.as_deref().is_none_or(str::is_empty) || filename.is_empty() {
        return param_error("文件名不能为空");
    }
    if file.content.is_empty() {
        return param_error("文件不能为空");
    }
    if file.content.len() > cap {
        return param_error(&format!("文件大小超过限制 ({} 字节)", cap));
    }
    if !crate::crypto::hash::sha256_hex(file.content).eq_ignore_ascii_case(sha256) {
        return Answer::error_with_detail(
            400,
            "PARAM_ERROR",
            "文件摘要 sha256 与 meta 不一致",
            json!({"field": "sha256"}),
        );
    }
    match answers {
        Answers::MediaId => Answer::json(200, &json!({ "media_id": media_id() })),
        Answers::MediaUrl => Answer::json(
            200,
            &json!({ "media_url": format!("https://wxpaylogo.qpic.cn/wxpaylogo/{}/0", media_id()) }),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_what_the_client_sends() {
        let upload = crate::protocol::multipart::Upload::from_bytes("x.png", &b"--not-a-boundary\r\n"[..]).unwrap();
        let meta = upload.meta_json().to_vec();
        let mp = upload.into_multipart();
        let mut headers = HeaderMap::new();
        headers.insert(http::header::CONTENT_TYPE, mp.content_type().parse().unwrap());
        let body = futures::executor::block_on(async {
            use futures::TryStreamExt as _;
            let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
            let _guard = rt.enter();
            let chunks: Vec<Bytes> = crate::client::transport::into_stream(mp)
                .unwrap()
                .try_collect()
                .await
                .unwrap();
            chunks.concat()
        });
        let body = Bytes::from(body);
        let upload = format!("/{MEDIA_UPLOAD}");
        assert_eq!(signed_body(&Method::POST, &upload, &headers, &body).unwrap(), meta);
        // Only an upload route, and only POST, signs over the meta part.
        assert!(signed_body(&Method::POST, "/v3/marketing/busifavor/coupons/use", &headers, &body).is_none());
        assert!(signed_body(&Method::PUT, &upload, &headers, &body).is_none());
        let parts = parse(&body, &boundary(&headers).unwrap()).unwrap();
        assert_eq!(parts[1].content, b"--not-a-boundary\r\n");
        assert_eq!(parts[1].filename.as_deref(), Some("x.png"));
        assert!(signed_body(&Method::POST, &upload, &HeaderMap::new(), &body).is_none());
        assert!(parse(b"garbage", "b").is_err());
    }
}
