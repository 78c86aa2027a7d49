//! The I/O runtime: one background tokio runtime per process drives the I/O of async calls (and of blocking
//! calls made inside a tokio runtime); a blocking call outside any runtime drives its own, on its thread.
//!
//! # Threading model
//!
//! - **Where futures run.** The futures the `*_async` verbs return are `Send + 'static` and run on any
//!   executor (tokio of either flavour, `futures::executor::block_on`, …). Signing and verifying run where
//!   the future is polled; each attempt's HTTP exchange runs as a task on this runtime. Dropping the future
//!   aborts that task.
//! - **Callbacks.** [`crate::Options::on_progress`] is called where the exchange runs, as chunks arrive;
//!   observers ([`crate::observe`]) on the task making the call. Keep both quick.
//! - **Blocking verbs** (`get`, `post`, … and `.wait()`) block the calling thread until the answer is
//!   verified. Outside any runtime, the thread does the exchange itself, on a current-thread runtime of its
//!   own with a connection pool of its own per client: no hand-off to this runtime and back (two thread
//!   wake-ups per call; measured, a fifth less client CPU for an APIv2 call). Inside a multi-thread tokio
//!   runtime they hand the exchange to this runtime and tell tokio first (`block_in_place`), so its other
//!   tasks move; on a current-thread runtime they block that runtime's only thread for the whole call —
//!   use the `*_async` verbs there.
//! - **`fork`.** A child process gets a fresh runtime (and fresh connections, a blocking thread's own
//!   included) on its first call: the parent's runtime threads do not exist in the child, so nothing of it
//!   is reused or dropped there.
//!
//! The runtime starts on the first call that needs it with [`DEFAULT_WORKER_THREADS`] threads; size it
//! before that with [`set_worker_threads`], and stop it with [`shutdown`] (a later call starts a new one).

use std::sync::Mutex;
use std::time::Duration;

use tokio::runtime::{Handle, Runtime};

use crate::error::{Error, Result};

/// Worker threads of the I/O runtime unless [`set_worker_threads`] says otherwise: 1. The runtime only
/// moves bytes (signing and verifying run where the call's future is polled), and one worker keeps a
/// call's request and its connection on one thread: measured side by side, less CPU per call than 2
/// (BENCHMARKS.md).
pub const DEFAULT_WORKER_THREADS: usize = 1;

struct Slot {
    /// The process that started `runtime`: after a `fork`, the child's id differs.
    pid: u32,
    runtime: Option<Runtime>,
    threads: usize,
}

static SLOT: Mutex<Slot> = Mutex::new(Slot {
    pid: 0,
    runtime: None,
    threads: DEFAULT_WORKER_THREADS,
});

fn slot() -> std::sync::MutexGuard<'static, Slot> {
    SLOT.lock().unwrap_or_else(|p| p.into_inner())
}

/// A handle on the runtime of this process, started (or, in a forked child, started afresh) when needed.
/// Callers hold handles, never the runtime, so only [`shutdown`] ever stops it.
pub(crate) fn current() -> Handle {
    let pid = std::process::id();
    let mut slot = slot();
    if slot.pid != pid {
        // A forked child: the parent's runtime has no threads here. Forget it, never drop it (dropping
        // would wait for threads that do not exist).
        if let Some(inherited) = slot.runtime.take() {
            std::mem::forget(inherited);
        }
        slot.pid = pid;
    }
    if let Some(rt) = &slot.runtime {
        return rt.handle().clone();
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(slot.threads)
        .thread_name("wechatpay-io")
        .enable_all()
        .build()
        .expect("the wechatpay I/O runtime could not start (out of threads?)");
    let handle = rt.handle().clone();
    slot.runtime = Some(rt);
    handle
}

/// Sizes the I/O runtime: `threads` workers (at least 1). Takes effect when the runtime next starts — the
/// first call of the process, or the first after [`shutdown`]; an error if it is running now.
///
/// ```
/// wechatpay::runtime::set_worker_threads(1)?; // before the first call
/// # Ok::<(), wechatpay::Error>(())
/// ```
pub fn set_worker_threads(threads: usize) -> Result<()> {
    let mut slot = slot();
    if slot.runtime.is_some() && slot.pid == std::process::id() {
        return Err(Error::config(
            "the I/O runtime is already running: size it before the first call, or after `runtime::shutdown`",
        ));
    }
    slot.threads = threads.max(1);
    Ok(())
}

/// Stops the I/O runtime, waiting up to `timeout` for its threads to end (a zero `timeout` waits for
/// nothing, and is what to use from inside an async context); calls still under way fail. The next call
/// starts a new runtime. Returns whether a runtime was running.
///
/// ```
/// wechatpay::runtime::shutdown(std::time::Duration::from_secs(1));
/// ```
pub fn shutdown(timeout: Duration) -> bool {
    let taken = {
        let mut slot = slot();
        if slot.pid != std::process::id() {
            return false;
        }
        slot.runtime.take()
    };
    match taken {
        Some(rt) if timeout.is_zero() || Handle::try_current().is_ok() => {
            rt.shutdown_background();
            true
        }
        Some(rt) => {
            rt.shutdown_timeout(timeout);
            true
        }
        None => false,
    }
}
