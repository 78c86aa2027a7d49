//! What the verbs check against the catalog before anything is sent: is the operation documented, and
//! does the request carry the documented required top-level fields of its JSON body, query, APIv2 XML
//! fields and headers? Warnings only (on stderr), unless `--strict` makes them a refusal.
//!
//! `required` is read as the catalog's notes say to read it (`../shared/catalog/README.md`): relative to
//! the parent (so only top-level fields of each part, and a part the documentation calls optional only when
//! it is given); pairs of alternative identifiers count as given when either is; `Wechatpay-Serial`,
//! `nonce_str` and `sign` are never missing (the library adds them); when in doubt, accept.

use serde_json::Value;
use wechatpay::catalog::{self, Field, Operation};

/// Names the documentation marks required together where WeChat Pay takes one of them: the order's two
/// identifiers, the refund's two, the merchant's (a direct merchant's `mchid`, a partner's `sp_mchid` and
/// `sub_mchid`, APIv2's spellings) and the merchant's app. A required field counts as given when another
/// of its group that the same part documents is.
const ONE_OF: [&[&str]; 4] = [
    &["transaction_id", "out_trade_no"],
    &["refund_id", "out_refund_no"],
    &["mchid", "mch_id", "sp_mchid", "sp_mch_id", "sub_mchid", "sub_mch_id"],
    &["appid", "sp_appid"],
];

/// Fields the library adds itself: never missing.
const ADDED: [&str; 3] = ["Wechatpay-Serial", "nonce_str", "sign"];

/// What the request carries, by part.
#[derive(Default)]
pub(crate) struct Given<'a> {
    /// The `--json` body, if given.
    pub(crate) json: Option<&'a Value>,
    /// The `--xml` fields, if given.
    pub(crate) xml: Option<&'a Value>,
    /// The query: `--query` pairs and any `?…` in PATH.
    pub(crate) query: Vec<(String, String)>,
    /// The `--header` names.
    pub(crate) headers: Vec<String>,
}

/// A warning: a line, and notes under it.
pub(crate) struct Warning {
    pub(crate) message: String,
    pub(crate) notes: Vec<String>,
}

impl Warning {
    /// Prints it on stderr.
    pub(crate) fn print(&self) {
        eprintln!("wxpay: warning: {}", self.message);
        for note in &self.notes {
            eprintln!("  {note}");
        }
    }
}

/// The warnings for sending `method` to `path` (the template as sent) with `given`.
pub(crate) fn check(method: &str, path: &str, given: &Given) -> Vec<Warning> {
    let Some(op) = catalog::lookup(method, path) else {
        return vec![undocumented(method, path)];
    };
    let missing = missing(op, given);
    if missing.is_empty() {
        return Vec::new();
    }
    let list: Vec<String> = missing.iter().map(|m| m.to_string()).collect();
    vec![Warning {
        message: format!(
            "{op} ({}) is missing {}: {}",
            op.title().trim(),
            if missing.len() == 1 {
                "a documented required field"
            } else {
                "documented required fields"
            },
            list.join(", ")
        ),
        notes: vec![format!(
            "`wxpay describe {} -X {}` lists its fields",
            op.template(),
            op.method()
        )],
    }]
}

fn undocumented(method: &str, path: &str) -> Warning {
    let shown = catalog::normalize_path(path);
    let at = catalog::operations_at(path);
    if !at.is_empty() {
        let methods: Vec<&str> = at.iter().map(|op| op.method()).collect();
        return Warning {
            message: format!("{method} {shown} is not a documented operation"),
            notes: vec![
                format!("`{shown}` is documented for {}", methods.join(", ")),
                format!("`wxpay describe {shown}` describes them"),
            ],
        };
    }
    let near = catalog::suggest(path, 3);
    let mut notes = Vec::new();
    if near.is_empty() {
        notes.push("no documented path is close to it; `wxpay endpoints WORD…` searches the catalog".to_owned());
    } else {
        notes.push("the closest documented operations:".to_owned());
        notes.extend(
            crate::explore::aligned(&near)
                .into_iter()
                .map(|line| format!("  {line}")),
        );
    }
    Warning {
        message: format!("{shown} is not a documented path"),
        notes,
    }
}

/// A missing field, or one of a group none of which is given.
struct Missing {
    /// Where it goes: `--json`, `--query`, `--xml`, `--header`.
    flag: &'static str,
    names: Vec<String>,
}

impl std::fmt::Display for Missing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<String> = self.names.iter().map(|n| format!("`{n}`")).collect();
        if names.len() == 1 {
            write!(f, "{} in {}", names[0], self.flag)
        } else {
            write!(f, "one of {} in {}", names.join(", "), self.flag)
        }
    }
}

/// The documented required top-level fields of each part of `op` that `given` lacks.
fn missing(op: &Operation, given: &Given) -> Vec<Missing> {
    let fields = op.request_fields();
    let mut out = Vec::new();
    for (index, part) in fields.iter().enumerate().filter(|(_, f)| f.depth() == 0) {
        let (flag, present) = match part.name() {
            "json" => ("--json", object_names(given.json, part)),
            "xml" => ("--xml", object_names(given.xml, part)),
            "query" => {
                let names: Vec<String> = given
                    .query
                    .iter()
                    .filter(|(_, v)| !v.is_empty())
                    .map(|(k, _)| k.clone())
                    .collect();
                (
                    "--query",
                    (part.is_required() || !given.query.is_empty()).then_some(names),
                )
            }
            // Header names do not care about case.
            "headers" => (
                "--header",
                Some(given.headers.iter().map(|h| h.trim().to_ascii_lowercase()).collect()),
            ),
            _ => continue,
        };
        let Some(present) = present else { continue };
        let has = |name: &str| {
            let name = if flag == "--header" {
                name.to_ascii_lowercase()
            } else {
                name.to_owned()
            };
            present.contains(&name)
        };
        // The part's own fields: those of depth 1 up to the next top-level field.
        let children: Vec<&Field> = fields[index + 1..]
            .iter()
            .take_while(|f| f.depth() > 0)
            .filter(|f| f.depth() == 1)
            .collect();
        let groups = groups(&children);
        let mut reported: Vec<usize> = Vec::new();
        for field in children.iter().filter(|f| f.is_required()) {
            let name = field.name();
            if ADDED.contains(&name) || has(name) {
                continue;
            }
            match groups.iter().position(|g| g.len() > 1 && g.contains(&name)) {
                Some(g) => {
                    if !reported.contains(&g) && !groups[g].iter().any(|n| has(n)) {
                        reported.push(g);
                        out.push(Missing {
                            flag,
                            names: groups[g].iter().map(|n| (*n).to_owned()).collect(),
                        });
                    }
                }
                None => out.push(Missing {
                    flag,
                    names: vec![name.to_owned()],
                }),
            }
        }
    }
    out
}

/// The names given in a JSON-object part (`--json`, `--xml`) with a value (not null, not empty); `None`
/// when the part is not to be checked: an optional part not given, or a body that is not an object
/// (accepted as it is).
fn object_names(value: Option<&Value>, part: &Field) -> Option<Vec<String>> {
    match value {
        Some(Value::Object(object)) => Some(
            object
                .iter()
                .filter(|(_, v)| !v.is_null() && *v != "")
                .map(|(k, _)| k.clone())
                .collect(),
        ),
        Some(_) => None,
        None if part.is_required() => Some(Vec::new()),
        None => None,
    }
}

/// The one-of groups among a part's fields: each [`ONE_OF`] group cut to the names the part documents.
/// Where both identifier pairs are each documented required in full (`v2/pay/refundquery`: any one of the
/// four), they are one group.
fn groups<'a>(children: &[&'a Field]) -> Vec<Vec<&'a str>> {
    let documented = |group: &[&str]| -> Vec<&'a str> {
        children
            .iter()
            .map(|f| f.name())
            .filter(|n| group.contains(n))
            .collect()
    };
    let mut groups: Vec<Vec<&'a str>> = ONE_OF.iter().map(|g| documented(g)).collect();
    let all_required = |group: &[&str]| {
        group.len() > 1
            && group
                .iter()
                .all(|n| children.iter().any(|f| f.name() == *n && f.is_required()))
    };
    if all_required(&groups[0]) && all_required(&groups[1]) {
        let refunds = std::mem::take(&mut groups[1]);
        groups[0].extend(refunds);
    }
    groups
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn warnings(method: &str, path: &str, given: &Given) -> Vec<String> {
        check(method, path, given).into_iter().map(|w| w.message).collect()
    }

    #[test]
    fn a_complete_request_passes_and_a_missing_field_is_named() {
        let body = json!({"appid": "wx1", "mchid": "1", "description": "d", "out_trade_no": "o",
            "notify_url": "https://x/", "amount": {"total": 1}, "payer": {"openid": "o"}});
        let given = Given {
            json: Some(&body),
            ..Given::default()
        };
        assert!(warnings("POST", "v3/pay/transactions/jsapi", &given).is_empty());
        let mut partial = body.clone();
        partial.as_object_mut().unwrap().remove("notify_url");
        let given = Given {
            json: Some(&partial),
            ..Given::default()
        };
        let w = warnings("POST", "v3/pay/transactions/jsapi", &given);
        assert_eq!(w.len(), 1);
        assert!(
            w[0].contains("`notify_url`") && !w[0].contains("Wechatpay-Serial"),
            "{w:?}"
        );
    }

    #[test]
    fn alternatives_count_as_one() {
        let xml = json!({"appid": "wx1", "mch_id": "1", "out_refund_no": "r"});
        let given = Given {
            xml: Some(&xml),
            ..Given::default()
        };
        assert!(warnings("POST", "v2/pay/refundquery", &given).is_empty());
        let xml = json!({"appid": "wx1", "mch_id": "1"});
        let given = Given {
            xml: Some(&xml),
            ..Given::default()
        };
        let w = warnings("POST", "v2/pay/orderquery", &given);
        assert!(
            w[0].contains("one of `transaction_id`, `out_trade_no` in --xml"),
            "{w:?}"
        );
        // The refund itself needs its own number, whichever order identifier is given.
        let xml = json!({"appid": "wx1", "mch_id": "1", "transaction_id": "t", "total_fee": 1, "refund_fee": 1});
        let given = Given {
            xml: Some(&xml),
            ..Given::default()
        };
        let w = warnings("POST", "v2/secapi/pay/refund", &given);
        assert!(
            w[0].contains("`out_refund_no`") && !w[0].contains("out_trade_no"),
            "{w:?}"
        );
    }

    #[test]
    fn an_optional_part_not_given_is_not_checked() {
        // The query of the id lookup is required (mchid); a GET without it is warned about.
        let w = warnings("GET", "v3/pay/transactions/id/420000", &Given::default());
        assert!(w[0].contains("`mchid` in --query"), "{w:?}");
        let given = Given {
            query: vec![("mchid".into(), "1".into())],
            ..Given::default()
        };
        assert!(warnings("GET", "v3/pay/transactions/id/420000", &given).is_empty());
        // A body that is not an object is accepted as it is.
        let list = json!([1]);
        let given = Given {
            json: Some(&list),
            ..Given::default()
        };
        assert!(warnings("POST", "v3/pay/transactions/jsapi", &given).is_empty());
    }

    #[test]
    fn undocumented_paths_and_methods_are_named() {
        let w = warnings("POST", "v3/pay/transactions/nativ", &Given::default());
        assert_eq!(w, ["v3/pay/transactions/nativ is not a documented path"]);
        let w = check("GET", "v3/pay/transactions/jsapi", &Given::default());
        assert!(w[0].notes[0].contains("documented for POST"), "{}", w[0].notes[0]);
    }
}
