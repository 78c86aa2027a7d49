//! `wxpay endpoints [QUERY]` and `wxpay describe PATH`: the catalog of documented operations
//! ([`wechatpay::catalog`]), listed, searched and described — fields, PHP and Rust twins, flags, and whether
//! the embedded sandbox simulates it. Neither needs a configuration.

use clap::Args;
use serde_json::{json, Value};
use wechatpay::catalog::{self, Field, Operation};

use crate::failure::Failure;
use crate::output;

/// The operations the embedded sandbox (`wechatpay::mock`, `wxpay mock serve`) simulates, as
/// (method, catalog template); every other documented operation answers `501 NOT_SIMULATED` there (an
/// APIv2 one, a `FAIL` saying NOT_SIMULATED). Kept by hand in step with the routes `src/mock` registers:
/// `mock::busifavor` (the busifavor family), `mock::platform` (certificates), `mock::media` (the uploads),
/// `mock::payments` (APIv3 payments, direct and partner; refunds; bills) and `mock::apiv2` (payments, red
/// packets). `tests/cli_catalog.rs` checks it against a running sandbox, both ways.
pub(crate) const SIMULATED: [(&str, &str); 45] = [
    // busifavor (商家券)
    ("POST", "v3/marketing/busifavor/stocks"),
    ("GET", "v3/marketing/busifavor/stocks/{stock_id}"),
    ("POST", "v3/marketing/busifavor/coupons/send"),
    ("POST", "v3/marketing/busifavor/coupons/associate"),
    ("POST", "v3/marketing/busifavor/coupons/disassociate"),
    ("POST", "v3/marketing/busifavor/coupons/use"),
    ("POST", "v3/marketing/busifavor/coupons/deactivate"),
    ("POST", "v3/marketing/busifavor/callbacks"),
    ("GET", "v3/marketing/busifavor/callbacks"),
    ("GET", "v3/marketing/busifavor/users/{openid}/coupons"),
    (
        "GET",
        "v3/marketing/busifavor/users/{openid}/coupons/{coupon_code}/appids/{appid}",
    ),
    // platform certificates
    ("GET", "v3/certificates"),
    // media uploads
    ("POST", "v3/merchant/media/upload"),
    ("POST", "v3/merchant/media/video_upload"),
    ("POST", "v3/marketing/favor/media/image-upload"),
    ("POST", "v3/merchant-service/images/upload"),
    // APIv3 payments (直连 and 服务商), refunds and bills
    ("POST", "v3/pay/transactions/jsapi"),
    ("POST", "v3/pay/transactions/app"),
    ("POST", "v3/pay/transactions/h5"),
    ("POST", "v3/pay/transactions/native"),
    ("GET", "v3/pay/transactions/id/{transaction_id}"),
    ("GET", "v3/pay/transactions/out-trade-no/{out_trade_no}"),
    ("POST", "v3/pay/transactions/out-trade-no/{out_trade_no}/close"),
    ("POST", "v3/pay/partner/transactions/jsapi"),
    ("POST", "v3/pay/partner/transactions/app"),
    ("POST", "v3/pay/partner/transactions/h5"),
    ("POST", "v3/pay/partner/transactions/native"),
    ("GET", "v3/pay/partner/transactions/id/{transaction_id}"),
    ("GET", "v3/pay/partner/transactions/out-trade-no/{out_trade_no}"),
    ("POST", "v3/pay/partner/transactions/out-trade-no/{out_trade_no}/close"),
    ("POST", "v3/refund/domestic/refunds"),
    ("GET", "v3/refund/domestic/refunds/{out_refund_no}"),
    ("GET", "v3/bill/tradebill"),
    ("GET", "v3/bill/fundflowbill"),
    ("GET", "v3/billdownload/file"),
    // APIv2 payments and red packets
    ("POST", "v2/pay/micropay"),
    ("POST", "v2/pay/unifiedorder"),
    ("POST", "v2/pay/orderquery"),
    ("POST", "v2/pay/closeorder"),
    ("POST", "v2/secapi/pay/reverse"),
    ("POST", "v2/secapi/pay/refund"),
    ("POST", "v2/pay/refundquery"),
    ("POST", "v2/pay/downloadbill"),
    ("POST", "v2/mmpaymkttransfers/sendredpack"),
    ("POST", "v2/mmpaymkttransfers/gethbinfo"),
];

/// Whether the embedded sandbox simulates `op` (see [`SIMULATED`]).
pub(crate) fn is_simulated(op: &Operation) -> bool {
    SIMULATED
        .iter()
        .any(|&(method, template)| method == op.method() && template == op.template())
}

/// `wxpay endpoints`.
#[derive(Args)]
pub(crate) struct EndpointsArgs {
    /// Words to search for in the templates and titles (e.g. `refund`, `退款`, `busifavor coupons`,
    /// `v3->pay->transactions`); every word must match. Without any, every documented operation.
    #[arg(value_name = "QUERY")]
    query: Vec<String>,
    /// Only APIv2 (`v2/…`, XML) operations.
    #[arg(long, conflicts_with = "v3")]
    v2: bool,
    /// Only APIv3 (JSON) operations.
    #[arg(long)]
    v3: bool,
    /// Only the operations the embedded sandbox (`wxpay mock serve`) simulates.
    #[arg(long)]
    simulated: bool,
    /// Print a JSON array of {method, path, title, security, nonceless, encrypted_fields, simulated}.
    #[arg(long)]
    json: bool,
}

/// `wxpay describe`.
#[derive(Args)]
pub(crate) struct DescribeArgs {
    /// A path template (`v3/pay/transactions/id/{transaction_id}`), a concrete path
    /// (`v3/pay/transactions/id/4200000000`), or a PHP or Node chain (`v3->pay->transactions->native`,
    /// `v3.pay.transactions.native`).
    #[arg(value_name = "PATH")]
    path: String,
    /// Only the operation with this method (GET, POST, PUT, PATCH or DELETE).
    #[arg(short = 'X', long, value_name = "METHOD")]
    method: Option<String>,
    /// Print the description as JSON.
    #[arg(long)]
    json: bool,
}

pub(crate) fn endpoints(args: EndpointsArgs) -> crate::CliResult {
    let words = args.query.join(" ");
    let found: Vec<&Operation> = if words.trim().is_empty() {
        catalog::operations().iter().collect()
    } else {
        catalog::search(&words)
    };
    let listed: Vec<&Operation> = found
        .into_iter()
        .filter(|op| match (args.v2, args.v3) {
            (true, _) => op.is_apiv2(),
            (_, true) => !op.is_apiv2(),
            _ => true,
        })
        .filter(|op| !args.simulated || is_simulated(op))
        .collect();
    if args.json {
        let all: Vec<Value> = listed.iter().map(|op| summary(op)).collect();
        return output::print_json(&all, None);
    }
    if listed.is_empty() {
        eprintln!("wxpay: no documented operation matches");
        return Ok(());
    }
    let width = listed.iter().map(|op| op.template().chars().count()).max().unwrap_or(0);
    let mut out = String::new();
    for op in &listed {
        out.push_str(&format!(
            "{:<6} {:<width$}  {}\n",
            op.method(),
            op.template(),
            op.title().trim()
        ));
    }
    output::print_bytes(out.as_bytes())
}

/// One operation as `endpoints --json` lists it.
fn summary(op: &Operation) -> Value {
    json!({
        "method": op.method(),
        "path": op.template(),
        "title": op.title().trim(),
        "security": op.needs_client_certificate(),
        "nonceless": op.is_nonceless(),
        "encrypted_fields": op.encrypted_fields(),
        "simulated": is_simulated(op),
    })
}

pub(crate) fn describe(args: DescribeArgs) -> crate::CliResult {
    let path = catalog::normalize_path(&args.path);
    let at = catalog::operations_at(&path);
    if at.is_empty() {
        return Err(undocumented(&args.path, &path));
    }
    let ops: Vec<&Operation> = match &args.method {
        Some(method) => {
            let chosen: Vec<&Operation> = at
                .iter()
                .copied()
                .filter(|op| op.method().eq_ignore_ascii_case(method))
                .collect();
            if chosen.is_empty() {
                let methods: Vec<&str> = at.iter().map(|op| op.method()).collect();
                return Err(Failure::usage(format!(
                    "`{path}` is not documented for {}",
                    method.to_ascii_uppercase()
                ))
                .note(format!("it is documented for {}", methods.join(", "))));
            }
            chosen
        }
        None => at,
    };
    if args.json {
        let described: Vec<Value> = ops.iter().map(|op| description(op)).collect();
        return output::print_json(&json!({"path": path, "operations": described}), None);
    }
    let text: Vec<String> = ops.iter().map(|op| describe_text(op, &path)).collect();
    output::print_bytes(text.join("\n").as_bytes())
}

/// An undocumented PATH: a usage error naming the nearest documented operations.
fn undocumented(given: &str, path: &str) -> Failure {
    let mut failure = Failure::usage(format!("`{path}` is not a documented path"));
    if given.trim() != path {
        failure = failure.note(format!("(`{given}` read as `{path}`)"));
    }
    let near = catalog::suggest(path, 5);
    if near.is_empty() {
        failure = failure.note("no documented path is close to it");
    } else {
        failure = failure.note("the closest documented operations:");
        for line in aligned(&near) {
            failure = failure.note(format!("  {line}"));
        }
    }
    failure.note("`wxpay endpoints WORD…` searches the catalog")
}

/// `METHOD template  title` lines, the templates padded to one width.
pub(crate) fn aligned(ops: &[&Operation]) -> Vec<String> {
    let width = ops.iter().map(|op| op.template().chars().count()).max().unwrap_or(0);
    ops.iter()
        .map(|op| format!("{:<6} {:<width$}  {}", op.method(), op.template(), op.title().trim()))
        .collect()
}

/// The PHP chain's twins of a call: the property chain (when every segment has a spelling PHP keeps) and
/// `chain('…')`.
fn php_twins(op: &Operation) -> Vec<String> {
    let verb = op.method().to_ascii_lowercase();
    let mut twins = Vec::new();
    let keys: Option<Vec<String>> = op.template().split('/').map(php_key).collect();
    if let Some(keys) = keys {
        twins.push(format!("$instance{}->{verb}([...]);", keys.concat()));
    }
    twins.push(format!("$instance->chain('{}')->{verb}([...]);", op.template()));
    twins
}

/// One segment as a PHP chain key: `->outTradeNo`, `->_out_trade_no_`, `->{'{+path}'}`; `None` when PHP's
/// key normalization cannot give it (e.g. a segment with capitals).
fn php_key(segment: &str) -> Option<String> {
    if let Some(name) = segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
        if is_identifier(name) {
            return Some(format!("->_{name}_"));
        }
    }
    let mut camel = String::with_capacity(segment.len());
    let mut upper = false;
    for c in segment.chars() {
        if c == '-' {
            upper = true;
        } else if upper {
            camel.push(c.to_ascii_uppercase());
            upper = false;
        } else {
            camel.push(c);
        }
    }
    let keeps = |key: &str| wechatpay::path::normalize_key(key) == segment;
    if is_identifier(&camel) && keeps(&camel) {
        Some(format!("->{camel}"))
    } else if keeps(segment) && !segment.contains(['\'', '\\']) {
        Some(format!("->{{'{segment}'}}"))
    } else {
        None
    }
}

fn is_identifier(text: &str) -> bool {
    let mut chars = text.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The fields a call seals when named (`sensitive`, `--sensitive`): the documented encrypted ones, when
/// they are in the JSON body (the only part the library seals). Empty for any other operation.
fn sealed_fields(op: &Operation) -> &[&'static str] {
    if op.encrypted_part() == Some("json") {
        op.encrypted_fields()
    } else {
        &[]
    }
}

/// The Rust twins of a call: indexing and `chain`; for an operation with encrypted fields in its body, a
/// third that names them in `sensitive` — which only a call that must name its own needs, as the library
/// seals the documented ones unnamed (and a named one must be in the body).
fn rust_twins(op: &Operation) -> Vec<String> {
    let (verb, template) = (op.method().to_ascii_lowercase(), op.template());
    let mut twins = vec![
        format!("client[\"{template}\"].{verb}(json!({{...}}))?;"),
        format!("client.chain(\"{template}\").{verb}(json!({{...}}))?;"),
    ];
    let sealed = sealed_fields(op);
    if !sealed.is_empty() {
        let paths: Vec<String> = sealed.iter().map(|p| format!("\"{p}\"")).collect();
        twins.push(format!(
            "client[\"{template}\"].{verb}(json!({{\"json\": {{...}}, \"sensitive\": [{}]}}))?; // sealed either way",
            paths.join(", ")
        ));
    }
    twins
}

/// The `wxpay` twin: the command, with a `--param` for each placeholder and the part its fields go in.
fn wxpay_twin(op: &Operation) -> String {
    let template = op.template();
    let mut line = format!("wxpay {} ", op.method().to_ascii_lowercase());
    if template.contains(['{', '}']) {
        line.push_str(&format!("'{template}'"));
    } else {
        line.push_str(template);
    }
    if let Ok(placeholders) = wechatpay::template::placeholders(template) {
        for p in placeholders.iter().filter(|p| p.name != wechatpay::template::EMPTY) {
            line.push_str(&format!(" --param {}=…", p.name));
        }
    }
    let parts: Vec<&str> = op
        .request_fields()
        .iter()
        .filter(|f| f.depth() == 0)
        .map(|f| f.name())
        .collect();
    if parts.contains(&"json") {
        line.push_str(" --json '{…}'");
    }
    if parts.contains(&"xml") {
        line.push_str(" --xml '{…}'");
    }
    if parts.contains(&"query") {
        let required: Vec<&str> = op
            .request_fields()
            .iter()
            .filter(|f| f.depth() == 1 && f.is_required() && f.path().starts_with("query."))
            .map(|f| f.name())
            .filter(|name| !matches!(*name, "sign" | "nonce_str"))
            .collect();
        if required.is_empty() {
            line.push_str(" --query NAME=…");
        }
        for name in required {
            line.push_str(&format!(" --query {name}=…"));
        }
    }
    let sealed = sealed_fields(op);
    if !sealed.is_empty() {
        line.push_str(&format!(
            "  # seals {} (--sensitive PATH: only those named; --sensitive none: none)",
            sealed.join(", ")
        ));
    }
    line
}

/// The flags worth knowing before calling it.
fn flags(op: &Operation) -> Vec<&'static str> {
    let mut flags = Vec::new();
    if op.needs_client_certificate() {
        flags.push("needs the merchant's TLS client certificate (APIv2 `security`)");
    }
    if op.is_nonceless() {
        flags.push("nonceless: sends no `nonce_str`");
    }
    flags
}

const SANDBOX_YES: &str = "simulated by the embedded sandbox (`wxpay mock serve`)";
const SANDBOX_NO: &str = "not simulated: the embedded sandbox answers 501 NOT_SIMULATED";

fn describe_text(op: &Operation, asked: &str) -> String {
    let mut out = format!("{} {}  {}\n", op.method(), op.template(), op.title().trim());
    let mut facts: Vec<(&str, Vec<String>)> = Vec::new();
    if asked != op.template() {
        facts.push(("matched", vec![format!("`{asked}` is this template")]));
    }
    facts.push((
        "api",
        vec![if op.is_apiv2() {
            "APIv2 (XML, signed with the APIv2 key)"
        } else {
            "APIv3 (JSON)"
        }
        .to_owned()],
    ));
    let flags = flags(op);
    if !flags.is_empty() {
        facts.push(("flags", flags.iter().map(|f| (*f).to_owned()).collect()));
    }
    if !op.encrypted_fields().is_empty() {
        let mut lines = vec![format!(
            "{} (in {}; encrypted under WeChat Pay's public key)",
            op.encrypted_fields().join(", "),
            op.encrypted_part().unwrap_or("the request")
        )];
        if sealed_fields(op).is_empty() {
            lines.push(
                "neither the library nor wxpay seals this part: encrypt them yourself (`PublicKey::encrypt`) and \
                 name the key in `Wechatpay-Serial`"
                    .to_owned(),
            );
        } else {
            lines.push(
                "sealed where the body has them in plaintext, named or not (a named one must be in the body); \
                 `\"sensitive\": []` / `--sensitive none` sends the body as is"
                    .to_owned(),
            );
        }
        facts.push(("encrypted", lines));
    }
    facts.push((
        "sandbox",
        vec![if is_simulated(op) { SANDBOX_YES } else { SANDBOX_NO }.to_owned()],
    ));
    facts.push(("PHP", php_twins(op)));
    facts.push(("Rust", rust_twins(op)));
    facts.push(("wxpay", vec![wxpay_twin(op)]));
    for (label, lines) in facts {
        for (i, line) in lines.iter().enumerate() {
            let label = if i == 0 { format!("{label}:") } else { String::new() };
            out.push_str(&format!("  {label:<11}{line}\n"));
        }
    }
    out.push_str("\n  Request fields:\n");
    out.push_str(&field_table(op.request_fields()));
    out.push_str("\n  Answer fields:\n");
    out.push_str(&field_table(op.response_fields()));
    out
}

/// The fields as an aligned table, each name indented by its depth.
fn field_table(fields: &[Field]) -> String {
    if fields.is_empty() {
        return "    (none documented)\n".to_owned();
    }
    let name = |f: &Field| format!("{}{}", "  ".repeat(f.depth()), f.name());
    let width = |text: &str| text.chars().count();
    let name_width = fields.iter().map(|f| width(&name(f))).max().unwrap_or(0).max(5);
    let type_width = fields.iter().map(|f| width(f.ty())).max().unwrap_or(0).max(4);
    let mut out = format!(
        "    {:<name_width$}  {:<type_width$}  REQUIRED  ENCRYPTED  DESCRIPTION\n",
        "FIELD", "TYPE"
    );
    for f in fields {
        let mut description = f.label().trim().to_owned();
        if !f.enum_values().is_empty() {
            description.push_str(&format!(" (one of: {})", f.enum_values().join(", ")));
        }
        let line = format!(
            "    {:<name_width$}  {:<type_width$}  {:<8}  {:<9}  {description}",
            name(f),
            f.ty(),
            if f.is_required() { "yes" } else { "" },
            if f.is_encrypted() { "yes" } else { "" },
        );
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

fn field_json(f: &Field) -> Value {
    json!({
        "name": f.name(),
        "path": f.path(),
        "type": f.ty(),
        "required": f.is_required(),
        "depth": f.depth(),
        "label": f.label().trim(),
        "enum": f.enum_values(),
        "encrypted": f.is_encrypted(),
    })
}

/// One operation as `describe --json` prints it.
fn description(op: &Operation) -> Value {
    json!({
        "method": op.method(),
        "path": op.template(),
        "title": op.title().trim(),
        "api": if op.is_apiv2() { "v2" } else { "v3" },
        "security": op.needs_client_certificate(),
        "nonceless": op.is_nonceless(),
        "encrypted_part": op.encrypted_part(),
        "encrypted_fields": op.encrypted_fields(),
        "simulated": is_simulated(op),
        "php": php_twins(op),
        "rust": rust_twins(op),
        "wxpay": wxpay_twin(op),
        "request": op.request_fields().iter().map(field_json).collect::<Vec<_>>(),
        "response": op.response_fields().iter().map(field_json).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_simulated_operation_is_documented_once() {
        for (method, template) in SIMULATED {
            let op = catalog::find(method, template).unwrap_or_else(|| panic!("{method} {template}"));
            assert!(is_simulated(op));
        }
        let mut sorted = SIMULATED.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), SIMULATED.len());
    }

    #[test]
    fn twins_name_the_fields_they_seal() {
        let op = catalog::find("POST", "v3/transfer/batches").unwrap();
        let rust = rust_twins(op);
        assert_eq!(rust[0], "client[\"v3/transfer/batches\"].post(json!({...}))?;");
        assert_eq!(
            rust[2],
            "client[\"v3/transfer/batches\"].post(json!({\"json\": {...}, \"sensitive\": \
             [\"transfer_detail_list[].user_name\", \"transfer_detail_list[].user_id_card\"]}))?; // sealed either way"
        );
        assert_eq!(
            wxpay_twin(op),
            "wxpay post v3/transfer/batches --json '{…}'  # seals transfer_detail_list[].user_name, \
             transfer_detail_list[].user_id_card (--sensitive PATH: only those named; --sensitive none: none)"
        );
        // A query's encrypted fields are the caller's to encrypt: no `sensitive` there.
        let op = catalog::find("GET", "v3/realname/verify").unwrap();
        assert_eq!(rust_twins(op).len(), 2);
        assert!(!wxpay_twin(op).contains("--sensitive"));
    }

    #[test]
    fn php_keys_round_trip() {
        assert_eq!(php_key("out-trade-no").as_deref(), Some("->outTradeNo"));
        assert_eq!(php_key("{out_trade_no}").as_deref(), Some("->_out_trade_no_"));
        assert_eq!(php_key("{empty}").as_deref(), Some("->_empty_"));
        assert_eq!(php_key("video_upload").as_deref(), Some("->video_upload"));
        assert_eq!(php_key("{+path}").as_deref(), Some("->{'{+path}'}"));
        assert_eq!(php_key("addInstitutionsub"), None);
        let op = catalog::find("POST", "v3/pay/transactions/out-trade-no/{out_trade_no}/close").unwrap();
        assert_eq!(
            php_twins(op)[0],
            "$instance->v3->pay->transactions->outTradeNo->_out_trade_no_->close->post([...]);"
        );
    }
}
