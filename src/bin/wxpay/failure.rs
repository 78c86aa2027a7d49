//! How a command fails: a message, notes, and a documented exit code.

use std::error::Error as StdError;
use std::fmt::Display;
use std::process::ExitCode;

/// The documented exit codes (see `wxpay --help`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Exit {
    /// 1: anything else (writing the output, an unexpected answer body, …).
    Other = 1,
    /// 2: a bad flag or argument (or one the command does not use), bad `--json` or `--xml` (or one the
    /// path's API does not take), a bad `NAME=VALUE`, an unreadable input, a missing placeholder, a
    /// `--param` the path has no placeholder for, an undocumented path (`describe`), or a catalog check
    /// that failed under `--strict`.
    Usage = 2,
    /// 3: the configuration is incomplete or invalid (mchid, serial, keys, certificates, APIv3 or APIv2
    /// key, client certificate, base URI, an unknown key in a config file).
    Config = 3,
    /// 4: WeChat Pay answered with a non-2xx status, or an APIv2 `FAIL`.
    Api = 4,
    /// 5: an answer or a callback failed verification (signature, timestamp, serial, decryption).
    Verification = 5,
    /// 6: the request could not be sent or its answer not read (connection, TLS, timeout, redirect).
    Transport = 6,
}

/// A failed command: what to print on stderr, and how to exit.
#[derive(Debug)]
pub(crate) struct Failure {
    exit: Exit,
    message: String,
    notes: Vec<String>,
}

impl Failure {
    pub(crate) fn new(exit: Exit, message: impl Into<String>) -> Self {
        Failure {
            exit,
            message: message.into(),
            notes: Vec::new(),
        }
    }

    pub(crate) fn usage(message: impl Into<String>) -> Self {
        Self::new(Exit::Usage, message)
    }

    pub(crate) fn config(message: impl Into<String>) -> Self {
        Self::new(Exit::Config, message)
    }

    pub(crate) fn other(message: impl Into<String>) -> Self {
        Self::new(Exit::Other, message)
    }

    /// A line printed under the message.
    pub(crate) fn note(mut self, note: impl Into<String>) -> Self {
        self.notes.push(note.into());
        self
    }

    /// The message with every `source()` of `error` as notes.
    pub(crate) fn with_sources(exit: Exit, message: impl Display, error: &(dyn StdError + 'static)) -> Self {
        let mut failure = Self::new(exit, message.to_string());
        let mut source = error.source();
        while let Some(cause) = source {
            failure.notes.push(format!("caused by: {cause}"));
            source = cause.source();
        }
        failure
    }

    /// A library error, classified into an exit code; an API error lists WeChat Pay's fields.
    pub(crate) fn from_wechatpay(error: &wechatpay::Error) -> Self {
        let exit = if error.is_api() {
            Exit::Api
        } else if error.is_verification() {
            Exit::Verification
        } else if error.is_transport() || error.is_timeout() {
            Exit::Transport
        } else if error.is_config() || error.is_key() {
            Exit::Config
        } else if error.is_path() || error.is_request() {
            Exit::Usage
        } else {
            Exit::Other
        };
        if !error.is_api() {
            return Self::with_sources(exit, error, error);
        }
        // The library's one-line message, as fields a reader (or a script) can pick out.
        let status = error.status().unwrap_or(0);
        let reason = http::StatusCode::from_u16(status)
            .ok()
            .and_then(|s| s.canonical_reason())
            .unwrap_or("");
        // Only APIv2 refuses inside a 2xx answer (`return_code` or `result_code` FAIL), and with no Request-ID.
        let apiv2_fail = (200..300).contains(&status);
        let headline = if apiv2_fail {
            format!("API error: APIv2 FAIL (HTTP {status} {reason})")
        } else {
            format!("API error: HTTP {status} {reason}")
        };
        let mut failure = Self::with_sources(exit, headline, error)
            .note(format!("code: {}", error.code().unwrap_or("-")))
            .note(format!("message: {}", error.api_message().unwrap_or("-")));
        if !apiv2_fail || error.request_id().is_some() {
            failure = failure.note(format!("Request-ID: {}", error.request_id().unwrap_or("-")));
        }
        if let Some(detail) = error.detail() {
            failure = failure.note(format!("detail: {detail}"));
        }
        failure
    }

    pub(crate) fn exit(&self) -> Exit {
        self.exit
    }

    /// Prints the failure on stderr and returns its exit code.
    pub(crate) fn report(&self) -> ExitCode {
        eprintln!("wxpay: {}", self.message);
        for note in &self.notes {
            eprintln!("  {note}");
        }
        ExitCode::from(self.exit as u8)
    }
}

impl From<wechatpay::Error> for Failure {
    fn from(error: wechatpay::Error) -> Self {
        Failure::from_wechatpay(&error)
    }
}
