//! URI templates (RFC 6570 `{var}` and `{+var}`) expanded into a request path.
//!
//! - `{var}` percent-encodes every byte outside the unreserved set (`A-Z a-z 0-9 - . _ ~`).
//! - `{+var}` keeps reserved characters and existing `%XX` triplets, so pre-encoded ids pass unchanged
//!   (PHP double-encodes them).
//!
//! A value can never change which endpoint is called: a `{+var}` value may not hold `/`, `?` or `#`;
//! no value may be empty (it would remove a segment) or expand to a `.`/`..` segment. Such values are
//! refused with an error naming the placeholder. The one exception is wechatpay-php's `{empty}`, which
//! always expands to nothing, for the few endpoints whose documented path ends in `/`.
//! A placeholder without a value is an error naming it (PHP silently expands it to nothing).

use std::borrow::Cow;

use crate::error::{Error, Result};

/// One `{…}` expression of a template. New fields may be added (`#[non_exhaustive]`).
///
/// ```
/// let found = wechatpay::template::placeholders("v3/users/{openid}/images/{+media_id}")?;
/// assert_eq!((found[0].name, found[0].reserved), ("openid", false));
/// assert_eq!((found[1].name, found[1].reserved), ("media_id", true));
/// # Ok::<(), wechatpay::Error>(())
/// ```
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Placeholder<'t> {
    /// The variable name.
    pub name: &'t str,
    /// Whether it is `{+name}` (reserved expansion).
    pub reserved: bool,
}

/// The name of wechatpay-php's trailing-slash placeholder.
pub const EMPTY: &str = "empty";

enum Piece<'t> {
    Literal(&'t str),
    Expr(Placeholder<'t>),
}

fn pieces(template: &str) -> impl Iterator<Item = Result<Piece<'_>>> {
    let mut rest = template;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        Some(match rest.find('{') {
            Some(0) => {
                let Some(end) = rest.find('}') else {
                    rest = "";
                    return Some(Err(Error::path(format!(
                        "unclosed `{{` in the path template `{template}`"
                    ))));
                };
                let body = &rest[1..end];
                rest = &rest[end + 1..];
                let (reserved, name) = match body.strip_prefix('+') {
                    Some(name) => (true, name),
                    None => (false, body),
                };
                if name.is_empty()
                    || !name
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.')
                {
                    Err(Error::path(format!(
                        "unsupported expression `{{{body}}}` in the path template `{template}`: only `{{name}}` and `{{+name}}` are supported"
                    )))
                } else {
                    Ok(Piece::Expr(Placeholder { name, reserved }))
                }
            }
            Some(i) => {
                let lit = &rest[..i];
                rest = &rest[i..];
                Ok(Piece::Literal(lit))
            }
            None => {
                let lit = rest;
                rest = "";
                Ok(Piece::Literal(lit))
            }
        })
    })
}

/// The placeholders of `template`, in order.
///
/// ```
/// let names: Vec<_> = wechatpay::template::placeholders("v3/users/{openid}/coupons/{+code}")
///     .unwrap().into_iter().map(|p| p.name).collect();
/// assert_eq!(names, ["openid", "code"]);
/// ```
pub fn placeholders(template: &str) -> Result<Vec<Placeholder<'_>>> {
    let mut out = Vec::new();
    for piece in pieces(template) {
        if let Piece::Expr(p) = piece? {
            out.push(p);
        }
    }
    Ok(out)
}

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

fn is_reserved(b: u8) -> bool {
    matches!(
        b,
        b':' | b'/'
            | b'?'
            | b'#'
            | b'['
            | b']'
            | b'@'
            | b'!'
            | b'$'
            | b'&'
            | b'\''
            | b'('
            | b')'
            | b'*'
            | b'+'
            | b','
            | b';'
            | b'='
    )
}

fn push_encoded(out: &mut String, b: u8) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    out.push('%');
    out.push(HEX[(b >> 4) as usize] as char);
    out.push(HEX[(b & 15) as usize] as char);
}

/// Copies `text`, keeping unreserved bytes (and reserved ones and `%XX` triplets when `keep_reserved`).
fn encode_into(out: &mut String, text: &str, keep_reserved: bool) {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        let triplet = b == b'%'
            && keep_reserved
            && bytes.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
            && bytes.get(i + 2).is_some_and(u8::is_ascii_hexdigit);
        if is_unreserved(b) || (keep_reserved && is_reserved(b)) || triplet {
            out.push(b as char);
        } else {
            push_encoded(out, b);
        }
        i += 1;
    }
}

/// Appends `text`, percent-encoding everything outside the unreserved set (as `{var}` does); used for
/// query names and values too.
pub(crate) fn encode_component(out: &mut String, text: &str) {
    encode_into(out, text, false);
}

/// Whether `segment` is `.` or `..`, each dot possibly written `%2e` (URL parsers resolve those too).
/// Compares bytes without allocating: this runs for every segment of every request.
fn is_dot_segment(segment: &str) -> bool {
    fn dot(s: &[u8]) -> Option<&[u8]> {
        match s {
            [b'.', rest @ ..] => Some(rest),
            [b'%', b'2', e, rest @ ..] if e.eq_ignore_ascii_case(&b'e') => Some(rest),
            _ => None,
        }
    }
    match dot(segment.as_bytes()) {
        Some([]) => true,
        Some(rest) => dot(rest) == Some(&[]),
        None => false,
    }
}

/// Expands `template` with values from `lookup`, giving the encoded path (no leading `/`).
///
/// ```
/// let path = wechatpay::template::expand("v3/users/{openid}/coupons", |name| {
///     (name == "openid").then(|| "o/ABC 1".into())
/// }).unwrap();
/// assert_eq!(path, "v3/users/o%2FABC%201/coupons");
/// ```
#[doc(hidden)] // Not part of the stable API (benches and fuzz targets use it); verbs expand for you.
pub fn expand<'v>(template: &str, mut lookup: impl FnMut(&str) -> Option<Cow<'v, str>>) -> Result<String> {
    let mut out = String::with_capacity(template.len() + 32);
    for piece in pieces(template) {
        match piece? {
            Piece::Literal(lit) => {
                if let Some(c) = lit.chars().find(|c| matches!(c, '?' | '#')) {
                    return Err(Error::path(format!(
                        "the path `{template}` holds `{c}`; give query parameters with the `query` option"
                    )));
                }
                encode_into(&mut out, lit, true);
            }
            Piece::Expr(p) if p.name == EMPTY => {
                if lookup(EMPTY).is_some_and(|v| !v.is_empty()) {
                    return Err(Error::path(
                        "`{empty}` stands for the trailing `/` of a documented path and takes no value",
                    ));
                }
            }
            Piece::Expr(p) => {
                let value = lookup(p.name).ok_or_else(|| {
                    Error::path(format!(
                        "no value for the placeholder `{{{}}}` of `{template}`; give it as a top-level option, e.g. {{\"{}\": \"…\"}}",
                        p.name, p.name
                    ))
                })?;
                if value.is_empty() {
                    return Err(Error::path(format!(
                        "the placeholder `{{{}}}` of `{template}` is empty, which would remove a path segment",
                        p.name
                    )));
                }
                if p.reserved {
                    if let Some(c) = value.chars().find(|c| matches!(c, '/' | '?' | '#')) {
                        return Err(Error::path(format!(
                            "the value of `{{+{}}}` holds `{c}`, which would change the endpoint; percent-encode it",
                            p.name
                        )));
                    }
                }
                encode_into(&mut out, &value, p.reserved);
            }
        }
    }
    if let Some(seg) = out.split('/').find(|s| is_dot_segment(s)) {
        return Err(Error::path(format!(
            "the path `{template}` would expand to the segment `{seg}`, which would change the endpoint"
        )));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl FnMut(&str) -> Option<Cow<'a, str>> + 'a {
        move |n| pairs.iter().find(|(k, _)| *k == n).map(|(_, v)| Cow::Borrowed(*v))
    }

    #[test]
    fn reserved_expansion_keeps_pct_triplets() {
        let v = "ChsyMDAyMDgwMjAyMjAyMTgxMTA0NDEzMTEwMzASGzMwMDIwMDAyMDIyMDIxODE1MDQ0MTcwOTI5NhgAIO%2FFR1pAGKAMwAjgB";
        let out = expand(
            "v3/merchant-service/images/{+media_slot_url}",
            with(&[("media_slot_url", v)]),
        )
        .unwrap();
        assert_eq!(out, format!("v3/merchant-service/images/{v}"));
        // `{var}` encodes the `%` instead.
        let out = expand("x/{v}", with(&[("v", "a%2Fb")])).unwrap();
        assert_eq!(out, "x/a%252Fb");
    }

    #[test]
    fn hostile_values_are_refused_or_encoded() {
        let ok = |v: &str| expand("v3/users/{id}/coupons", with(&[("id", v)]));
        assert_eq!(ok("../../v2").unwrap(), "v3/users/..%2F..%2Fv2/coupons");
        assert_eq!(ok("a?b#c").unwrap(), "v3/users/a%3Fb%23c/coupons");
        assert_eq!(ok("x\r\nHost: evil").unwrap(), "v3/users/x%0D%0AHost%3A%20evil/coupons");
        for bad in ["", ".", ".."] {
            assert!(ok(bad).unwrap_err().is_path(), "{bad:?}");
        }
        let plus = |v: &str| expand("v3/x/{+id}", with(&[("id", v)]));
        for bad in ["a/b", "a?b", "a#b", "..", "%2e%2E", ""] {
            assert!(plus(bad).unwrap_err().is_path(), "{bad:?}");
        }
        assert_eq!(plus("a b%zz").unwrap(), "v3/x/a%20b%25zz");
    }

    #[test]
    fn dot_segments_in_every_spelling() {
        for dot in [".", "..", "%2e", "%2E", "%2e%2E", ".%2e", "%2e."] {
            assert!(is_dot_segment(dot), "{dot}");
        }
        for not in ["", "...", "a.", ".a", "%2", "%2f", "%2e%2e%2e", "..."] {
            assert!(!is_dot_segment(not), "{not}");
        }
    }

    #[test]
    fn missing_and_malformed() {
        let e = expand("v3/stocks/{stock_id}", with(&[])).unwrap_err();
        assert!(e.is_path() && e.to_string().contains("`{stock_id}`"), "{e}");
        assert!(expand("v3/{a", with(&[])).unwrap_err().is_path());
        assert!(expand("v3/{?a}", with(&[])).unwrap_err().is_path());
        assert!(expand("v3/x?y=1", with(&[])).unwrap_err().is_path());
        assert_eq!(
            expand("v3/applyment4sub/applyment/{empty}", with(&[])).unwrap(),
            "v3/applyment4sub/applyment/"
        );
        assert!(expand("v3/a/{empty}", with(&[("empty", "x")])).unwrap_err().is_path());
        assert_eq!(
            expand("v3/a/{n}", with(&[("n", "中文")])).unwrap(),
            "v3/a/%E4%B8%AD%E6%96%87"
        );
    }
}
