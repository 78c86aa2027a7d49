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

/// `wxpay mock serve` as a child, the JSON line it prints kept as `info` and written to `config.json` in a
/// fresh temp dir (its state in `state/` there). Stopped with SIGTERM (so it removes its keys) and the dir
/// removed when dropped.
#[cfg(feature = "cli")]
pub struct Sandbox {
    child: std::process::Child,
    tag: String,
    /// The temp dir.
    pub dir: PathBuf,
    /// The connection info it printed.
    pub info: serde_json::Value,
    /// `config.json`, for `--config`.
    pub config: PathBuf,
}

#[cfg(feature = "cli")]
impl Sandbox {
    pub fn start(tag: &str) -> Self {
        Self::start_with(tag, &[])
    }

    /// Started with `extra` arguments after `--state-dir`.
    pub fn start_with(tag: &str, extra: &[&str]) -> Self {
        let dir = temp_dir(tag);
        std::fs::create_dir_all(&dir).unwrap();
        let state = dir.join("state");
        let mut args = vec!["--state-dir", state.to_str().unwrap()];
        args.extend_from_slice(extra);
        let (child, line) = serve(args);
        let info = serde_json::from_str(&line).expect("one JSON line");
        let config = dir.join("config.json");
        std::fs::write(&config, &line).unwrap();
        Sandbox {
            child,
            tag: tag.to_owned(),
            dir,
            info,
            config,
        }
    }

    /// A text member of the connection info.
    pub fn info(&self, key: &str) -> &str {
        self.info[key].as_str().unwrap()
    }

    /// A config file: the sandbox's, with `changes` applied (`null` removes a key).
    pub fn config_with(&self, name: &str, changes: serde_json::Value) -> PathBuf {
        let mut info = self.info.clone();
        for (k, v) in changes.as_object().unwrap() {
            if v.is_null() {
                info.as_object_mut().unwrap().remove(k);
            } else {
                info[k] = v.clone();
            }
        }
        let path = self.dir.join(name);
        std::fs::write(&path, info.to_string()).unwrap();
        path
    }

    /// `wxpay --config <sandbox> ARGS`, as [`run_wxpay`] runs it.
    pub fn run(&self, args: &[&str]) -> std::process::Output {
        let mut full = vec!["--config", self.config.to_str().unwrap()];
        full.extend_from_slice(args);
        run_wxpay(&full, &[], None, &self.tag)
    }
}

#[cfg(feature = "cli")]
impl Drop for Sandbox {
    fn drop(&mut self) {
        stop(&mut self.child);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
