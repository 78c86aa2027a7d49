//! Helpers the integration tests share (each file under `tests/` is its own crate, hence a module).
#![allow(dead_code)] // every test crate uses only some of them

use std::path::PathBuf;

/// A fresh path under the system temp dir (not created), unique per process, call and `tag`.
pub fn temp_dir(tag: &str) -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    std::env::temp_dir().join(format!("wechatpay-test-{tag}-{}-{nanos}", std::process::id()))
}

/// A loopback port that refuses connections for as long as this value lives.
///
/// Binding port 0 and closing it again ("a closed port") lets any other test, or any other process on a
/// shared machine, start listening there before the port is used. Here the port is the local end of an open
/// connection instead: nothing listens on it, and nothing can start to while that connection holds it.
pub struct ClosedPort {
    pub port: u16,
    _held: (std::net::TcpStream, std::net::TcpStream),
}

/// See [`ClosedPort`].
pub fn closed_port() -> ClosedPort {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a loopback listener");
    let ours = std::net::TcpStream::connect(listener.local_addr().unwrap()).expect("a loopback connection");
    // Accepted and kept: a connection left in the backlog of a closed listener would be reset, which frees
    // its port.
    let (theirs, _) = listener.accept().expect("the loopback connection is accepted");
    let port = ours.local_addr().unwrap().port();
    ClosedPort {
        port,
        _held: (ours, theirs),
    }
}

/// Standard base64, whitespace ignored (PEM bodies, fixtures).
pub fn base64_decode(text: &str) -> Vec<u8> {
    use base64::Engine as _;
    let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    base64::engine::general_purpose::STANDARD
        .decode(compact)
        .expect("base64")
}

/// Starts `wxpay mock serve ARGS…` and returns it with the one JSON line it prints once it listens.
#[cfg(feature = "cli")]
pub fn serve<I, S>(args: I) -> (std::process::Child, String)
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    use std::io::BufRead as _;
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_wxpay"))
        .args(["mock", "serve"])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("wxpay starts");
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    (child, line)
}

/// Stops a `wxpay mock serve` child the way an operator would, with SIGTERM, and waits for it: it then
/// removes its temporary key directory (SIGKILL would leave the keys behind).
#[cfg(feature = "cli")]
pub fn stop(child: &mut std::process::Child) {
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
}

/// Runs the built `wxpay` with a clean environment (no `WECHATPAY_*`/`WXPAY_*` but `env`, and an empty
/// profiles dir named after `tag`) and piped stdio, `stdin` written to it.
#[cfg(feature = "cli")]
pub fn run_wxpay(args: &[&str], env: &[(&str, &str)], stdin: Option<&[u8]>, tag: &str) -> std::process::Output {
    use std::io::Write as _;
    use std::process::{Command, Stdio};
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_wxpay"));
    cmd.args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (name, _) in std::env::vars() {
        if name.starts_with("WECHATPAY_") || name.starts_with("WXPAY_") {
            cmd.env_remove(name);
        }
    }
    cmd.env(
        "WXPAY_CONFIG_DIR",
        std::env::temp_dir().join(format!("wxpay-{tag}-no-profiles")),
    );
    cmd.envs(env.iter().copied());
    let mut child = cmd.spawn().unwrap();
    let mut input = child.stdin.take().unwrap();
    if let Some(bytes) = stdin {
        input.write_all(bytes).unwrap();
    }
    drop(input);
    child.wait_with_output().unwrap()
}

/// A command's stdout, as text.
pub fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A command's stderr, as text.
pub fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Asserts a command's exit code, showing both outputs when it is not the one expected.
#[track_caller]
pub fn assert_exit(out: &std::process::Output, code: i32) {
    assert_eq!(
        out.status.code(),
        Some(code),
        "stdout: {}\nstderr: {}",
        stdout(out),
        stderr(out)
    );
}
