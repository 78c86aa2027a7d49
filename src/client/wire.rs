//! A blocking call's HTTP/1.1 exchange on the waiting thread's own sockets: write the request, read the
//! answer; no task, no poller, no hand-off. It serves what a thread in [`super::transport::block_here`]
//! sends straight to the server (no proxy) with its body in memory; reqwest serves everything else (a
//! proxy, a streamed upload, every async call). Both use one TLS configuration
//! ([`super::transport::Settings::tls`]).
//!
//! Why our own and not a crate: measured side by side, reqwest on the thread's runtime spends ~10 µs more
//! CPU a call than a plain socket exchange, and ureq ~6 µs more (BENCHMARKS.md); a call's whole budget
//! beside RSA is ~50 µs. What is ours is small: the request head, framing of the answer (`httparse` parses
//! it), and an idle pool per thread.

use std::cell::RefCell;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use bytes::{Buf, BytesMut};
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};

use super::transport::{failed, too_big, Raw, Settings};
use crate::error::{Error, Outcome, Result, Transient};
use crate::protocol::request::Prepared;

/// The most an answer's head may take: the status line and headers.
const MAX_HEAD: usize = 64 * 1024;
/// The most headers an answer may have.
const MAX_HEADERS: usize = 100;
/// How much is read at a time.
const READ: usize = 16 * 1024;

thread_local! {
    /// This thread's idle connections, most recently used last.
    static IDLE: RefCell<Vec<Idle>> = const { RefCell::new(Vec::new()) };
}

struct Idle {
    key: Key,
    /// The client's settings: its connections go when it does.
    settings: Weak<Settings>,
    conn: Conn,
    since: Instant,
}

/// What a connection may be reused for: the same client, certificate use and origin.
#[derive(Clone, PartialEq, Eq)]
struct Key {
    settings: u64,
    identified: bool,
    tls: bool,
    host: String,
    port: u16,
}

/// Forgets this thread's connections without closing them: in a forked child they are the parent's.
pub(crate) fn forget_inherited() {
    IDLE.with(|idle| std::mem::forget(std::mem::take(&mut *idle.borrow_mut())));
}

/// Whether this transport can send `req` itself: straight to an `http://` or (with a TLS backend)
/// `https://` server, with the body in memory.
pub(crate) fn serves(settings: &Settings, req: &Prepared) -> bool {
    let tls_ok = cfg!(any(feature = "default-tls", feature = "rustls-ring"));
    settings.direct()
        && req.multipart.is_none()
        && match req.url.scheme() {
            "http" => true,
            "https" => tls_ok,
            _ => false,
        }
}

/// Sends one attempt of `req` and reads its answer within `timeout`, on a pooled connection when one is
/// idle and still open, else a new one.
pub(crate) fn send(settings: &Arc<Settings>, req: &Prepared, timeout: Duration, max_body: usize) -> Result<Raw> {
    let deadline = Instant::now() + timeout;
    let key = Key {
        settings: settings.id,
        identified: req.presents_client_certificate(),
        tls: req.url.scheme() == "https",
        host: req.url.host_str().unwrap_or_default().to_owned(),
        port: req.url.port_or_known_default().unwrap_or(80),
    };
    let mut conn = match take_idle(&key) {
        Some(conn) => conn,
        None => connect(settings, &key, req, deadline)?,
    };
    write_all(&mut conn, request_head(req), &req.body, deadline)?;
    let (raw, reusable) = read_answer(&mut conn, req, deadline, max_body)?;
    if reusable {
        put_idle(key, settings, conn);
    }
    Ok(raw)
}

/// An idle connection for `key` that the server has not closed; connections idle too long, or of
/// clients since dropped, are closed on the way.
fn take_idle(key: &Key) -> Option<Conn> {
    IDLE.with(|idle| {
        let mut idle = idle.borrow_mut();
        let now = Instant::now();
        idle.retain(|i| {
            i.settings.upgrade().is_some_and(|s| {
                s.pool_idle_timeout
                    .is_none_or(|limit| now.duration_since(i.since) < limit)
            })
        });
        while let Some(at) = idle.iter().rposition(|i| i.key == *key) {
            let conn = idle.remove(at).conn;
            if still_open(conn.tcp()) {
                return Some(conn);
            }
        }
        None
    })
}

fn put_idle(key: Key, settings: &Arc<Settings>, conn: Conn) {
    IDLE.with(|idle| {
        let mut idle = idle.borrow_mut();
        if idle.iter().filter(|i| i.key == key).count() < settings.pool_max_idle_per_host {
            idle.push(Idle {
                key,
                settings: Arc::downgrade(settings),
                conn,
                since: Instant::now(),
            });
        }
    });
}

/// Whether an idle connection is still open, without blocking: nothing to read (not closed, no stray
/// bytes) means it is. A server closes idle connections when it likes; one caught closed here is
/// replaced before anything is sent on it.
fn still_open(tcp: &TcpStream) -> bool {
    let mut byte = [std::mem::MaybeUninit::<u8>::uninit(); 1];
    #[cfg(unix)]
    let peeked = socket2::SockRef::from(tcp).recv_with_flags(&mut byte, libc::MSG_PEEK | libc::MSG_DONTWAIT);
    #[cfg(not(unix))]
    let peeked = {
        let sock = socket2::SockRef::from(tcp);
        let _ = sock.set_nonblocking(true);
        let peeked = sock.peek(&mut byte);
        let _ = sock.set_nonblocking(false);
        peeked
    };
    matches!(peeked, Err(e) if e.kind() == io::ErrorKind::WouldBlock)
}

/// A new connection to the key's origin, TLS included; any failure is a connect error (nothing was sent).
fn connect(settings: &Settings, key: &Key, req: &Prepared, deadline: Instant) -> Result<Conn> {
    let connect_failed = |e: io::Error| failed(true, is_timeout(&e)).with_source(e);
    let addrs: Vec<SocketAddr> = match req.url.host() {
        Some(url::Host::Ipv4(ip)) => vec![SocketAddr::from((ip, key.port))],
        Some(url::Host::Ipv6(ip)) => vec![SocketAddr::from((ip, key.port))],
        Some(url::Host::Domain(name)) => (name, key.port).to_socket_addrs().map_err(connect_failed)?.collect(),
        None => return Err(Error::transport("the URL has no host").with_transient(Transient::Connect)),
    };
    let mut last = io::Error::new(io::ErrorKind::NotFound, "the host's name resolved to no address");
    let mut tcp: Option<TcpStream> = None;
    for addr in addrs {
        let budget = remaining(deadline).min(settings.connect_timeout);
        if budget.is_zero() {
            last = io::ErrorKind::TimedOut.into();
            break;
        }
        match TcpStream::connect_timeout(&addr, budget) {
            Ok(stream) => {
                tcp = Some(stream);
                break;
            }
            Err(e) => last = e,
        }
    }
    let tcp = tcp.ok_or_else(|| connect_failed(last))?;
    tcp.set_nodelay(true).map_err(connect_failed)?;
    if !key.tls {
        return Ok(Conn::Plain(tcp));
    }
    #[cfg(any(feature = "default-tls", feature = "rustls-ring"))]
    {
        let config = settings.tls(key.identified)?;
        let name = match req.url.host() {
            Some(url::Host::Ipv4(ip)) => rustls::pki_types::ServerName::from(std::net::IpAddr::from(ip)),
            Some(url::Host::Ipv6(ip)) => rustls::pki_types::ServerName::from(std::net::IpAddr::from(ip)),
            _ => rustls::pki_types::ServerName::try_from(key.host.clone()).map_err(|e| {
                Error::transport("the host is not a valid TLS server name")
                    .with_source(e)
                    .with_transient(Transient::Connect)
            })?,
        };
        let mut tls = rustls::ClientConnection::new(config, name).map_err(|e| failed(true, false).with_source(e))?;
        let mut tcp = tcp;
        while tls.is_handshaking() {
            set_timeouts(&tcp, deadline).map_err(connect_failed)?;
            tls.complete_io(&mut tcp).map_err(connect_failed)?;
        }
        Ok(Conn::Tls(Box::new(rustls::StreamOwned::new(tls, tcp))))
    }
    #[cfg(not(any(feature = "default-tls", feature = "rustls-ring")))]
    Err(Error::config(
        "`https://` needs a TLS backend: build with `default-tls` or `rustls-ring`",
    ))
}

/// The request line and headers, as reqwest would write them: the client's and the call's headers, then
/// `host`, `accept` when none was set, and the body's `content-length`.
fn request_head(req: &Prepared) -> Vec<u8> {
    // Room for a small body too: `write_all` sends both in one write.
    let mut head = Vec::with_capacity(512 + req.body.len().min(READ));
    head.extend_from_slice(req.method.as_str().as_bytes());
    head.push(b' ');
    head.extend_from_slice(req.url[url::Position::BeforePath..url::Position::AfterQuery].as_bytes());
    head.extend_from_slice(b" HTTP/1.1\r\n");
    for (name, value) in &req.headers {
        line(&mut head, name.as_str().as_bytes(), value.as_bytes());
    }
    let mut host = req.url.host_str().unwrap_or_default().to_owned();
    if let Some(port) = req.url.port() {
        host.push(':');
        host.push_str(&port.to_string());
    }
    line(&mut head, b"host", host.as_bytes());
    if !req.headers.contains_key(http::header::ACCEPT) {
        line(&mut head, b"accept", b"*/*");
    }
    if !req.body.is_empty() || !matches!(req.method, Method::GET | Method::HEAD) {
        line(&mut head, b"content-length", req.body.len().to_string().as_bytes());
    }
    head.extend_from_slice(b"\r\n");
    head
}

fn line(head: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    head.extend_from_slice(name);
    head.extend_from_slice(b": ");
    head.extend_from_slice(value);
    head.extend_from_slice(b"\r\n");
}

/// Writes the head and the body: one write for a small request.
fn write_all(conn: &mut Conn, mut head: Vec<u8>, body: &[u8], deadline: Instant) -> Result<()> {
    let budget = remaining(deadline);
    if budget.is_zero() {
        return Err(timed_out());
    }
    conn.tcp().set_write_timeout(Some(budget)).map_err(on_wire)?;
    let written = if head.len() + body.len() <= READ {
        head.extend_from_slice(body);
        conn.write_all(&head)
    } else {
        conn.write_all(&head).and_then(|()| conn.write_all(body))
    };
    written.and_then(|()| conn.flush()).map_err(on_wire)
}

/// Reads the answer to `req`: its status, headers and whole body (at most `max_body` bytes); and whether
/// the connection may carry another request.
fn read_answer(conn: &mut Conn, req: &Prepared, deadline: Instant, max_body: usize) -> Result<(Raw, bool)> {
    let mut buf = BytesMut::with_capacity(READ);
    let (status, headers, keep_alive) = loop {
        let mut slots = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut res = httparse::Response::new(&mut slots);
        let len = match res.parse(&buf) {
            Ok(httparse::Status::Complete(len)) => len,
            Ok(httparse::Status::Partial) if buf.len() < MAX_HEAD => {
                if fill(conn, &mut buf, deadline)? == 0 {
                    return Err(cut_short("the connection closed before the answer came"));
                }
                continue;
            }
            Ok(httparse::Status::Partial) => return Err(dropped("the answer's head is too large")),
            Err(e) => return Err(dropped("the answer is not HTTP/1.1").with_source(e)),
        };
        let code = res.code.unwrap_or_default();
        if (100..200).contains(&code) && code != 101 {
            // An interim answer (`100 Continue`): the real one follows.
            buf.advance(len);
            continue;
        }
        let status =
            StatusCode::from_u16(code).map_err(|e| dropped("the answer's status is not valid").with_source(e))?;
        let mut headers = HeaderMap::with_capacity(res.headers.len());
        for h in res.headers.iter() {
            let name = HeaderName::from_bytes(h.name.as_bytes());
            let value = HeaderValue::from_bytes(h.value);
            match (name, value) {
                (Ok(name), Ok(value)) => {
                    headers.append(name, value);
                }
                _ => return Err(dropped("the answer has a header that is not valid")),
            }
        }
        let close = has_token(&headers, http::header::CONNECTION, "close");
        let keep_alive = if res.version == Some(1) {
            !close
        } else {
            has_token(&headers, http::header::CONNECTION, "keep-alive") && !close
        };
        buf.advance(len);
        break (status, headers, keep_alive);
    };

    let progress = |got: usize, total: Option<u64>| {
        if let Some(progress) = &req.progress {
            progress(got as u64, total);
        }
    };
    let bodiless = req.method == Method::HEAD
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED
        || status.is_informational();
    let chunked = headers
        .get_all(http::header::TRANSFER_ENCODING)
        .iter()
        .next_back()
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.rsplit(',')
                .next()
                .is_some_and(|last| last.trim().eq_ignore_ascii_case("chunked"))
        });
    let framed_by_close = headers.contains_key(http::header::TRANSFER_ENCODING) && !chunked;
    let (body, reusable) = if bodiless {
        (BytesMut::new(), keep_alive && buf.is_empty())
    } else if chunked {
        let body = read_chunked(conn, &mut buf, deadline, max_body, &progress)?;
        (body, keep_alive && buf.is_empty())
    } else if let (Some(length), false) = (content_length(&headers)?, framed_by_close) {
        if length > max_body as u64 {
            return Err(too_big(max_body, format!("{length} bytes")));
        }
        let length = length as usize;
        while buf.len() < length {
            progress(buf.len(), Some(length as u64));
            need_more(conn, &mut buf, deadline)?;
        }
        if length > 0 {
            progress(length, Some(length as u64));
        }
        let rest = buf.split_off(length);
        (buf, keep_alive && rest.is_empty())
    } else {
        // Neither length nor chunks: the body ends when the server closes the connection.
        while fill(conn, &mut buf, deadline)? > 0 {
            if buf.len() > max_body {
                return Err(too_big(max_body, "at least that".into()));
            }
            progress(buf.len(), None);
        }
        (buf, false)
    };
    Ok((
        Raw {
            status,
            headers,
            body: body.freeze(),
        },
        reusable,
    ))
}

/// A chunked body, decoded; the trailers are read and dropped.
fn read_chunked(
    conn: &mut Conn,
    buf: &mut BytesMut,
    deadline: Instant,
    max_body: usize,
    progress: &dyn Fn(usize, Option<u64>),
) -> Result<BytesMut> {
    let mut body = BytesMut::new();
    loop {
        let (used, size) = loop {
            match httparse::parse_chunk_size(buf) {
                Ok(httparse::Status::Complete(found)) => break found,
                Ok(httparse::Status::Partial) => need_more(conn, buf, deadline)?,
                Err(_) => return Err(dropped("the answer's chunked body is not valid")),
            }
        };
        buf.advance(used);
        if size == 0 {
            // Trailers, if any, then the empty line.
            loop {
                let mut slots = [httparse::EMPTY_HEADER; MAX_HEADERS];
                match httparse::parse_headers(buf, &mut slots) {
                    Ok(httparse::Status::Complete((len, _))) => {
                        buf.advance(len);
                        return Ok(body);
                    }
                    Ok(httparse::Status::Partial) if buf.len() < MAX_HEAD => need_more(conn, buf, deadline)?,
                    _ => return Err(dropped("the answer's chunked body is not valid")),
                }
            }
        }
        if body.len() as u64 + size > max_body as u64 {
            return Err(too_big(max_body, "at least that".into()));
        }
        let size = size as usize;
        while buf.len() < size + 2 {
            need_more(conn, buf, deadline)?;
        }
        body.extend_from_slice(&buf[..size]);
        if &buf[size..size + 2] != b"\r\n" {
            return Err(dropped("the answer's chunked body is not valid"));
        }
        buf.advance(size + 2);
        progress(body.len(), None);
    }
}

/// Reads more into `buf`; the end of the stream here is a cut-short answer.
fn need_more(conn: &mut Conn, buf: &mut BytesMut, deadline: Instant) -> Result<()> {
    if fill(conn, buf, deadline)? == 0 {
        return Err(cut_short("the connection closed before the answer's body was complete"));
    }
    Ok(())
}

/// Reads what has arrived (waiting until the deadline at most) onto the end of `buf`; 0 at the end.
fn fill(conn: &mut Conn, buf: &mut BytesMut, deadline: Instant) -> Result<usize> {
    let budget = remaining(deadline);
    if budget.is_zero() {
        return Err(timed_out());
    }
    conn.tcp().set_read_timeout(Some(budget)).map_err(on_wire)?;
    let start = buf.len();
    buf.resize(start + READ, 0);
    let read = loop {
        match conn.read(&mut buf[start..]) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => break other,
        }
    };
    match read {
        Ok(n) => {
            buf.truncate(start + n);
            Ok(n)
        }
        Err(e) => {
            buf.truncate(start);
            Err(on_wire(e))
        }
    }
}

/// The `content-length`, if any; several must agree.
fn content_length(headers: &HeaderMap) -> Result<Option<u64>> {
    let mut length = None;
    for value in headers.get_all(http::header::CONTENT_LENGTH) {
        for part in value.to_str().unwrap_or("x").split(',') {
            let n: u64 = part
                .trim()
                .parse()
                .map_err(|_| dropped("the answer's `content-length` is not a number"))?;
            if length.is_some_and(|l| l != n) {
                return Err(dropped("the answer has two different `content-length`s"));
            }
            length = Some(n);
        }
    }
    Ok(length)
}

fn has_token(headers: &HeaderMap, name: http::header::HeaderName, token: &str) -> bool {
    headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case(token))
}

/// The time left before `deadline`.
fn remaining(deadline: Instant) -> Duration {
    deadline.saturating_duration_since(Instant::now())
}

/// Bounds the next blocking read and write by the time left (a zero timeout would mean none).
#[cfg(any(feature = "default-tls", feature = "rustls-ring"))]
fn set_timeouts(tcp: &TcpStream, deadline: Instant) -> io::Result<()> {
    let budget = remaining(deadline);
    if budget.is_zero() {
        return Err(io::ErrorKind::TimedOut.into());
    }
    tcp.set_write_timeout(Some(budget))?;
    tcp.set_read_timeout(Some(budget))
}

fn timed_out() -> Error {
    failed(false, true)
}

/// An I/O failure once the request may have been sent: a timeout, or a dropped connection.
fn on_wire(e: io::Error) -> Error {
    failed(false, is_timeout(&e)).with_source(e)
}

/// Whether a socket call ended on its timeout (`WouldBlock` is how some systems report `SO_RCVTIMEO`).
fn is_timeout(e: &io::Error) -> bool {
    matches!(e.kind(), io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock)
}

/// The answer could not be read: the server may have acted on the request.
fn dropped(message: &str) -> Error {
    Error::transport(message.to_owned())
        .with_transient(Transient::Dropped)
        .with_outcome(Outcome::Unknown)
}

/// The server closed the connection mid-answer.
fn cut_short(message: &str) -> Error {
    dropped(message).with_source(io::Error::from(io::ErrorKind::UnexpectedEof))
}

/// A connection: the socket, or TLS over it.
enum Conn {
    Plain(TcpStream),
    #[cfg(any(feature = "default-tls", feature = "rustls-ring"))]
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>),
}

impl Conn {
    fn tcp(&self) -> &TcpStream {
        match self {
            Conn::Plain(tcp) => tcp,
            #[cfg(any(feature = "default-tls", feature = "rustls-ring"))]
            Conn::Tls(tls) => tls.get_ref(),
        }
    }
}

impl Read for Conn {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Conn::Plain(tcp) => tcp.read(buf),
            #[cfg(any(feature = "default-tls", feature = "rustls-ring"))]
            Conn::Tls(tls) => tls.read(buf),
        }
    }
}

impl Write for Conn {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Conn::Plain(tcp) => tcp.write(buf),
            #[cfg(any(feature = "default-tls", feature = "rustls-ring"))]
            Conn::Tls(tls) => tls.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Conn::Plain(tcp) => tcp.flush(),
            #[cfg(any(feature = "default-tls", feature = "rustls-ring"))]
            Conn::Tls(tls) => tls.flush(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::transport::test_settings;
    use std::net::TcpListener;
    use std::sync::mpsc;

    const MERCHANT_KEY: &str = include_str!("../../tests/fixtures/merchant_key.pem");
    const PLATFORM_PUB: &str = include_str!("../../tests/fixtures/platform_pub.pem");

    fn settings(max_idle: usize) -> Arc<Settings> {
        Arc::new(Settings {
            pool_max_idle_per_host: max_idle,
            ..test_settings(None, true)
        })
    }

    /// The error of a send that must fail.
    fn failed(result: Result<Raw>, why: &str) -> Error {
        match result {
            Ok(raw) => panic!("{why}: answered {}", raw.status),
            Err(e) => e,
        }
    }

    /// A signed request to `base`, as a blocking call would send it.
    fn prepared(base: &str, method: Method, options: serde_json::Value) -> Prepared {
        let client = crate::Client::builder()
            .mchid("1900000109")
            .serial("3775B6A45ACD588826D15E583A95F5DD00000001")
            .private_key(MERCHANT_KEY)
            .cert("PUB_KEY_ID_0114232134912410000000000000", PLATFORM_PUB)
            .base_uri(base)
            .build()
            .expect("fixture client");
        client.prepare(method, "v3/wire/{id}", options).expect("prepares")
    }

    /// Reads one request (head and `content-length` body) off `stream`; `None` at the end of the stream.
    fn read_request(stream: &mut TcpStream) -> Option<Vec<u8>> {
        let mut got = Vec::new();
        let mut byte = [0u8; 1];
        while !got.ends_with(b"\r\n\r\n") {
            if stream.read(&mut byte).ok()? == 0 {
                return None;
            }
            got.push(byte[0]);
        }
        let head = String::from_utf8_lossy(&got).to_lowercase();
        let length = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length: "))
            .map_or(0, |n| n.trim().parse::<usize>().unwrap());
        let mut body = vec![0u8; length];
        stream.read_exact(&mut body).ok()?;
        got.extend_from_slice(&body);
        Some(got)
    }

    /// A server that, on its n-th connection, answers the requests with `script[n]` in turn and then
    /// closes the connection; it sends what each connection received, once the connection is done.
    fn serve(script: Vec<Vec<&'static [u8]>>) -> (String, mpsc::Receiver<Vec<Vec<u8>>>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}/", listener.local_addr().unwrap());
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for answers in script {
                let (mut stream, _) = listener.accept().unwrap();
                let mut received = Vec::new();
                for answer in answers {
                    let Some(request) = read_request(&mut stream) else {
                        break;
                    };
                    received.push(request);
                    stream.write_all(answer).unwrap();
                }
                drop(stream);
                let _ = tx.send(received);
            }
        });
        (base, rx)
    }

    #[test]
    fn writes_the_request_and_reads_framed_answers_on_one_connection() {
        let (base, received) = serve(vec![vec![
            b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 11\r\n\r\n{\"ok\":true}",
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 404 Not Found\r\ntransfer-encoding: chunked\r\nrequest-id: r-2\r\n\r\n\
              4\r\n{\"co\r\n6\r\nde\":1}\r\n0\r\nx-trailer: t\r\n\r\n",
        ]]);
        let settings = settings(4);
        let post = prepared(&base, Method::POST, serde_json::json!({"id": "7", "json": {"a": 1}}));
        let raw = send(&settings, &post, Duration::from_secs(30), 1 << 20).expect("answered");
        assert_eq!(raw.status, 200);
        assert_eq!(&raw.body[..], b"{\"ok\":true}");
        assert_eq!(raw.headers["content-type"], "application/json");

        let get = prepared(
            &base,
            Method::GET,
            serde_json::json!({"id": "8", "query": {"q": "a b"}}),
        );
        let raw = send(&settings, &get, Duration::from_secs(30), 1 << 20).expect("answered");
        assert_eq!(raw.status, 404);
        assert_eq!(&raw.body[..], b"{\"code\":1}");
        assert_eq!(raw.headers["request-id"], "r-2");

        // Both went over the one connection the server accepted first.
        let requests = received.recv().unwrap();
        assert_eq!(requests.len(), 2);
        let first = String::from_utf8(requests[0].clone()).unwrap();
        let port = base.trim_end_matches('/').rsplit(':').next().unwrap();
        assert!(first.starts_with("POST /v3/wire/7 HTTP/1.1\r\n"), "{first}");
        assert!(first.contains(&format!("\r\nhost: 127.0.0.1:{port}\r\n")), "{first}");
        assert!(
            first.contains("\r\nauthorization: WECHATPAY2-SHA256-RSA2048 "),
            "{first}"
        );
        assert!(first.contains("\r\ncontent-length: 7\r\n"), "{first}");
        assert!(first.ends_with("\r\n\r\n{\"a\":1}"), "{first}");
        let second = String::from_utf8(requests[1].clone()).unwrap();
        assert!(second.starts_with("GET /v3/wire/8?q=a%20b HTTP/1.1\r\n"), "{second}");
        assert!(!second.contains("content-length"), "{second}");
    }

    #[test]
    fn an_idle_connection_the_server_closed_is_replaced_before_sending() {
        let ok: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}";
        let (base, received) = serve(vec![vec![ok], vec![ok]]);
        let settings = settings(4);
        let get = prepared(&base, Method::GET, serde_json::json!({"id": "1"}));
        send(&settings, &get, Duration::from_secs(30), 1 << 20).expect("first answered");
        assert_eq!(
            received.recv().unwrap().len(),
            1,
            "the server closed the first connection"
        );
        // Wait (boundedly) for the close to reach the pooled socket, so the test does not race it.
        let mut waits = 0;
        while IDLE.with(|idle| idle.borrow().iter().any(|i| still_open(i.conn.tcp()))) {
            assert!(waits < 3000, "the server's close never arrived");
            std::thread::sleep(Duration::from_millis(10));
            waits += 1;
        }
        let raw = send(&settings, &get, Duration::from_secs(30), 1 << 20).expect("sent on a new connection");
        assert_eq!(raw.status, 200);
        assert_eq!(
            received.recv().unwrap().len(),
            1,
            "the second request went on a second connection"
        );
    }

    #[test]
    fn an_answer_that_never_comes_times_out_and_may_have_been_acted_on() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}/", listener.local_addr().unwrap());
        let (done, wait) = mpsc::channel::<()>();
        let server = std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            let request = read_request(&mut stream);
            let _ = wait.recv();
            request.is_some()
        });
        let post = prepared(&base, Method::POST, serde_json::json!({"id": "1", "json": {}}));
        let e = failed(
            send(&settings(4), &post, Duration::from_millis(300), 1 << 20),
            "no answer",
        );
        done.send(()).unwrap();
        assert!(server.join().unwrap(), "the request arrived");
        assert!(e.is_timeout(), "{e}");
        assert_eq!(e.outcome(), Outcome::Unknown);
        assert_eq!(e.transient(), Some(Transient::Timeout));
    }

    #[test]
    fn a_body_over_the_cap_or_cut_short_is_an_error_and_its_connection_is_not_kept() {
        let (base, received) = serve(vec![
            vec![b"HTTP/1.1 200 OK\r\ncontent-length: 4096\r\n\r\n"],
            vec![b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nshort"],
            vec![b"HTTP/1.1 200 OK\r\nconnection: close\r\n\r\nuntil the end"],
        ]);
        let settings = settings(4);
        let get = prepared(&base, Method::GET, serde_json::json!({"id": "1"}));
        let e = failed(send(&settings, &get, Duration::from_secs(30), 1024), "over the cap");
        assert!(e.is_transport() && e.to_string().contains("1024 byte cap"), "{e}");
        assert_eq!(e.outcome(), Outcome::Unknown);
        received.recv().unwrap();
        let e = failed(send(&settings, &get, Duration::from_secs(30), 1024), "cut short");
        assert!(
            e.is_transport() && e.to_string().contains("before the answer's body was complete"),
            "{e}"
        );
        assert_eq!(e.transient(), Some(Transient::Dropped));
        received.recv().unwrap();
        let raw = send(&settings, &get, Duration::from_secs(30), 1024).expect("read to the end");
        assert_eq!(&raw.body[..], b"until the end");
        assert_eq!(received.recv().unwrap().len(), 1);
        assert!(IDLE.with(|idle| idle.borrow().is_empty()), "no connection was kept");
    }
}
