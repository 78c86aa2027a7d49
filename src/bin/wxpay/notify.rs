//! `wxpay notify open`: verify and decrypt a callback captured to files.

use std::path::{Path, PathBuf};

use clap::Subcommand;
use http::{HeaderMap, HeaderName, HeaderValue};
use serde::Serialize;

use crate::config::{self, ConfigArgs, KeyringArgs, Resolved};
use crate::failure::{Exit, Failure};
use crate::output::{self, Ordered};

/// `wxpay notify …`.
#[derive(Subcommand)]
pub(crate) enum NotifyCommand {
    /// Verifies a captured callback with the configured WeChat Pay keys and decrypts its `resource` with
    /// the APIv3 key; prints the event with the decrypted resource as JSON.
    Open {
        /// The callback's headers, one `Name: value` per line (at least Wechatpay-Timestamp, -Nonce,
        /// -Signature and -Serial); blank lines, `#` comments and a request line are skipped.
        #[arg(long, value_name = "FILE")]
        headers: PathBuf,
        /// The callback's body, byte for byte as received.
        #[arg(long, value_name = "FILE")]
        body: PathBuf,
        /// Print only the decrypted resource.
        #[arg(long)]
        resource: bool,
        /// Accept a callback older (or newer) than 300 s: check the signature at its own timestamp.
        /// For replaying captures; never for live traffic.
        #[arg(long)]
        allow_stale: bool,
        #[command(flatten)]
        config: KeyringArgs,
    },
}

impl NotifyCommand {
    /// Its name after `wxpay notify`.
    pub(crate) fn name(&self) -> &'static str {
        match self {
            NotifyCommand::Open { .. } => "open",
        }
    }
}

pub(crate) fn run(command: NotifyCommand, before: ConfigArgs) -> crate::CliResult {
    match command {
        NotifyCommand::Open {
            headers,
            body,
            resource,
            allow_stale,
            config,
        } => open(&headers, &body, Flags { resource, allow_stale }, &before.then(config)),
    }
}

/// The switches of `notify open`.
struct Flags {
    resource: bool,
    allow_stale: bool,
}

/// What `notify open` prints: the envelope's fields and the decrypted resource, in its own key order.
#[derive(Serialize)]
struct Opened {
    id: String,
    create_time: String,
    event_type: String,
    resource_type: String,
    summary: String,
    original_type: String,
    associated_data: String,
    resource: Ordered,
}

fn read(path: &Path, what: &str) -> Result<Vec<u8>, Failure> {
    std::fs::read(path).map_err(|e| {
        Failure::usage(format!("cannot read the {what} file {}", path.display())).note(format!("caused by: {e}"))
    })
}

/// Parses `Name: value` lines into headers.
pub(crate) fn parse_headers(text: &str) -> Result<HeaderMap, Failure> {
    let mut headers = HeaderMap::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((name, value)) = line.split_once(':') else {
            if i == 0 && line.contains(" HTTP/") {
                continue; // a request line, as `curl -v` or a proxy log shows it
            }
            return Err(Failure::usage(format!(
                "line {} of the headers file is not `Name: value`",
                i + 1
            )));
        };
        let name = HeaderName::from_bytes(name.trim().as_bytes())
            .map_err(|_| Failure::usage(format!("line {} of the headers file has a bad header name", i + 1)))?;
        let value = HeaderValue::from_str(value.trim())
            .map_err(|_| Failure::usage(format!("line {} of the headers file has a bad header value", i + 1)))?;
        headers.append(name, value);
    }
    Ok(headers)
}

fn open(headers: &Path, body: &Path, flags: Flags, args: &ConfigArgs) -> crate::CliResult {
    let header_bytes = read(headers, "headers")?;
    let header_text = String::from_utf8(header_bytes)
        .map_err(|_| Failure::usage(format!("the headers file {} is not text", headers.display())))?;
    let headers = parse_headers(&header_text)?;
    let body = read(body, "body")?;
    let resolved = Resolved::load(args)?;
    let keyring = config::keyring(&resolved)?;
    let key = resolved.apiv3_key().ok_or_else(|| {
        Failure::config("no APIv3 key configured: it decrypts the callback")
            .note("set WECHATPAY_APIV3_KEY or put `apiv3_key` in a --config file or --profile")
    })?;
    let now = wechatpay::formatter::timestamp();
    let at = match headers
        .get("wechatpay-timestamp")
        .and_then(|v| v.to_str().ok()?.trim().parse::<i64>().ok())
    {
        Some(stamp) if flags.allow_stale => {
            let age = wechatpay::verify::skew(stamp, now);
            if age > wechatpay::verify::MAX_SKEW_SECS {
                eprintln!("wxpay: --allow-stale: the callback is {age} s away from now; its freshness is not checked");
            }
            stamp
        }
        _ => now,
    };
    let opened = wechatpay::notify::open_at::<serde::de::IgnoredAny>(&keyring, key, &headers, &body, at);
    let event = opened.map_err(|e| {
        if e.is_verification() {
            let failure = Failure::from_wechatpay(&e);
            match e.verification() {
                Some(wechatpay::Verification::BadSignature) => failure
                    .note("the body file must hold the body byte for byte (an editor's trailing newline breaks it)"),
                Some(wechatpay::Verification::StaleTimestamp) => failure.note(
                    "callbacks verify within 300 s of their Wechatpay-Timestamp; --allow-stale replays older ones",
                ),
                _ => failure,
            }
        } else if e.is_decode() {
            Failure::with_sources(Exit::Verification, &e, &e)
        } else {
            Failure::from_wechatpay(&e)
        }
    })?;
    let resource = output::parse(event.plaintext.as_bytes())
        .ok_or_else(|| Failure::new(Exit::Verification, "the decrypted resource is not JSON"))?;
    if flags.resource {
        return output::print_json(&resource, None);
    }
    output::print_json(
        &Opened {
            id: event.id,
            create_time: event.create_time,
            event_type: event.event_type,
            resource_type: event.resource_type,
            summary: event.summary,
            original_type: event.original_type,
            associated_data: event.associated_data,
            resource,
        },
        None,
    )
}

#[cfg(test)]
mod tests {
    use super::parse_headers;

    #[test]
    fn reads_name_value_lines() {
        let h = parse_headers("POST /notify HTTP/1.1\r\nWechatpay-Nonce: abc\r\n\r\n# note\nX:  y z \n").unwrap();
        assert_eq!(h["wechatpay-nonce"], "abc");
        assert_eq!(h["x"], "y z");
        assert!(parse_headers("no colon here\n").is_err());
        assert!(parse_headers("Bad Name: x\n").is_err());
    }
}
