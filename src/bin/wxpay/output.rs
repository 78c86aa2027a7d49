//! Printing on stdout: JSON pretty on a terminal and compact when piped, keeping the answer's key order.

use std::fmt;
use std::io::{IsTerminal as _, Write};

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};

use crate::failure::Failure;

/// `--pretty` and `--compact`: how the commands that print JSON lay it out.
#[derive(clap::Args)]
pub(crate) struct Layout {
    /// Pretty-print JSON even when stdout is not a terminal.
    #[arg(long, conflicts_with = "compact")]
    pretty: bool,
    /// Print JSON compact even on a terminal.
    #[arg(long)]
    compact: bool,
}

impl Layout {
    /// Whether to pretty-print: as asked, else as stdout is a terminal.
    pub(crate) fn pretty(&self) -> bool {
        match (self.pretty, self.compact) {
            (true, _) => true,
            (_, true) => false,
            _ => stdout_is_terminal(),
        }
    }
}

/// Whether stdout is a terminal (so JSON is pretty-printed and progress may be shown).
pub(crate) fn stdout_is_terminal() -> bool {
    std::io::stdout().is_terminal()
}

fn write_failed(e: std::io::Error) -> Failure {
    Failure::other("cannot write to stdout").note(format!("caused by: {e}"))
}

/// Writes bytes to stdout as they are. A reader that stopped reading (`wxpay endpoints | head`: a closed
/// pipe) is not a failure: it has what it wanted, so the rest is dropped quietly, as `cat` and `grep` do.
pub(crate) fn print_bytes(bytes: &[u8]) -> Result<(), Failure> {
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        written => written.map_err(write_failed),
    }
}

/// Writes one line to stdout.
pub(crate) fn print_line(line: &str) -> Result<(), Failure> {
    print_bytes(format!("{line}\n").as_bytes())
}

/// Prints any serializable value as JSON: pretty when `pretty` says so, else as stdout is a terminal.
pub(crate) fn print_json<T: Serialize>(value: &T, pretty: Option<bool>) -> Result<(), Failure> {
    let text = if pretty.unwrap_or_else(stdout_is_terminal) {
        serde_json::to_string_pretty(value)
    } else {
        serde_json::to_string(value)
    }
    .map_err(|e| Failure::other(format!("cannot print JSON: {e}")))?;
    print_line(&text)
}

/// Parses JSON keeping its key order; `None` if it is not JSON.
pub(crate) fn parse(body: &[u8]) -> Option<Ordered> {
    serde_json::from_slice(body).ok()
}

/// Reformats a JSON body (pretty or compact), keeping its key order; `None` if it is not JSON.
pub(crate) fn reformat(body: &[u8], pretty: bool) -> Option<String> {
    let value = parse(body)?;
    if pretty {
        serde_json::to_string_pretty(&value).ok()
    } else {
        serde_json::to_string(&value).ok()
    }
}

/// A JSON value whose objects keep their key order (the crate's `serde_json` sorts keys).
pub(crate) enum Ordered {
    Null,
    Bool(bool),
    Number(serde_json::Number),
    String(String),
    Array(Vec<Ordered>),
    Object(Vec<(String, Ordered)>),
}

impl Serialize for Ordered {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Ordered::Null => s.serialize_unit(),
            Ordered::Bool(b) => s.serialize_bool(*b),
            Ordered::Number(n) => n.serialize(s),
            Ordered::String(text) => s.serialize_str(text),
            Ordered::Array(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                items.iter().try_for_each(|item| seq.serialize_element(item))?;
                seq.end()
            }
            Ordered::Object(pairs) => {
                let mut map = s.serialize_map(Some(pairs.len()))?;
                pairs.iter().try_for_each(|(k, v)| map.serialize_entry(k, v))?;
                map.end()
            }
        }
    }
}

impl<'de> Deserialize<'de> for Ordered {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(OrderedVisitor)
    }
}

struct OrderedVisitor;

impl<'de> Visitor<'de> for OrderedVisitor {
    type Value = Ordered;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_unit<E>(self) -> Result<Ordered, E> {
        Ok(Ordered::Null)
    }
    fn visit_bool<E>(self, v: bool) -> Result<Ordered, E> {
        Ok(Ordered::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Ordered, E> {
        Ok(Ordered::Number(v.into()))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Ordered, E> {
        Ok(Ordered::Number(v.into()))
    }
    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Ordered, E> {
        serde_json::Number::from_f64(v)
            .map(Ordered::Number)
            .ok_or_else(|| E::custom("a number JSON cannot hold"))
    }
    fn visit_str<E>(self, v: &str) -> Result<Ordered, E> {
        Ok(Ordered::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Ordered, E> {
        Ok(Ordered::String(v))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Ordered, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Ordered::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Ordered, A::Error> {
        let mut pairs = Vec::new();
        while let Some(pair) = map.next_entry()? {
            pairs.push(pair);
        }
        Ok(Ordered::Object(pairs))
    }
}

#[cfg(test)]
mod tests {
    use super::reformat;

    #[test]
    fn keeps_key_order_and_reformats() {
        let body = br#"{ "z": 1, "a": [true, null, 1.5, "x"], "m": {"b": {}, "a": -2} }"#;
        assert_eq!(
            reformat(body, false).unwrap(),
            r#"{"z":1,"a":[true,null,1.5,"x"],"m":{"b":{},"a":-2}}"#
        );
        assert!(reformat(body, true).unwrap().contains("\n  \"z\": 1,"));
        assert!(reformat(b"not json", false).is_none());
    }
}
