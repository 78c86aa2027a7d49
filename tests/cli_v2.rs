//! `wxpay` and APIv2 (`v2/…` paths, XML): what needs no APIv2 server — dry runs, usage and configuration
//! errors, and how `config show` hides the APIv2 secrets. Nothing here is sent: dry runs print the request,
//! and every other case fails before sending.
#![cfg(all(feature = "cli", unix))]

mod common;

use common::{assert_exit, stderr, stdout, Sandbox};

use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::{json, Value};
use wechatpay::apiv2::{self, SignType};

const MCHID: &str = "1900000109";
const APIV2_KEY: &str = "exposed_your_key_here_have_risks";
/// Where a dry run's URL points: nothing is ever sent there.
const NOWHERE: &str = "http://127.0.0.1:9/";

/// An APIv2-only configuration, from the environment.
fn v2_env() -> Vec<(&'static str, String)> {
    vec![
        ("WECHATPAY_MCHID", MCHID.to_owned()),
        ("WECHATPAY_APIV2_KEY", APIV2_KEY.to_owned()),
        ("WECHATPAY_BASE_URI", NOWHERE.to_owned()),
    ]
}

fn fixture(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
        .display()
        .to_string()
}

/// Runs `wxpay` with a clean environment (no WECHATPAY_*/WXPAY_* but `env`), piped stdio.
fn wxpay(args: &[&str], env: &[(&str, String)], stdin: Option<&[u8]>) -> Output {
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    common::run_wxpay(args, &env, stdin, "cli-v2")
}

fn micropay() -> Value {
    json!({"appid": "wx8888888888888888", "mch_id": MCHID, "body": "image形象店-深圳腾大- QQ公仔",
        "out_trade_no": "1217752501201407033233368018", "total_fee": 888, "spbill_create_ip": "8.8.8.8",
        "auth_code": "120061098828009406"})
}

/// The `<name>value</name>` children of a flat `<xml>` as the CLI's dry run prints it (no CDATA here).
fn xml_fields(xml: &str) -> Vec<(String, String)> {
    let inner = xml
        .strip_prefix("<xml>")
        .and_then(|x| x.strip_suffix("</xml>"))
        .expect("an <xml> root");
    let mut fields = Vec::new();
    let mut rest = inner;
    while let Some(open) = rest.strip_prefix('<') {
        let (name, after) = open.split_once('>').unwrap();
        let close = format!("</{name}>");
        let (value, after) = after.split_once(close.as_str()).unwrap();
        fields.push((name.to_owned(), value.to_owned()));
        rest = after;
    }
    assert!(rest.is_empty(), "unparsed: {rest}");
    fields
}

/// A dry run's parts: the request line, the header lines, the body, and what follows the request.
struct DryRun {
    request_line: String,
    headers: Vec<String>,
    body: String,
    trailer: String,
}

fn dry_run_parts(text: &str) -> DryRun {
    let (request, trailer) = text.split_once("\n--- APIv2: ").expect("the APIv2 trailer");
    let (head, body) = request.split_once("\n\n").expect("a blank line after the headers");
    let mut lines = head.lines();
    let request_line = lines.next().unwrap().to_owned();
    let headers = lines.map(str::to_owned).collect();
    DryRun {
        request_line,
        headers,
        // The body, when there is one, is followed by a newline and a blank line.
        body: body.trim_end_matches('\n').to_owned(),
        trailer: trailer.to_owned(),
    }
}

#[test]
fn dry_run_of_micropay_with_mchid_and_apiv2_key_alone_shows_the_signed_xml() {
    let fields = micropay().to_string();
    let out = wxpay(
        &["post", "v2/pay/micropay", "--xml", &fields, "--dry-run"],
        &v2_env(),
        None,
    );
    assert_exit(&out, 0);
    let text = stdout(&out);
    let dry = dry_run_parts(&text);
    assert_eq!(dry.request_line, format!("POST {NOWHERE}pay/micropay"));
    assert!(
        !dry.headers
            .iter()
            .any(|h| h.to_lowercase().starts_with("authorization:")),
        "APIv2 has no Authorization header: {text}"
    );
    assert!(
        dry.headers.iter().any(|h| h.starts_with("content-type: text/xml")),
        "{text}"
    );

    // The fields as given, in order, then nonce_str and sign; the sign checks out under the APIv2 key.
    let sent = xml_fields(&dry.body);
    let names: Vec<&str> = sent.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "appid",
            "mch_id",
            "body",
            "out_trade_no",
            "total_fee",
            "spbill_create_ip",
            "auth_code",
            "nonce_str",
            "sign"
        ]
    );
    assert!(dry.body.contains("<total_fee>888</total_fee>"), "{}", dry.body);
    assert!(
        dry.body.contains("<body>image形象店-深圳腾大- QQ公仔</body>"),
        "{}",
        dry.body
    );
    assert!(apiv2::verify(SignType::Md5, sent.clone(), APIV2_KEY), "{}", dry.body);

    // The trailer: no client certificate, and the string signed (without the key).
    assert!(
        dry.trailer
            .starts_with("no Authorization header; the TLS client certificate is not presented ---\n"),
        "{}",
        dry.trailer
    );
    let joined = apiv2::query_string_like(sent.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    assert!(
        dry.trailer.ends_with(&format!("(not shown) ---\n{joined}\n")),
        "{}",
        dry.trailer
    );
    assert!(dry.trailer.contains("MD5"), "{}", dry.trailer);
    assert!(!text.contains(APIV2_KEY), "the APIv2 key never shows");
}

#[test]
fn dry_run_reads_xml_from_a_file_and_stdin_and_follows_sign_type() {
    let dir = common::temp_dir("cli-v2-files");
    std::fs::create_dir_all(&dir).unwrap();
    let mut fields = micropay();
    fields["sign_type"] = json!("HMAC-SHA256");
    let file = dir.join("micropay.json");
    std::fs::write(&file, format!("{fields}\n")).unwrap();
    let from_file = format!("@{}", file.display());
    for (spec, stdin) in [(from_file.as_str(), None), ("-", Some(fields.to_string()))] {
        let out = wxpay(
            &["post", "v2/pay/micropay", "--xml", spec, "--dry-run"],
            &v2_env(),
            stdin.as_deref().map(str::as_bytes),
        );
        assert_exit(&out, 0);
        let dry = dry_run_parts(&stdout(&out));
        let sent = xml_fields(&dry.body);
        let sign = &sent.last().unwrap().1;
        assert_eq!(sign.len(), 64, "HMAC-SHA256: {}", dry.body);
        assert!(apiv2::verify(SignType::HmacSha256, sent.clone(), APIV2_KEY));
        assert!(dry.trailer.contains("HMAC-SHA256"), "{}", dry.trailer);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_v2_get_signs_its_query() {
    let out = wxpay(
        &[
            "get",
            "v2/papay/querycontract",
            "--query",
            &format!("mch_id={MCHID}"),
            "--query",
            "appid=wx1",
            "--query",
            "contract_id=a b",
            "--dry-run",
        ],
        &v2_env(),
        None,
    );
    assert_exit(&out, 0);
    let dry = dry_run_parts(&stdout(&out));
    assert!(dry.body.is_empty(), "a GET has no body: {}", dry.body);
    let url = url::Url::parse(dry.request_line.strip_prefix("GET ").unwrap()).unwrap();
    assert_eq!(url.path(), "/papay/querycontract");
    let query: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    let names: Vec<&str> = query.iter().map(|(n, _)| n.as_str()).collect();
    // querycontract is documented as nonceless.
    assert_eq!(names, ["mch_id", "appid", "contract_id", "sign"]);
    assert!(apiv2::verify(SignType::Md5, query, APIV2_KEY));
}

#[test]
fn the_api_of_the_path_decides_the_body_flag() {
    let fields = micropay().to_string();
    let env = v2_env();
    let cases: [(&[&str], &str); 7] = [
        (&["post", "v3/pay/transactions/native", "--xml", &fields], "--xml"),
        (&["post", "v2/pay/micropay", "--json", &fields], "--json"),
        (&["get", "v2/pay/orderquery", "--xml", &fields], "--query"),
        (&["post", "v3/x", "--security", "--json", "{}"], "--security"),
        (&["post", "v2/pay/micropay", "--xml", "[1, 2]"], "JSON object"),
        (&["post", "v2/pay/micropay", "--xml", "{not json"], "not valid JSON"),
        (&["post", "v2/pay/micropay", "--xml", "@/no/such/file.json"], "--xml"),
    ];
    for (args, needle) in cases {
        let mut args = args.to_vec();
        args.push("--dry-run");
        let out = wxpay(&args, &env, None);
        assert_exit(&out, 2);
        let err = stderr(&out);
        assert!(err.contains(needle), "{args:?}: {err}");
        assert!(out.stdout.is_empty(), "{args:?}: {}", stdout(&out));
    }
    // Both at once: clap's conflict.
    let out = wxpay(
        &["post", "v2/pay/micropay", "--xml", &fields, "--json", &fields],
        &env,
        None,
    );
    assert_exit(&out, 2);
    // And the library's own refusals of a v2 request are usage errors too (another merchant's mch_id).
    let mut other = micropay();
    other["mch_id"] = json!("1230000109");
    let out = wxpay(
        &["post", "v2/pay/micropay", "--xml", &other.to_string(), "--dry-run"],
        &env,
        None,
    );
    assert_exit(&out, 2);
    assert!(stderr(&out).contains("1230000109"), "{}", stderr(&out));
}

#[test]
fn apiv2_needs_its_key_and_apiv3_keeps_its_messages() {
    let fields = micropay().to_string();
    let v2 = ["post", "v2/pay/micropay", "--xml", &fields, "--dry-run"];
    // No APIv2 key: a configuration error naming every way to give it.
    let out = wxpay(
        &v2,
        &[
            ("WECHATPAY_MCHID", MCHID.to_owned()),
            ("WECHATPAY_BASE_URI", NOWHERE.to_owned()),
        ],
        None,
    );
    assert_exit(&out, 3);
    let err = stderr(&out);
    assert!(err.contains("no APIv2 key configured"), "{err}");
    assert!(
        err.contains("--apiv2-key") && err.contains("WECHATPAY_APIV2_KEY") && err.contains("`apiv2_key`"),
        "{err}"
    );
    // A bad one is refused without being shown.
    let mut env = v2_env();
    env[1].1 = "short-and-secret".to_owned();
    let out = wxpay(&v2, &env, None);
    assert_exit(&out, 3);
    assert!(!stderr(&out).contains("short-and-secret"), "{}", stderr(&out));
    // The key as a flag, the rest from env.
    let mut args = vec!["--apiv2-key", APIV2_KEY];
    args.extend(v2);
    let without_key: Vec<_> = v2_env()
        .into_iter()
        .filter(|(k, _)| *k != "WECHATPAY_APIV2_KEY")
        .collect();
    let out = wxpay(&args, &without_key, None);
    assert_exit(&out, 0);
    // No mchid: the message it always had.
    let out = wxpay(&v2, &[("WECHATPAY_APIV2_KEY", APIV2_KEY.to_owned())], None);
    assert_exit(&out, 3);
    assert!(stderr(&out).contains("WECHATPAY_MCHID"), "{}", stderr(&out));

    // An APIv2-only configuration on an APIv3 path: the APIv3 message, and why the APIv2 key does not do.
    let out = wxpay(&["get", "v3/certificates", "--dry-run"], &v2_env(), None);
    assert_exit(&out, 3);
    let err = stderr(&out);
    assert!(
        err.contains("no merchant certificate serial configured") && err.contains("WECHATPAY_SERIAL"),
        "{err}"
    );
    assert!(err.contains("APIv2 (`v2/…`) paths only"), "{err}");
}

#[test]
fn a_v2_call_ignores_the_apiv3_settings() {
    // A broken APIv3 key does not stop an APIv2 call, which does not use it.
    let mut env = v2_env();
    env.push(("WECHATPAY_SERIAL", "ABC123".to_owned()));
    env.push(("WECHATPAY_PRIVATE_KEY", "/no/such/key.pem".to_owned()));
    let fields = micropay().to_string();
    let out = wxpay(&["post", "v2/pay/micropay", "--xml", &fields, "--dry-run"], &env, None);
    assert_exit(&out, 0);
    let out = wxpay(&["get", "v3/certificates", "--dry-run"], &env, None);
    assert_exit(&out, 3);
}

#[test]
fn a_security_endpoint_without_a_client_certificate_fails_before_sending() {
    let refund = json!({"appid": "wx8888888888888888", "mch_id": MCHID, "out_trade_no": "1217752501201407033233368018",
        "out_refund_no": "R1217752501201407033233368018", "total_fee": 888, "refund_fee": 888})
    .to_string();
    // Not a dry run: were it sent, the closed port would make it a transport error (6).
    let port = common::closed_port();
    let mut env = v2_env();
    env[2].1 = format!("http://127.0.0.1:{}/", port.port);
    for extra in [&[][..], &["--dry-run"]] {
        let mut args = vec!["post", "v2/secapi/pay/refund", "--xml", &refund];
        args.extend(extra);
        let out = wxpay(&args, &env, None);
        assert_exit(&out, 3);
        let err = stderr(&out);
        assert!(err.contains("merchant_cert"), "{err}");
        assert!(
            err.contains("WECHATPAY_MERCHANT_CERT") && err.contains("merchant_p12"),
            "{err}"
        );
        assert!(out.stdout.is_empty());
    }
    // --security asks for it on any endpoint.
    let fields = json!({"appid": "wx8888888888888888", "mch_id": MCHID, "out_trade_no": "1"}).to_string();
    let out = wxpay(
        &["post", "v2/pay/orderquery", "--xml", &fields, "--security", "--dry-run"],
        &env,
        None,
    );
    assert_exit(&out, 3);
    assert!(stderr(&out).contains("merchant_cert"), "{}", stderr(&out));
}

#[test]
fn a_configured_client_certificate_is_presented_where_needed() {
    // The fixtures' self-signed certificate and its key stand in for apiclient_cert.pem and apiclient_key.pem.
    let mut env = v2_env();
    env.push(("WECHATPAY_MERCHANT_CERT", fixture("platform_cert.pem")));
    env.push(("WECHATPAY_MERCHANT_KEY", fixture("platform_key.pem")));
    let refund = json!({"mch_id": MCHID, "out_refund_no": "R1", "total_fee": 1, "refund_fee": 1}).to_string();
    let out = wxpay(
        &["post", "v2/secapi/pay/refund", "--xml", &refund, "--dry-run"],
        &env,
        None,
    );
    assert_exit(&out, 0);
    let dry = dry_run_parts(&stdout(&out));
    assert!(
        dry.trailer
            .starts_with("no Authorization header; the TLS client certificate is presented ---"),
        "{}",
        dry.trailer
    );
    assert_eq!(dry.request_line, format!("POST {NOWHERE}secapi/pay/refund"));
    // Not on an endpoint that does not need it, unless asked.
    let query = json!({"mch_id": MCHID, "out_trade_no": "1"}).to_string();
    for (flag, presented) in [(None, false), (Some("--security"), true)] {
        let mut args = vec!["post", "v2/pay/orderquery", "--xml", &query, "--dry-run"];
        args.extend(flag);
        let out = wxpay(&args, &env, None);
        assert_exit(&out, 0);
        let dry = dry_run_parts(&stdout(&out));
        assert_eq!(
            dry.trailer.contains("certificate is presented"),
            presented,
            "{flag:?}: {}",
            dry.trailer
        );
    }

    // Flags name the files as well; a certificate and a key that do not belong together are refused.
    let out = wxpay(
        &[
            "--merchant-cert",
            &fixture("platform_cert.pem"),
            "--merchant-key",
            &fixture("merchant_key.pem"),
            "post",
            "v2/secapi/pay/refund",
            "--xml",
            &refund,
            "--dry-run",
        ],
        &v2_env(),
        None,
    );
    assert_exit(&out, 3);
    assert!(stderr(&out).contains("do not belong together"), "{}", stderr(&out));
    // A certificate without its key.
    let out = wxpay(
        &["post", "v2/secapi/pay/refund", "--xml", &refund, "--dry-run"],
        &[
            v2_env(),
            vec![("WECHATPAY_MERCHANT_CERT", fixture("platform_cert.pem"))],
        ]
        .concat(),
        None,
    );
    assert_exit(&out, 3);
    assert!(stderr(&out).contains("go together"), "{}", stderr(&out));
    // An encrypted key is opened with its passphrase (it then turns out not to be this certificate's).
    let encrypted = [
        ("WECHATPAY_MERCHANT_CERT", fixture("platform_cert.pem")),
        ("WECHATPAY_MERCHANT_KEY", fixture("merchant_key_encrypted.pem")),
    ];
    for (passphrase, says) in [("wechatpay", "do not belong together"), ("wrong-secret", "")] {
        let mut env = [v2_env(), encrypted.to_vec()].concat();
        env.push(("WECHATPAY_MERCHANT_KEY_PASSPHRASE", passphrase.to_owned()));
        let out = wxpay(
            &["post", "v2/secapi/pay/refund", "--xml", &refund, "--dry-run"],
            &env,
            None,
        );
        assert_exit(&out, 3);
        let err = stderr(&out);
        assert!(err.contains(says), "{passphrase}: {err}");
        assert!(!err.contains(passphrase), "the passphrase never shows: {err}");
    }
    // A PKCS#12 file that is not there.
    let out = wxpay(
        &["post", "v2/secapi/pay/refund", "--xml", &refund, "--dry-run"],
        &[
            v2_env(),
            vec![("WECHATPAY_MERCHANT_P12", "/no/such/apiclient_cert.p12".to_owned())],
        ]
        .concat(),
        None,
    );
    assert_exit(&out, 3);
    assert!(stderr(&out).contains("/no/such/apiclient_cert.p12"), "{}", stderr(&out));
}

#[test]
fn a_ca_certificate_is_read_and_checked() {
    let fields = micropay().to_string();
    let call = ["post", "v2/pay/micropay", "--xml", &fields, "--dry-run"];
    let mut env = v2_env();
    env.push(("WECHATPAY_CA_CERT", fixture("platform_cert.pem")));
    assert_exit(&wxpay(&call, &env, None), 0);
    env.last_mut().unwrap().1 = fixture("merchant_key.pem");
    assert_exit(&wxpay(&call, &env, None), 3);
    env.last_mut().unwrap().1 = "/no/such/ca.pem".to_owned();
    let out = wxpay(&call, &env, None);
    assert_exit(&out, 3);
    assert!(stderr(&out).contains("/no/such/ca.pem"), "{}", stderr(&out));
}

#[test]
fn config_show_hides_the_apiv2_secrets_and_files_take_the_apiv2_keys() {
    let dir = common::temp_dir("cli-v2-config");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("v2.json");
    std::fs::write(
        &file,
        json!({"mchid": MCHID, "merchant_cert": "certs/apiclient_cert.pem", "merchant_key": "certs/apiclient_key.pem",
            "merchant_key_passphrase": "key-passphrase-secret", "merchant_p12_passphrase": "p12-passphrase-secret",
            "ca_cert": "/etc/ssl/proxy.pem"})
        .to_string(),
    )
    .unwrap();
    let out = wxpay(
        &["--config", file.to_str().unwrap(), "config", "show"],
        &[("WECHATPAY_APIV2_KEY", APIV2_KEY.to_owned())],
        None,
    );
    assert_exit(&out, 0);
    let text = stdout(&out);
    let shown: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(shown["apiv2_key"], "<hidden>", "{shown}");
    assert_eq!(shown["merchant_key_passphrase"], "<hidden>", "{shown}");
    assert_eq!(shown["merchant_p12_passphrase"], "<hidden>", "{shown}");
    for secret in [APIV2_KEY, "key-passphrase-secret", "p12-passphrase-secret"] {
        assert!(!text.contains(secret), "{secret} in {text}");
    }
    assert_eq!(shown["sources"]["apiv2_key"], "env", "{shown}");
    // Paths in a file are relative to it.
    let cert = shown["merchant_cert"].as_str().unwrap();
    assert_eq!(Path::new(cert), dir.join("certs/apiclient_cert.pem"), "{shown}");
    assert_eq!(shown["ca_cert"], "/etc/ssl/proxy.pem");
    assert!(shown["sources"]["merchant_key"]
        .as_str()
        .unwrap()
        .starts_with("--config "));

    // Inline PEM hides too; flags are a layer like the others.
    let pem = std::fs::read_to_string(fixture("platform_key.pem")).unwrap();
    let out = wxpay(
        &[
            "config",
            "show",
            "--apiv2-key",
            APIV2_KEY,
            "--merchant-p12",
            "/x/apiclient_cert.p12",
        ],
        &[("WECHATPAY_MERCHANT_KEY", pem.clone())],
        None,
    );
    assert_exit(&out, 0);
    let text = stdout(&out);
    let shown: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(shown["merchant_key"], "<inline key, hidden>", "{shown}");
    assert_eq!(shown["apiv2_key"], "<hidden>");
    assert_eq!(shown["sources"]["apiv2_key"], "flag");
    assert_eq!(shown["merchant_p12"], "/x/apiclient_cert.p12");
    assert!(
        !text.contains(APIV2_KEY) && !text.contains(pem.lines().nth(1).unwrap()),
        "{text}"
    );

    // A misspelt APIv2 key is caught with the key meant.
    let typo = dir.join("typo.json");
    std::fs::write(&typo, json!({"mchid": MCHID, "apiv2Key": APIV2_KEY}).to_string()).unwrap();
    let out = wxpay(&["--config", typo.to_str().unwrap(), "config", "show"], &[], None);
    assert_exit(&out, 3);
    assert!(
        stderr(&out).contains("`apiv2Key` (did you mean `apiv2_key`?)"),
        "{}",
        stderr(&out)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_v2_configuration_from_a_file_makes_calls() {
    let dir = common::temp_dir("cli-v2-file");
    std::fs::create_dir_all(&dir).unwrap();
    let file: PathBuf = dir.join("v2.json");
    std::fs::write(
        &file,
        json!({"mchid": MCHID, "apiv2_key": APIV2_KEY, "base_uri": NOWHERE}).to_string(),
    )
    .unwrap();
    let fields = micropay().to_string();
    let out = wxpay(
        &[
            "--config",
            file.to_str().unwrap(),
            "post",
            "v2/pay/micropay",
            "--xml",
            &fields,
            "--dry-run",
        ],
        &[],
        None,
    );
    assert_exit(&out, 0);
    assert!(stdout(&out).contains("<sign>"), "{}", stdout(&out));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn help_shows_the_apiv2_flags() {
    let out = wxpay(&["post", "--help"], &[], None);
    assert_exit(&out, 0);
    let help = stdout(&out);
    for flag in [
        "--xml",
        "--security",
        "--raw",
        "--apiv2-key",
        "--merchant-cert",
        "--merchant-key",
        "--merchant-p12",
        "--ca-cert",
    ] {
        assert!(help.contains(flag), "{flag}: {help}");
    }
    // Before the command, as after it; refused where unused.
    let out = wxpay(&["--apiv2-key", APIV2_KEY, "config", "show"], &[], None);
    assert_exit(&out, 0);
    let out = wxpay(
        &["--apiv2-key", APIV2_KEY, "mock", "serve", "--addr", "192.0.2.1:9"],
        &[],
        None,
    );
    assert_exit(&out, 2);
    assert!(stderr(&out).contains("--apiv2-key"), "{}", stderr(&out));
    assert!(!stderr(&out).contains(APIV2_KEY));
}

#[test]
fn against_the_sandbox_answers_print_as_json_fields_raw_xml_or_bills() {
    let sandbox = Sandbox::start("cli-v2-sandbox");
    let apiv2_key = sandbox.info["apiv2_key"]
        .as_str()
        .expect("the sandbox prints its APIv2 key");
    let mchid = sandbox.info["mchid"].as_str().unwrap();
    let mut pay = micropay();
    pay["mch_id"] = json!(mchid);

    // The sandbox's configuration is a mixed one: the v2 call uses its APIv2 key.
    let out = sandbox.run(&["post", "v2/pay/micropay", "--xml", &pay.to_string(), "-v"]);
    assert_exit(&out, 0);
    let text = stdout(&out);
    assert_eq!(text.lines().count(), 1, "compact when piped: {text}");
    let paid: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(paid["result_code"], "SUCCESS", "{paid}");
    assert_eq!(paid["total_fee"], "888", "fields are text: {paid}");
    assert!(paid["transaction_id"].is_string(), "{paid}");
    let log = stderr(&out);
    assert!(
        log.contains("> POST http://") && log.contains("(APIv2: signed by its `sign` field)"),
        "{log}"
    );
    assert!(!log.contains(apiv2_key) && !text.contains(apiv2_key));

    // --raw: the XML as received.
    pay["out_trade_no"] = json!("1217752501201407033233368019");
    let out = sandbox.run(&["post", "v2/pay/micropay", "--xml", &pay.to_string(), "--raw"]);
    assert_exit(&out, 0);
    let raw = stdout(&out);
    assert!(
        raw.starts_with("<xml>") && raw.contains("<result_code>SUCCESS</result_code>"),
        "{raw}"
    );

    // A FAIL: exit 4, WeChat Pay's code and message on stderr; with -i, the fields on stdout too.
    let query = json!({"appid": "wx8888888888888888", "mch_id": mchid, "out_trade_no": "no-such-order"}).to_string();
    let out = sandbox.run(&["post", "v2/pay/orderquery", "--xml", &query]);
    assert_exit(&out, 4);
    let err = stderr(&out);
    assert!(err.starts_with("wxpay: API error: APIv2 FAIL"), "{err}");
    assert!(err.contains("code: ORDERNOTEXIST"), "{err}");
    assert!(out.stdout.is_empty());
    let out = sandbox.run(&["post", "v2/pay/orderquery", "--xml", &query, "-i"]);
    assert_exit(&out, 4);
    let text = stdout(&out);
    let (head, body) = text.split_once("\n\n").expect("a head, a blank line, then the fields");
    assert!(head.starts_with("HTTP 200 OK"), "{head}");
    let fields: Value = serde_json::from_str(body).unwrap();
    assert_eq!(fields["err_code"], "ORDERNOTEXIST", "{fields}");

    // A bill is no XML: it prints as it came.
    let day = &paid["time_end"].as_str().unwrap()[..8];
    let bill =
        json!({"appid": "wx8888888888888888", "mch_id": mchid, "bill_date": day, "bill_type": "ALL"}).to_string();
    let out = sandbox.run(&["post", "v2/pay/downloadbill", "--xml", &bill]);
    assert_exit(&out, 0);
    let text = stdout(&out);
    assert!(
        text.contains("交易时间") && text.contains(paid["transaction_id"].as_str().unwrap()),
        "{text}"
    );
}

#[test]
fn mock_serve_tls_gives_everything_a_client_needs_for_security_endpoints() {
    let sandbox = Sandbox::start_with("cli-v2-tls", &["--tls"]);
    let info = &sandbox.info;
    assert!(
        info["base_uri"].as_str().unwrap().starts_with("https://127.0.0.1:"),
        "{info}"
    );
    for file in ["merchant_cert", "merchant_key", "merchant_p12", "ca_cert"] {
        assert!(
            std::path::Path::new(info[file].as_str().unwrap()).is_file(),
            "{file}: {info}"
        );
    }
    let mchid = info["mchid"].as_str().unwrap();
    let mut pay = micropay();
    pay["mch_id"] = json!(mchid);
    let out = sandbox.run(&["post", "v2/pay/micropay", "--xml", &pay.to_string()]);
    assert_exit(&out, 0);
    let refund = json!({"appid": "wx8888888888888888", "mch_id": mchid, "out_trade_no": pay["out_trade_no"],
        "out_refund_no": "R1217752501201407033233368018", "total_fee": 888, "refund_fee": 88});
    let out = sandbox.run(&["post", "v2/secapi/pay/refund", "--xml", &refund.to_string()]);
    assert_exit(&out, 0);
    let refunded: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(refunded["refund_fee"], "88", "{refunded}");
}

#[test]
fn mock_pay_and_auto_pay_play_the_user() {
    let sandbox = Sandbox::start_with("cli-v2-pay", &["--auto-pay-after", "100ms"]);
    let base = sandbox.info["base_uri"].as_str().unwrap().to_owned();
    let mchid = sandbox.info["mchid"].as_str().unwrap().to_owned();
    let order = |no: &str| {
        json!({"appid": "wx8888888888888888", "mch_id": mchid, "body": "QQ公仔", "out_trade_no": no,
            "total_fee": 1, "spbill_create_ip": "8.8.8.8", "notify_url": "http://127.0.0.1:9/notify",
            "trade_type": "NATIVE"})
        .to_string()
    };
    let state = |no: &str| {
        let query = json!({"appid": "wx8888888888888888", "mch_id": mchid, "out_trade_no": no}).to_string();
        let out = sandbox.run(&["post", "v2/pay/orderquery", "--xml", &query]);
        assert_exit(&out, 0);
        serde_json::from_str::<Value>(&stdout(&out)).unwrap()["trade_state"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert_exit(
        &sandbox.run(&["post", "v2/pay/unifiedorder", "--xml", &order("MP1")]),
        0,
    );
    // Paid by the sandbox after 100 ms: waited for with a deadline no slow machine reaches.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while state("MP1") != "SUCCESS" {
        assert!(std::time::Instant::now() < deadline, "auto-pay within 60 s");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    // Paid by hand before auto-pay: `mock pay` then finds it already paid.
    assert_exit(
        &sandbox.run(&["post", "v2/pay/unifiedorder", "--xml", &order("MP2")]),
        0,
    );
    let first = wxpay(&["mock", "pay", "MP2", "--sandbox", &base], &[], None);
    let again = wxpay(&["mock", "pay", "MP2"], &[("WECHATPAY_BASE_URI", base.clone())], None);
    // One of the two (or auto-pay, on a very slow machine) paid it; a second payment is refused.
    assert!(first.status.success() || again.status.success() || state("MP2") == "SUCCESS");
    assert_exit(&again, 4);
    assert!(stderr(&again).contains("not waiting for payment"), "{}", stderr(&again));
    assert_eq!(state("MP2"), "SUCCESS");
    let unknown = wxpay(&["mock", "pay", "nope", "--sandbox", &base], &[], None);
    assert_exit(&unknown, 4);
    assert_exit(&wxpay(&["mock", "pay", "MP3"], &[], None), 2);
    assert_exit(&wxpay(&["mock", "serve", "--auto-pay-after", "soon"], &[], None), 2);
}
