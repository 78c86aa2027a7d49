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
        crate::crypto::fill_random(&mut buf);
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
