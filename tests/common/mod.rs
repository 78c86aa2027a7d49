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
