//! Sensitive fields (敏感信息) in a call's body: what `--sensitive` asks, how the body goes to the library
//! so that it seals them as it seals a program's, and which documented encrypted fields would still go
//! out in plaintext (warnings; `--strict` refuses).
//!
//! The library does the sealing ([`wechatpay::Options::sensitive`]): with no `--sensitive`, the fields the
//! catalog documents as encrypted for the operation, wherever the body holds them in plaintext; with
//! `--sensitive PATH…`, those paths instead; with `--sensitive none`, nothing. A body that has nothing
//! to seal goes byte for byte as given (one that has is re-serialized from its parse, key order kept).

use serde_json::Value;
use wechatpay::catalog::Operation;
use wechatpay::Options;

use crate::failure::Failure;
use crate::preflight::{Given, Warning};

/// What `--sensitive` asks for.
pub(crate) enum Sealing {
    /// No `--sensitive`: the documented encrypted fields, as the library seals them by itself.
    Documented,
    /// `--sensitive PATH…`: these fields, and only these.
    Paths(Vec<String>),
    /// `--sensitive none`: nothing; the body goes as given.
    Nothing,
}

impl Sealing {
    /// Reads the `--sensitive` flags: none, `none` alone, or paths.
    pub(crate) fn from_flags(flags: &[String]) -> Result<Sealing, Failure> {
        if flags.is_empty() {
            return Ok(Sealing::Documented);
        }
        if flags.iter().any(|f| f == "none") {
            if flags.len() > 1 {
                return Err(Failure::usage(
                    "`--sensitive none` seals nothing, so it goes alone, without field paths",
                ));
            }
            return Ok(Sealing::Nothing);
        }
        if let Some(bad) = flags.iter().find(|f| !is_path(f)) {
            return Err(Failure::usage(format!("`--sensitive {bad}` is not a field path"))
                .note("e.g. --sensitive user_name, --sensitive contact.email, --sensitive 'receivers[].name'"));
        }
        Ok(Sealing::Paths(flags.to_vec()))
    }

    /// The options that send the `--json` body (`raw`, the text as given; `value`, it parsed) to `op`,
    /// sealed as asked: handed to the library as JSON when there is something to seal (the library then
    /// seals it), else byte for byte as given.
    pub(crate) fn body(&self, options: Options, raw: Vec<u8>, value: &Value, op: Option<&Operation>) -> Options {
        match self {
            Sealing::Paths(paths) => options.json(value).sensitive(paths.iter().cloned()),
            Sealing::Documented if !to_seal(op, value).is_empty() => options.json(value),
            Sealing::Documented | Sealing::Nothing => options.body(raw),
        }
    }
}

/// `user_name`, `contact.email`, `receivers[].name`: dot-separated names, each maybe ending in `[]`.
fn is_path(text: &str) -> bool {
    text.split('.').all(|segment| {
        let name = segment.strip_suffix("[]").unwrap_or(segment);
        !name.is_empty() && !name.contains(['[', ']', ' '])
    })
}

/// The fields of a `--json` body `value` that the library seals for `op` by itself: the documented
/// encrypted ones it holds in plaintext.
pub(crate) fn to_seal(op: Option<&Operation>, value: &Value) -> Vec<String> {
    match op.filter(|op| op.encrypted_part() == Some("json")) {
        Some(op) => wechatpay::plaintext_fields(value, op.encrypted_fields()),
        None => Vec::new(),
    }
}

/// Whether `value` holds the field `path` in plaintext, as the library judges it.
fn plaintext_at(value: &Value, path: &str) -> bool {
    !wechatpay::plaintext_fields(value, &[path]).is_empty()
}

/// Whether the query value `text` is plaintext, as the library judges a field.
fn is_plaintext(text: &str) -> bool {
    plaintext_at(&serde_json::json!({ "value": text }), "value")
}

/// The documented encrypted fields of `op` that would go out in plaintext with `given` sealed as
/// `sealing` asks: a warning each (a refusal under `--strict`), naming the field and what to do.
pub(crate) fn warnings(op: &Operation, sealing: &Sealing, given: &Given) -> Vec<Warning> {
    let documented = op.encrypted_fields();
    let part = op.encrypted_part().unwrap_or_default();
    let plain: Vec<&str> = documented
        .iter()
        .copied()
        .filter(|path| match part {
            "json" | "body" => given.json.is_some_and(|json| plaintext_at(json, path)),
            "xml" => given.xml.is_some_and(|xml| plaintext_at(xml, path)),
            "query" => given
                .query
                .iter()
                .any(|(name, value)| name == path && is_plaintext(value)),
            _ => false,
        })
        .collect();
    let describe = format!("`wxpay describe {} -X {}` lists them", op.template(), op.method());
    plain
        .into_iter()
        .filter_map(|path| {
            let (why, how) = match (part, sealing) {
                ("json", Sealing::Documented) => return None, // the library seals it, or refuses
                ("json", Sealing::Paths(paths)) if paths.iter().any(|p| p == path) => return None,
                ("json", Sealing::Paths(_)) => (
                    "it is not among the --sensitive paths",
                    format!("add --sensitive '{path}', or give no --sensitive to seal every documented field"),
                ),
                ("json", Sealing::Nothing) => (
                    "--sensitive none seals nothing",
                    "give no --sensitive to seal it, or give it already encrypted".to_owned(),
                ),
                (part, _) => (
                    "wxpay seals --json fields only",
                    format!(
                        "encrypt it yourself (RSA-OAEP under WeChat Pay's public key) in the {part} and name the key \
                         with -H 'Wechatpay-Serial: …'"
                    ),
                ),
            };
            Some(Warning {
                message: format!("{op}: `{path}` is documented as encrypted and would go out in plaintext: {why}",),
                notes: vec![how, describe.clone()],
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;
    use serde_json::json;

    use super::*;

    #[test]
    fn flags_read_as_paths_or_none() {
        assert!(matches!(Sealing::from_flags(&[]), Ok(Sealing::Documented)));
        assert!(matches!(Sealing::from_flags(&["none".into()]), Ok(Sealing::Nothing)));
        let paths = Sealing::from_flags(&["user_name".into(), "receivers[].name".into()]);
        assert!(matches!(paths, Ok(Sealing::Paths(p)) if p.len() == 2));
        assert!(Sealing::from_flags(&["none".into(), "user_name".into()]).is_err());
        assert!(Sealing::from_flags(&["a..b".into()]).is_err());
        assert!(Sealing::from_flags(&["a[0]".into()]).is_err());
    }

    #[test]
    fn finds_plaintext_by_path_and_leaves_ciphertext() {
        let sealed = base64::engine::general_purpose::STANDARD.encode([7u8; 256]);
        let body = json!({"list": [{"user_name": sealed}, {"user_name": "张三"}], "who": {"name": ""}});
        assert!(plaintext_at(&body, "list[].user_name"));
        let body = json!({"list": [{"user_name": sealed}], "who": {"name": ""}});
        assert!(!plaintext_at(&body, "list[].user_name"));
        assert!(!plaintext_at(&body, "who.name"));
        assert!(!plaintext_at(&body, "absent.field"));
    }

    #[test]
    fn warns_of_what_would_go_plain() {
        let op = wechatpay::catalog::find("POST", "v3/transfer/batches").unwrap();
        let body = json!({"transfer_detail_list": [{"user_name": "张三"}]});
        let given = Given {
            json: Some(&body),
            ..Given::default()
        };
        assert!(warnings(op, &Sealing::Documented, &given).is_empty());
        let none = warnings(op, &Sealing::Nothing, &given);
        assert_eq!(none.len(), 1);
        assert!(
            none[0].message.contains("`transfer_detail_list[].user_name`"),
            "{}",
            none[0].message
        );
        let other = Sealing::Paths(vec!["transfer_detail_list[].user_id_card".into()]);
        assert_eq!(warnings(op, &other, &given).len(), 1);
        let named = Sealing::Paths(vec!["transfer_detail_list[].user_name".into()]);
        assert!(warnings(op, &named, &given).is_empty());

        let op = wechatpay::catalog::find("GET", "v3/realname/verify").unwrap();
        let given = Given {
            query: vec![("encrypted_name".into(), "张三".into())],
            ..Given::default()
        };
        let query = warnings(op, &Sealing::Documented, &given);
        assert!(query.len() == 1 && query[0].message.contains("--json fields only"));
    }
}
