//! What the sandbox answers where no handler is registered, from the catalog of documented operations
//! ([`crate::catalog`]): a documented operation it does not simulate is checked for its required fields
//! (`400 PARAM_ERROR` naming a missing one in `detail.field`, as WeChat Pay would) and then answered with a
//! signed `501 NOT_SIMULATED` naming its title and how to add a handler; a documented path with another
//! method gets `405` naming the methods that exist; an undocumented path gets `404 RESOURCE_NOT_EXISTS`
//! suggesting the closest documented paths.

use serde_json::{json, Value};

use super::{apiv2, Answer};
use crate::catalog::{self, Operation};

/// The answer for `method` + `path` (as requested, with its leading `/`), which no handler took.
pub(crate) fn answer(method: &http::Method, path: &str, query: &[(String, String)], body: &[u8]) -> Answer {
    let v2 = apiv2::is_apiv2(path);
    // APIv2 paths are documented under `v2/`, without which WeChat Pay serves them.
    let documented = if v2 {
        format!("v2{path}")
    } else {
        path.trim_start_matches('/').to_owned()
    };
    if let Some(op) = catalog::lookup(method.as_str(), &documented) {
        if !v2 {
            if let Some(field) = missing_field(op, query, body) {
                return Answer::error_with_detail(
                    400,
                    "PARAM_ERROR",
                    &format!("缺少必填参数 {field}"),
                    json!({"field": field, "location": if field_in_query(op, &field) { "query" } else { "body" },
                        "issue": "必填参数缺失或为空"}),
                );
            }
        }
        let message = format!(
            "「{}」({} {}) is documented but not simulated by this sandbox: register a handler with \
             server.route(Method::{}, \"{}\", |req| …)",
            op.title().trim(),
            op.method(),
            op.template(),
            op.method(),
            op.template()
        );
        return if v2 {
            apiv2::fail(&format!("NOT_SIMULATED: {message}"))
        } else {
            Answer::error(501, "NOT_SIMULATED", &message)
        };
    }
    let at = catalog::operations_at(&documented);
    if !at.is_empty() {
        let methods: Vec<&str> = at.iter().map(|op| op.method()).collect();
        let message = format!("`{documented}` takes {}, not {method}", methods.join(", "));
        return Answer::error_with_detail(405, "METHOD_NOT_ALLOWED", &message, json!({"allow": methods}))
            .header("allow", &methods.join(", "));
    }
    let near: Vec<String> = catalog::suggest(&documented, 3)
        .iter()
        .map(|op| format!("{} {}", op.method(), op.template()))
        .collect();
    let message = if near.is_empty() {
        "请求的资源不存在".to_owned()
    } else {
        format!(
            "请求的资源不存在: `{documented}` is not documented; did you mean {}?",
            near.join(" or ")
        )
    };
    if v2 {
        return apiv2::fail(&message);
    }
    Answer::error_with_detail(
        404,
        "RESOURCE_NOT_EXISTS",
        &message,
        json!({"path": path, "suggestions": near}),
    )
}

/// Whether the field named `name` (dotted, without its part) belongs to the query of `op`.
fn field_in_query(op: &Operation, name: &str) -> bool {
    op.request_fields()
        .iter()
        .any(|f| f.depth() == 1 && f.path() == format!("query.{name}"))
}

/// The first top-level required field of the JSON body or the query that the request lacks. Pairs the
/// documentation marks both required where WeChat Pay wants one (`transaction_id` / `out_trade_no`,
/// `refund_id` / `out_refund_no`) count as given when either is: when in doubt, accept.
fn missing_field(op: &Operation, query: &[(String, String)], body: &[u8]) -> Option<String> {
    let json: Option<Value> = serde_json::from_slice(body).ok();
    let given = |part: &str, name: &str| -> bool {
        match part {
            "query" => query.iter().any(|(k, v)| k == name && !v.is_empty()),
            _ => json
                .as_ref()
                .and_then(|j| j.get(name))
                .is_some_and(|v| !v.is_null() && v != ""),
        }
    };
    const ONE_OF: [(&str, &str); 2] = [("transaction_id", "out_trade_no"), ("refund_id", "out_refund_no")];
    for field in op.request_fields().iter().filter(|f| f.depth() == 1 && f.is_required()) {
        let Some((part, name)) = field.path().split_once('.') else {
            continue;
        };
        if !matches!(part, "json" | "query") || given(part, name) {
            continue;
        }
        let partner = ONE_OF.iter().find_map(|&(a, b)| {
            if a == name {
                Some(b)
            } else if b == name {
                Some(a)
            } else {
                None
            }
        });
        if partner.is_some_and(|p| given(part, p)) {
            continue;
        }
        return Some(name.to_owned());
    }
    None
}
