//! `wxpay` as a user runs it: the binary against a sandbox it started (`wxpay mock serve`).
#![cfg(all(feature = "cli", unix))]

mod common;

use common::{assert_exit, stderr, stdout, Sandbox};

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{json, Value};

const WXPAY: &str = env!("CARGO_BIN_EXE_wxpay");
const OPENID: &str = "xsd3434454567676";
const APPID: &str = "wx1234567889999";
const COUPON: &str = "sxxe34343434";
const USER_COUPON: &str = "v3/marketing/busifavor/users/{openid}/coupons/{coupon_code}/appids/{appid}";

fn temp_dir(tag: &str) -> PathBuf {
    let dir = common::temp_dir(tag);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs `wxpay` with a clean environment (no WECHATPAY_*/WXPAY_* but `env`), piped stdio.
fn wxpay(args: &[&str], env: &[(&str, &str)], stdin: Option<&[u8]>) -> Output {
    common::run_wxpay(args, env, stdin, "cli")
}

/// A successful call's stdout, as JSON.
#[track_caller]
fn ok_json(out: &Output) -> Value {
    assert_exit(out, 0);
    let text = stdout(out);
    assert_eq!(text.lines().count(), 1, "compact when piped: {text}");
    serde_json::from_str(&text).expect("JSON on stdout")
}

fn send_payload() -> String {
    json!({"openid": OPENID, "appid": APPID, "stock_id": "100088",
        "out_request_no": "1002600620019090123143254435", "coupon_code": COUPON})
    .to_string()
}

fn coupon_state(sandbox: &Sandbox) -> Value {
    let out = sandbox.run(&[
        "get",
        USER_COUPON,
        "--param",
        &format!("openid={OPENID}"),
        "--param",
        &format!("coupon_code={COUPON}"),
        "--param",
        &format!("appid={APPID}"),
    ]);
    ok_json(&out)["coupon_state"].clone()
}

#[test]
fn the_seed_lifecycle_send_associate_disassociate_use() {
    let sandbox = Sandbox::start("lifecycle");
    let sent = ok_json(&sandbox.run(&["post", "v3/marketing/busifavor/coupons/send", "--json", &send_payload()]));
    assert_eq!(sent["coupon_code"], COUPON);
    assert_eq!(coupon_state(&sandbox), "SENDED");

    // associate from a file (@FILE)
    let link = |no: &str| {
        json!({"stock_id": "100088", "coupon_code": COUPON,
            "out_trade_no": "MCH_ORDER_20240520001", "out_request_no": no})
        .to_string()
    };
    let file = sandbox.dir.join("associate.json");
    std::fs::write(&file, format!("{}\n", link("1002600620019090123143254436"))).unwrap();
    let associated = ok_json(&sandbox.run(&[
        "post",
        "v3/marketing/busifavor/coupons/associate",
        "--json",
        &format!("@{}", file.display()),
    ]));
    assert!(associated["wechatpay_associate_time"].is_string(), "{associated}");

    // disassociate from stdin (-)
    let mut args = vec!["--config", sandbox.config.to_str().unwrap()];
    args.extend(["post", "v3/marketing/busifavor/coupons/disassociate", "--json", "-"]);
    let body = link("1002600620019090123143254437");
    let disassociated = ok_json(&wxpay(&args, &[], Some(body.as_bytes())));
    assert!(
        disassociated["wechatpay_disassociate_time"].is_string(),
        "{disassociated}"
    );

    // use: the seed 004 payload
    let used = ok_json(
        &sandbox.run(&[
            "post",
            "v3/marketing/busifavor/coupons/use",
            "--json",
            &json!({"coupon_code": COUPON, "stock_id": "100088", "appid": APPID,
            "use_time": "2015-05-20T13:29:35+08:00",
            "use_request_no": "1002600620019090123143254435", "openid": OPENID})
            .to_string(),
        ]),
    );
    assert_eq!(used["stock_id"], "100088", "{used}");
    assert!(used["wechatpay_use_time"].is_string(), "{used}");
    assert_eq!(coupon_state(&sandbox), "USED");
}

#[test]
fn placeholders_query_and_include() {
    let sandbox = Sandbox::start("placeholders");
    ok_json(&sandbox.run(&["post", "v3/marketing/busifavor/coupons/send", "--json", &send_payload()]));

    // Placeholders from --param, query from --query, in the order given.
    let list = ok_json(&sandbox.run(&[
        "get",
        "v3/marketing/busifavor/users/{openid}/coupons",
        "-p",
        &format!("openid={OPENID}"),
        "--query",
        &format!("appid={APPID}"),
        "-q",
        "limit=5",
    ]));
    assert_eq!(list["total_count"], 1, "{list}");
    assert_eq!(list["limit"], 5, "{list}");
    assert_eq!(list["data"][0]["coupon_code"], COUPON, "{list}");

    // -i: status line and headers first, then the body.
    let out = sandbox.run(&[
        "get",
        "v3/marketing/busifavor/stocks/{stock_id}",
        "--param",
        "stock_id=100088",
        "-i",
    ]);
    assert_exit(&out, 0);
    let text = stdout(&out);
    let (head, body) = text.split_once("\n\n").unwrap();
    assert!(head.starts_with("HTTP 200 OK\n"), "{head}");
    assert!(head.to_lowercase().contains("\nrequest-id: "), "{head}");
    assert!(
        head.to_lowercase().contains("\nwechatpay-serial: pub_key_id_"),
        "{head}"
    );
    let stock: Value = serde_json::from_str(body).unwrap();
    assert_eq!(stock["stock_id"], "100088");

    // --pretty on a pipe.
    let out = sandbox.run(&[
        "get",
        "v3/marketing/busifavor/stocks/{stock_id}",
        "-p",
        "stock_id=100088",
        "--pretty",
    ]);
    assert_exit(&out, 0);
    assert!(stdout(&out).lines().count() > 3);
}

#[test]
fn a_missing_placeholder_names_itself_and_the_ones_the_path_has() {
    let sandbox = Sandbox::start("missing");
    let out = sandbox.run(&["get", USER_COUPON, "--param", &format!("openid={OPENID}")]);
    assert_exit(&out, 2);
    let err = stderr(&out);
    assert!(err.contains("{coupon_code}") && err.contains("{appid}"), "{err}");
    assert!(
        err.contains("has the placeholders {openid}, {coupon_code}, {appid}"),
        "{err}"
    );
    assert!(out.stdout.is_empty());

    // A --param the path does not have: the library's error, with the list.
    let out = sandbox.run(&[
        "get",
        "v3/marketing/busifavor/stocks/{stock_id}",
        "-p",
        "stock_id=1",
        "-p",
        "nope=2",
    ]);
    assert_exit(&out, 2);
    let err = stderr(&out);
    assert!(err.contains("nope") && err.contains("{stock_id}"), "{err}");
}

#[test]
fn each_exit_code() {
    let sandbox = Sandbox::start("exits");

    // 4: an API error, with WeChat Pay's code, message and Request-ID on stderr.
    let out = sandbox.run(&["get", "v3/marketing/busifavor/stocks/{stock_id}", "-p", "stock_id=999"]);
    assert_exit(&out, 4);
    let err = stderr(&out);
    assert!(err.starts_with("wxpay: API error: HTTP 404"), "{err}");
    assert!(err.contains("code: RESOURCE_NOT_EXISTS"), "{err}");
    assert!(err.contains("message: "), "{err}");
    assert!(err.contains("Request-ID: 0"), "{err}");
    assert!(out.stdout.is_empty());

    // 5: an answer that does not verify (a config with the wrong WeChat Pay public key).
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let wrong = sandbox.config_with(
        "wrong.json",
        json!({"public_key": fixtures.join("platform_pub.pem").display().to_string()}),
    );
    let args = [
        "--config",
        wrong.to_str().unwrap(),
        "get",
        "v3/marketing/busifavor/stocks/100088",
    ];
    let out = wxpay(&args, &[], None);
    assert_exit(&out, 5);
    assert!(stderr(&out).contains("verification failed"), "{}", stderr(&out));
    assert!(out.stdout.is_empty());

    // 6: a transport error (a closed port, held closed so no other server can start there meanwhile).
    let port = common::closed_port();
    let closed = format!("http://127.0.0.1:{}/", port.port);
    let out = sandbox.run(&["--base-uri", &closed, "get", "v3/marketing/busifavor/stocks/100088"]);
    assert_exit(&out, 6);
    assert!(stderr(&out).contains("transport error"), "{}", stderr(&out));

    // 2: usage errors.
    for args in [
        vec!["get", "v3/marketing/busifavor/stocks/{stock_id}"],
        vec!["get", "v3/x", "--no-such-flag"],
        vec!["post", "v3/x", "--json", "{not json"],
        vec!["post", "v3/x", "--json", "@/no/such/file.json"],
        vec!["get", "v3/x", "--param", "novalue"],
        vec!["get", "v3/x", "--query", "=v"],
        vec!["get", "v3/x", "--header", "no-colon"],
        vec!["get", "https://api.mch.weixin.qq.com/v3/certificates"],
        vec!["get", "v3/x", "--header", "Authorization: mine"],
        vec!["--timeout", "0", "get", "v3/x"],
        vec!["frobnicate"],
    ] {
        let out = sandbox.run(&args);
        assert_exit(&out, 2);
        assert!(!stderr(&out).is_empty(), "{args:?}");
    }
    let out = sandbox.run(&["post", "v3/x", "--json", "{not json"]);
    assert!(stderr(&out).contains("not valid JSON"), "{}", stderr(&out));

    // 3: configuration errors.
    let out = wxpay(&["get", "v3/marketing/busifavor/stocks/100088"], &[], None);
    assert_exit(&out, 3);
    assert!(stderr(&out).contains("WECHATPAY_MCHID"), "{}", stderr(&out));
    let missing_key = sandbox.config_with("nokey.json", json!({"private_key": "/no/such/key.pem"}));
    let out = wxpay(&["--config", missing_key.to_str().unwrap(), "get", "v3/x"], &[], None);
    assert_exit(&out, 3);

    // 0, and the key material never shows.
    let out = sandbox.run(&["get", "v3/marketing/busifavor/stocks/100088", "-v"]);
    assert_exit(&out, 0);
    let key = std::fs::read_to_string(sandbox.info("private_key")).unwrap();
    let key_line = key.lines().nth(1).unwrap();
    let log = stderr(&out);
    assert!(log.contains("> GET http://") && log.contains("< HTTP 200"), "{log}");
    assert!(
        !log.contains(key_line) && !log.contains(sandbox.info("apiv3_key")),
        "{log}"
    );
}

#[test]
fn flags_win_over_env_over_file_and_profiles_under_all() {
    let sandbox = Sandbox::start("precedence");
    // A port held closed for the whole test (no other server can start there meanwhile).
    let port = common::closed_port();
    let closed = format!("http://127.0.0.1:{}/", port.port);
    let good = sandbox.info("base_uri").to_owned();
    let call = ["get", "v3/marketing/busifavor/stocks/100088"];
    let broken_file = sandbox.config_with("broken.json", json!({"base_uri": closed}));
    let file_args = |rest: &[&str]| -> Vec<String> {
        let mut v = vec!["--config".to_owned(), broken_file.display().to_string()];
        v.extend(rest.iter().map(|s| s.to_string()));
        v
    };
    let run = |args: Vec<String>, env: &[(&str, &str)]| {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        wxpay(&args, env, None)
    };

    // The file alone points at a closed port.
    assert_exit(&run(file_args(&call), &[]), 6);
    // The environment wins over the file.
    ok_json(&run(file_args(&call), &[("WECHATPAY_BASE_URI", &good)]));
    // A flag wins over the environment.
    let mut with_flag = file_args(&["--base-uri", &good]);
    with_flag.extend(call.iter().map(|s| s.to_string()));
    ok_json(&run(with_flag, &[("WECHATPAY_BASE_URI", &closed)]));
    let mut flag_broken = file_args(&["--base-uri", &closed]);
    flag_broken.extend(call.iter().map(|s| s.to_string()));
    assert_exit(&run(flag_broken, &[("WECHATPAY_BASE_URI", &good)]), 6);

    // `config show` says which layer each setting came from, and hides the APIv3 key.
    let shown = ok_json(&run(
        file_args(&["--mchid", "1900000109", "config", "show"]),
        &[("WECHATPAY_BASE_URI", &good), ("WECHATPAY_SERIAL", "ABC123")],
    ));
    assert_eq!(shown["sources"]["mchid"], "flag", "{shown}");
    assert_eq!(shown["sources"]["base_uri"], "env", "{shown}");
    assert_eq!(shown["serial"], "ABC123", "{shown}");
    assert!(
        shown["sources"]["private_key"]
            .as_str()
            .unwrap()
            .starts_with("--config "),
        "{shown}"
    );
    assert_eq!(shown["apiv3_key"], "<hidden>");
    assert!(!shown.to_string().contains(sandbox.info("apiv3_key")));

    // Everything from the environment, certificates as ID=PATH.
    let env = [
        ("WECHATPAY_MCHID", sandbox.info("mchid")),
        ("WECHATPAY_SERIAL", sandbox.info("serial")),
        ("WECHATPAY_PRIVATE_KEY", sandbox.info("private_key")),
        ("WECHATPAY_BASE_URI", &good),
        (
            "WECHATPAY_CERTS",
            &format!("{}={}", sandbox.info("public_key_id"), sandbox.info("public_key")),
        ),
    ];
    ok_json(&wxpay(&call, &env, None));

    // Profiles: saved from a file, used by name, below --config, env and flags.
    let profiles = sandbox.dir.join("profiles");
    let profiles_env = ("WXPAY_CONFIG_DIR", profiles.to_str().unwrap());
    let config = sandbox.config.display().to_string();
    assert_exit(
        &wxpay(
            &["--config", &config, "config", "save", "sandbox"],
            &[profiles_env],
            None,
        ),
        0,
    );
    let saved = std::fs::read_to_string(profiles.join("profiles.json")).unwrap();
    assert!(saved.contains("\"sandbox\""), "{saved}");
    use std::os::unix::fs::PermissionsExt as _;
    let mode = std::fs::metadata(profiles.join("profiles.json"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o077, 0, "the profiles file is private");
    let mut by_name = vec!["--profile", "sandbox"];
    by_name.extend(call);
    ok_json(&wxpay(&by_name, &[profiles_env], None));
    ok_json(&wxpay(&call, &[profiles_env, ("WXPAY_PROFILE", "sandbox")], None));
    assert_exit(
        &wxpay(&by_name, &[profiles_env, ("WECHATPAY_BASE_URI", &closed)], None),
        6,
    );
    let out = wxpay(&["--profile", "nope", "get", "v3/x"], &[profiles_env], None);
    assert_exit(&out, 3);
    assert!(
        stderr(&out).contains("sandbox"),
        "names the profiles there: {}",
        stderr(&out)
    );
}

#[test]
fn dry_run_prints_a_request_whose_signature_verifies() {
    let sandbox = Sandbox::start("dryrun");
    // A port held closed for the whole test (no other server can start there meanwhile).
    let port = common::closed_port();
    let closed = format!("http://127.0.0.1:{}/", port.port);
    let body = json!({"coupon_code": COUPON, "stock_id": "100088", "appid": APPID,
        "use_time": "2015-05-20T13:29:35+08:00", "use_request_no": "1002600620019090123143254435", "openid": OPENID})
    .to_string();
    // A closed port: nothing is sent, so a dry run still succeeds.
    let out = sandbox.run(&[
        "--base-uri",
        &closed,
        "post",
        "v3/marketing/busifavor/coupons/{action}",
        "-p",
        "action=use",
        "-q",
        "x=1 2",
        "--json",
        &body,
        "--dry-run",
    ]);
    assert_exit(&out, 0);
    let text = stdout(&out);
    let (request, message) = text
        .split_once("--- signed message (METHOD\\nTARGET\\nTIMESTAMP\\nNONCE\\nBODY\\n), to the end ---\n")
        .expect("a signed message section");
    let mut lines = request.lines();
    assert_eq!(
        lines.next().unwrap(),
        format!("POST {closed}v3/marketing/busifavor/coupons/use?x=1%202")
    );
    let authorization = lines
        .find_map(|l| l.strip_prefix("authorization: "))
        .expect("the Authorization header");
    let auth = wechatpay::sign::Authorization::parse(authorization).unwrap();
    assert_eq!(auth.mchid, sandbox.info("mchid"));
    assert_eq!(auth.serial_no, sandbox.info("serial"));
    assert_eq!(
        message,
        format!(
            "POST\n/v3/marketing/busifavor/coupons/use?x=1%202\n{}\n{}\n{body}\n",
            auth.timestamp, auth.nonce_str
        )
    );
    assert!(
        request.contains(&format!("\n\n{body}\n")),
        "the body as sent: {request}"
    );
    let merchant = wechatpay::PrivateKey::load(&format!("file://{}", sandbox.info("private_key"))).unwrap();
    assert!(merchant.public_key().verify(message.as_bytes(), &auth.signature));
    // A command signs with RustCrypto, so it never seeds AWS-LC's random generator (README: "A quick command
    // line"), whatever backend the library was built with.
    assert!(
        request.contains("user-agent: wechatpay-rs/")
            && request
                .lines()
                .any(|l| l.starts_with("user-agent:") && l.ends_with(" rust-crypto")),
        "{request}"
    );
    assert!(!text.contains("PRIVATE KEY") && !text.contains(sandbox.info("apiv3_key")));
}

#[test]
fn keys_serial_prints_the_upper_case_hex_serial() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let out = wxpay(
        &["keys", "serial", fixtures.join("platform_cert.pem").to_str().unwrap()],
        &[],
        None,
    );
    assert_exit(&out, 0);
    assert_eq!(stdout(&out), "5157F09EFDC096DE15EBE81A47057A7232F1B8E1\n");
    for (file, exit) in [("platform_pub.pem", 2), ("no_such.pem", 2)] {
        let out = wxpay(&["keys", "serial", fixtures.join(file).to_str().unwrap()], &[], None);
        assert_exit(&out, exit);
    }
}

#[test]
fn help_has_examples_and_exit_codes_and_completions_generate() {
    let out = wxpay(&["--help"], &[], None);
    assert_exit(&out, 0);
    let help = stdout(&out);
    for needle in [
        "v3/marketing/busifavor/coupons/send",
        "v3/marketing/busifavor/coupons/associate",
        "v3/marketing/busifavor/coupons/disassociate",
        "v3/marketing/busifavor/coupons/use",
        "Exit codes",
        "5  verification failed",
    ] {
        assert!(help.contains(needle), "{needle} in {help}");
    }
    for shell in ["bash", "zsh", "fish"] {
        let out = wxpay(&["completions", shell], &[], None);
        assert_exit(&out, 0);
        assert!(stdout(&out).contains("wxpay"));
    }
}

#[test]
fn certificates_download_bootstraps_a_certificate_mode_merchant() {
    let sandbox = Sandbox::start_with("certs", &["--certificate-mode"]);
    let serial = sandbox.info["certs"]
        .as_object()
        .unwrap()
        .keys()
        .next()
        .unwrap()
        .clone();
    // Only the merchant's own settings and the APIv3 key: no platform key to trust yet.
    let bare = sandbox.config_with(
        "bare.json",
        json!({"certs": null, "public_key_id": null, "public_key": null}),
    );
    let dir = sandbox.dir.join("downloaded");
    let out = wxpay(
        &[
            "--config",
            bare.to_str().unwrap(),
            "certificates",
            "download",
            "-o",
            dir.to_str().unwrap(),
        ],
        &[],
        None,
    );
    assert_exit(&out, 0);
    let text = stdout(&out);
    let fields: Vec<&str> = text.trim_end().split('\t').collect();
    let file = dir.join(format!("wechatpay_{serial}.pem"));
    assert_eq!(fields[0], serial, "{text}");
    assert!(
        fields[1].starts_with("20") && fields[2].starts_with("20"),
        "validity: {text}"
    );
    assert_eq!(fields[3], file.display().to_string());
    assert_eq!(
        stdout(&wxpay(&["keys", "serial", file.to_str().unwrap()], &[], None)).trim(),
        serial
    );
    // The downloaded certificate verifies the sandbox's answers.
    let cert = format!("{serial}={}", file.display());
    ok_json(&wxpay(
        &[
            "--config",
            bare.to_str().unwrap(),
            "--cert",
            &cert,
            "get",
            "v3/marketing/busifavor/stocks/100088",
        ],
        &[],
        None,
    ));

    // A wrong APIv3 key does not decrypt: verification (5); none at all: configuration (3).
    let args = [
        "--config",
        bare.to_str().unwrap(),
        "certificates",
        "download",
        "-o",
        dir.to_str().unwrap(),
    ];
    let out = wxpay(
        &args,
        &[("WECHATPAY_APIV3_KEY", "0123456789abcdef0123456789abcdef")],
        None,
    );
    assert_exit(&out, 5);
    assert!(!stderr(&out).contains("0123456789abcdef"), "{}", stderr(&out));
    let keyless = sandbox.config_with("keyless.json", json!({"apiv3_key": null}));
    let out = wxpay(
        &[
            "--config",
            keyless.to_str().unwrap(),
            "certificates",
            "download",
            "-o",
            dir.to_str().unwrap(),
        ],
        &[],
        None,
    );
    assert_exit(&out, 3);

    // Where WeChat Pay has no certificates (404), the public-key mode is explained.
    let nowhere = format!("{}hk/", sandbox.info("base_uri"));
    let out = sandbox.run(&[
        "--base-uri",
        &nowhere,
        "certificates",
        "download",
        "-o",
        dir.to_str().unwrap(),
    ]);
    assert_exit(&out, 4);
    let err = stderr(&out);
    assert!(
        err.contains("RESOURCE_NOT_EXISTS") && err.contains("PUB_KEY_ID_"),
        "{err}"
    );
}

/// Serves one HTTP request on `listener`, answers 204, and returns its head and body. Waits for the request
/// with deadlines no slow machine reaches (it comes in milliseconds): 60 s for the connection, and 60 s
/// for each read.
fn capture_one(listener: std::net::TcpListener) -> (String, Vec<u8>) {
    use std::io::Read as _;
    use std::time::{Duration, Instant};
    listener.set_nonblocking(true).unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut stream = loop {
        match listener.accept() {
            Ok((stream, _)) => break stream,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                assert!(Instant::now() < deadline, "no callback within 60 s");
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(e) => panic!("accept: {e}"),
        }
    };
    stream.set_nonblocking(false).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let mut data = Vec::new();
    let mut buf = [0u8; 8192];
    let head_end = loop {
        let n = stream.read(&mut buf).unwrap();
        assert!(n > 0, "the connection closed early");
        data.extend_from_slice(&buf[..n]);
        if let Some(i) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
    };
    let head = String::from_utf8(data[..head_end].to_vec()).unwrap();
    let length: usize = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(|v| v.trim().parse().unwrap())
        })
        .unwrap();
    let mut body = data[head_end + 4..].to_vec();
    while body.len() < length {
        let n = stream.read(&mut buf).unwrap();
        assert!(n > 0);
        body.extend_from_slice(&buf[..n]);
    }
    stream
        .write_all(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        .unwrap();
    (head, body)
}

#[test]
fn notify_open_verifies_and_decrypts_a_callback_captured_to_files() {
    let sandbox = Sandbox::start("notify");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let notify_url = format!("http://{}/notify", listener.local_addr().unwrap());
    let receiver = std::thread::spawn(move || capture_one(listener));
    ok_json(&sandbox.run(&[
        "post",
        "v3/marketing/busifavor/callbacks",
        "--json",
        &json!({"mchid": sandbox.info("mchid"), "notify_url": notify_url}).to_string(),
    ]));
    ok_json(&sandbox.run(&["post", "v3/marketing/busifavor/coupons/send", "--json", &send_payload()]));
    let (head, body) = receiver.join().unwrap();

    // The capture as a proxy log would hold it: the request line, then `Name: value` lines.
    let headers_file = sandbox.dir.join("callback.headers");
    let body_file = sandbox.dir.join("callback.json");
    std::fs::write(&headers_file, &head).unwrap();
    std::fs::write(&body_file, &body).unwrap();
    let open = |body: &Path, extra: &[&str]| {
        let mut args = vec![
            "--config",
            sandbox.config.to_str().unwrap(),
            "notify",
            "open",
            "--headers",
            headers_file.to_str().unwrap(),
            "--body",
            body.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        wxpay(&args, &[], None)
    };
    let event = ok_json(&open(&body_file, &[]));
    assert_eq!(event["event_type"], "COUPON.SEND", "{event}");
    assert_eq!(event["resource"]["coupon_code"], COUPON, "{event}");
    assert_eq!(event["resource"]["openid"], OPENID, "{event}");
    let resource = ok_json(&open(&body_file, &["--resource"]));
    assert_eq!(resource, event["resource"]);

    // One byte more (an editor's newline) and the signature fails: exit 5, with a hint.
    let edited = sandbox.dir.join("edited.json");
    let mut tampered = body.clone();
    tampered.push(b'\n');
    std::fs::write(&edited, &tampered).unwrap();
    let out = open(&edited, &[]);
    assert_exit(&out, 5);
    assert!(stderr(&out).contains("byte for byte"), "{}", stderr(&out));

    // A capture replayed later is stale (5), unless --allow-stale checks it at its own timestamp.
    let platform = wechatpay::PrivateKey::load(&format!(
        "file://{}",
        sandbox.dir.join("state/platform_key.pem").display()
    ))
    .unwrap();
    let old = (wechatpay::formatter::timestamp() - 3600).to_string();
    let message = wechatpay::verify::answer_message(&old, "OLDNONCE", &body);
    let stale_headers = sandbox.dir.join("stale.headers");
    std::fs::write(
        &stale_headers,
        format!(
            "Wechatpay-Timestamp: {old}\nWechatpay-Nonce: OLDNONCE\nWechatpay-Serial: {}\nWechatpay-Signature: {}\n",
            sandbox.info("public_key_id"),
            platform.sign(&message)
        ),
    )
    .unwrap();
    let stale = |extra: &[&str]| {
        let mut args = vec![
            "--config",
            sandbox.config.to_str().unwrap(),
            "notify",
            "open",
            "--headers",
        ];
        args.extend([stale_headers.to_str().unwrap(), "--body", body_file.to_str().unwrap()]);
        args.extend_from_slice(extra);
        wxpay(&args, &[], None)
    };
    let out = stale(&[]);
    assert_exit(&out, 5);
    assert!(stderr(&out).contains("--allow-stale"), "{}", stderr(&out));
    assert_eq!(ok_json(&stale(&["--allow-stale"]))["resource"], event["resource"]);

    // Unreadable files and bad header lines are usage errors.
    assert_exit(&open(&sandbox.dir.join("nope.json"), &[]), 2);
    std::fs::write(&headers_file, "not a header line\n").unwrap();
    assert_exit(&open(&body_file, &[]), 2);
}

#[test]
fn long_downloads_show_progress_on_a_terminal_only() {
    use wechatpay::mock::{Answer, MockServer};
    let dir = temp_dir("progress");
    let server = MockServer::builder().state_dir(&dir).start().unwrap();
    server.route(wechatpay::Method::GET, "v3/bill", |_| {
        Answer::bytes(200, "text/csv", "交易时间,金额\n".repeat(200_000))
    });
    let config = dir.join("config.json");
    std::fs::write(&config, server.connection_info().unwrap().to_string()).unwrap();
    let command = format!("{WXPAY} get v3/bill --config {} > /dev/null", config.display());

    // `script` gives the command a terminal, as a person at a shell would have.
    let Ok(on_terminal) = Command::new("script").args(["-qec", &command, "/dev/null"]).output() else {
        eprintln!("skipped: `script` (util-linux) is not installed");
        return;
    };
    let shown = String::from_utf8_lossy(&on_terminal.stdout);
    assert!(on_terminal.status.success(), "{shown}");
    assert!(shown.contains("wxpay: received") && shown.contains("(100%)"), "{shown}");

    // Piped, stderr stays quiet.
    let piped = wxpay(&["get", "v3/bill", "--config", config.to_str().unwrap()], &[], None);
    assert_exit(&piped, 0);
    assert!(!stderr(&piped).contains("received"), "{}", stderr(&piped));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_param_the_path_lacks_points_to_query_or_a_placeholder() {
    // Checked before any configuration is read: no sandbox needed.
    let out = wxpay(
        &[
            "get",
            "v3/marketing/busifavor/stocks/100088",
            "--param",
            "stock_id=100088",
        ],
        &[],
        None,
    );
    assert_exit(&out, 2);
    let err = stderr(&out);
    assert!(err.contains("`--param stock_id` names no placeholder"), "{err}");
    assert!(err.contains("has no placeholders"), "{err}");
    assert!(err.contains("--query stock_id=100088"), "{err}");
    assert!(err.contains("write `{stock_id}` in PATH"), "{err}");
    assert!(
        !err.contains("json, query, headers"),
        "not the library's option list: {err}"
    );

    // wechatpay-php's `_stock_id_` segment is literal in a full path: the path to write instead.
    let out = wxpay(
        &[
            "get",
            "v3/marketing/busifavor/stocks/_stock_id_",
            "-p",
            "stock_id=100088",
        ],
        &[],
        None,
    );
    assert_exit(&out, 2);
    let err = stderr(&out);
    assert!(err.contains("`_stock_id_` of PATH is literal"), "{err}");
    assert!(err.contains("`v3/marketing/busifavor/stocks/{stock_id}`"), "{err}");

    // Alongside real placeholders, they are listed.
    let out = wxpay(
        &[
            "get",
            USER_COUPON,
            "-p",
            "openid=o",
            "-p",
            "coupon_code=c",
            "-p",
            "appid=a",
            "-p",
            "limit=5",
        ],
        &[],
        None,
    );
    assert_exit(&out, 2);
    let err = stderr(&out);
    assert!(
        err.contains("has the placeholders {openid}, {coupon_code}, {appid}") && err.contains("--query limit=5"),
        "{err}"
    );
}

#[test]
fn unknown_config_file_keys_are_refused_with_the_key_meant() {
    let dir = temp_dir("config-keys");
    let file = dir.join("php-style.json");
    std::fs::write(
        &file,
        json!({"mchid": "1900000109", "serial": "ABC", "privateKey": "/x/key.pem", "base_url": "http://x/",
            "colour": "blue"})
        .to_string(),
    )
    .unwrap();
    let out = wxpay(&["--config", file.to_str().unwrap(), "config", "show"], &[], None);
    assert_exit(&out, 3);
    let err = stderr(&out);
    assert!(err.contains("`privateKey` (did you mean `private_key`?)"), "{err}");
    assert!(err.contains("`base_url` (did you mean `base_uri`?)"), "{err}");
    assert!(err.contains("`colour`") && !err.contains("`colour` (did"), "{err}");
    assert!(err.contains("a config file takes: base_uri, mchid"), "{err}");
    assert!(out.stdout.is_empty());

    // Every key `wxpay mock serve` prints is one a config file takes (and certs, in certificate mode).
    let fine = dir.join("fine.json");
    std::fs::write(
        &fine,
        json!({"mchid": "1900000109", "serial": "ABC", "private_key": "/x/key.pem", "base_uri": "http://x/",
            "public_key_id": "PUB_KEY_ID_1", "public_key": "/x/pub.pem", "certs": {"AB": "/x/c.pem"},
            "apiv3_key": "0123456789abcdef0123456789abcdef"})
        .to_string(),
    )
    .unwrap();
    let shown = ok_json(&wxpay(
        &["--config", fine.to_str().unwrap(), "config", "show"],
        &[],
        None,
    ));
    assert_eq!(shown["private_key"], "/x/key.pem", "{shown}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn flags_a_command_does_not_use_are_refused_and_not_in_its_help() {
    let cert = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/platform_cert.pem");
    let cert = cert.to_str().unwrap();
    // An address no server can bind (TEST-NET-1): were the flag taken, `mock serve` would fail to listen (6)
    // instead of serving forever.
    let unbindable = ["--addr", "192.0.2.1:9"];
    for (args, flag) in [
        (vec!["--mchid", "1900000109", "mock", "serve"], "--mchid"),
        (vec!["--config", "x.json", "mock", "serve"], "--config"),
        (vec!["mock", "serve", "--serial", "S"], "--serial"),
        (vec!["--mchid", "1900000109", "keys", "serial", cert], "--mchid"),
        (vec!["--base-uri", "http://x/", "completions", "bash"], "--base-uri"),
        (vec!["--profile", "p", "config", "path"], "--profile"),
        (vec!["--timeout", "5", "config", "show"], "--timeout"),
        (vec!["config", "show", "--timeout", "5"], "--timeout"),
        (
            vec!["--mchid", "1", "notify", "open", "--headers", "h", "--body", "b"],
            "--mchid",
        ),
        (
            vec!["notify", "open", "--headers", "h", "--body", "b", "--serial", "S"],
            "--serial",
        ),
    ] {
        let mut args = args;
        if args.contains(&"serve") {
            args.extend(unbindable);
        }
        let out = wxpay(&args, &[], None);
        assert_exit(&out, 2);
        let err = stderr(&out);
        assert!(err.contains(flag), "{args:?}: {err}");
        assert!(out.stdout.is_empty(), "{args:?}: {}", stdout(&out));
    }
    let out = wxpay(
        &["--mchid", "1900000109", "mock", "serve", "--addr", "192.0.2.1:9"],
        &[],
        None,
    );
    let err = stderr(&out);
    assert!(err.contains("`--mchid` does not apply to `wxpay mock serve`"), "{err}");

    let help = |args: &[&str]| {
        let out = wxpay(args, &[], None);
        assert_exit(&out, 0);
        stdout(&out)
    };
    for args in [
        &["mock", "serve", "--help"][..],
        &["keys", "serial", "--help"],
        &["completions", "--help"],
        &["config", "path", "--help"],
    ] {
        let text = help(args);
        for flag in ["--config", "--mchid", "--base-uri", "--timeout", "--verbose"] {
            // `mock serve --mchid` is the merchant the sandbox serves, not a client setting.
            if args[0] == "mock" && flag == "--mchid" {
                continue;
            }
            assert!(!text.contains(flag), "{flag} in {args:?}: {text}");
        }
    }
    let notify = help(&["notify", "open", "--help"]);
    assert!(
        notify.contains("--public-key-id") && notify.contains("--config"),
        "{notify}"
    );
    assert!(!notify.contains("--mchid") && !notify.contains("--timeout"), "{notify}");
    let show = help(&["config", "show", "--help"]);
    assert!(show.contains("--mchid") && !show.contains("--timeout"), "{show}");
    let get = help(&["get", "--help"]);
    assert!(
        get.contains("--mchid") && get.contains("--timeout") && get.contains("--verbose"),
        "{get}"
    );

    // The ones a command uses work before it and after it.
    assert_exit(&wxpay(&["keys", "serial", cert], &[], None), 0);
    let out = wxpay(&["config", "show", "--mchid", "1900000109"], &[], None);
    assert_eq!(ok_json(&out)["sources"]["mchid"], "flag");
    let out = wxpay(
        &["--serial", "S1", "config", "show", "--mchid", "1900000109"],
        &[],
        None,
    );
    let shown = ok_json(&out);
    assert_eq!(
        (shown["mchid"].as_str(), shown["serial"].as_str()),
        (Some("1900000109"), Some("S1"))
    );
    // Given both before and after the command, the one after wins.
    let out = wxpay(&["--mchid", "1", "config", "show", "--mchid", "2"], &[], None);
    assert_eq!(ok_json(&out)["mchid"], "2");
}

#[test]
fn include_prints_an_error_answer_on_stdout_too() {
    let sandbox = Sandbox::start("include-error");
    let out = sandbox.run(&[
        "get",
        "v3/marketing/busifavor/stocks/{stock_id}",
        "-p",
        "stock_id=999",
        "-i",
    ]);
    assert_exit(&out, 4);
    let text = stdout(&out);
    let (head, body) = text.split_once("\n\n").expect("a head, a blank line, then the body");
    assert!(head.starts_with("HTTP 404 Not Found\n"), "{head}");
    assert!(head.to_lowercase().contains("\nrequest-id: 0"), "{head}");
    let answer: Value = serde_json::from_str(body).expect("the error answer's JSON, for jq");
    assert_eq!(answer["code"], "RESOURCE_NOT_EXISTS", "{answer}");
    // stderr says what happened, as without -i.
    let err = stderr(&out);
    assert!(
        err.starts_with("wxpay: API error: HTTP 404") && err.contains("code: RESOURCE_NOT_EXISTS"),
        "{err}"
    );
}

#[test]
fn verbose_goes_before_the_command_as_after_it() {
    let sandbox = Sandbox::start("verbose-before");
    for args in [
        &["-v", "get", "v3/marketing/busifavor/stocks/100088"][..],
        &["--verbose", "get", "v3/marketing/busifavor/stocks/100088"],
        &["get", "v3/marketing/busifavor/stocks/100088", "-v"],
    ] {
        let out = sandbox.run(args);
        let stock = ok_json(&out);
        assert_eq!(stock["stock_id"], "100088");
        let log = stderr(&out);
        assert!(
            log.contains("> GET http://") && log.contains("< HTTP 200"),
            "{args:?}: {log}"
        );
    }
    // Where nothing logs, -v is refused rather than ignored.
    let out = wxpay(&["-v", "mock", "serve", "--addr", "192.0.2.1:9"], &[], None);
    assert_exit(&out, 2);
    assert!(stderr(&out).contains("-v/--verbose"), "{}", stderr(&out));
}

#[test]
fn config_show_with_nothing_configured_says_so() {
    let out = wxpay(&["config", "show"], &[], None);
    assert_exit(&out, 0);
    assert!(out.stdout.is_empty(), "no empty result: {}", stdout(&out));
    let err = stderr(&out);
    assert!(err.contains("nothing is configured"), "{err}");
    assert!(err.contains("--config") && err.contains("WECHATPAY_"), "{err}");
    // Anything at all, and it shows.
    let out = wxpay(&["config", "show"], &[("WECHATPAY_MCHID", "1900000109")], None);
    assert_eq!(ok_json(&out)["sources"]["mchid"], "env");
}

/// Reads from `stream` until the server closes it (EOF or a reset); panics if it stays open `limit` long.
fn read_until_closed(stream: &mut std::net::TcpStream, limit: std::time::Duration) {
    use std::io::Read as _;
    stream.set_read_timeout(Some(limit)).unwrap();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return,
            Ok(_) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return,
            Err(e) => panic!("the server left the connection open: {e}"),
        }
    }
}

#[test]
fn mock_serve_stops_on_sigterm_without_waiting_for_open_connections() {
    use std::io::Read as _;
    use std::net::TcpStream;
    use std::time::{Duration, Instant};

    let (mut child, line) = common::serve(std::iter::empty::<&str>());
    let info: Value = serde_json::from_str(&line).expect("one JSON line");
    let addr = info["base_uri"]
        .as_str()
        .unwrap()
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_owned();
    let state = Path::new(info["private_key"].as_str().unwrap())
        .parent()
        .unwrap()
        .to_path_buf();
    assert!(state.is_dir());

    // A keep-alive connection, idle after one answer.
    let mut idle = TcpStream::connect(&addr).unwrap();
    idle.write_all(b"GET /v3/x HTTP/1.1\r\nHost: sandbox\r\n\r\n").unwrap();
    idle.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        assert_eq!(idle.read(&mut byte).unwrap(), 1, "an answer");
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).to_lowercase();
    assert!(head.starts_with("http/1.1 401"), "{head}");
    assert!(!head.contains("connection: close"), "kept alive: {head}");
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:").map(|v| v.trim().parse().unwrap()))
        .unwrap();
    let mut body = vec![0u8; length];
    idle.read_exact(&mut body).unwrap();
    // A request whose promised body never comes.
    let mut half = TcpStream::connect(&addr).unwrap();
    half.write_all(b"POST /v3/x HTTP/1.1\r\nHost: sandbox\r\nContent-Length: 100\r\n\r\n{")
        .unwrap();

    // Both stay open on this side: a server that waited for its connections to end would wait for ever.
    assert_eq!(unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) }, 0);
    // A watchdog only (it takes milliseconds; loaded machines are slow, so the bound is generous).
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("`wxpay mock serve` still runs 10 s after SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    assert!(status.success(), "a clean stop: {status:?}");
    // Closed with the process (they were never closed from this side).
    read_until_closed(&mut idle, Duration::from_secs(10));
    read_until_closed(&mut half, Duration::from_secs(10));
    // And its temporary state dir (private keys) is gone.
    assert!(!state.exists(), "{} is left behind", state.display());
}
