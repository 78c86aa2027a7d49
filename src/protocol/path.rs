//! Path rules: how chain keys become a URI template.
//!
//! One key without `/` is normalized exactly as wechatpay-php does (three regexes, in order, over the
//! whole key): a leading `A-Z` is lowercased; every other `A-Z` becomes `-` plus its lowercase
//! (camelCase → kebab-case); a key that starts and ends with `_` becomes `{inner}`. So
//! `outTradeNo` → `out-trade-no` and `_out_trade_no_` → `{out_trade_no}`.
//!
//! A key with `/` is a full path. Unlike PHP, which runs the regexes over the whole string and so
//! mangles literal values (`users/AbcdEF12345` → `users/-abcd-e-f12345`, its issues #56, #69, #74, #77),
//! each of its segments keeps its text as written; empty segments (a leading, trailing or doubled `/`)
//! are dropped. Values belong in `{placeholders}`, never spliced into a path: see [`crate::template`].

/// Normalizes one PHP-style chain key into a path segment.
///
/// ```
/// use wechatpay::path::normalize_key;
/// assert_eq!(normalize_key("outTradeNo"), "out-trade-no");
/// assert_eq!(normalize_key("CgiBin"), "cgi-bin");
/// assert_eq!(normalize_key("_out_trade_no_"), "{out_trade_no}");
/// assert_eq!(normalize_key("v3"), "v3");
/// ```
pub fn normalize_key(key: &str) -> String {
    let mut out = String::with_capacity(key.len() + 4);
    for (i, c) in key.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('-');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    if out.len() >= 2 && out.starts_with('_') && out.ends_with('_') {
        format!("{{{}}}", &out[1..out.len() - 1])
    } else {
        out
    }
}

/// Appends `key` to the template `base`: one normalized segment, or every segment of a full path.
/// Not part of the stable API (the `wxpay` binary uses it); use [`crate::Client::chain`].
#[doc(hidden)]
pub fn append(base: &str, key: &str) -> String {
    let mut out = String::with_capacity(base.len() + key.len() + 1);
    out.push_str(base);
    let mut push = |segment: &str| {
        if !out.is_empty() {
            out.push('/');
        }
        out.push_str(segment);
    };
    if key.contains('/') {
        key.split('/').filter(|s| !s.is_empty()).for_each(push);
    } else if !key.is_empty() {
        push(&normalize_key(key));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn php_regexes_in_order() {
        assert_eq!(normalize_key("AbcdEF12345"), "abcd-e-f12345");
        assert_eq!(normalize_key("_empty_"), "{empty}");
        assert_eq!(normalize_key("__"), "{}");
        assert_eq!(normalize_key("_"), "_");
        assert_eq!(normalize_key("_Out_"), "{-out}");
        assert_eq!(normalize_key("applyment4sub"), "applyment4sub");
    }

    #[test]
    fn full_paths_keep_literal_case() {
        assert_eq!(append("", "v3/users/AbcdEF12345/x"), "v3/users/AbcdEF12345/x");
        assert_eq!(append("v3", "/marketing//busifavor/"), "v3/marketing/busifavor");
        assert_eq!(append("v3", "outTradeNo"), "v3/out-trade-no");
        assert_eq!(append("v3", ""), "v3");
    }
}
