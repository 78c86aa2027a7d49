//! A hostile server: scripted listeners on 127.0.0.1 (plain TCP, and TLS through rustls) that write exact
//! bytes — stale answers behind a pooled one, contradictory framing, oversized bodies in every framing,
//! drips, close_notify and FIN on idle connections, 1xx floods, `101`, redirects, early final answers,
//! and unsigned answers dressed up as downloads. Every case runs on both call paths: blocking (outside any
//! runtime) and async (`.await` inside a tokio runtime the test builds).
//!
//! Every server thread is bounded in time (read and write timeouts, deadlines), and a test that waits for
//! the server waits on a channel, so each test ends by itself however the client behaves.
#![cfg(feature = "mock")]

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, TryRecvError};
use std::sync::{Arc, Mutex, Once, OnceLock};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use wechatpay::{Client, ClientBuilder, Outcome, PrivateKey, PublicKey, Response, RetryPolicy};

const MCHID: &str = "1900000109";
const MERCHANT_SERIAL: &str = "3775B6A45ACD588826D15E583A95F5DD00000001";
/// The serial of `fixtures/platform_cert.pem`, whose key (`fixtures/platform_key.pem`) signs the answers.
const PLATFORM_SERIAL: &str = "5157F09EFDC096DE15EBE81A47057A7232F1B8E1";

/// How long a call that must time out may take at most: its timeout is 1 s.
const PROMPT: Duration = Duration::from_secs(5);

// ------------------------------------------------------------------------------------------------
// The two call paths.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Path {
    /// `chain.get(…)` / `chain.post(…)` on the test's thread, outside any runtime.
    Blocking,
    /// `chain.get_async(…).await` / `chain.post_async(…).await` inside a multi-thread tokio runtime.
    Async,
}

/// Makes calls on one path; the async path owns the runtime its calls run in.
struct Caller {
    runtime: Option<tokio::runtime::Runtime>,
}

impl Caller {
    fn new(path: Path) -> Self {
        let runtime = (path == Path::Async).then(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("a tokio runtime")
        });
        Caller { runtime }
    }

    fn get(&self, client: &Client, chain: &str, options: Value) -> wechatpay::Result<Response> {
        match &self.runtime {
            None => client.chain(chain).get(options),
            Some(rt) => rt.block_on(client.chain(chain).get_async(options)),
        }
    }

    fn post(&self, client: &Client, chain: &str, options: Value) -> wechatpay::Result<Response> {
        match &self.runtime {
            None => client.chain(chain).post(options),
            Some(rt) => rt.block_on(client.chain(chain).post_async(options)),
        }
    }

    /// A call and how long it took.
    fn timed(
        &self,
        call: impl FnOnce(&Self) -> wechatpay::Result<Response>,
    ) -> (wechatpay::Result<Response>, Duration) {
        let started = Instant::now();
        let result = call(self);
        (result, started.elapsed())
    }
}

/// Panics on the client's own threads (its I/O runtime, the test's tokio workers, a thread a test spawns
/// to call from): a panic there could otherwise come back as a mere error, or not at all.
static BACKGROUND_PANICS: AtomicUsize = AtomicUsize::new(0);

fn watch_panics() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let name = std::thread::current().name().map(str::to_owned);
            let clients = name
                .as_deref()
                .is_none_or(|n| n.starts_with("wechatpay") || n.starts_with("tokio") || n.starts_with("client"));
            if clients {
                BACKGROUND_PANICS.fetch_add(1, Ordering::SeqCst);
            }
            previous(info);
        }));
    });
}

/// Runs one case on one path, then checks that no thread of the client panicked meanwhile.
fn run(path: Path, case: impl FnOnce(Path)) {
    watch_panics();
    let before = BACKGROUND_PANICS.load(Ordering::SeqCst);
    case(path);
    assert_eq!(
        BACKGROUND_PANICS.load(Ordering::SeqCst),
        before,
        "a thread of the client panicked while this test ran (its message is in the output above)"
    );
}

/// An error that is not a panic in disguise (a task that panicked comes back as "ended abnormally").
#[track_caller]
fn no_panic(e: &wechatpay::Error) {
    let text = format!("{e:#}");
    assert!(
        !text.contains("panic") && !text.contains("abnormally"),
        "the client panicked: {text}"
    );
}

// ------------------------------------------------------------------------------------------------
// Keys, answers and the client.

fn platform_key() -> &'static PrivateKey {
    static KEY: OnceLock<PrivateKey> = OnceLock::new();
    KEY.get_or_init(|| PrivateKey::load(include_str!("fixtures/platform_key.pem")).unwrap())
}

/// The server's TLS configuration and the CA (PEM) the client trusts it by.
fn tls() -> &'static (Arc<rustls::ServerConfig>, String) {
    static TLS: OnceLock<(Arc<rustls::ServerConfig>, String)> = OnceLock::new();
    TLS.get_or_init(|| wechatpay::mock::test_server_tls().expect("the test TLS configuration"))
}

fn reason(status: u16) -> &'static str {
    http::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Whatever")
}

/// An answer's head, signed over `body` by the platform key, with `framing` (header lines, each ending in
/// CRLF) before the blank line.
fn signed_head(status: u16, framing: &str, body: &[u8]) -> Vec<u8> {
    let ts = wechatpay::formatter::timestamp().to_string();
    let nonce = wechatpay::formatter::nonce();
    let signature = platform_key().sign(&wechatpay::verify::answer_message(&ts, &nonce, body));
    format!(
        "HTTP/1.1 {status} {}\r\nwechatpay-timestamp: {ts}\r\nwechatpay-nonce: {nonce}\r\n\
         wechatpay-signature: {signature}\r\nwechatpay-serial: {PLATFORM_SERIAL}\r\n\
         content-type: application/json\r\n{framing}\r\n",
        reason(status)
    )
    .into_bytes()
}

/// A whole signed answer framed by `content-length`.
fn signed(status: u16, body: &[u8]) -> Vec<u8> {
    let mut bytes = signed_head(status, &format!("content-length: {}\r\n", body.len()), body);
    bytes.extend_from_slice(body);
    bytes
}

/// A whole signed `200` with `value` as its body.
fn ok(value: &Value) -> Vec<u8> {
    signed(200, value.to_string().as_bytes())
}

/// A signed `200` of `value` plus a `pad` member sized so head and body take exactly `total` bytes.
fn ok_padded_to(total: usize, value: &Value) -> Vec<u8> {
    let mut value = value.clone();
    let mut pad: isize = 0;
    for _ in 0..10 {
        value["pad"] = json!("p".repeat(pad.max(0) as usize));
        let bytes = ok(&value);
        if bytes.len() == total {
            return bytes;
        }
        pad += total as isize - bytes.len() as isize;
    }
    panic!("could not pad an answer to {total} bytes");
}

/// `body` in chunks of `size` bytes, with the last chunk.
fn chunked(body: &[u8], size: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for chunk in body.chunks(size) {
        out.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        out.extend_from_slice(chunk);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"0\r\n\r\n");
    out
}

/// A client of `server` (answers verify against the platform certificate), no retries, a 10 s timeout,
/// then `tweak`.
fn client(server: &Server, tweak: impl FnOnce(ClientBuilder) -> ClientBuilder) -> Client {
    let mut builder = Client::builder()
        .mchid(MCHID)
        .serial(MERCHANT_SERIAL)
        .private_key(include_str!("fixtures/merchant_key.pem"))
        .cert_loaded(
            PLATFORM_SERIAL,
            PublicKey::load(include_str!("fixtures/platform_cert.pem")).unwrap(),
        )
        .base_uri(&server.base_uri())
        .timeout(Duration::from_secs(10))
        .retry(RetryPolicy::none());
    if server.wire != Wire::Plain {
        builder = builder.root_certificate(&tls().1);
    }
    tweak(builder).build().unwrap()
}

fn json_of(res: &Response) -> Value {
    res.json().unwrap_or(Value::Null)
}

/// A POST body with an ~8 MiB string in it.
fn big_post() -> Value {
    json!({"json": {"blob": "a".repeat(8 << 20)}})
}

// ------------------------------------------------------------------------------------------------
// The scripted server.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Wire {
    /// `http://`, plain TCP.
    Plain,
    /// `https://`: the server speaks TLS (the sandbox's CA), the script plaintext.
    Tls,
    /// `https://` for the client, but the script gets the raw socket and never speaks TLS.
    RawUnderTls,
}

#[derive(Default)]
struct Stats {
    accepted: AtomicUsize,
    requests: AtomicUsize,
    /// Request heads read, per connection.
    per_connection: Mutex<Vec<usize>>,
}

/// A listener on 127.0.0.1 running a script on each connection it accepts (each on its own thread).
/// Dropping it stops the accepting; a connection's script ends by its own deadlines.
struct Server {
    addr: SocketAddr,
    wire: Wire,
    stats: Arc<Stats>,
    stop: Arc<AtomicBool>,
}

impl Server {
    fn start(wire: Wire, script: impl Fn(&mut Peer) + Send + Sync + 'static) -> Server {
        Self::start_on(wire, TcpListener::bind("127.0.0.1:0").unwrap(), script)
    }

    /// With a tiny receive buffer, so a large request body cannot hide in the server's socket.
    fn start_small(wire: Wire, script: impl Fn(&mut Peer) + Send + Sync + 'static) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        // Set before any connection arrives: accepted sockets inherit it.
        #[cfg(unix)]
        {
            use std::os::fd::AsRawFd as _;
            let size: libc::c_int = 4096;
            // SAFETY: a valid socket and a pointer to an int of the size given.
            let rc = unsafe {
                libc::setsockopt(
                    listener.as_raw_fd(),
                    libc::SOL_SOCKET,
                    libc::SO_RCVBUF,
                    std::ptr::addr_of!(size).cast(),
                    std::mem::size_of::<libc::c_int>() as libc::socklen_t,
                )
            };
            assert_eq!(rc, 0, "SO_RCVBUF");
        }
        Self::start_on(wire, listener, script)
    }

    fn start_on(wire: Wire, listener: TcpListener, script: impl Fn(&mut Peer) + Send + Sync + 'static) -> Server {
        let addr = listener.local_addr().unwrap();
        let stats = Arc::new(Stats::default());
        let stop = Arc::new(AtomicBool::new(false));
        let script = Arc::new(script);
        let (st, stopped) = (Arc::clone(&stats), Arc::clone(&stop));
        std::thread::Builder::new()
            .name("srv-accept".into())
            .spawn(move || {
                for tcp in listener.incoming() {
                    if stopped.load(Ordering::SeqCst) {
                        return;
                    }
                    let Ok(tcp) = tcp else { continue };
                    let index = st.accepted.fetch_add(1, Ordering::SeqCst);
                    st.per_connection.lock().unwrap().push(0);
                    let (stats, script) = (Arc::clone(&st), Arc::clone(&script));
                    std::thread::Builder::new()
                        .name(format!("srv-conn-{index}"))
                        .spawn(move || {
                            let _ = tcp.set_nodelay(true);
                            let _ = tcp.set_read_timeout(Some(Duration::from_secs(10)));
                            let _ = tcp.set_write_timeout(Some(Duration::from_secs(10)));
                            let conn = match wire {
                                Wire::Tls => {
                                    let server = rustls::ServerConnection::new(Arc::clone(&tls().0)).unwrap();
                                    Conn::Tls(Box::new(rustls::StreamOwned::new(server, tcp)))
                                }
                                Wire::Plain | Wire::RawUnderTls => Conn::Plain(tcp),
                            };
                            let mut peer = Peer {
                                conn,
                                buf: Vec::new(),
                                index,
                                stats,
                            };
                            script(&mut peer);
                        })
                        .unwrap();
                }
            })
            .unwrap();
        Server {
            addr,
            wire,
            stats,
            stop,
        }
    }

    fn base_uri(&self) -> String {
        let scheme = if self.wire == Wire::Plain { "http" } else { "https" };
        format!("{scheme}://{}/", self.addr)
    }

    fn accepted(&self) -> usize {
        self.stats.accepted.load(Ordering::SeqCst)
    }

    fn requests(&self) -> usize {
        self.stats.requests.load(Ordering::SeqCst)
    }

    fn requests_on(&self, connection: usize) -> usize {
        self.stats
            .per_connection
            .lock()
            .unwrap()
            .get(connection)
            .copied()
            .unwrap_or(0)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the accepting thread, which then sees the flag.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
    }
}

enum Conn {
    Plain(TcpStream),
    Tls(Box<rustls::StreamOwned<rustls::ServerConnection, TcpStream>>),
}

impl Conn {
    fn tcp(&self) -> &TcpStream {
        match self {
            Conn::Plain(tcp) => tcp,
            Conn::Tls(tls) => &tls.sock,
        }
    }
}

impl Read for Conn {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Conn::Plain(tcp) => tcp.read(buf),
            Conn::Tls(tls) => tls.read(buf),
        }
    }
}

impl Write for Conn {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Conn::Plain(tcp) => tcp.write(buf),
            Conn::Tls(tls) => tls.write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Conn::Plain(tcp) => tcp.flush(),
            Conn::Tls(tls) => tls.flush(),
        }
    }
}

/// A request as the server read it (its body consumed).
struct Request {
    /// Its number among every request head this server read, from 1.
    number: usize,
}

/// One accepted connection, as a script sees it.
struct Peer {
    conn: Conn,
    /// Bytes read and not yet consumed.
    buf: Vec<u8>,
    /// The connection's number, from 0.
    index: usize,
    stats: Arc<Stats>,
}

fn timed_out(e: &std::io::Error) -> bool {
    matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut)
}

impl Peer {
    /// Reads more into the buffer; false at the end of the stream, an error or the read timeout.
    fn fill(&mut self) -> bool {
        let mut chunk = [0u8; 16 * 1024];
        match self.conn.read(&mut chunk) {
            Ok(0) | Err(_) => false,
            Ok(n) => {
                self.buf.extend_from_slice(&chunk[..n]);
                true
            }
        }
    }

    /// Reads a request head (counted as a request), returning its number and content length.
    fn read_head(&mut self) -> Option<(usize, usize)> {
        let end = loop {
            if let Some(at) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break at + 4;
            }
            if self.buf.len() > 1 << 20 || !self.fill() {
                return None;
            }
        };
        let head = String::from_utf8_lossy(&self.buf[..end]).into_owned();
        self.buf.drain(..end);
        let number = self.stats.requests.fetch_add(1, Ordering::SeqCst) + 1;
        self.stats.per_connection.lock().unwrap()[self.index] += 1;
        let length = head
            .lines()
            .filter_map(|l| l.split_once(':'))
            .find(|(name, _)| name.trim().eq_ignore_ascii_case("content-length"))
            .and_then(|(_, value)| value.trim().parse().ok())
            .unwrap_or(0);
        Some((number, length))
    }

    /// Reads a whole request (its body framed by `content-length`).
    fn read_request(&mut self) -> Option<Request> {
        let (number, length) = self.read_head()?;
        while self.buf.len() < length {
            if !self.fill() {
                return None;
            }
        }
        self.buf.drain(..length);
        Some(Request { number })
    }

    /// Writes `bytes` at once; false when the client is gone.
    fn send(&mut self, bytes: &[u8]) -> bool {
        self.conn.write_all(bytes).and_then(|()| self.conn.flush()).is_ok()
    }

    /// Writes `bytes` one at a time, `every` apart, for at most `limit`.
    fn drip(&mut self, bytes: &[u8], every: Duration, limit: Duration) {
        let until = Instant::now() + limit;
        for byte in bytes {
            if Instant::now() >= until || !self.send(std::slice::from_ref(byte)) {
                return;
            }
            std::thread::sleep(every);
        }
    }

    /// Writes `block` again and again: at most `max_bytes`, for at most `limit`, until the client is gone.
    fn flood(&mut self, block: &[u8], max_bytes: usize, limit: Duration) {
        let until = Instant::now() + limit;
        let _ = self.conn.tcp().set_write_timeout(Some(Duration::from_secs(2)));
        let mut sent = 0;
        while sent < max_bytes && Instant::now() < until {
            if !self.send(block) {
                return;
            }
            sent += block.len();
        }
    }

    /// Reads and discards until the client closes, for at most `limit` (a lingering close).
    fn linger(&mut self, limit: Duration) {
        let until = Instant::now() + limit;
        let _ = self.conn.tcp().set_read_timeout(Some(Duration::from_millis(100)));
        let mut chunk = [0u8; 64 * 1024];
        while Instant::now() < until {
            match self.conn.read(&mut chunk) {
                Ok(0) => return,
                Ok(_) => {}
                Err(e) if timed_out(&e) => {}
                Err(_) => return,
            }
        }
    }

    /// Counts the (plaintext) bytes the client sends from now on, until it closes, or until `stop` says
    /// so and nothing more is pending; at most `limit`. TLS bytes that are no valid record count as one.
    fn count_until(&mut self, stop: &Receiver<()>, limit: Duration) -> usize {
        let mut count = std::mem::take(&mut self.buf).len();
        let until = Instant::now() + limit;
        let _ = self.conn.tcp().set_read_timeout(Some(Duration::from_millis(50)));
        let mut stopping = false;
        let mut chunk = [0u8; 16 * 1024];
        while Instant::now() < until {
            if !stopping && !matches!(stop.try_recv(), Err(TryRecvError::Empty)) {
                stopping = true;
            }
            match self.conn.read(&mut chunk) {
                Ok(0) => break,
                Ok(n) => count += n,
                Err(e) if timed_out(&e) => {
                    if stopping {
                        break;
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::InvalidData => {
                    count += 1;
                    break;
                }
                Err(_) => break,
            }
        }
        count
    }

    /// Ends the server's side of the connection, the way a server closing an idle connection does: a TLS
    /// close_notify first, then a FIN. The client may still write (and the script read what it writes).
    fn close_write(&mut self) {
        if let Conn::Tls(tls) = &mut self.conn {
            tls.conn.send_close_notify();
            let _ = tls.flush();
        }
        let _ = self.conn.tcp().shutdown(Shutdown::Write);
    }

    /// The client's port.
    fn client_port(&self) -> u16 {
        self.conn.tcp().peer_addr().map(|a| a.port()).unwrap_or(0)
    }
}

/// Answers every request on the connection with a signed `{"req": n, "conn": c}`.
fn serve_rest(peer: &mut Peer) {
    while let Some(req) = peer.read_request() {
        if !peer.send(&ok(&json!({"req": req.number, "conn": peer.index}))) {
            return;
        }
    }
}

// ------------------------------------------------------------------------------------------------
// /proc/net/tcp: what the kernel says of this process's sockets.

#[derive(Debug)]
struct Socket {
    local_port: u16,
    remote_port: u16,
    /// `01` ESTABLISHED, `08` CLOSE_WAIT, …
    state: u8,
    inode: u64,
}

/// Every TCP socket of the machine (IPv4 and IPv6); `None` without `/proc/net/tcp`.
fn tcp_table() -> Option<Vec<Socket>> {
    let v4 = std::fs::read_to_string("/proc/net/tcp").ok()?;
    let v6 = std::fs::read_to_string("/proc/net/tcp6").unwrap_or_default();
    let port = |field: &str| field.rsplit(':').next().and_then(|p| u16::from_str_radix(p, 16).ok());
    Some(
        v4.lines()
            .skip(1)
            .chain(v6.lines().skip(1))
            .filter_map(|line| {
                let fields: Vec<&str> = line.split_whitespace().collect();
                Some(Socket {
                    local_port: port(fields.get(1)?)?,
                    remote_port: port(fields.get(2)?)?,
                    state: u8::from_str_radix(fields.get(3)?, 16).ok()?,
                    inode: fields.get(9)?.parse().ok()?,
                })
            })
            .collect(),
    )
}

/// The inodes of this process's sockets.
fn own_socket_inodes() -> Vec<u64> {
    std::fs::read_dir("/proc/self/fd")
        .map(|dir| {
            dir.flatten()
                .filter_map(|fd| std::fs::read_link(fd.path()).ok())
                .filter_map(|target| {
                    let target = target.to_string_lossy().into_owned();
                    target.strip_prefix("socket:[")?.strip_suffix(']')?.parse().ok()
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Waits (at most 5 s) until the client's socket `client_port` → `server_port` has taken the server's
/// FIN: no longer ESTABLISHED (CLOSE_WAIT, or closed since). Returns at once without `/proc/net/tcp`.
fn wait_until_fin_seen(client_port: u16, server_port: u16) {
    let until = Instant::now() + Duration::from_secs(5);
    while Instant::now() < until {
        let Some(table) = tcp_table() else {
            eprintln!("no /proc/net/tcp: not waiting for the client's socket to see the FIN");
            return;
        };
        let established = table
            .iter()
            .any(|s| s.local_port == client_port && s.remote_port == server_port && s.state == 0x01);
        if !established {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    eprintln!("the client's socket {client_port} is still ESTABLISHED after 5 s");
}

/// This process's sockets to `server_port` in CLOSE_WAIT.
fn close_waits(server_port: u16) -> Vec<Socket> {
    let own = own_socket_inodes();
    tcp_table()
        .unwrap_or_default()
        .into_iter()
        .filter(|s| s.remote_port == server_port && s.state == 0x08 && own.contains(&s.inode))
        .collect()
}

// ------------------------------------------------------------------------------------------------
// 1. Stale bytes behind a pooled answer.

/// Call 1's genuine answer arrives with a second complete signed answer behind it in the same write; call
/// 2 must get the server's real answer to it (the request it read second), or an error, never the stale
/// one. With `boundary`, answer 1 fills exactly one 16 KiB TLS record and the stale one is the next.
fn stale_answer(path: Path, wire: Wire, boundary: bool) {
    let server = Server::start(wire, move |peer| {
        while let Some(req) = peer.read_request() {
            let answer = json!({"req": req.number, "conn": peer.index});
            let mut bytes = if boundary && req.number == 1 {
                let bytes = ok_padded_to(16384, &answer);
                assert_eq!(bytes.len(), 16384);
                bytes
            } else {
                ok(&answer)
            };
            if req.number == 1 {
                bytes.extend(ok(&json!({"stale": true})));
            }
            if !peer.send(&bytes) {
                return;
            }
        }
    });
    let caller = Caller::new(path);
    let client = client(&server, |b| b);
    let first = caller.get(&client, "v3/hostile/first", json!({})).expect("call 1");
    assert_eq!(json_of(&first)["req"], 1, "{}", first.text().unwrap_or_default());
    match caller.get(&client, "v3/hostile/second", json!({})) {
        Ok(res) => {
            let body = json_of(&res);
            assert!(body.get("stale").is_none(), "call 2 returned the stale answer: {body}");
            assert_eq!(
                body["req"], 2,
                "call 2 returned the server's answer to its request: {body}"
            );
            assert_eq!(server.requests(), 2);
        }
        Err(e) => no_panic(&e),
    }
}

// ------------------------------------------------------------------------------------------------
// 2. Framing.

/// `content-length` and `transfer-encoding: chunked` together: whatever call 1 makes of it, a connection
/// so answered is not used again.
fn length_and_chunked(path: Path) {
    let server = Server::start(Wire::Plain, |peer| {
        while let Some(req) = peer.read_request() {
            let body = json!({"req": req.number, "conn": peer.index}).to_string();
            let bytes = if req.number == 1 {
                let framing = format!("content-length: {}\r\ntransfer-encoding: chunked\r\n", body.len());
                let mut bytes = signed_head(200, &framing, body.as_bytes());
                bytes.extend(chunked(body.as_bytes(), 7));
                bytes
            } else {
                signed(200, body.as_bytes())
            };
            if !peer.send(&bytes) {
                return;
            }
        }
    });
    let caller = Caller::new(path);
    let client = client(&server, |b| b);
    let first = caller.get(&client, "v3/hostile/first", json!({}));
    if let Err(e) = &first {
        no_panic(e);
    }
    let second = caller.get(&client, "v3/hostile/second", json!({}));
    match (&first, &second) {
        (Ok(_), Ok(res)) => {
            assert_eq!(json_of(res)["req"], 2, "{}", res.text().unwrap_or_default());
            assert_eq!(
                server.requests_on(0),
                1,
                "call 2 went on the connection whose answer had both framings"
            );
            assert_eq!(server.accepted(), 2);
        }
        (_, Err(e)) => no_panic(e),
        (Err(_), Ok(_)) => {}
    }
}

/// One answer with the framing given, signed over `body`, then the connection serves on normally; the
/// call must fail.
fn refused_framing(path: Path, framing: &'static str, body: &'static [u8], wire_body: &'static [u8]) {
    let server = Server::start(Wire::Plain, move |peer| {
        if peer.read_request().is_none() {
            return;
        }
        let mut bytes = signed_head(200, framing, body);
        bytes.extend_from_slice(wire_body);
        if peer.send(&bytes) {
            serve_rest(peer);
        }
    });
    let caller = Caller::new(path);
    let client = client(&server, |b| b);
    match caller.get(&client, "v3/hostile/framing", json!({})) {
        Ok(res) => panic!(
            "`{}` was taken: {} {}",
            framing.trim_end(),
            res.status(),
            res.text().unwrap_or_default()
        ),
        Err(e) => no_panic(&e),
    }
}

/// A chunked answer whose bytes after the head are `preamble` and then `filler` again and again (at most
/// 64 MiB, 8 s): the call must fail, and within 5 s (no waiting for, nor buffering of, the endless).
fn endless(path: Path, head: Vec<u8>, preamble: &'static [u8], filler: u8, cap: Option<usize>) {
    let head = Arc::new(head);
    let server = Server::start(Wire::Plain, move |peer| {
        if peer.read_request().is_none() {
            return;
        }
        let mut bytes = (*head).clone();
        bytes.extend_from_slice(preamble);
        if peer.send(&bytes) {
            peer.flood(&[filler; 16 * 1024], 64 << 20, Duration::from_secs(8));
        }
    });
    let caller = Caller::new(path);
    let client = client(&server, |b| match cap {
        Some(cap) => b.max_response_size(cap),
        None => b,
    });
    let (result, took) = caller.timed(|c| c.get(&client, "v3/hostile/endless", json!({})));
    match result {
        Ok(res) => panic!("taken: {} ({} bytes)", res.status(), res.bytes().len()),
        Err(e) => {
            no_panic(&e);
            assert!(took < PROMPT, "refused only after {took:?}: {e:#}");
        }
    }
}

fn chunked_head() -> Vec<u8> {
    signed_head(200, "transfer-encoding: chunked\r\n", br#"{"a":1}"#)
}

// ------------------------------------------------------------------------------------------------
// 3. The response size cap, in every framing.

#[derive(Clone, Copy)]
enum Framing {
    Length,
    Chunks,
    Close,
}

/// A signed 4 KiB body to a client capped at 1 KiB: refused, and the server may have acted.
fn capped(path: Path, framing: Framing) {
    let server = Server::start(Wire::Plain, move |peer| {
        if peer.read_request().is_none() {
            return;
        }
        let body = json!({"pad": "c".repeat(4096)}).to_string();
        let body = body.as_bytes();
        let bytes = match framing {
            Framing::Length => signed(200, body),
            Framing::Chunks => {
                let mut bytes = signed_head(200, "transfer-encoding: chunked\r\n", body);
                bytes.extend(chunked(body, 1000));
                bytes
            }
            Framing::Close => {
                let mut bytes = signed_head(200, "connection: close\r\n", body);
                bytes.extend_from_slice(body);
                bytes
            }
        };
        if !peer.send(&bytes) {
            return;
        }
        match framing {
            Framing::Close => {
                let _ = peer.conn.tcp().shutdown(Shutdown::Write);
                peer.linger(Duration::from_secs(5));
            }
            Framing::Length | Framing::Chunks => serve_rest(peer),
        }
    });
    let caller = Caller::new(path);
    let client = client(&server, |b| b.max_response_size(1024));
    let e = match caller.get(&client, "v3/hostile/big", json!({})) {
        Ok(res) => panic!("a {} byte body passed a 1024 byte cap", res.bytes().len()),
        Err(e) => e,
    };
    no_panic(&e);
    assert_eq!(e.outcome(), Outcome::Unknown, "{e:#}");
}

// ------------------------------------------------------------------------------------------------
// 4. Drips: a 1 s timeout bounds everything.

/// A call to a server running `script` with a 1 s timeout: a timeout error, within 5 s.
fn times_out(path: Path, server: Server, post: bool) {
    let caller = Caller::new(path);
    let client = client(&server, |b| b.timeout(Duration::from_secs(1)));
    let body = if post { big_post() } else { json!({}) };
    let (result, took) = caller.timed(|c| {
        if post {
            c.post(&client, "v3/hostile/drip", body)
        } else {
            c.get(&client, "v3/hostile/drip", body)
        }
    });
    let e = match result {
        Ok(res) => panic!("answered: {} {}", res.status(), res.text().unwrap_or_default()),
        Err(e) => e,
    };
    no_panic(&e);
    assert!(took < PROMPT, "ended only after {took:?}: {e:#}");
    assert!(e.is_timeout(), "not a timeout: {e:#}");
}

fn drip_tls_silence(path: Path) {
    let server = Server::start(Wire::RawUnderTls, |peer| peer.linger(Duration::from_secs(6)));
    times_out(path, server, false);
}

fn drip_tls_handshake(path: Path) {
    let server = Server::start(Wire::RawUnderTls, |peer| {
        if !peer.fill() {
            return; // no ClientHello
        }
        // A handshake record announcing 16 KiB, a ServerHello's first bytes, then junk: a byte each 200 ms.
        let mut bytes = vec![0x16, 0x03, 0x03, 0x40, 0x00, 0x02, 0x00, 0x3f, 0xfc, 0x03, 0x03];
        bytes.extend([0x5a; 40]);
        peer.drip(&bytes, Duration::from_millis(200), Duration::from_secs(6));
    });
    times_out(path, server, false);
}

fn drip_head(path: Path) {
    let server = Server::start(Wire::Plain, |peer| {
        if let Some(req) = peer.read_request() {
            let bytes = ok(&json!({"req": req.number}));
            peer.drip(&bytes, Duration::from_millis(200), Duration::from_secs(6));
        }
    });
    times_out(path, server, false);
}

fn drip_body(path: Path) {
    let server = Server::start(Wire::Plain, |peer| {
        if peer.read_request().is_some() {
            let body = [b'7'; 100];
            if peer.send(&signed_head(200, "content-length: 100\r\n", &body)) {
                peer.drip(&body, Duration::from_millis(200), Duration::from_secs(6));
            }
        }
    });
    times_out(path, server, false);
}

fn stall_request_body(path: Path) {
    let server = Server::start_small(Wire::Plain, |peer| {
        if peer.read_head().is_some() {
            // Reads nothing more, and holds the connection open.
            std::thread::sleep(Duration::from_secs(6));
        }
    });
    times_out(path, server, true);
}

// ------------------------------------------------------------------------------------------------
// 5. close_notify and FIN on a pooled connection.

/// The server answers call 1 and then closes that connection (close_notify and FIN for TLS, FIN for
/// plain). Once the client's socket has taken it, a POST succeeds on a new connection, and the old one
/// gets no byte of it.
fn closed_while_idle(path: Path, wire: Wire) {
    let (port_tx, port_rx) = mpsc::channel::<u16>();
    let (stop_tx, stop_rx) = mpsc::channel::<()>();
    let stop_rx = Mutex::new(Some(stop_rx));
    let (count_tx, count_rx) = mpsc::channel::<usize>();
    let server = Server::start(wire, move |peer| {
        if peer.index > 0 {
            return serve_rest(peer);
        }
        let Some(req) = peer.read_request() else { return };
        if !peer.send(&ok(&json!({"req": req.number, "conn": peer.index}))) {
            return;
        }
        peer.close_write();
        let _ = port_tx.send(peer.client_port());
        let Some(stop) = stop_rx.lock().unwrap().take() else {
            return;
        };
        let _ = count_tx.send(peer.count_until(&stop, Duration::from_secs(20)));
    });
    let caller = Caller::new(path);
    let client = client(&server, |b| b);
    let first = caller.get(&client, "v3/hostile/first", json!({})).expect("call 1");
    assert_eq!(json_of(&first)["conn"], 0);
    let port = port_rx
        .recv_timeout(Duration::from_secs(10))
        .expect("the server closed the connection");
    wait_until_fin_seen(port, server.addr.port());

    let second = caller.post(&client, "v3/hostile/after-close", json!({"json": {"n": 2}}));
    let _ = stop_tx.send(());
    let after = count_rx
        .recv_timeout(Duration::from_secs(10))
        .expect("the old connection's count");
    let second = second
        .unwrap_or_else(|e| panic!("the POST after the close failed: {e:#} (the old connection got {after} bytes)"));
    assert_eq!(json_of(&second)["conn"], 1, "{}", second.text().unwrap_or_default());
    assert_eq!(after, 0, "bytes sent on the connection the server had closed");
}

// ------------------------------------------------------------------------------------------------
// 6. A flood of `100 Continue`.

fn continue_flood(path: Path) {
    let server = Server::start(Wire::Plain, |peer| {
        if peer.read_request().is_some() {
            let block = b"HTTP/1.1 100 Continue\r\n\r\n".repeat(640);
            peer.flood(&block, 256 << 20, Duration::from_secs(5));
        }
    });
    let caller = Caller::new(path);
    let client = client(&server, |b| b.timeout(Duration::from_secs(1)));
    let (result, took) = caller.timed(|c| c.post(&client, "v3/hostile/continue", json!({"json": {"n": 1}})));
    match result {
        Ok(res) => panic!("answered: {}", res.status()),
        Err(e) => {
            no_panic(&e);
            assert!(took < PROMPT, "ended only after {took:?}: {e:#}");
        }
    }
}

// ------------------------------------------------------------------------------------------------
// 7. `101 Switching Protocols`.

fn switching_protocols(path: Path) {
    let (stop_tx, stop_rx) = mpsc::channel::<()>();
    let stop_rx = Mutex::new(Some(stop_rx));
    let (count_tx, count_rx) = mpsc::channel::<usize>();
    let server = Server::start(Wire::Plain, move |peer| {
        if peer.index > 0 {
            return serve_rest(peer);
        }
        if peer.read_request().is_none() {
            return;
        }
        if !peer.send(b"HTTP/1.1 101 Switching Protocols\r\nconnection: upgrade\r\nupgrade: hostile\r\n\r\n") {
            return;
        }
        let Some(stop) = stop_rx.lock().unwrap().take() else {
            return;
        };
        let _ = count_tx.send(peer.count_until(&stop, Duration::from_secs(20)));
    });
    let caller = Caller::new(path);
    let client = client(&server, |b| b);
    match caller.get(&client, "v3/hostile/upgrade", json!({})) {
        Ok(res) => assert!(
            !(200..300).contains(&res.status()),
            "a 101 came back as a success: {}",
            res.status()
        ),
        Err(e) => no_panic(&e),
    }
    let second = caller.get(&client, "v3/hostile/after-upgrade", json!({}));
    let _ = stop_tx.send(());
    let after = count_rx
        .recv_timeout(Duration::from_secs(10))
        .expect("the upgraded connection's count");
    let second = second
        .unwrap_or_else(|e| panic!("the call after the 101 failed: {e:#} (the upgraded connection got {after} bytes)"));
    assert_eq!(json_of(&second)["conn"], 1, "{}", second.text().unwrap_or_default());
    assert_eq!(after, 0, "bytes sent on the connection answered with 101");
}

// ------------------------------------------------------------------------------------------------
// 8. Redirects are not followed.

fn redirect_not_followed(path: Path) {
    let other = TcpListener::bind("127.0.0.1:0").unwrap();
    other.set_nonblocking(true).unwrap();
    let location = format!("http://{}/", other.local_addr().unwrap());
    let server = Server::start(Wire::Plain, move |peer| {
        while peer.read_request().is_some() {
            let body = json!({"code": "FOUND", "message": "elsewhere"}).to_string();
            let framing = format!("location: {location}\r\ncontent-length: {}\r\n", body.len());
            let mut bytes = signed_head(302, &framing, body.as_bytes());
            bytes.extend_from_slice(body.as_bytes());
            if !peer.send(&bytes) {
                return;
            }
        }
    });
    let caller = Caller::new(path);
    let client = client(&server, |b| b);
    let e = match caller.get(&client, "v3/hostile/moved", json!({})) {
        Ok(res) => panic!("followed: {} {}", res.status(), res.text().unwrap_or_default()),
        Err(e) => e,
    };
    no_panic(&e);
    assert_eq!(e.status(), Some(302), "{e:#}");
    match other.accept() {
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
        Ok((_, from)) => panic!("the redirect was followed: a connection from {from}"),
        Err(e) => panic!("{e}"),
    }
}

// ------------------------------------------------------------------------------------------------
// 9. An early final answer to a large POST.

/// The server reads the head of an ~8 MiB POST, answers `status` at once, then reads and discards the
/// rest for up to 5 s before closing: the call fails with that status, and nothing was applied.
fn early_answer(path: Path, status: u16) {
    let server = Server::start_small(Wire::Plain, move |peer| {
        if peer.read_head().is_none() {
            return;
        }
        let head = format!(
            "HTTP/1.1 {status} {}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
            reason(status)
        );
        if peer.send(head.as_bytes()) {
            peer.linger(Duration::from_secs(5));
        }
    });
    let caller = Caller::new(path);
    let client = client(&server, |b| b);
    let e = match caller.post(&client, "v3/hostile/early", big_post()) {
        Ok(res) => panic!("answered: {}", res.status()),
        Err(e) => e,
    };
    no_panic(&e);
    assert_eq!(e.status(), Some(status), "{e:#}");
    assert_eq!(e.outcome(), Outcome::NotApplied, "{e:#}");
}

// ------------------------------------------------------------------------------------------------
// 10. CLOSE_WAIT and dropped clients.

/// After the server closes an idle pooled connection and the client makes its next call, no socket of
/// this process to the server is left in CLOSE_WAIT.
fn no_close_wait(path: Path) {
    if tcp_table().is_none() {
        eprintln!("skipped: no /proc/net/tcp");
        return;
    }
    let (port_tx, port_rx) = mpsc::channel::<u16>();
    let server = Server::start(Wire::Plain, move |peer| {
        if peer.index > 0 {
            return serve_rest(peer);
        }
        let Some(req) = peer.read_request() else { return };
        if peer.send(&ok(&json!({"req": req.number, "conn": peer.index}))) {
            let _ = peer.conn.tcp().shutdown(Shutdown::Both);
            let _ = port_tx.send(peer.client_port());
        }
    });
    let caller = Caller::new(path);
    let client = client(&server, |b| b);
    caller.get(&client, "v3/hostile/first", json!({})).expect("call 1");
    let port = port_rx
        .recv_timeout(Duration::from_secs(10))
        .expect("the server closed the connection");
    wait_until_fin_seen(port, server.addr.port());
    let second = caller.get(&client, "v3/hostile/second", json!({}));
    if let Err(e) = &second {
        no_panic(e);
    }
    // The close may be the client's I/O task's business: give it a moment (a leak stays for good).
    let until = Instant::now() + Duration::from_secs(3);
    let mut left = close_waits(server.addr.port());
    while !left.is_empty() && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(20));
        left = close_waits(server.addr.port());
    }
    assert!(
        left.is_empty(),
        "left in CLOSE_WAIT: {left:?} (call 2: {:?})",
        second.map(|r| r.status())
    );
}

/// The server's verdict on its pooled connection once the client is dropped.
fn pooled_connection_verdict(verdict_tx: mpsc::Sender<String>) -> impl Fn(&mut Peer) + Send + Sync + 'static {
    move |peer| {
        let Some(req) = peer.read_request() else { return };
        if !peer.send(&ok(&json!({"req": req.number, "conn": peer.index}))) {
            return;
        }
        let _ = peer.conn.tcp().set_read_timeout(Some(Duration::from_secs(10)));
        let mut byte = [0u8; 1];
        let verdict = match peer.conn.read(&mut byte) {
            Ok(0) => "closed".to_owned(),
            Err(e) if timed_out(&e) => "still open after 10 s".to_owned(),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => "closed".to_owned(),
            Err(e) => format!("read error {e}"),
            Ok(_) => "sent more bytes".to_owned(),
        };
        let _ = verdict_tx.send(verdict);
    }
}

/// Dropping the client closes its idle connections: the server reads EOF on the pooled one.
fn dropping_the_client(path: Path) {
    let (verdict_tx, verdict_rx) = mpsc::channel::<String>();
    let server = Server::start(Wire::Plain, pooled_connection_verdict(verdict_tx));
    let client = client(&server, |b| b);
    let caller = Caller::new(path);
    match path {
        Path::Blocking => {
            let worker = client.clone();
            let call = std::thread::Builder::new()
                .name("client-call".into())
                .spawn(move || worker.chain("v3/hostile/pooled").get(json!({})).map(|r| r.status()))
                .unwrap();
            assert_eq!(call.join().expect("the calling thread").expect("the call"), 200);
        }
        Path::Async => {
            caller.get(&client, "v3/hostile/pooled", json!({})).expect("the call");
        }
    }
    drop(client);
    let verdict = verdict_rx
        .recv_timeout(Duration::from_secs(15))
        .expect("the server's verdict");
    assert_eq!(verdict, "closed");
    drop(caller);
}

// ------------------------------------------------------------------------------------------------
// 11. The unsigned-download exception is for the literal download paths only.

fn unsigned_downloads(path: Path) {
    let server = Server::start(Wire::Plain, |peer| {
        while peer.read_request().is_some() {
            let bytes =
                b"HTTP/1.1 200 OK\r\ncontent-type: application/octet-stream\r\ncontent-length: 9\r\n\r\nbill,csv\n";
            if !peer.send(bytes) {
                return;
            }
        }
    });
    let caller = Caller::new(path);
    let client = client(&server, |b| b);
    let mut failures = Vec::new();
    let refused = [
        ("v3/billdownload/%66ile", json!({})),
        ("v3/{+a}", json!({"a": "billdownload/file"})),
        ("v3/{a}", json!({"a": "billdownload/file"})),
        ("v3/merchant-service/images/{media_id}", json!({"media_id": "%75pload"})),
        (
            "v3/merchant-service/images/{+media_id}",
            json!({"media_id": "%75pload"}),
        ),
    ];
    for (chain, options) in refused {
        match caller.get(&client, chain, options.clone()) {
            Ok(res) => failures.push(format!(
                "{chain} {options}: an unsigned answer was accepted ({} {:?})",
                res.status(),
                res.text().unwrap_or_default()
            )),
            // Refused before it was sent (a value that would change the endpoint) also never accepts it.
            Err(e) if e.verification().is_some() || e.is_path() => {
                no_panic(&e);
                eprintln!("{chain} {options}: refused: {e}");
            }
            Err(e) => failures.push(format!("{chain} {options}: not a verification error: {e:#}")),
        }
    }
    match caller.get(&client, "v3/billdownload/file", json!({})) {
        Ok(res) => assert_eq!(res.bytes().as_ref(), b"bill,csv\n"),
        Err(e) => failures.push(format!("v3/billdownload/file: the genuine download was refused: {e:#}")),
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

// ------------------------------------------------------------------------------------------------
// Every case, on both paths.

macro_rules! both_paths {
    ($($name:ident => $case:expr;)*) => {
        mod blocking {
            use super::*;
            $(
                #[test]
                fn $name() {
                    run(Path::Blocking, $case);
                }
            )*
        }
        mod asynchronous {
            use super::*;
            $(
                #[test]
                fn $name() {
                    run(Path::Async, $case);
                }
            )*
        }
    };
}

both_paths! {
    // 1
    stale_answer_behind_a_pooled_answer_plain => |p| stale_answer(p, Wire::Plain, false);
    stale_answer_behind_a_pooled_answer_tls => |p| stale_answer(p, Wire::Tls, false);
    stale_answer_behind_a_full_16k_tls_record => |p| stale_answer(p, Wire::Tls, true);
    // 2
    content_length_and_chunked_never_reuse_the_connection => length_and_chunked;
    content_length_with_a_plus_sign_is_refused =>
        |p| refused_framing(p, "content-length: +10\r\n", br#"{"a":1234}"#, br#"{"a":1234}"#);
    two_content_lengths_are_refused => |p| refused_framing(
        p,
        "content-length: 10\r\ncontent-length: 12\r\n",
        br#"{"a":1234}"#,
        br#"{"a":1234}{}"#,
    );
    an_overflowing_chunk_size_after_one_byte_is_refused_promptly =>
        |p| endless(p, chunked_head(), b"1\r\n{\r\nffffffffffffffff\r\n", b'a', Some(64 << 10));
    a_chunk_size_near_two_to_the_64_is_refused_promptly =>
        |p| endless(p, chunked_head(), b"a\r\n0123456789\r\nfffffffffffffff6\r\n", b'a', Some(64 << 10));
    an_endless_chunk_size_line_is_refused_promptly => |p| endless(p, chunked_head(), b"", b'1', None);
    an_endless_chunk_extension_is_refused_promptly => |p| endless(p, chunked_head(), b"1;", b'x', None);
    an_endless_header_line_is_refused_promptly =>
        |p| endless(p, b"HTTP/1.1 200 OK\r\nx-endless: ".to_vec(), b"", b'a', None);
    // 3
    the_cap_holds_for_a_content_length_body => |p| capped(p, Framing::Length);
    the_cap_holds_for_a_chunked_body => |p| capped(p, Framing::Chunks);
    the_cap_holds_for_a_close_delimited_body => |p| capped(p, Framing::Close);
    // 4
    a_silent_tls_handshake_times_out => drip_tls_silence;
    a_dripping_tls_handshake_times_out => drip_tls_handshake;
    a_dripping_head_times_out => drip_head;
    a_dripping_body_times_out => drip_body;
    a_stalled_request_body_times_out => stall_request_body;
    // 5
    after_close_notify_a_post_takes_a_new_connection => |p| closed_while_idle(p, Wire::Tls);
    after_a_fin_a_post_takes_a_new_connection => |p| closed_while_idle(p, Wire::Plain);
    // 6
    a_flood_of_100_continue_ends_in_time => continue_flood;
    // 7
    switching_protocols_is_no_success_and_the_connection_is_not_reused => switching_protocols;
    // 8
    a_redirect_is_not_followed => redirect_not_followed;
    // 9
    an_early_413_is_not_applied => |p| early_answer(p, 413);
    an_early_400_is_not_applied => |p| early_answer(p, 400);
    an_early_401_is_not_applied => |p| early_answer(p, 401);
    // 10
    no_close_wait_is_left_after_the_server_closes_an_idle_connection => no_close_wait;
    dropping_the_client_closes_its_idle_connections => dropping_the_client;
    // 11
    the_unsigned_download_exception_is_for_literal_download_paths_only => unsigned_downloads;
}

/// 10(b) on a calling thread that lives on: the blocking call runs on the test's own thread, which stays
/// alive while the client is dropped.
#[test]
fn dropping_the_client_closes_idle_connections_of_a_live_calling_thread() {
    run(Path::Blocking, |_| {
        let (verdict_tx, verdict_rx) = mpsc::channel::<String>();
        let server = Server::start(Wire::Plain, pooled_connection_verdict(verdict_tx));
        let client = client(&server, |b| b);
        assert_eq!(
            client
                .chain("v3/hostile/pooled")
                .get(json!({}))
                .expect("the call")
                .status(),
            200
        );
        drop(client);
        let verdict = verdict_rx
            .recv_timeout(Duration::from_secs(15))
            .expect("the server's verdict");
        assert_eq!(verdict, "closed");
    });
}
