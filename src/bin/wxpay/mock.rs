//! `wxpay mock serve`: run the sandbox as a process, for clients in any language.

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Subcommand;
use wechatpay::mock::MockServer;

use crate::failure::{Exit, Failure};

#[derive(Subcommand)]
pub(crate) enum MockCommand {
    /// Serve the sandbox until SIGINT/SIGTERM. Prints one JSON line with everything a client needs
    /// (base_uri, mchid, serial, private_key and public_key PEM paths, public_key_id, apiv3_key, apiv2_key):
    /// a config file for the other commands and for the library's `Client::from_config`, as it is. Its
    /// paths are absolute, whatever the working directory of whoever reads it.
    Serve {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:0")]
        addr: SocketAddr,
        /// The merchant to serve (its mchid; default: the state dir's, else 1900000109). The docs' sample
        /// ids (1230000109, 1900000109, 1900000100, 10000098) are answered as well, with the same keys.
        #[arg(long, value_name = "MCHID")]
        mchid: Option<String>,
        /// Keep keys, stocks and coupons here across restarts (default: a temporary dir, removed on exit).
        #[arg(long)]
        state_dir: Option<PathBuf>,
        /// Sign answers with the platform certificate serial instead of the PUB_KEY_ID_….
        #[arg(long)]
        certificate_mode: bool,
        /// Serve HTTPS with the sandbox's own CA, which also issues the merchant's API certificate: the APIv2
        /// `security` endpoints then demand it. The JSON line adds merchant_cert, merchant_key, merchant_p12
        /// and ca_cert.
        #[arg(long)]
        tls: bool,
        /// Play the user at the phone: pay every order this long after it is placed (`1s`, `500ms`, `2m`), and
        /// send its payment notification.
        #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
        auto_pay_after: Option<Duration>,
    },
    /// Play the user paying an order of a running sandbox (its control API): the order becomes SUCCESS and
    /// its payment notification goes to its notify_url.
    Pay {
        /// The order's out_trade_no.
        out_trade_no: String,
        /// The sandbox's base_uri, as `mock serve` prints it (env WECHATPAY_BASE_URI).
        #[arg(long, value_name = "URL")]
        sandbox: Option<String>,
        /// For a `--tls` sandbox: its CA certificate, the `ca_cert` it prints (env WECHATPAY_CA_CERT).
        #[arg(long, value_name = "PATH")]
        sandbox_ca: Option<PathBuf>,
        /// The JSON line `mock serve` printed (or any config file): its `base_uri` and `ca_cert` name the
        /// sandbox, unless the environment or the flags above do.
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
    },
}

/// Runs a `mock` command; `before` is a `--config` given before the command (`wxpay --config F mock pay`).
pub(crate) fn run(command: MockCommand, before: Option<PathBuf>) -> crate::CliResult {
    match command {
        MockCommand::Serve {
            addr,
            mchid,
            state_dir,
            certificate_mode,
            tls,
            auto_pay_after,
        } => serve(addr, mchid, state_dir, certificate_mode, tls, auto_pay_after),
        MockCommand::Pay {
            out_trade_no,
            sandbox,
            sandbox_ca,
            config,
        } => {
            let (sandbox, sandbox_ca) = named_sandbox(config.or(before), sandbox, sandbox_ca)?;
            pay(&out_trade_no, sandbox, sandbox_ca)
        }
    }
}

/// A temporary sandbox dir: it holds private keys, so it is removed on every way out of `serve`, an error
/// (the port is taken) included.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn serve(
    addr: SocketAddr,
    mchid: Option<String>,
    state_dir: Option<PathBuf>,
    certificate_mode: bool,
    tls: bool,
    auto_pay_after: Option<Duration>,
) -> crate::CliResult {
    // The signals are ours before anything exists to clean up: a SIGTERM while the sandbox starts stops it
    // once it has started, the temporary dir (private keys) removed, instead of killing the process.
    let io = |e: std::io::Error| Failure::new(Exit::Other, format!("cannot wait for a signal: {e}"));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(io)?;
    let signals = rt.block_on(async { Signals::new() }).map_err(io)?;
    let (dir, _temporary) = match state_dir {
        // The JSON line names files in it: absolute paths, so that it reads the same from anywhere.
        Some(dir) => (
            std::path::absolute(&dir).map_err(|e| {
                Failure::new(
                    Exit::Other,
                    format!("cannot resolve the state dir `{}`: {e}", dir.display()),
                )
            })?,
            None,
        ),
        None => {
            let temp = std::env::temp_dir();
            let temp = std::path::absolute(&temp).unwrap_or(temp);
            let dir = temp.join(format!("wxpay-mock-{}", wechatpay::formatter::nonce_of_len(16)));
            // It will hold private keys: it must be new (not one someone else made) and ours alone.
            let mut builder = std::fs::DirBuilder::new();
            #[cfg(unix)]
            std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
            builder.create(&dir).map_err(|e| {
                Failure::new(
                    Exit::Other,
                    format!("cannot create the sandbox dir `{}`: {e}", dir.display()),
                )
            })?;
            (dir.clone(), Some(TempDir(dir)))
        }
    };
    let mut builder = MockServer::builder()
        .addr(addr)
        .state_dir(&dir)
        .certificate_mode(certificate_mode)
        .tls(tls);
    if let Some(mchid) = mchid {
        builder = builder.mchid(mchid);
    }
    if let Some(delay) = auto_pay_after {
        builder = builder.auto_pay_after(delay);
    }
    let server = builder.start()?;
    let info = server.connection_info()?;
    let mut out = std::io::stdout().lock();
    // One line, then flush: callers read it to learn where we listen.
    let _ = writeln!(out, "{info}");
    let _ = out.flush();
    drop(out);

    rt.block_on(signals.stopped()).map_err(io)?;
    // Stop serving before the dir goes (`_temporary` is dropped after `server`, declared first).
    drop(server);
    Ok(())
}

/// SIGINT and SIGTERM (Ctrl-C elsewhere), caught from the moment this is made.
#[cfg(unix)]
struct Signals {
    interrupt: tokio::signal::unix::Signal,
    terminate: tokio::signal::unix::Signal,
}

#[cfg(unix)]
impl Signals {
    /// Installs the handlers; inside a runtime.
    fn new() -> std::io::Result<Self> {
        use tokio::signal::unix::{signal, SignalKind};
        Ok(Signals {
            interrupt: signal(SignalKind::interrupt())?,
            terminate: signal(SignalKind::terminate())?,
        })
    }

    /// Resolves on the first SIGINT or SIGTERM, including one that came before the call.
    async fn stopped(mut self) -> std::io::Result<()> {
        tokio::select! {
            _ = self.interrupt.recv() => Ok(()),
            _ = self.terminate.recv() => Ok(()),
        }
    }
}

/// Ctrl-C.
#[cfg(not(unix))]
struct Signals;

#[cfg(not(unix))]
impl Signals {
    fn new() -> std::io::Result<Self> {
        Ok(Signals)
    }

    async fn stopped(self) -> std::io::Result<()> {
        tokio::signal::ctrl_c().await
    }
}

/// `1s`, `500ms`, `2m`, `1.5s`: a number and a unit.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a duration such as 1s, 500ms or 2m"))?;
    let seconds = match unit {
        "ms" => number / 1000.0,
        "s" => number,
        "m" => number * 60.0,
        _ => return Err(format!("`{text}` needs a unit: ms, s or m (1s, 500ms, 2m)")),
    };
    Duration::try_from_secs_f64(seconds).map_err(|_| format!("`{text}` is not a duration this sandbox can wait"))
}

/// The sandbox `mock pay` names, and its CA: layered as every command layers its settings — the `--config`
/// file (the JSON line: `base_uri`, `ca_cert`), then the environment, then the flags.
fn named_sandbox(
    config: Option<PathBuf>,
    sandbox: Option<String>,
    sandbox_ca: Option<PathBuf>,
) -> Result<(Option<String>, Option<PathBuf>), Failure> {
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    let file = match config {
        Some(path) => wechatpay::ClientBuilder::read_config(&path).map_err(|e| crate::config::file_failure(&e))?,
        None => serde_json::Map::new(),
    };
    let from_file = |key: &str| file.get(key).and_then(|v| v.as_str()).map(str::to_owned);
    let sandbox = sandbox
        .or_else(|| env("WECHATPAY_BASE_URI"))
        .or_else(|| from_file("base_uri"));
    let sandbox_ca = sandbox_ca
        .or_else(|| env("WECHATPAY_CA_CERT").map(PathBuf::from))
        .or_else(|| from_file("ca_cert").map(PathBuf::from));
    Ok((sandbox, sandbox_ca))
}

/// `wxpay mock pay`: POSTs to the sandbox's control API.
fn pay(out_trade_no: &str, sandbox: Option<String>, sandbox_ca: Option<PathBuf>) -> crate::CliResult {
    let base = sandbox.ok_or_else(|| {
        Failure::usage(
            "which sandbox? give --config FILE (the JSON line `wxpay mock serve` prints), --sandbox URL (its \
             base_uri) or WECHATPAY_BASE_URI",
        )
    })?;
    // With rustls-ring alone, rustls needs its provider installed, as the library's own clients do.
    #[cfg(all(feature = "rustls-ring", not(feature = "default-tls")))]
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut builder = reqwest::Client::builder().no_proxy();
    if let Some(path) = sandbox_ca {
        let pem = std::fs::read(&path)
            .map_err(|e| Failure::usage(format!("cannot read the sandbox CA `{}`: {e}", path.display())))?;
        let ca = reqwest::Certificate::from_pem(&pem)
            .map_err(|e| Failure::usage(format!("`{}` is not a PEM certificate: {e}", path.display())))?;
        builder = builder.add_root_certificate(ca);
    }
    let url = format!(
        "{}/_sandbox/pay/{}",
        base.trim_end_matches('/'),
        percent_encoding::utf8_percent_encode(out_trade_no, percent_encoding::NON_ALPHANUMERIC)
    );
    let transport =
        |e: reqwest::Error| Failure::new(Exit::Transport, format!("the sandbox at {base} did not answer: {e}"));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::new(Exit::Other, format!("no runtime: {e}")))?;
    let (status, body) = runtime.block_on(async {
        let http = builder.build().map_err(transport)?;
        let res = http.post(&url).send().await.map_err(transport)?;
        let status = res.status().as_u16();
        Ok::<_, Failure>((status, res.text().await.unwrap_or_default()))
    })?;
    if status == 204 {
        eprintln!("paid {out_trade_no}; its payment notification is on its way to its notify_url");
        return Ok(());
    }
    let message = serde_json::from_str::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v["message"].as_str().map(str::to_owned))
        .unwrap_or(body);
    Err(Failure::new(
        Exit::Api,
        format!("the sandbox did not pay `{out_trade_no}` (HTTP {status}): {message}"),
    ))
}
