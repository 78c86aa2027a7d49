//! APIv2's XML: writing a flat `<xml>` of fields as wechatpay-php does, and reading an answer or a
//! notification back into fields with `quick-xml` — no DTD, so no external entity is ever resolved and no
//! entity bomb can expand.

use std::borrow::Cow;

use quick_xml::events::Event;
use quick_xml::Reader;
use serde_json::{Map, Value};

use crate::error::{Error, Result};

/// The deepest nesting an answer may have; WeChat Pay's are flat, so this only stops a hostile peer.
const MAX_DEPTH: usize = 16;

/// Writes `<xml>` with one child per field, in the given order, as wechatpay-php does: no declaration, no
/// indentation; a value goes in CDATA only when it holds `<`, `>`, `&` or `"`, otherwise as is.
pub(crate) fn write<'a>(fields: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut out = String::with_capacity(512);
    out.push_str("<xml>");
    for (name, value) in fields {
        out.push('<');
        out.push_str(name);
        out.push('>');
        if value.contains(['<', '>', '&', '"']) {
            // `]]>` cannot sit inside CDATA: close the section before its `>` and open another.
            out.push_str("<![CDATA[");
            out.push_str(&value.replace("]]>", "]]]]><![CDATA[>"));
            out.push_str("]]>");
        } else {
            out.push_str(value);
        }
        out.push_str("</");
        out.push_str(name);
        out.push('>');
    }
    out.push_str("</xml>");
    out
}

/// Whether `name` can be an element name as written by [`write`]: ASCII letters, digits, `_`, `-` and `.`,
/// not starting with a digit, `-` or `.` (every APIv2 field name is such).
pub(crate) fn is_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

/// Reads an XML document into its root's children: each child a field, its text (CDATA unwrapped, entities
/// and character references resolved) a string; a repeated name becomes a list; a child with children
/// becomes an object. A DOCTYPE is refused, so entities are never defined, let alone resolved.
///
/// ```text
/// <xml><a>1</a><b><![CDATA[x<y]]></b><c>1</c><c>2</c></xml>  →  {"a": "1", "b": "x<y", "c": ["1", "2"]}
/// ```
pub(crate) fn parse(text: &str) -> Result<Map<String, Value>> {
    let mut reader = Reader::from_str(text);
    let bad = |why: String| Error::decode(format!("the answer is not the XML expected: {why}"));
    // The open elements: a name and the fields or text gathered for it so far.
    let mut stack: Vec<(String, Map<String, Value>, String)> = Vec::new();
    let mut root: Option<Map<String, Value>> = None;
    loop {
        let event = reader
            .read_event()
            .map_err(|e| bad(format!("{e} at byte {}", reader.buffer_position())))?;
        match event {
            Event::DocType(_) => {
                return Err(bad(
                    "it declares a DOCTYPE, which WeChat Pay never sends (entities are refused, not resolved)".into(),
                ))
            }
            Event::Start(start) => {
                if root.is_some() {
                    return Err(bad("content after the root element".into()));
                }
                if stack.len() >= MAX_DEPTH {
                    return Err(bad(format!("it nests deeper than {MAX_DEPTH} elements")));
                }
                let name = std::str::from_utf8(start.name().as_ref())
                    .map_err(|_| bad("an element name is not UTF-8".into()))?
                    .to_owned();
                // An answer has a dozen or two fields: room for them up front spares the map regrowing.
                let capacity = if stack.is_empty() { 32 } else { 0 };
                stack.push((name, Map::with_capacity(capacity), String::new()));
            }
            Event::Empty(start) => {
                let name = std::str::from_utf8(start.name().as_ref())
                    .map_err(|_| bad("an element name is not UTF-8".into()))?
                    .to_owned();
                match stack.last_mut() {
                    Some((_, fields, _)) => add(fields, name, Value::String(String::new())),
                    None if root.is_none() => root = Some(Map::new()),
                    None => return Err(bad("content after the root element".into())),
                }
            }
            Event::End(_) => {
                let (name, fields, text) = stack.pop().ok_or_else(|| bad("an end tag with no start".into()))?;
                match stack.last_mut() {
                    Some((_, parent, _)) => {
                        let value = if fields.is_empty() {
                            Value::String(clean(&text).into_owned())
                        } else {
                            Value::Object(fields)
                        };
                        add(parent, name, value);
                    }
                    None => root = Some(fields),
                }
            }
            Event::Text(t) => {
                let piece = t.decode().map_err(|e| bad(e.to_string()))?;
                match stack.last_mut() {
                    Some((_, _, text)) => text.push_str(&piece),
                    None if piece.trim().is_empty() => {}
                    None => return Err(bad("text outside the root element".into())),
                }
            }
            Event::CData(t) => {
                let piece = std::str::from_utf8(&t).map_err(|_| bad("a CDATA section is not UTF-8".into()))?;
                match stack.last_mut() {
                    Some((_, _, text)) => text.push_str(piece),
                    None => return Err(bad("CDATA outside the root element".into())),
                }
            }
            Event::GeneralRef(r) => {
                let resolved: Cow<'_, str> = match r.resolve_char_ref() {
                    Ok(Some(c)) => c.to_string().into(),
                    Ok(None) => {
                        let name = r.decode().map_err(|e| bad(e.to_string()))?;
                        quick_xml::escape::resolve_predefined_entity(&name)
                            .ok_or_else(|| bad(format!("the entity `&{name};` is not one of XML's five")))?
                            .into()
                    }
                    Err(e) => return Err(bad(e.to_string())),
                };
                match stack.last_mut() {
                    Some((_, _, text)) => text.push_str(&resolved),
                    None => return Err(bad("a reference outside the root element".into())),
                }
            }
            Event::Comment(_) | Event::Decl(_) | Event::PI(_) => {}
            Event::Eof => break,
        }
    }
    if !stack.is_empty() {
        return Err(bad("it ends before its elements are closed".into()));
    }
    root.ok_or_else(|| bad("it has no root element".into()))
}

/// Adds a field, turning a repeated name into a list.
fn add(fields: &mut Map<String, Value>, name: String, value: Value) {
    match fields.get_mut(&name) {
        Some(Value::Array(items)) => items.push(value),
        Some(first) => {
            let first = first.take();
            fields.insert(name, Value::Array(vec![first, value]));
        }
        None => {
            fields.insert(name, value);
        }
    }
}

/// Drops the characters XML 1.0 does not allow (controls other than tab and line breaks), as PHP's
/// `Transformer` strips them.
fn clean(text: &str) -> Cow<'_, str> {
    let allowed = |c: char| !c.is_control() || matches!(c, '\t' | '\n' | '\r');
    if text.chars().all(allowed) {
        Cow::Borrowed(text)
    } else {
        Cow::Owned(text.chars().filter(|&c| allowed(c)).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn writes_as_php_does() {
        let fields = [
            ("appid", "wx1"),
            ("body", "A&B <x> \"q\" 's"),
            ("total_fee", "100"),
            ("flag", "1"),
            ("off", ""),
            ("nil", ""),
            ("empty", ""),
        ];
        assert_eq!(
            write(fields),
            "<xml><appid>wx1</appid><body><![CDATA[A&B <x> \"q\" 's]]></body><total_fee>100</total_fee>\
             <flag>1</flag><off></off><nil></nil><empty></empty></xml>"
        );
        assert_eq!(write([("a", "it's")]), "<xml><a>it's</a></xml>");
        assert_eq!(write([("a", "1>0")]), "<xml><a><![CDATA[1>0]]></a></xml>");
    }

    #[test]
    fn cdata_terminators_survive_a_round_trip() {
        let value = "a]]>b<c";
        let written = write([("a", value)]);
        assert_eq!(parse(&written).unwrap()["a"], value);
    }

    #[test]
    fn reads_fields_cdata_lists_and_references() {
        let map = parse(
            "<?xml version=\"1.0\"?><xml><a>1</a><b><![CDATA[x<y]]></b><c>1</c><c>2</c><d>&amp;&#x4e2d;</d>\
             <e/><f><g>in</g></f><h>ok\u{1}</h></xml>",
        )
        .unwrap();
        assert_eq!(
            Value::Object(map),
            json!({"a": "1", "b": "x<y", "c": ["1", "2"], "d": "&中", "e": "", "f": {"g": "in"}, "h": "ok"})
        );
    }

    #[test]
    fn refuses_doctypes_entities_and_broken_documents() {
        let xxe = "<!DOCTYPE xml [<!ENTITY x SYSTEM \"file:///etc/passwd\">]><xml><a>&x;</a></xml>";
        let e = parse(xxe).unwrap_err();
        assert!(e.is_decode() && e.to_string().contains("DOCTYPE"), "{e}");
        let bomb = "<!DOCTYPE lolz [<!ENTITY lol \"lol\"><!ENTITY lol2 \"&lol;&lol;&lol;&lol;\">]>\
                    <xml><a>&lol2;</a></xml>";
        assert!(parse(bomb).unwrap_err().to_string().contains("DOCTYPE"));
        assert!(parse("<xml><a>&lol;</a></xml>")
            .unwrap_err()
            .to_string()
            .contains("&lol;"));
        for broken in [
            "",
            "<xml><a>1</xml>",
            "<xml><a>1</a>",
            "text",
            "<xml/><xml/>",
            "<xml></xml>tail",
        ] {
            assert!(parse(broken).unwrap_err().is_decode(), "{broken:?}");
        }
        let deep = format!("<xml>{}{}</xml>", "<a>".repeat(40), "</a>".repeat(40));
        assert!(parse(&deep).unwrap_err().to_string().contains("deeper"));
    }

    #[test]
    fn names() {
        assert!(is_name("out_trade_no") && is_name("addInstitutionsub") && is_name("_a.b-c"));
        assert!(!is_name("") && !is_name("1a") && !is_name("a b") && !is_name("a<") && !is_name("中"));
    }
}
