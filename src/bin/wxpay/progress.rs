//! Download progress on stderr, when stderr is a terminal: one line rewritten in place.

use std::io::{IsTerminal as _, Write as _};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use wechatpay::Options;

/// Answers smaller than this finish before progress would be worth reading.
const QUIET_BELOW: u64 = 256 << 10;

/// Shows how much of an answer has arrived; `finish` ends the line.
#[derive(Clone, Default)]
pub(crate) struct Progress {
    shown: Arc<AtomicBool>,
    last: Arc<AtomicU64>,
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / f64::from(1 << 20)
}

impl Progress {
    /// `options` with progress attached, if stderr is a terminal.
    pub(crate) fn attach(&self, options: Options) -> Options {
        if !std::io::stderr().is_terminal() {
            return options;
        }
        let (shown, last) = (Arc::clone(&self.shown), Arc::clone(&self.last));
        options.on_progress(move |got, total| {
            // Redraw at most every 64 KiB, and never for small answers.
            if got < QUIET_BELOW
                || (got.saturating_sub(last.load(Ordering::Relaxed)) < (64 << 10) && Some(got) != total)
            {
                return;
            }
            last.store(got, Ordering::Relaxed);
            shown.store(true, Ordering::Relaxed);
            let line = match total {
                Some(t) if t > 0 => format!("{:.1} of {:.1} MiB ({}%)", mib(got), mib(t), got * 100 / t),
                _ => format!("{:.1} MiB", mib(got)),
            };
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\rwxpay: received {line}   ");
            let _ = err.flush();
        })
    }

    /// Ends the progress line, if one was drawn.
    pub(crate) fn finish(&self) {
        if self.shown.load(Ordering::Relaxed) {
            eprintln!();
        }
    }
}
