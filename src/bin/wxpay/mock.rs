//! `wxpay mock serve`: run the sandbox as a process, for clients in any language.

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Subcommand;
use wechatpay::mock::MockServer;

use crate::failure::{Exit, Failure};

#[derive(Subcommand)]
pub(crate) enum MockCommand {
    /// Serve the sandbox until SIGINT/SIGTERM. Prints one JSON line with everything a client needs
    /// (base_uri, mchid, serial, private_key and public_key PEM paths, public_key_id, apiv3_key, apiv2_key).
    Serve {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:0")]
        addr: SocketAddr,
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
    },
}

pub(crate) fn run(command: MockCommand) -> crate::CliResult {
    match command {
        MockCommand::Serve {
            addr,
            state_dir,
            certificate_mode,
            tls,
        } => serve(addr, state_dir, certificate_mode, tls),
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

fn serve(addr: SocketAddr, state_dir: Option<PathBuf>, certificate_mode: bool, tls: bool) -> crate::CliResult {
    // The signals are ours before anything exists to clean up: a SIGTERM while the sandbox starts stops it
    // once it has started, the temporary dir (private keys) removed, instead of killing the process.
    let io = |e: std::io::Error| Failure::new(Exit::Other, format!("cannot wait for a signal: {e}"));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(io)?;
    let signals = rt.block_on(async { Signals::new() }).map_err(io)?;
    let (dir, _temporary) = match state_dir {
        Some(dir) => (dir, None),
        None => {
            let dir = std::env::temp_dir().join(format!("wxpay-mock-{}", wechatpay::formatter::nonce_of_len(16)));
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
    let server = MockServer::builder()
        .addr(addr)
        .state_dir(&dir)
        .certificate_mode(certificate_mode)
        .tls(tls)
        .start()?;
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
