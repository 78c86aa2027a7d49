//! The sandbox's kit for endpoint families: reading a JSON request's fields, and WeChat Pay's error answers
//! (`PARAM_ERROR` naming the field in `detail.field`, as WeChat Pay's do). Field paths are dotted
//! (`amount.total`); errors report them whole, the map is read by their last segment.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::clock::parse_rfc3339;
use super::{Answer, MockRequest};
use crate::catalog::Operation;

/// A JSON object, as a request body or one of its objects.
pub(crate) type Body = Map<String, Value>;

thread_local! {
    /// The documented operation a handler on this thread is answering, while it runs.
    static OPERATION: std::cell::Cell<Option<&'static Operation>> = const { std::cell::Cell::new(None) };
}

/// Marks `operation` as the one the handler about to run answers, until the guard goes: the field readers
/// then refuse (in debug builds: the sandbox's own tests) to read a field the catalog does not document for
/// it, so a family cannot drift from WeChat Pay's tables.
pub(crate) fn reading(operation: Option<&'static Operation>) -> Reading {
    OPERATION.with(|o| o.set(operation));
    Reading
}

/// Clears the operation when the handler is done.
pub(crate) struct Reading;

impl Drop for Reading {
    fn drop(&mut self) {
        OPERATION.with(|o| o.set(None));
    }
}

/// In debug builds, panics when `path` (of the JSON body) is not a documented request field of the
/// operation being answered; a handler's panic answers 500, which fails the test that made it.
fn documented(path: &str) {
    if !cfg!(debug_assertions) {
        return;
    }
    let Some(op) = OPERATION.with(|o| o.get()) else {
        return;
    };
    let wanted = format!("json.{path}");
    let known = op
        .request_fields()
        .iter()
        .any(|f| f.path() == wanted || f.path().replace("[]", "") == wanted);
    if !known {
        eprintln!("wechatpay sandbox: the handler of {op} reads `{path}`, which the catalog does not document for it");
        panic!("undocumented field `{path}` read for {op}");
    }
}

/// A placeholder of the matched route (always present once matched).
pub(crate) fn path<'a>(req: &'a MockRequest, name: &str) -> &'a str {
    req.param(name).unwrap_or_default()
}

/// The request body as a JSON object.
pub(crate) fn json_object(req: &MockRequest) -> Result<Body, Answer> {
    match req.json()? {
        Value::Object(body) => Ok(body),
        _ => Err(Answer::error(400, "PARAM_ERROR", "请求体应为 JSON 对象")),
    }
}

// ---- errors ----

/// 400 `PARAM_ERROR` naming `field` in both `detail` and the message.
pub(crate) fn param_error(field: &str, location: &str, issue: &str) -> Answer {
    Answer::error_with_detail(
        400,
        "PARAM_ERROR",
        &format!("参数 {field} 错误：{issue}"),
        json!({"field": field, "location": location, "issue": issue}),
    )
}

/// 400 `PARAM_ERROR` for a required field that is absent or empty.
pub(crate) fn missing(field: &str, location: &str) -> Answer {
    Answer::error_with_detail(
        400,
        "PARAM_ERROR",
        &format!("缺少必填参数 {field}"),
        json!({"field": field, "location": location, "issue": "必填参数缺失或为空"}),
    )
}

pub(crate) fn not_found(message: &str) -> Answer {
    Answer::error(404, "RESOURCE_NOT_EXISTS", message)
}

pub(crate) fn invalid_request(message: &str) -> Answer {
    Answer::error(400, "INVALID_REQUEST", message)
}

pub(crate) fn rule_limit(message: &str) -> Answer {
    Answer::error(403, "RULE_LIMIT", message)
}

// ---- field readers; `path` is the dotted name errors report, its last segment the key ----

pub(crate) fn key(path: &str) -> &str {
    path.rsplit('.').next().unwrap_or(path)
}

/// A required, non-empty string.
pub(crate) fn required<'a>(map: &'a Body, path: &str) -> Result<&'a str, Answer> {
    optional(map, path)?.ok_or_else(|| missing(path, "body"))
}

/// An optional string; absent, `null` and `""` are all "not given".
pub(crate) fn optional<'a>(map: &'a Body, path: &str) -> Result<Option<&'a str>, Answer> {
    documented(path);
    match map.get(key(path)) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.as_str()).filter(|s| !s.is_empty())),
        Some(_) => Err(param_error(path, "body", "应为字符串")),
    }
}

pub(crate) fn one_of<'a>(map: &'a Body, path: &str, allowed: &[&str]) -> Result<&'a str, Answer> {
    let value = required(map, path)?;
    if allowed.contains(&value) {
        Ok(value)
    } else {
        Err(param_error(path, "body", &format!("应为 {} 之一", allowed.join("、"))))
    }
}

pub(crate) fn object<'a>(map: &'a Body, path: &str) -> Result<&'a Body, Answer> {
    documented(path);
    match map.get(key(path)) {
        None | Some(Value::Null) => Err(missing(path, "body")),
        Some(Value::Object(object)) => Ok(object),
        Some(_) => Err(param_error(path, "body", "应为对象")),
    }
}

pub(crate) fn optional_integer(map: &Body, path: &str) -> Result<Option<u64>, Answer> {
    documented(path);
    match map.get(key(path)) {
        None | Some(Value::Null) => Ok(None),
        Some(value) => value
            .as_u64()
            .map(Some)
            .ok_or_else(|| param_error(path, "body", "应为非负整数")),
    }
}

pub(crate) fn integer(map: &Body, path: &str) -> Result<u64, Answer> {
    optional_integer(map, path)?.ok_or_else(|| missing(path, "body"))
}

/// A required integer of at least 1.
pub(crate) fn count(map: &Body, path: &str) -> Result<u64, Answer> {
    match integer(map, path)? {
        0 => Err(param_error(path, "body", "应不小于 1")),
        n => Ok(n),
    }
}

pub(crate) fn time(map: &Body, path: &str) -> Result<i64, Answer> {
    parse_rfc3339(required(map, path)?)
        .ok_or_else(|| param_error(path, "body", "应为 RFC 3339 格式的时间，如 2015-05-20T13:29:35+08:00"))
}

/// Idempotent request numbers (`out_request_no`, …): every request a family answered once, by endpoint and
/// number, kept (in the family's saved state) to answer its retries. A retry with the same body gets the
/// first answer again; another body under the same number is refused, as WeChat Pay does.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub(crate) struct Receipts(BTreeMap<String, BTreeMap<String, Receipt>>);

/// A request answered once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Receipt {
    request: Value,
    answer: Value,
}

impl Receipts {
    /// The first answer when `body` repeats the request numbered `body[field]` at `endpoint`; `None` for a
    /// new number; a `PARAM_ERROR` naming `field` for the number reused with another body.
    pub(crate) fn replay(&self, endpoint: &str, field: &str, body: &Body) -> Result<Option<Value>, Answer> {
        let no = required(body, field)?;
        let Some(receipt) = self.0.get(endpoint).and_then(|r| r.get(no)) else {
            return Ok(None);
        };
        if receipt.request == Value::Object(body.clone()) {
            Ok(Some(receipt.answer.clone()))
        } else {
            Err(param_error(
                field,
                "body",
                &format!("{no} 已用于另一笔参数不同的请求，请更换单号"),
            ))
        }
    }

    /// Keeps `answer` as the answer to the request numbered `body[field]` at `endpoint`.
    pub(crate) fn record(&mut self, endpoint: &str, field: &str, body: &Body, answer: Value) {
        let no = body.get(field).and_then(Value::as_str).unwrap_or_default().to_owned();
        let receipt = Receipt {
            request: Value::Object(body.clone()),
            answer,
        };
        self.0.entry(endpoint.to_owned()).or_default().insert(no, receipt);
    }
}
