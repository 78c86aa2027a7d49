//! Network settings that do what they say, against listeners on 127.0.0.1: proxies (SOCKS5 included, and
//! the environment's only when asked), plain HTTP for loopback only, timeouts, the connection pool and the
//! TLS minimum.
#![cfg(feature = "mock")]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use wechatpay::mock::MockServer;
use wechatpay::{Client, TlsVersion};

fn stock(client: &Client) -> wechatpay::Result<wechatpay::Response> {
    client["v3/marketing/busifavor/stocks/{stock_id}"].get(json!({"stock_id": "100088"}))
}

/// Copies bytes both ways between two sockets until either side closes.
fn splice(a: TcpStream, b: TcpStream) {
    let (mut a2, mut b2) = (a.try_clone().unwrap(), b.try_clone().unwrap());
    let (mut a, mut b) = (a, b);
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut a2, &mut b2);
        let _ = b2.shutdown(std::net::Shutdown::Write);
    });
    let _ = std::io::copy(&mut b, &mut a);
    let _ = a.shutdown(std::net::Shutdown::Write);
}

/// A TCP relay to `target` that counts the connections it accepts.
fn relay(target: SocketAddr) -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let count = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&count);
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            seen.fetch_add(1, Ordering::SeqCst);
            let upstream = TcpStream::connect(target).unwrap();
            std::thread::spawn(move || splice(client, upstream));
        }
    });
    (addr, count)
}

/// A minimal SOCKS5 proxy (RFC 1928: no authentication, CONNECT to an IPv4 address or a domain name)
/// that counts the connections it opened.
fn socks5() -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let count = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&count);
    std::thread::spawn(move || {
        for mut client in listener.incoming().flatten() {
            let seen = Arc::clone(&seen);
            std::thread::spawn(move || {
                let mut head = [0u8; 2];
                client.read_exact(&mut head).unwrap();
                let mut methods = vec![0u8; head[1] as usize];
                client.read_exact(&mut methods).unwrap();
                client.write_all(&[5, 0]).unwrap();
                let mut request = [0u8; 4];
                client.read_exact(&mut request).unwrap();
                let host = match request[3] {
                    1 => {
                        let mut ip = [0u8; 4];
                        client.read_exact(&mut ip).unwrap();
                        std::net::Ipv4Addr::from(ip).to_string()
                    }
                    3 => {
                        let mut len = [0u8; 1];
                        client.read_exact(&mut len).unwrap();
                        let mut name = vec![0u8; len[0] as usize];
                        client.read_exact(&mut name).unwrap();
                        String::from_utf8(name).unwrap()
                    }
                    other => panic!("address type {other}"),
                };
                let mut port = [0u8; 2];
                client.read_exact(&mut port).unwrap();
                let upstream = TcpStream::connect((host.as_str(), u16::from_be_bytes(port))).unwrap();
                seen.fetch_add(1, Ordering::SeqCst);
                client.write_all(&[5, 0, 0, 1, 0, 0, 0, 0, 0, 0]).unwrap();
                splice(client, upstream);
            });
        }
    });
    (addr, count)
}

#[test]
fn a_socks5_proxy_carries_the_calls() {
    let server = MockServer::start().unwrap();
    let (proxy, opened) = socks5();
    for scheme in ["socks5", "socks5h"] {
        let client = server
            .client_builder()
            .proxy(&format!("{scheme}://{proxy}"))
            .build()
            .unwrap();
        assert_eq!(stock(&client).unwrap().status(), 200, "{scheme}");
    }
    assert_eq!(opened.load(Ordering::SeqCst), 2);
}

#[test]
fn proxies_of_other_schemes_are_refused_without_echoing_credentials() {
    let server = MockServer::start().unwrap();
    for proxy in [
        "ftp://user:s3cret@127.0.0.1:21",
        "socks4://127.0.0.1:1080",
        "not a url s3cret",
    ] {
        let e = server.client_builder().proxy(proxy).build().unwrap_err();
        assert!(e.is_config(), "{proxy}: {e}");
        assert!(!format!("{e} {e:?}").contains("s3cret"), "{e:?}");
    }
}

/// Runs one `#[ignore]`d test of this binary in a child process with `env`, so the environment is never
/// changed under the other tests.
fn in_child(test: &str, env: &[(&str, String)]) {
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--ignored", "--exact", test, "--nocapture"])
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{test}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_environments_proxy_is_used_only_when_asked() {
    let server = MockServer::start().unwrap();
    let (proxy, opened) = socks5();
    let env = [
        ("ALL_PROXY", format!("socks5://{proxy}")),
        ("SANDBOX_BASE_URI", server.base_uri()),
    ];
    in_child("env_proxy_ignored_by_default", &env);
    assert_eq!(
        opened.load(Ordering::SeqCst),
        0,
        "no call went through the environment's proxy"
    );
    in_child("env_proxy_used_when_asked", &env);
    assert_eq!(opened.load(Ordering::SeqCst), 1, "the call went through it when asked");
}

fn sandbox_client_from_env(from_env: bool) -> Client {
    // The child has its own sandbox keys only through the parent's: use the fixture-free way — a new
    // sandbox in the child would not go through the proxy's counter, so talk to the parent's.
    let base = std::env::var("SANDBOX_BASE_URI").unwrap();
    let server = MockServer::start().unwrap();
    server
        .client_builder()
        .base_uri(&base)
        .proxy_from_env(from_env)
        .build()
        .unwrap()
}

#[test]
#[ignore = "run by the_environments_proxy_is_used_only_when_asked in a child process"]
fn env_proxy_ignored_by_default() {
    // The keys differ from the parent's sandbox, so the call is refused (401): what matters is the route.
    let e = stock(&sandbox_client_from_env(false)).unwrap_err();
    assert_eq!(e.status(), Some(401), "{e}");
}

#[test]
#[ignore = "run by the_environments_proxy_is_used_only_when_asked in a child process"]
fn env_proxy_used_when_asked() {
    let e = stock(&sandbox_client_from_env(true)).unwrap_err();
    assert_eq!(e.status(), Some(401), "{e}");
}

#[test]
fn plain_http_is_for_loopback_only_and_timeouts_must_be_positive() {
    let server = MockServer::start().unwrap();
    for base in [
        "http://api.mch.weixin.qq.com/",
        "http://10.1.2.3:8080/",
        "http://example.com/",
    ] {
        let e = server.client_builder().base_uri(base).build().unwrap_err();
        assert!(e.is_config() && e.to_string().contains("loopback"), "{base}: {e}");
    }
    for base in [
        "http://127.0.0.1:9/",
        "http://[::1]:9/",
        "http://localhost:9/",
        "https://api.mch.weixin.qq.com/",
    ] {
        server.client_builder().base_uri(base).build().unwrap();
    }
    let e = server.client_builder().timeout(Duration::ZERO).build().unwrap_err();
    assert!(e.is_config(), "{e}");
    let e = server
        .client_builder()
        .connect_timeout(Duration::ZERO)
        .build()
        .unwrap_err();
    assert!(e.is_config(), "{e}");
}

#[test]
fn the_pool_keeps_connections_unless_told_not_to() {
    let server = MockServer::start().unwrap();
    let (relay_addr, connections) = relay(server.addr());
    let base = format!("http://{relay_addr}/");
    let pooled = server.client_builder().base_uri(&base).build().unwrap();
    for _ in 0..10 {
        stock(&pooled).unwrap();
    }
    // Reused (a connection returned to the pool a moment late may cost a second one: never ten).
    let kept = connections.load(Ordering::SeqCst);
    assert!((1..10).contains(&kept), "{kept} connections for 10 pooled calls");
    let unpooled = server
        .client_builder()
        .base_uri(&base)
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    for _ in 0..10 {
        stock(&unpooled).unwrap();
    }
    assert_eq!(
        connections.load(Ordering::SeqCst) - kept,
        10,
        "a connection per call without pooling"
    );
}

/// The TLS versions a client offers, read from its ClientHello (RFC 8446 §4.2.1 `supported_versions`).
fn offered_tls_versions(min: Option<TlsVersion>) -> Vec<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let reader = std::thread::spawn(move || {
        let (mut socket, _) = listener.accept().unwrap();
        socket.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        let mut header = [0u8; 5];
        socket.read_exact(&mut header).unwrap();
        assert_eq!(header[0], 22, "a handshake record");
        let mut hello = vec![0u8; u16::from_be_bytes([header[3], header[4]]) as usize];
        socket.read_exact(&mut hello).unwrap();
        hello
    });
    let server = MockServer::start().unwrap();
    let mut builder = server.client_builder().base_uri(&format!("https://{addr}/"));
    if let Some(min) = min {
        builder = builder.min_tls_version(min);
    }
    let client = builder.build().unwrap();
    let caller = std::thread::spawn(move || {
        let _ = stock(&client);
    });
    let hello = reader.join().unwrap();
    drop(caller);
    // handshake type, length (3), legacy version (2), random (32), session id, cipher suites, compression.
    let mut at = 4 + 2 + 32;
    at += 1 + hello[at] as usize;
    at += 2 + u16::from_be_bytes([hello[at], hello[at + 1]]) as usize;
    at += 1 + hello[at] as usize;
    let end = at + 2 + u16::from_be_bytes([hello[at], hello[at + 1]]) as usize;
    at += 2;
    while at + 4 <= end {
        let kind = u16::from_be_bytes([hello[at], hello[at + 1]]);
        let len = u16::from_be_bytes([hello[at + 2], hello[at + 3]]) as usize;
        if kind == 0x002b {
            let list = &hello[at + 5..at + 4 + len];
            return list.chunks(2).map(|v| u16::from_be_bytes([v[0], v[1]])).collect();
        }
        at += 4 + len;
    }
    panic!("no supported_versions extension");
}

#[test]
fn the_tls_minimum_is_what_the_client_offers() {
    assert_eq!(offered_tls_versions(Some(TlsVersion::Tls13)), [0x0304]);
    let default = offered_tls_versions(None);
    assert!(default.contains(&0x0304) && default.contains(&0x0303), "{default:x?}");
    assert!(
        !default.iter().any(|v| *v < 0x0303),
        "nothing below TLS 1.2: {default:x?}"
    );
}
