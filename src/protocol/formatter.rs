//! Twins of PHP's `Formatter`: nonces, timestamps and the line-feed-joined messages WeChat Pay signs.

use std::time::{SystemTime, UNIX_EPOCH};

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// A 32-character base62 nonce from the operating system's CSPRNG (PHP's `Formatter::nonce()`).
///
/// ```
/// let n = wechatpay::formatter::nonce();
/// assert_eq!(n.len(), 32);
/// assert!(n.bytes().all(|b| b.is_ascii_alphanumeric()));
/// ```
pub fn nonce() -> String {
    nonce_of_len(32)
}

/// A base62 nonce of `len` characters from the operating system's CSPRNG.
pub fn nonce_of_len(len: usize) -> String {
    let mut out = String::with_capacity(len);
    let mut buf = [0u8; 64];
    while out.len() < len {
        crate::crypto::backend::fill_random(&mut buf);
        // Rejection sampling keeps every character equally likely: 248 = 4 × 62.
        for &b in buf.iter().filter(|&&b| b < 248) {
            if out.len() == len {
                break;
            }
            out.push(BASE62[(b % 62) as usize] as char);
        }
    }
    out
}

/// Seconds since the Unix epoch (PHP's `Formatter::timestamp()`).
pub fn timestamp() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Each part followed by `\n`, concatenated (PHP's `Formatter::joinedByLineFeed()`).
///
/// ```
/// let m = wechatpay::formatter::joined_by_line_feed(["GET", "/v3/certificates", "", ""]);
/// assert_eq!(m, b"GET\n/v3/certificates\n\n\n");
/// ```
pub fn joined_by_line_feed<I, P>(parts: I) -> Vec<u8>
where
    I: IntoIterator<Item = P>,
    P: AsRef<[u8]>,
{
    let mut out = Vec::new();
    for part in parts {
        out.extend_from_slice(part.as_ref());
        out.push(b'\n');
    }
    out
}

/// `secs` (Unix seconds) as RFC 3339 at `offset` seconds east of UTC, e.g. `2024-06-08T10:34:56+08:00`,
/// as WeChat Pay writes times (`offset` 8 h), or `…Z` for UTC.
pub(crate) fn rfc3339(secs: i64, offset: i64) -> String {
    let local = secs.saturating_add(offset);
    let (year, month, day) = civil_from_days(local.div_euclid(86_400));
    let s = local.rem_euclid(86_400);
    let zone = match offset {
        0 => "Z".to_owned(),
        _ => format!(
            "{}{:02}:{:02}",
            if offset < 0 { '-' } else { '+' },
            offset.abs() / 3600,
            offset.abs() % 3600 / 60
        ),
    };
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}{zone}",
        s / 3600,
        s % 3600 / 60,
        s % 60
    )
}

/// The proleptic Gregorian date of a day count since 1970-01-01.
pub(crate) fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonces_differ_and_use_every_symbol() {
        let a = nonce();
        let b = nonce();
        assert_ne!(a, b);
        let many: String = (0..200).map(|_| nonce()).collect();
        for &c in BASE62 {
            assert!(many.contains(c as char), "{} never drawn", c as char);
        }
    }
}
