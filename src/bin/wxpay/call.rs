//! `wxpay <get|post|put|patch|delete> PATH`: one signed request, its verified answer on stdout.
//!
//! A path whose first segment is `v2` is an APIv2 (XML) call: its fields come from `--xml` (a JSON object)
//! or, for a GET, `--query`; it is signed with the APIv2 key; its answer's fields print as a JSON object.
//!
//! Before anything is configured or sent, the request is checked against the catalog ([`crate::preflight`]):
//! warnings on stderr, or with `--strict` a refusal. PATH may be spelled as a PHP or Node chain
//! (`v3->pay->transactions->native`, `v3.pay.transactions.native`).

use std::io::Read as _;
use std::time::Instant;

use clap::Args;
use serde_json::Value;
use wechatpay::{Method, Options, Prepared, Response};

use crate::config::{split_pair, ConfigArgs, Resolved};
use crate::failure::Failure;
use crate::output;
use crate::sensitive::Sealing;

/// What every verb takes.
#[derive(Args)]
pub(crate) struct CallArgs {
    /// The path as the SDK takes it (`client.chain(PATH)`), e.g. `v3/marketing/busifavor/coupons/use` or
    /// `v3/marketing/busifavor/stocks/{stock_id}` with `--param stock_id=…`; `v2/…` (e.g. `v2/pay/micropay`)
    /// for APIv2. A PHP or Node chain spelling works too: `v3->pay->transactions->native`,
    /// `v3.pay.transactions.native`.
    path: String,
    /// The JSON body of an APIv3 call: the text itself, `@FILE`, or `-` for stdin. Sent exactly as given,
    /// but for the fields the catalog documents as encrypted (a name, an id number…): those held in
    /// plaintext are sealed first, as the library seals them (see --sensitive).
    #[arg(long, value_name = "JSON|@FILE|-")]
    json: Option<String>,
    /// A field of --json to seal (RSA-OAEP under WeChat Pay's public key, named in `Wechatpay-Serial`)
    /// instead of the documented ones, by path: `user_name`, `contact.email`, `'receivers[].name'`
    /// (repeatable; each must be in the body). `--sensitive none` seals nothing: the body goes as given.
    /// A documented encrypted field left in plaintext is a warning (--strict: a refusal).
    #[arg(long, value_name = "PATH|none")]
    sensitive: Vec<String>,
    /// The fields of an APIv2 (`v2/…`) call, as a JSON object: the text itself, `@FILE`, or `-` for stdin.
    /// Sent as XML with `nonce_str` and `sign` added (a v2 GET takes its fields as --query instead).
    #[arg(long, value_name = "JSON|@FILE|-", conflicts_with = "json")]
    xml: Option<String>,
    /// APIv2: present the merchant's TLS client certificate (merchant_cert and merchant_key, or
    /// merchant_p12). The endpoints documented as needing it get it without this flag.
    #[arg(long)]
    security: bool,
    /// APIv2: send no `nonce_str` (the endpoints documented as nonceless get none without this flag).
    #[arg(long)]
    nonceless: bool,
    /// A placeholder value for `{NAME}` in PATH (repeatable).
    #[arg(short, long = "param", value_name = "NAME=VALUE")]
    param: Vec<String>,
    /// A query parameter, sent in the order given (repeatable).
    #[arg(short, long = "query", value_name = "NAME=VALUE")]
    query: Vec<String>,
    /// An extra request header (repeatable).
    #[arg(short = 'H', long = "header", value_name = "NAME:VALUE")]
    header: Vec<String>,
    /// Print the answer's status line and headers before its body.
    #[arg(short, long)]
    include: bool,
    /// Print the request that would go out (method, URL, headers with the Authorization, the exact signed
    /// message; for APIv2, the XML body with its `sign` and the string signed, less the key) without
    /// sending it.
    #[arg(long)]
    dry_run: bool,
    /// Refuse (exit 2) instead of warning when the catalog checks fail: PATH is not a documented operation,
    /// or a documented required top-level field is missing. Nothing is sent (or printed by --dry-run).
    #[arg(long)]
    strict: bool,
    /// Log request and answer metadata on stderr (never key material).
    #[arg(short, long)]
    verbose: bool,
    #[command(flatten)]
    layout: output::Layout,
    /// Print the answer's body byte for byte as received (for APIv2, its XML) instead of as JSON.
    #[arg(long, conflicts_with_all = ["pretty", "compact"])]
    raw: bool,
    #[command(flatten)]
    config: ConfigArgs,
}

/// Reads a `--json` or `--xml` value (`flag`): the text, `@FILE` or `-` (stdin); it must be valid JSON.
/// Returns it, trailing whitespace trimmed, and what it came from (for messages).
fn read_json(spec: &str, flag: &str) -> Result<(Vec<u8>, String), Failure> {
    let (bytes, from) = if spec == "-" {
        let mut buf = Vec::new();
        std::io::stdin()
            .read_to_end(&mut buf)
            .map_err(|e| Failure::usage(format!("cannot read {flag} from stdin")).note(format!("caused by: {e}")))?;
        (buf, "stdin".to_owned())
    } else if let Some(path) = spec.strip_prefix('@') {
        let bytes = std::fs::read(path)
            .map_err(|e| Failure::usage(format!("cannot read {flag} file `{path}`")).note(format!("caused by: {e}")))?;
        (bytes, format!("file `{path}`"))
    } else {
        (spec.as_bytes().to_vec(), format!("the {flag} text"))
    };
    let trimmed = bytes.trim_ascii_end().to_vec();
    if let Err(e) = serde_json::from_slice::<serde::de::IgnoredAny>(&trimmed) {
        return Err(Failure::usage(format!("{from} is not valid JSON: {e}")));
    }
    Ok((trimmed, from))
}

/// Reads `--xml`: a JSON object whose members are the APIv2 fields, in order.
fn read_fields(spec: &str) -> Result<Value, Failure> {
    let (bytes, from) = read_json(spec, "--xml")?;
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(fields @ Value::Object(_)) => Ok(fields),
        _ => Err(Failure::usage(format!("{from} is not a JSON object of APIv2 fields"))
            .note(r#"e.g. --xml '{"appid":"wx8888888888888888","mch_id":"1900000109","out_trade_no":"1217752501"}'"#)),
    }
}

/// The bodies as given, for the catalog checks: `--json` parsed (it is valid JSON), `--xml`'s fields.
#[derive(Default)]
struct Bodies {
    json: Option<Value>,
    xml: Option<Value>,
}

/// The options of the call to `template`, from the flags, and the bodies they give; every malformed flag is
/// a usage error.
fn options(args: &CallArgs, method: &Method, template: &str) -> Result<(Options, Bodies), Failure> {
    let mut options = Options::new();
    let mut bodies = Bodies::default();
    for item in &args.param {
        let (name, value) = split_pair(item, '=', "--param")?;
        options = options.param(name, value);
    }
    for item in &args.query {
        let (name, value) = split_pair(item, '=', "--query")?;
        options = options.query(name, value);
    }
    for item in &args.header {
        let (name, value) = split_pair(item, ':', "--header")?;
        options = options.header(name, value.trim());
    }
    if let Some(spec) = &args.json {
        let body = read_json(spec, "--json")?.0;
        let value: Value = serde_json::from_slice(&body).map_err(|e| Failure::usage(format!("--json: {e}")))?;
        let op = wechatpay::catalog::lookup(method.as_str(), template);
        options = Sealing::from_flags(&args.sensitive)?.body(options, body, &value, op);
        bodies.json = Some(value);
    }
    if let Some(spec) = &args.xml {
        let fields = read_fields(spec)?;
        options = options.xml(&fields);
        bodies.xml = Some(fields);
    }
    if args.security {
        options = options.security(true);
    }
    if args.nonceless {
        options = options.nonceless(true);
    }
    Ok((options, bodies))
}

/// Whether PATH is spelled as a PHP or Node chain (`v3->pay->transactions->native`,
/// `v3.pay.transactions.native`) rather than as a path.
pub(crate) fn is_chain_spelling(path: &str) -> bool {
    !path.contains('/') && (path.contains("->") || path.contains('.'))
}

/// The catalog checks ([`crate::preflight`]): warnings on stderr, or with `--strict` a refusal.
fn preflight(method: &Method, template: &str, args: &CallArgs, bodies: &Bodies) -> crate::CliResult {
    let mut query: Vec<(String, String)> = args
        .query
        .iter()
        .filter_map(|q| split_pair(q, '=', "--query").ok())
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .collect();
    if let Some((_, written)) = template.split_once('?') {
        query.extend(url::form_urlencoded::parse(written.as_bytes()).into_owned());
    }
    let given = crate::preflight::Given {
        json: bodies.json.as_ref(),
        xml: bodies.xml.as_ref(),
        query,
        headers: args
            .header
            .iter()
            .filter_map(|h| h.split_once(':').map(|(name, _)| name.trim().to_owned()))
            .collect(),
    };
    let mut warnings = crate::preflight::check(method.as_str(), template, &given);
    if let Some(op) = wechatpay::catalog::lookup(method.as_str(), template) {
        let sealing = Sealing::from_flags(&args.sensitive)?;
        warnings.extend(crate::sensitive::warnings(op, &sealing, &given));
    }
    for warning in &warnings {
        warning.print();
    }
    if args.strict && !warnings.is_empty() {
        return Err(Failure::usage(format!(
            "--strict: {method} {template} not {}, for the warning{} above",
            if args.dry_run { "prepared" } else { "sent" },
            if warnings.len() == 1 { "" } else { "s" }
        )));
    }
    Ok(())
}

fn placeholder_list(template: &str) -> String {
    match wechatpay::template::placeholders(template) {
        Ok(list) if list.is_empty() => format!("`{template}` has no placeholders"),
        Ok(list) => format!(
            "`{template}` has the placeholders {}",
            list.iter()
                .map(|p| format!("{{{}{}}}", if p.reserved { "+" } else { "" }, p.name))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Err(_) => format!("`{template}` is not a valid path template"),
    }
}

/// Every placeholder of `template` needs a `--param` (but wechatpay-php's `{empty}`), and every `--param`
/// a placeholder.
fn check_placeholders(template: &str, args: &CallArgs) -> Result<(), Failure> {
    let given: Vec<&str> = args
        .param
        .iter()
        .filter_map(|p| p.split_once('=').map(|(n, _)| n.trim()))
        .collect();
    let placeholders = wechatpay::template::placeholders(template).map_err(|e| Failure::from_wechatpay(&e))?;
    let extra: Vec<&str> = given
        .iter()
        .copied()
        .filter(|name| !placeholders.iter().any(|p| p.name == *name))
        .collect();
    if !extra.is_empty() {
        return Err(not_placeholders(template, &extra, args));
    }
    let missing: Vec<String> = placeholders
        .iter()
        .filter(|p| p.name != wechatpay::template::EMPTY && !given.contains(&p.name))
        .map(|p| format!("{{{}}}", p.name))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(Failure::usage(format!(
        "missing placeholder value{} {}",
        if missing.len() == 1 { "" } else { "s" },
        missing.join(", ")
    ))
    .note(placeholder_list(template))
    .note("give each with --param NAME=VALUE"))
}

/// `--param NAME=…` for names `template` has no `{NAME}` for: what to write instead.
fn not_placeholders(template: &str, names: &[&str], args: &CallArgs) -> Failure {
    let flags: Vec<String> = names.iter().map(|n| format!("`--param {n}`")).collect();
    let mut failure = Failure::usage(format!(
        "{} name{} no placeholder of the path",
        flags.join(", "),
        if names.len() == 1 { "s" } else { "" }
    ))
    .note(placeholder_list(template));
    let value = |name: &str| {
        args.param
            .iter()
            .filter_map(|p| p.split_once('='))
            .find(|(n, _)| n.trim() == name)
            .map_or_else(String::new, |(_, v)| v.to_owned())
    };
    for name in names {
        failure = failure.note(format!(
            "for a query parameter (`?{name}=…`), give `--query {name}={}` instead",
            value(name)
        ));
    }
    // PHP's chain turns a `_name_` segment into `{name}`; in a full path every segment stays literal.
    for name in names {
        let literal = template
            .split('/')
            .find(|segment| *segment == format!("_{name}_") || segment == name);
        let placeholder = format!("{{{name}}}");
        failure = failure.note(match literal {
            Some(segment) => format!(
                "the segment `{segment}` of PATH is literal text, as every segment of a full path is: \
                 write `{}` for a placeholder",
                template
                    .split('/')
                    .map(|s| if s == segment { placeholder.as_str() } else { s })
                    .collect::<Vec<_>>()
                    .join("/")
            ),
            None => format!(
                "for a placeholder, write `{placeholder}` in PATH (segments such as `_{name}_` or `{name}` stay literal)"
            ),
        });
    }
    failure
}

/// Whether `template` is an APIv2 path: its first segment is `v2` (as the library decides).
fn is_apiv2(template: &str) -> bool {
    let first = template.trim_start_matches('/').split('/').next().unwrap_or_default();
    first.eq_ignore_ascii_case("v2")
}

/// The body flags must be the path's API's: `--json` for APIv3, `--xml` (and `--security`, `--nonceless`)
/// for APIv2. Said before anything is read or configured.
fn check_api_flags(method: &Method, args: &CallArgs, apiv2: bool) -> Result<(), Failure> {
    let path = &args.path;
    if !args.sensitive.is_empty() && apiv2 {
        return Err(Failure::usage(format!(
            "`{path}` is an APIv2 (XML) path, and --sensitive seals fields of an APIv3 --json body"
        )));
    }
    if !args.sensitive.is_empty() && args.json.is_none() {
        return Err(Failure::usage(
            "--sensitive names fields of a --json body, and there is none",
        ));
    }
    if apiv2 {
        if args.json.is_some() {
            return Err(
                Failure::usage(format!("`{path}` is an APIv2 (XML) path, which takes no --json body"))
                    .note("give its fields as a JSON object with --xml (for a GET, as --query NAME=VALUE)"),
            );
        }
        if *method == Method::GET && args.xml.is_some() {
            return Err(Failure::usage(format!(
                "an APIv2 GET sends its fields as the signed query string, so `{path}` takes no --xml"
            ))
            .note("give each field as --query NAME=VALUE"));
        }
        return Ok(());
    }
    let v2_only: Vec<&str> = [
        (args.xml.is_some(), "--xml"),
        (args.security, "--security"),
        (args.nonceless, "--nonceless"),
    ]
    .into_iter()
    .filter_map(|(given, flag)| given.then_some(flag))
    .collect();
    if v2_only.is_empty() {
        return Ok(());
    }
    let mut failure = Failure::usage(format!(
        "{} {} for APIv2 (`v2/…`) paths, and `{path}` is not one",
        v2_only.join(", "),
        if v2_only.len() == 1 { "is" } else { "are" }
    ));
    if args.xml.is_some() {
        failure = failure.note("an APIv3 call's body is given with --json");
    }
    Err(failure)
}

/// Runs the verb; `before` and `verbose` are the flags given before it (`wxpay --config F -v get …`).
pub(crate) fn run(method: Method, mut args: CallArgs, before: ConfigArgs, verbose: bool) -> crate::CliResult {
    args.verbose |= verbose;
    let config = &before.then(std::mem::take(&mut args.config));
    if is_chain_spelling(&args.path) {
        args.path = wechatpay::catalog::normalize_path(&args.path);
    }
    if args.path.starts_with("http://") || args.path.starts_with("https://") {
        return Err(Failure::usage(format!("`{}` is a URL; give the path only", args.path))
            .note("e.g. `v3/marketing/busifavor/coupons/use`, with --base-uri (or `base_uri`) for the host"));
    }
    let template = wechatpay::path::append("", &args.path);
    let apiv2 = is_apiv2(&template);
    check_api_flags(&method, &args, apiv2)?;
    check_placeholders(&template, &args)?;
    let (options, bodies) = options(&args, &method, &template)?;
    preflight(&method, &template, &args, &bodies)?;
    let resolved = Resolved::load(config)?;
    let client = if apiv2 {
        resolved.apiv2_client(config)?
    } else {
        resolved.client(config).map_err(|failure| {
            // Without a WeChat Pay key, what the body holds to seal cannot be sealed either: say which.
            let op = wechatpay::catalog::lookup(method.as_str(), &template);
            let fields = bodies
                .json
                .as_ref()
                .map(|json| crate::sensitive::to_seal(op, json))
                .unwrap_or_default();
            match (args.sensitive.is_empty(), fields.first()) {
                (true, Some(field)) => failure.note(format!(
                    "and `{field}` is documented as encrypted: sealing it takes WeChat Pay's public key (or a \
                     platform certificate) too"
                )),
                _ => failure,
            }
        })?
    };
    let explain = |e: wechatpay::Error| {
        let failure = Failure::from_wechatpay(&e);
        if e.is_path() {
            failure.note(placeholder_list(&template))
        } else if apiv2 && e.is_config() && !resolved.has_merchant_certificate() {
            // The one configuration an APIv2 request can lack once built: the TLS client certificate.
            failure.note(
                "configure it with `merchant_cert` and `merchant_key` (--merchant-cert, --merchant-key; \
                 WECHATPAY_MERCHANT_CERT, WECHATPAY_MERCHANT_KEY), or `merchant_p12` (--merchant-p12; \
                 WECHATPAY_MERCHANT_P12)",
            )
        } else {
            failure
        }
    };

    if args.dry_run {
        let prepared = client.prepare(method, &template, options).map_err(explain)?;
        return print_dry_run(&prepared);
    }
    let progress = crate::progress::Progress::default();
    let prepared = client
        .prepare(method, &template, progress.attach(options))
        .map_err(explain)?;
    if args.verbose {
        log_request(&prepared);
    }
    let started = Instant::now();
    let result = client.send(prepared);
    progress.finish();
    if args.verbose {
        log_answer(&result, started);
    }
    match result {
        Ok(response) => {
            // A bill is not XML: it prints as it came.
            let fields = (apiv2 && !args.raw).then(|| response.xml::<Value>().ok()).flatten();
            print_answer(
                response.status(),
                response.headers(),
                response.bytes(),
                fields.as_ref(),
                &args,
            )
        }
        Err(e) => {
            // `-i` shows an error answer as it shows any other (for `| jq`); the exit code stays 4.
            if let (true, Some(status), Some(body)) = (args.include, e.status(), e.body()) {
                // The library keeps only the Request-ID of an error answer's headers.
                let mut headers = http::HeaderMap::new();
                if let Some(id) = e.request_id().and_then(|id| http::HeaderValue::from_str(id).ok()) {
                    headers.insert("request-id", id);
                }
                // An APIv2 FAIL's fields, as a success's print.
                let fields = e.detail().filter(|_| apiv2 && !args.raw);
                // A failed write (a closed pipe) does not hide the API error's exit code.
                let _ = print_answer(status, &headers, body, fields, &args);
            }
            Err(explain(e))
        }
    }
}

fn header_lines(headers: &http::HeaderMap) -> impl Iterator<Item = String> + '_ {
    headers
        .iter()
        .map(|(name, value)| format!("{name}: {}", String::from_utf8_lossy(value.as_bytes())))
}

/// Prints an answer: with `-i`, its status line and headers first; then its body — as `fields` (an APIv2
/// answer's) when given, else reformatted if it is JSON, else as it came.
fn print_answer(
    status: u16,
    headers: &http::HeaderMap,
    body: &[u8],
    fields: Option<&Value>,
    args: &CallArgs,
) -> crate::CliResult {
    let mut out = String::new();
    if args.include {
        let reason = http::StatusCode::from_u16(status).ok();
        out.push_str(&format!(
            "HTTP {status} {}\n",
            reason.and_then(|s| s.canonical_reason()).unwrap_or("")
        ));
        for line in header_lines(headers) {
            out.push_str(&line);
            out.push('\n');
        }
        out.push('\n');
    }
    if body.is_empty() {
        return output::print_bytes(out.as_bytes());
    }
    let pretty = args.layout.pretty();
    let json = match fields {
        _ if args.raw => None,
        Some(fields) if pretty => serde_json::to_string_pretty(fields).ok(),
        Some(fields) => serde_json::to_string(fields).ok(),
        None => output::reformat(body, pretty),
    };
    match json {
        Some(json) => {
            out.push_str(&json);
            out.push('\n');
            output::print_bytes(out.as_bytes())
        }
        None => {
            // Not JSON (a bill, an image): the bytes as they came.
            let mut bytes = out.into_bytes();
            bytes.extend_from_slice(body);
            output::print_bytes(&bytes)
        }
    }
}

/// The request as it would go out: request line, headers, a blank line, the body.
fn request_text(prepared: &Prepared) -> Vec<u8> {
    let mut out = format!("{} {}\n", prepared.method(), prepared.url()).into_bytes();
    for line in header_lines(prepared.headers()) {
        out.extend_from_slice(line.as_bytes());
        out.push(b'\n');
    }
    out.push(b'\n');
    if !prepared.body().is_empty() {
        out.extend_from_slice(prepared.body());
        out.push(b'\n');
    }
    out
}

/// The dry run: the request as it would go out, then the signed message, byte for byte.
fn print_dry_run(prepared: &Prepared) -> crate::CliResult {
    if prepared.is_apiv2() {
        return print_dry_run_apiv2(prepared);
    }
    let auth = prepared
        .headers()
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| wechatpay::sign::Authorization::parse(v).ok())
        .ok_or_else(|| Failure::other("the prepared request has no Authorization header"))?;
    let message = wechatpay::sign::request_message(
        prepared.method().as_str(),
        prepared.target(),
        auth.timestamp,
        &auth.nonce_str,
        prepared.body(),
    );
    let mut out = request_text(prepared);
    out.extend_from_slice(b"\n--- signed message (METHOD\\nTARGET\\nTIMESTAMP\\nNONCE\\nBODY\\n), to the end ---\n");
    out.extend_from_slice(&message);
    output::print_bytes(&out)
}

/// The APIv2 dry run: the request as it would go out, whether it presents the TLS client certificate, and
/// the string its `sign` is the digest of — without the `&key=…` that follows it, the APIv2 key.
fn print_dry_run_apiv2(prepared: &Prepared) -> crate::CliResult {
    let mut out = request_text(prepared);
    out.extend_from_slice(
        format!(
            "\n--- APIv2: no Authorization header; the TLS client certificate is {} ---\n",
            if prepared.presents_client_certificate() {
                "presented"
            } else {
                "not presented"
            }
        )
        .as_bytes(),
    );
    // The fields are the body's, or a GET's query.
    let fields: Option<Vec<(String, String)>> = if prepared.body().is_empty() {
        Some(prepared.url().query_pairs().into_owned().collect())
    } else {
        std::str::from_utf8(prepared.body())
            .ok()
            .and_then(|xml| quick_xml::de::from_str::<std::collections::BTreeMap<String, String>>(xml).ok())
            .map(|fields| fields.into_iter().collect())
    };
    if let Some(fields) = fields {
        let sign_type = fields
            .iter()
            .find(|(name, _)| name == "sign_type")
            .map_or("MD5", |(_, value)| value.as_str());
        out.extend_from_slice(
            format!(
                "--- signed string: `sign` is the {sign_type} of it followed by `&key=` and the APIv2 key \
                 (not shown) ---\n{}\n",
                wechatpay::apiv2::query_string_like(fields.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            )
            .as_bytes(),
        );
    }
    output::print_bytes(&out)
}

fn log_request(prepared: &Prepared) {
    eprintln!("> {} {}", prepared.method(), prepared.url());
    for (name, value) in prepared.headers() {
        if name == http::header::AUTHORIZATION {
            eprintln!("> authorization: WECHATPAY2-SHA256-RSA2048 (signed when sent)");
        } else {
            eprintln!("> {name}: {}", String::from_utf8_lossy(value.as_bytes()));
        }
    }
    if prepared.is_apiv2() {
        let certificate = if prepared.presents_client_certificate() {
            ", with the TLS client certificate"
        } else {
            ""
        };
        eprintln!("> (APIv2: signed by its `sign` field{certificate})");
    }
    eprintln!("> ({} body bytes)", prepared.body().len());
}

fn log_answer(result: &wechatpay::Result<Response>, started: Instant) {
    let elapsed = started.elapsed().as_millis();
    match result {
        Ok(response) => {
            eprintln!("< HTTP {} ({elapsed} ms, verified)", response.status());
            for line in header_lines(response.headers()) {
                eprintln!("< {line}");
            }
            eprintln!("< ({} body bytes)", response.bytes().len());
        }
        // An APIv2 FAIL comes in a 2xx answer, without a Request-ID.
        Err(e) if e.is_api() && e.status().is_some_and(|s| (200..300).contains(&s)) => eprintln!(
            "< HTTP {} ({elapsed} ms), APIv2 FAIL {}",
            e.status().unwrap_or(0),
            e.code().unwrap_or("-")
        ),
        Err(e) if e.is_api() => eprintln!(
            "< HTTP {} ({elapsed} ms), Request-ID {}",
            e.status().unwrap_or(0),
            e.request_id().unwrap_or("-")
        ),
        Err(e) => eprintln!("* failed after {elapsed} ms: {e}"),
    }
}
