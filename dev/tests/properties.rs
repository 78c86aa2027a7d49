//! Property tests of the attack surface (issue 8, item 11): everything that parses or checks what an outsider
//! controls — path templates, request options, `Authorization` headers, signed answers, callbacks, keys and
//! certificate downloads — through the public API only.
//!
//! Each property runs a bounded, reproducible number of cases (a fixed seed, no failure files), and every
//! clock-dependent check takes an explicit `now`, so no result depends on when or how fast it runs. Keys are
//! the root package's fixtures in `tests/fixtures/`, loaded once; nothing here generates an RSA key. The
//! `fuzz/` directory runs the same invariants under cargo-fuzz.
//!
//! This file lives in the `wechatpay-dev` workspace member, so the library's own builds never compile
//! proptest; `scripts/test` runs it on both crypto backends:
//!
//! ```text
//! cargo test -p wechatpay-dev --all-features --test properties
//! cargo test -p wechatpay-dev --no-default-features --features rust-crypto --test properties
//! ```

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::OnceLock;

use base64::Engine as _;
use http::{HeaderMap, HeaderValue};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};
use serde_json::{json, Value};
use wechatpay::aes::AesGcm;
use wechatpay::sign::{self, Authorization};
use wechatpay::verify::{self, Policy};
use wechatpay::{
    certificates, notify, template, Client, Keyring, Method, Options, PrivateKey, PublicKey, Verification,
};

// ---------------------------------------------------------------------------------------------------------
// Fixtures and helpers
// ---------------------------------------------------------------------------------------------------------

/// The `now` every check runs at; signed timestamps are placed relative to it.
const NOW: i64 = 1_700_000_000;
const PUB_KEY_ID: &str = "PUB_KEY_ID_0114232134912410000000000000";
const MCHID: &str = "1900000109";
const MERCHANT_SERIAL: &str = "3775B6A45ACD588826D15E583A95F5DD00000001";
const APIV3_KEY: &str = "0123456789abcdef0123456789abcdef";
const CERT_SERIAL: &str = "5157F09EFDC096DE15EBE81A47057A7232F1B8E1";
/// A `now` inside `platform_cert.pem`'s validity (2026-11-23 to 2126-10-30): 2030-03-17.
const CERT_NOW: i64 = 1_900_000_000;
/// Before it (2020) and after it (2200).
const BEFORE_CERT: i64 = 1_600_000_000;
const AFTER_CERT: i64 = 7_258_118_400;

const MERCHANT_KEY_PEM: &str = include_str!("../../tests/fixtures/merchant_key.pem");
const MERCHANT_KEY_PKCS1_PEM: &str = include_str!("../../tests/fixtures/merchant_key_pkcs1.pem");
const MERCHANT_PUB_PEM: &str = include_str!("../../tests/fixtures/merchant_pub.pem");
const MERCHANT_PUB_PKCS1_PEM: &str = include_str!("../../tests/fixtures/merchant_pub_pkcs1.pem");
const PLATFORM_KEY_PEM: &str = include_str!("../../tests/fixtures/platform_key.pem");
const PLATFORM_CERT_PEM: &str = include_str!("../../tests/fixtures/platform_cert.pem");

fn config(cases: u32) -> Config {
    Config {
        cases,
        failure_persistence: None,
        rng_seed: RngSeed::Fixed(0x5745_4348_4154_5041), // "WECHATPA"
        max_shrink_iters: 2048,
        ..Config::default()
    }
}

fn merchant_key() -> &'static PrivateKey {
    static KEY: OnceLock<PrivateKey> = OnceLock::new();
    KEY.get_or_init(|| PrivateKey::load(MERCHANT_KEY_PEM).unwrap())
}

/// The platform key; its certificate is `platform_cert.pem`.
fn platform_key() -> &'static PrivateKey {
    static KEY: OnceLock<PrivateKey> = OnceLock::new();
    KEY.get_or_init(|| PrivateKey::load(PLATFORM_KEY_PEM).unwrap())
}

/// The client's trusted keys: the platform key under its public-key id.
fn keyring() -> &'static Keyring {
    static RING: OnceLock<Keyring> = OnceLock::new();
    RING.get_or_init(|| Keyring::new([(PUB_KEY_ID.to_owned(), platform_key().public_key())]))
}

/// A client used only for `Client::prepare` (sans-IO; nothing is ever sent).
fn client() -> &'static Client {
    static CLIENT: OnceLock<Client> = OnceLock::new();
    CLIENT.get_or_init(|| {
        Client::builder()
            .mchid(MCHID)
            .serial(MERCHANT_SERIAL)
            .private_key_loaded(merchant_key().clone())
            .cert_loaded(PUB_KEY_ID, platform_key().public_key())
            .build()
            .unwrap()
    })
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn unb64(text: &str) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD.decode(text).unwrap()
}

/// Headers of a signed answer or callback; `None` when a value cannot be a header value at all (then it
/// cannot reach the library either).
fn headers(timestamp: &str, nonce: &str, signature: &str, serial: &str) -> Option<HeaderMap> {
    let mut h = HeaderMap::new();
    for (name, value) in [
        (verify::TIMESTAMP, timestamp),
        (verify::NONCE, nonce),
        (verify::SIGNATURE, signature),
        (verify::SERIAL, serial),
    ] {
        h.insert(name, HeaderValue::from_str(value).ok()?);
    }
    Some(h)
}

/// `body` signed by `key` at `timestamp` with `nonce`, naming the key `serial`.
fn signed(key: &PrivateKey, serial: &str, timestamp: i64, nonce: &str, body: &[u8]) -> HeaderMap {
    let ts = timestamp.to_string();
    let signature = key.sign(&verify::answer_message(&ts, nonce, body));
    headers(&ts, nonce, &signature, serial).expect("valid header text")
}

/// Flips the bits `mask` (non-zero) of the byte at `index % len` of `text`; `None` if the result is not
/// UTF-8 (a header value or JSON string that could not be sent).
fn flip_str(text: &str, index: usize, mask: u8) -> Option<String> {
    let mut bytes = text.as_bytes().to_vec();
    if bytes.is_empty() {
        return None;
    }
    let i = index % bytes.len();
    bytes[i] ^= mask;
    String::from_utf8(bytes).ok()
}

/// A non-zero XOR mask, mostly one that keeps ASCII text ASCII (so a flipped header can still be sent).
fn flip_mask() -> impl Strategy<Value = u8> {
    prop_oneof![3 => 1u8..128, 1 => 128u8..=255]
}

fn flip_bytes(bytes: &[u8], index: usize, mask: u8) -> Vec<u8> {
    let mut bytes = bytes.to_vec();
    if bytes.is_empty() {
        bytes.push(mask);
    } else {
        let i = index % bytes.len();
        bytes[i] ^= mask;
    }
    bytes
}

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

fn is_reserved(b: u8) -> bool {
    b":/?#[]@!$&'()*+,;=".contains(&b)
}

/// Percent-decodes `%XX` triplets, keeping any other `%` as it is.
fn pct_decode(text: &[u8]) -> Vec<u8> {
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let mut out = Vec::with_capacity(text.len());
    let mut i = 0;
    while i < text.len() {
        if text[i] == b'%' && i + 2 < text.len() {
            if let (Some(h), Some(l)) = (hex(text[i + 1]), hex(text[i + 2])) {
                out.push(h << 4 | l);
                i += 3;
                continue;
            }
        }
        out.push(text[i]);
        i += 1;
    }
    out
}

/// Whether a path segment is one a URL parser resolves (`.`, `..`, dots possibly written `%2e`).
fn is_dot_segment(segment: &str) -> bool {
    matches!(
        segment.to_ascii_lowercase().as_str(),
        "." | ".." | "%2e" | "%2e%2e" | ".%2e" | "%2e."
    )
}

/// Every byte of `text` is unreserved, reserved (when `reserved_ok`), or starts a `%XX` triplet.
fn well_encoded(text: &str, reserved_ok: bool) -> bool {
    let b = text.as_bytes();
    (0..b.len()).all(|i| {
        is_unreserved(b[i])
            || (reserved_ok && is_reserved(b[i]))
            || (b[i] == b'%'
                && b.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                && b.get(i + 2).is_some_and(u8::is_ascii_hexdigit))
            || (i >= 1 && b[i - 1] == b'%' && b[i].is_ascii_hexdigit())
            || (i >= 2 && b[i - 2] == b'%' && b[i].is_ascii_hexdigit())
    })
}

/// Arbitrary JSON, a few levels deep.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        "[a-z0-9 /?#%.]{0,8}".prop_map(Value::String),
        any::<String>().prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map("[a-z_.]{0,6}|\\PC{0,4}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

// ---------------------------------------------------------------------------------------------------------
// Templates
// ---------------------------------------------------------------------------------------------------------

/// Template pieces, hostile ones included, to be concatenated.
fn template_piece() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(vec![
            "/", "/", "/", "v3", "x", "{a}", "{+a}", "{b}", "{+b}", "{empty}", "{+empty}", ".", "..", "%2e", "%2E",
            "%", "%41", "%2f", "{", "}", "+", "?", "#", "\\", "{a}{b}", "{ a}", "{a-b}", "{}", "{+}", "{a.b}", "中",
        ])
        .prop_map(str::to_owned),
        2 => "[a-z0-9./%{}+_~ -]{1,4}",
        1 => any::<char>().prop_map(String::from),
    ]
}

fn template_text() -> impl Strategy<Value = String> {
    prop::collection::vec(template_piece(), 0..12).prop_map(|pieces| pieces.concat())
}

/// Values for placeholders, hostile ones included.
fn template_value() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(vec![
            ".", "..", "%2e", "%2E%2e", ".%2E", "%2e.", "", "a/b", "a?b", "a#b", "%", "%zz", "%2F", "/", "\\", "{x}",
            "..%2f", "%252e", "a b", "x\r\nHost: evil",
        ])
        .prop_map(str::to_owned),
        2 => "[./%2eE?#a-z]{0,5}",
        2 => any::<String>(),
    ]
}

fn template_values() -> impl Strategy<Value = BTreeMap<String, String>> {
    (
        prop::option::of(template_value()),
        prop::option::of(template_value()),
        prop::option::of(prop_oneof![Just(String::new()), template_value()]),
    )
        .prop_map(|(a, b, empty)| {
            let mut values = BTreeMap::new();
            for (name, value) in [("a", a), ("b", b), ("empty", empty)] {
                if let Some(v) = value {
                    values.insert(name.to_owned(), v);
                }
            }
            values
        })
}

fn expand(template: &str, values: &BTreeMap<String, String>) -> wechatpay::Result<String> {
    template::expand(template, |name| values.get(name).map(|v| Cow::Borrowed(v.as_str())))
}

proptest! {
    #![proptest_config(config(256))]

    /// Expansion never panics, fails only with a path error, and what it yields keeps the template's
    /// structure: the same `/`s, no `?`/`#`, no dot segment, no segment emptied by a value, well encoded,
    /// and a URL parser leaves it exactly as it is.
    #[test]
    fn template_expansion_keeps_the_path_structure(template in template_text(), values in template_values()) {
        let _ = template::placeholders(&template);
        let out = match expand(&template, &values) {
            Ok(out) => out,
            Err(e) => {
                prop_assert!(e.is_path(), "{e}");
                return Ok(());
            }
        };
        prop_assert_eq!(out.matches('/').count(), template.matches('/').count(), "{:?} -> {:?}", template, out);
        prop_assert!(!out.contains(['?', '#']), "{:?} -> {:?}", template, out);
        prop_assert!(well_encoded(&out, true), "{:?} -> {:?}", template, out);
        for (t, o) in template.split('/').zip(out.split('/')) {
            prop_assert!(!is_dot_segment(o), "{:?} -> {:?}", template, out);
            let without_empty = t.replace("{empty}", "").replace("{+empty}", "");
            prop_assert_eq!(o.is_empty(), without_empty.is_empty(), "segment {:?} of {:?} -> {:?}", t, template, out);
        }
        let url = url::Url::parse(&format!("https://api.mch.weixin.qq.com/{out}"));
        prop_assert!(url.is_ok(), "{:?} -> {:?}", template, out);
        let url = url.unwrap();
        prop_assert_eq!(url.path(), format!("/{out}"));
        prop_assert!(url.query().is_none() && url.fragment().is_none());
        let pq = http::uri::PathAndQuery::try_from(format!("/{out}"));
        prop_assert!(pq.is_ok(), "{:?}", out);
        let pq = pq.unwrap();
        prop_assert_eq!(pq.path(), format!("/{out}"));
    }

    /// `{var}` percent-encodes its value into exactly one segment that decodes back to it; only the values
    /// that would remove or resolve the segment are refused.
    #[test]
    fn simple_expansion_round_trips(value in template_value()) {
        let values = BTreeMap::from([("v".to_owned(), value.clone())]);
        match expand("v3/users/{v}/coupons", &values) {
            Err(e) => {
                prop_assert!(e.is_path(), "{e}");
                prop_assert!(matches!(value.as_str(), "" | "." | ".."), "{:?} refused: {}", value, e);
            }
            Ok(out) => {
                prop_assert!(!matches!(value.as_str(), "" | "." | ".."), "{:?} -> {:?}", value, out);
                let enc = out.strip_prefix("v3/users/").and_then(|s| s.strip_suffix("/coupons"));
                prop_assert!(enc.is_some(), "{:?} -> {:?}", value, out);
                let enc = enc.unwrap();
                prop_assert!(well_encoded(enc, false), "{:?} -> {:?}", value, enc);
                let upper = enc.split('%').skip(1).all(|t| t.bytes().take(2).all(|b| !b.is_ascii_lowercase()));
                prop_assert!(upper, "{:?} -> {:?}", value, enc);
                prop_assert_eq!(pct_decode(enc.as_bytes()), value.as_bytes().to_vec());
            }
        }
    }

    /// `{+var}` keeps reserved characters and `%XX` triplets but refuses `/`, `?`, `#`, an empty value and
    /// any spelling of a dot segment; what it keeps decodes to what the value decodes to.
    #[test]
    fn reserved_expansion_refuses_exactly_what_escapes(value in template_value()) {
        let values = BTreeMap::from([("v".to_owned(), value.clone())]);
        let decoded = pct_decode(value.as_bytes());
        let must_refuse =
            value.is_empty() || value.contains(['/', '?', '#']) || decoded == b"." || decoded == b"..";
        match expand("v3/x/{+v}/y", &values) {
            Err(e) => {
                prop_assert!(e.is_path(), "{e}");
                prop_assert!(must_refuse, "{:?} refused: {}", value, e);
            }
            Ok(out) => {
                prop_assert!(!must_refuse, "{:?} -> {:?}", value, out);
                let enc = out.strip_prefix("v3/x/").and_then(|s| s.strip_suffix("/y"));
                prop_assert!(enc.is_some(), "{:?} -> {:?}", value, out);
                let enc = enc.unwrap();
                prop_assert!(!enc.contains(['/', '?', '#']), "{:?} -> {:?}", value, enc);
                prop_assert!(well_encoded(enc, true), "{:?} -> {:?}", value, enc);
                prop_assert_eq!(pct_decode(enc.as_bytes()), decoded);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------------------------------------------

const OPTIONS_TEMPLATE: &str = "v3/things/{id}/{+rest}";

/// Mostly `value`, sometimes arbitrary JSON of any type.
fn or_any(value: impl Strategy<Value = Value> + 'static) -> impl Strategy<Value = Value> {
    prop_oneof![6 => value, 1 => json_value()]
}

/// Nearly always `value`, now and then arbitrary JSON of any type.
fn mostly(value: impl Strategy<Value = Value> + 'static) -> impl Strategy<Value = Value> {
    prop_oneof![40 => value, 1 => json_value()]
}

/// Whatever is given: an object of the shape given, keeping only the fields that are there.
fn object(fields: Vec<(&str, Option<Value>)>) -> Value {
    Value::Object(
        fields
            .into_iter()
            .filter_map(|(k, v)| Some((k.to_owned(), v?)))
            .collect(),
    )
}

/// PHP-style option arrays: the template's placeholders, the known keys and strays, mostly well-typed.
fn options_value() -> impl Strategy<Value = Value> {
    let scalars = |name: &'static str, value: &'static str| {
        prop::collection::btree_map(
            name,
            or_any(prop_oneof![
                value.prop_map(Value::String),
                any::<i32>().prop_map(Value::from)
            ]),
            0..4,
        )
        .prop_map(|m| Value::Object(m.into_iter().collect()))
    };
    let fields = (
        prop::option::weighted(
            0.9,
            or_any(prop_oneof![
                "[a-zA-Z0-9 ./%?#-]{1,8}".prop_map(Value::String),
                any::<u32>().prop_map(Value::from),
            ]),
        ),
        prop::option::weighted(
            0.9,
            or_any("[a-zA-Z0-9._~%:@!$&'()*+,;= /?#-]{1,10}".prop_map(Value::String)),
        ),
        prop::option::weighted(0.4, json_value()),
        prop::option::weighted(0.2, or_any("\\PC{0,12}".prop_map(Value::String))),
        prop::option::weighted(0.4, or_any(scalars("\\PC{0,6}", "\\PC{0,8}"))),
        prop::option::weighted(
            0.3,
            or_any(scalars("[A-Za-z-]{1,8}|[ -~]{0,4}", "[ -~]{0,8}|\\PC{0,3}")),
        ),
        prop::option::weighted(
            0.2,
            or_any(prop_oneof![
                (0.001f64..100.0).prop_map(|f| json!(f)),
                any::<f64>().prop_map(|f| json!(f))
            ]),
        ),
        prop::option::weighted(
            0.1,
            or_any(prop::collection::vec("[a-z.]{1,6}".prop_map(Value::String), 0..3).prop_map(Value::Array)),
        ),
        prop::option::weighted(0.05, ("[a-z_]{1,6}", json_value())),
    );
    prop_oneof![
        12 => fields.prop_map(|(id, rest, json, body, query, headers, timeout, sensitive, stray)| {
            let mut v = object(vec![
                ("id", id), ("rest", rest), ("json", json), ("body", body), ("query", query),
                ("headers", headers), ("timeout", timeout), ("sensitive", sensitive),
            ]);
            if let Some((name, value)) = stray {
                v[name] = value;
            }
            v
        }),
        1 => json_value(),
    ]
}

fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

proptest! {
    #![proptest_config(config(192))]

    /// Any JSON converts to `Options` without panicking; preparing a request with it gives a request or a
    /// request/path error, and a prepared request is signed over exactly what goes on the wire, with the
    /// placeholders confined to their segments.
    #[test]
    fn options_from_any_json_prepare_or_fail_cleanly(value in options_value()) {
        let options = Options::from(value.clone());
        let _ = format!("{options:?}");
        let prepared = match client().prepare(Method::POST, OPTIONS_TEMPLATE, options) {
            Ok(p) => p,
            Err(e) => {
                prop_assert!(e.is_request() || e.is_path(), "{e}");
                return Ok(());
            }
        };
        let path = prepared.url().path();
        prop_assert!(path.starts_with("/v3/things/"), "{path}");
        prop_assert_eq!(path.split('/').count(), 5, "{}", path);
        prop_assert!(prepared.url().fragment().is_none());
        let sent = match prepared.url().query() {
            Some(q) => format!("{path}?{q}"),
            None => path.to_owned(),
        };
        prop_assert_eq!(&prepared.target(), &sent);

        let segments: Vec<&str> = path.split('/').collect();
        if let Some(id) = value.get("id").and_then(scalar) {
            prop_assert_eq!(pct_decode(segments[3].as_bytes()), id.into_bytes());
        }

        let auth = prepared.headers().get(http::header::AUTHORIZATION).and_then(|v| v.to_str().ok());
        prop_assert!(auth.is_some());
        let auth = Authorization::parse(auth.unwrap());
        prop_assert!(auth.is_ok());
        let auth = auth.unwrap();
        prop_assert_eq!(&auth.mchid, MCHID);
        prop_assert_eq!(&auth.serial_no, MERCHANT_SERIAL);
        let message = sign::request_message("POST", prepared.target(), auth.timestamp, &auth.nonce_str, prepared.body());
        prop_assert!(merchant_key().public_key().verify(&message, &auth.signature));

        let sensitive = value.get("sensitive").is_some();
        match (value.get("json"), value.get("body")) {
            (Some(json), None) if !sensitive => {
                prop_assert_eq!(&prepared.body()[..], &serde_json::to_vec(json).unwrap()[..]);
            }
            (None, Some(Value::String(body))) => prop_assert_eq!(&prepared.body()[..], body.as_bytes()),
            (None, None) => prop_assert!(prepared.body().is_empty()),
            _ => {}
        }
        if let Some(Value::Object(query)) = value.get("query") {
            let expected: Vec<(String, String)> =
                query.iter().map(|(k, v)| (k.clone(), scalar(v).unwrap())).collect();
            let got: Vec<(String, String)> =
                prepared.url().query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
            prop_assert_eq!(got, expected);
        }
    }
}

// ---------------------------------------------------------------------------------------------------------
// Authorization
// ---------------------------------------------------------------------------------------------------------

fn authorization(
    field: impl Strategy<Value = String> + Clone,
    timestamp: impl Strategy<Value = i64>,
) -> impl Strategy<Value = Authorization> {
    (field.clone(), field.clone(), timestamp, field.clone(), field).prop_map(
        |(mchid, serial_no, timestamp, nonce_str, signature)| {
            Authorization::new(mchid, serial_no, timestamp, nonce_str, signature)
        },
    )
}

/// Header-ish text: `key="value"` pairs in any order, with junk.
fn authorization_soup() -> impl Strategy<Value = String> {
    let key = prop::sample::select(vec![
        "mchid",
        "serial_no",
        "timestamp",
        "nonce_str",
        "signature",
        "x",
        "",
    ]);
    let value = prop_oneof!["[0-9]{1,10}", "[^,]{0,8}", "-?[0-9]{1,20}", Just("\"".to_owned())];
    let pair = (key, value, any::<bool>(), " {0,2}").prop_map(|(k, v, quoted, pad)| {
        if quoted {
            format!("{pad}{k}=\"{v}\"{pad}")
        } else {
            format!("{k}={v}")
        }
    });
    (
        prop::sample::select(vec![sign::SCHEME, "WECHATPAY2-SHA256-RSA2048", "Bearer", ""]),
        " ?",
        prop::collection::vec(pair, 0..8),
    )
        .prop_map(|(scheme, sep, pairs)| format!("{scheme}{sep}{}", pairs.join(",")))
}

proptest! {
    #![proptest_config(config(256))]

    /// Every valid header (no field holding `,`, a timestamp of plain seconds) parses back to the same fields.
    #[test]
    fn authorization_round_trips(a in authorization("[^,]{0,24}", 0..=i64::MAX)) {
        let header = a.to_string();
        let parsed = Authorization::parse(&header);
        prop_assert!(parsed.is_ok(), "{:?}: {}", header, parsed.unwrap_err());
        prop_assert_eq!(parsed.unwrap(), a);
    }

    /// Whatever the fields hold (commas, quotes, `key="` look-alikes), a formatted header parses to the same
    /// fields or is refused: one field's value can never be read as another field.
    #[test]
    fn authorization_fields_never_bleed(a in authorization(prop_oneof![
        "[^,]{0,8}",
        "[a-z=\", ]{0,16}",
        Just("1\",serial_no=\"evil".to_owned()),
        Just("x\",mchid=\"1".to_owned()),
        any::<String>(),
    ], any::<i64>())) {
        if let Ok(parsed) = Authorization::parse(&a.to_string()) {
            prop_assert_eq!(parsed, a);
        }
    }

    /// Parsing anything never panics; what parses is refused only as a request error, and formats back to
    /// a header that parses to the same fields.
    #[test]
    fn authorization_parse_never_panics(text in prop_oneof![any::<String>(), authorization_soup()]) {
        match Authorization::parse(&text) {
            Ok(a) => prop_assert_eq!(Authorization::parse(&a.to_string()).ok(), Some(a)),
            Err(e) => prop_assert!(e.is_request(), "{e}"),
        }
    }
}

// ---------------------------------------------------------------------------------------------------------
// Answer verification
// ---------------------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy)]
enum Part {
    Body,
    Nonce,
    Timestamp,
    Signature,
    Serial,
}

fn part() -> impl Strategy<Value = Part> {
    prop::sample::select(vec![
        Part::Body,
        Part::Nonce,
        Part::Timestamp,
        Part::Signature,
        Part::Serial,
    ])
}

proptest! {
    #![proptest_config(config(96))]

    /// A correctly signed answer within the 300 s window verifies; the same answer outside it does not.
    #[test]
    fn signed_answers_verify(
        body in prop::collection::vec(any::<u8>(), 0..256),
        nonce in "[A-Za-z0-9]{1,32}",
        skew in -verify::MAX_SKEW_SECS..=verify::MAX_SKEW_SECS,
        late in 1i64..100_000,
    ) {
        let h = signed(platform_key(), PUB_KEY_ID, NOW + skew, &nonce, &body);
        let ok = verify::verify_signed(keyring(), Policy::Verify, &h, &body, NOW);
        prop_assert!(ok.is_ok(), "{}", ok.unwrap_err());
        let stale_at = NOW + skew + verify::MAX_SKEW_SECS + late;
        let stale = verify::verify_signed(keyring(), Policy::Verify, &h, &body, stale_at).unwrap_err();
        prop_assert_eq!(stale.verification(), Some(Verification::StaleTimestamp));
    }

    /// Flipping any bits of any byte of the body, nonce, timestamp, signature or serial is refused.
    #[test]
    fn tampered_answers_are_refused(
        body in prop::collection::vec(any::<u8>(), 0..128),
        nonce in "[A-Za-z0-9]{1,32}",
        skew in -verify::MAX_SKEW_SECS..=verify::MAX_SKEW_SECS,
        part in part(),
        index in any::<usize>(),
        mask in flip_mask(),
    ) {
        let ts = (NOW + skew).to_string();
        let signature = platform_key().sign(&verify::answer_message(&ts, &nonce, &body));
        let (mut ts2, mut nonce2, mut sig2, mut serial2, mut body2) =
            (ts.clone(), nonce.clone(), signature.clone(), PUB_KEY_ID.to_owned(), body.clone());
        let flipped = match part {
            Part::Body => { body2 = flip_bytes(&body, index, mask); Some(()) }
            Part::Nonce => flip_str(&nonce, index, mask).map(|s| nonce2 = s),
            Part::Timestamp => flip_str(&ts, index, mask).map(|s| ts2 = s),
            Part::Signature => flip_str(&signature, index, mask).map(|s| sig2 = s),
            Part::Serial => flip_str(PUB_KEY_ID, index, mask).map(|s| serial2 = s),
        };
        // A flip that is not UTF-8 or not header text cannot be sent; there is nothing to check.
        let Some(h) = flipped.and_then(|()| headers(&ts2, &nonce2, &sig2, &serial2)) else { return Ok(()) };
        let result = verify::verify_signed(keyring(), Policy::Verify, &h, &body2, NOW);
        prop_assert!(result.is_err(), "{:?} flipped at {} by {:#x} still verifies", part, index, mask);
        let e = result.unwrap_err();
        prop_assert!(e.is_verification(), "{e}");
        if let Part::Body = part {
            prop_assert_eq!(e.verification(), Some(Verification::BadSignature));
        }
    }

    /// A statement's signature covers the `Wechatpay-Statement-Sha1` stand-in; any other CSV is refused.
    #[test]
    fn statements_bind_their_sha1(
        csv in prop::collection::vec(any::<u8>(), 0..128),
        index in any::<usize>(),
        mask in flip_mask(),
    ) {
        let sha1 = wechatpay::hash::sha1_hex(&csv);
        let stand_in = json!({ "sha1": sha1 }).to_string();
        let mut h = signed(platform_key(), PUB_KEY_ID, NOW, "n", stand_in.as_bytes());
        h.insert(verify::STATEMENT_SHA1, HeaderValue::from_str(&sha1).unwrap());
        prop_assert!(verify::verify_signed(keyring(), Policy::Statement, &h, &csv, NOW).is_ok());
        let other = flip_bytes(&csv, index, mask);
        let e = verify::verify_signed(keyring(), Policy::Statement, &h, &other, NOW).unwrap_err();
        prop_assert_eq!(e.verification(), Some(Verification::DigestMismatch));
    }
}

/// Header values: plausible ones (right serial, `now`, a base64 signature) and arbitrary text.
fn header_value(plausible: impl Strategy<Value = String> + 'static) -> impl Strategy<Value = String> {
    prop_oneof![
        2 => plausible,
        1 => any::<String>(),
        1 => "[ -~]{0,12}",
    ]
}

proptest! {
    #![proptest_config(config(256))]

    /// Arbitrary headers and body never panic and never verify, under either signed policy and at any `now`.
    #[test]
    fn arbitrary_answers_never_verify(
        ts in header_value(prop_oneof![
            Just(NOW.to_string()), (-400i64..400).prop_map(|d| (NOW + d).to_string()), any::<i64>().prop_map(|t| t.to_string()),
            Just(format!(" {NOW} ")), Just(format!("+{NOW}")),
        ]),
        nonce in header_value("[A-Za-z0-9]{0,32}".prop_map(String::from)),
        sig in header_value(prop_oneof![
            prop::collection::vec(any::<u8>(), 256).prop_map(|b| b64(&b)),
            prop::collection::vec(any::<u8>(), 0..300).prop_map(|b| b64(&b)),
        ]),
        serial in header_value(prop_oneof![Just(PUB_KEY_ID.to_owned()), Just(PUB_KEY_ID.to_lowercase())]),
        sha1 in prop::option::of("[0-9a-f]{40}|[ -~]{0,8}"),
        body in prop::collection::vec(any::<u8>(), 0..128),
        now in prop_oneof![4 => Just(NOW), 1 => any::<i64>()],
        statement in any::<bool>(),
    ) {
        let mut h = HeaderMap::new();
        for (name, value) in [(verify::TIMESTAMP, &ts), (verify::NONCE, &nonce), (verify::SIGNATURE, &sig), (verify::SERIAL, &serial)] {
            if let Ok(v) = HeaderValue::from_str(value) {
                h.insert(name, v);
            }
        }
        if let Some(v) = sha1.and_then(|s| HeaderValue::from_str(&s).ok()) {
            h.insert(verify::STATEMENT_SHA1, v);
        }
        let policy = if statement { Policy::Statement } else { Policy::Verify };
        let result = verify::verify_signed(keyring(), policy, &h, &body, now);
        prop_assert!(result.is_err(), "a forged answer verified: {h:?}");
        prop_assert!(result.unwrap_err().is_verification());
        let _ = verify::skew(ts.trim().parse().unwrap_or(0), now);
    }
}

// ---------------------------------------------------------------------------------------------------------
// Callbacks
// ---------------------------------------------------------------------------------------------------------

#[derive(Debug, Clone)]
struct Callback {
    resource: Value,
    nonce: String,
    aad: String,
    id: String,
    event_type: String,
    signing_nonce: String,
    skew: i64,
}

fn callback() -> impl Strategy<Value = Callback> {
    (
        prop::collection::btree_map(
            "[a-z_]{1,8}",
            prop_oneof!["\\PC{0,12}".prop_map(Value::String), any::<i64>().prop_map(Value::from)],
            0..5,
        ),
        "[A-Za-z0-9]{12}",
        "[a-z_]{1,12}",
        "[A-Z0-9-]{1,24}",
        prop::sample::select(vec!["COUPON.SEND", "COUPON.USE", "TRANSACTION.SUCCESS"]),
        "[A-Za-z0-9]{1,32}",
        -verify::MAX_SKEW_SECS..=verify::MAX_SKEW_SECS,
    )
        .prop_map(|(fields, nonce, aad, id, event_type, signing_nonce, skew)| Callback {
            resource: Value::Object(fields.into_iter().collect()),
            nonce,
            aad,
            id,
            event_type: event_type.to_owned(),
            signing_nonce,
            skew,
        })
}

/// The envelope of a callback whose `resource` is sealed as `(ciphertext, nonce, aad)`.
fn envelope(c: &Callback, ciphertext: &str, nonce: &str, aad: Option<&str>, algorithm: &str) -> Vec<u8> {
    let mut resource = json!({
        "original_type": "coupon", "algorithm": algorithm, "ciphertext": ciphertext, "nonce": nonce,
    });
    if let Some(aad) = aad {
        resource["associated_data"] = json!(aad);
    }
    json!({
        "id": c.id, "create_time": "2015-05-20T13:29:35+08:00", "event_type": c.event_type,
        "resource_type": "encrypt-resource", "summary": "通知", "resource": resource,
    })
    .to_string()
    .into_bytes()
}

fn seal(c: &Callback) -> String {
    AesGcm::encrypt(c.resource.to_string().as_bytes(), APIV3_KEY, &c.nonce, &c.aad).unwrap()
}

fn sign_callback(c: &Callback, body: &[u8]) -> HeaderMap {
    signed(platform_key(), PUB_KEY_ID, NOW + c.skew, &c.signing_nonce, body)
}

#[derive(Debug, Clone, Copy)]
enum Seal {
    Ciphertext,
    Aad,
    DropAad,
    Nonce,
    Algorithm,
    ApiV3Key,
}

proptest! {
    #![proptest_config(config(64))]

    /// A sealed and signed callback opens to what was sealed; the same body unsigned-tampered, or signed
    /// but with its seal tampered, is refused.
    #[test]
    fn callbacks_open_and_refuse_tampering(
        c in callback(),
        what in prop::sample::select(vec![Seal::Ciphertext, Seal::Aad, Seal::DropAad, Seal::Nonce, Seal::Algorithm, Seal::ApiV3Key]),
        index in any::<usize>(),
        mask in flip_mask(),
    ) {
        let ciphertext = seal(&c);
        let body = envelope(&c, &ciphertext, &c.nonce, Some(&c.aad), notify::AEAD_AES_256_GCM);
        let h = sign_callback(&c, &body);
        let event = notify::open_at::<Value>(keyring(), APIV3_KEY, &h, &body, NOW);
        prop_assert!(event.is_ok(), "{}", event.unwrap_err());
        let event = event.unwrap();
        prop_assert_eq!(&event.resource, &c.resource);
        prop_assert_eq!(&event.associated_data, &c.aad);
        prop_assert_eq!(&event.id, &c.id);
        prop_assert_eq!(&event.event_type, &c.event_type);

        // The body changed in transit, signature kept: a verification error.
        let tampered = flip_bytes(&body, index, mask);
        let e = notify::open_at::<Value>(keyring(), APIV3_KEY, &h, &tampered, NOW).unwrap_err();
        prop_assert_eq!(e.verification(), Some(Verification::BadSignature));

        // Correctly signed, but the seal does not authenticate: a decode error, never an event.
        let mut key = APIV3_KEY.to_owned();
        let body = match what {
            Seal::Ciphertext => {
                let raw = flip_bytes(&unb64(&ciphertext), index, mask);
                envelope(&c, &b64(&raw), &c.nonce, Some(&c.aad), notify::AEAD_AES_256_GCM)
            }
            Seal::Aad => {
                let aad = format!("{}{}", c.aad, (b'a' + (index % 26) as u8) as char);
                envelope(&c, &ciphertext, &c.nonce, Some(&aad), notify::AEAD_AES_256_GCM)
            }
            Seal::DropAad => envelope(&c, &ciphertext, &c.nonce, None, notify::AEAD_AES_256_GCM),
            Seal::Nonce => {
                let Some(nonce) = flip_str(&c.nonce, index, mask) else { return Ok(()) };
                envelope(&c, &ciphertext, &nonce, Some(&c.aad), notify::AEAD_AES_256_GCM)
            }
            Seal::Algorithm => {
                let Some(algorithm) = flip_str(notify::AEAD_AES_256_GCM, index, mask) else { return Ok(()) };
                envelope(&c, &ciphertext, &c.nonce, Some(&c.aad), &algorithm)
            }
            Seal::ApiV3Key => {
                let Some(k) = flip_str(APIV3_KEY, index, mask) else { return Ok(()) };
                key = k;
                body
            }
        };
        let h = sign_callback(&c, &body);
        let result = notify::open_at::<Value>(keyring(), &key, &h, &body, NOW);
        prop_assert!(result.is_err(), "{:?} tampered, still opens", what);
        let e = result.unwrap_err();
        prop_assert!(e.is_decode() || e.is_key(), "{e}");
    }

    /// A resource that decrypts but does not deserialize is refused without its plaintext in the message.
    #[test]
    fn callback_errors_keep_the_plaintext_out(secret in "[A-Za-z]{24}", c in callback()) {
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)]
        struct Expected { amount: u64 }
        let plain = json!({ "amount": secret }).to_string();
        let ciphertext = AesGcm::encrypt(plain.as_bytes(), APIV3_KEY, &c.nonce, &c.aad).unwrap();
        let body = envelope(&c, &ciphertext, &c.nonce, Some(&c.aad), notify::AEAD_AES_256_GCM);
        let h = sign_callback(&c, &body);
        let e = notify::open_at::<Expected>(keyring(), APIV3_KEY, &h, &body, NOW).unwrap_err();
        prop_assert!(e.is_decode(), "{e}");
        prop_assert!(!e.to_string().contains(&secret), "{e}");
    }
}

/// A field that is mostly there and mostly a string.
fn text_field() -> impl Strategy<Value = Option<Value>> {
    prop::option::weighted(0.99, mostly("[ -~]{0,24}".prop_map(Value::String)))
}

/// Base64 of random bytes, or something else.
fn ciphertext_field() -> impl Strategy<Value = Option<Value>> {
    prop::option::weighted(
        0.99,
        mostly(prop_oneof![
            3 => prop::collection::vec(any::<u8>(), 0..64).prop_map(|b| json!(b64(&b))),
            1 => "[ -~]{0,24}".prop_map(Value::String),
        ]),
    )
}

fn algorithm_field() -> impl Strategy<Value = Option<Value>> {
    prop::option::weighted(
        0.99,
        mostly(prop_oneof![
            6 => Just(json!(notify::AEAD_AES_256_GCM)),
            1 => "[A-Z_0-9]{0,20}".prop_map(Value::String),
        ]),
    )
}

fn nonce_field() -> impl Strategy<Value = Option<Value>> {
    prop::option::weighted(
        0.99,
        mostly("[A-Za-z0-9]{12}|[A-Za-z0-9]{16}|\\PC{0,20}".prop_map(Value::String)),
    )
}

/// A callback envelope around `resource`, the other fields arbitrary but mostly well-typed.
fn callback_envelope(resource: impl Strategy<Value = Option<Value>>) -> impl Strategy<Value = Value> {
    (
        text_field(),
        text_field(),
        text_field(),
        text_field(),
        text_field(),
        resource,
    )
        .prop_map(|(id, create_time, event_type, resource_type, summary, resource)| {
            object(vec![
                ("id", id),
                ("create_time", create_time),
                ("event_type", event_type),
                ("resource_type", resource_type),
                ("summary", summary),
                ("resource", resource),
            ])
        })
}

/// Callback bodies: arbitrary bytes, arbitrary JSON, and envelopes with arbitrary resources.
fn callback_body() -> impl Strategy<Value = Vec<u8>> {
    let resource = (
        text_field(),
        algorithm_field(),
        ciphertext_field(),
        text_field(),
        nonce_field(),
    )
        .prop_map(|(original_type, algorithm, ciphertext, aad, nonce)| {
            object(vec![
                ("original_type", original_type),
                ("algorithm", algorithm),
                ("ciphertext", ciphertext),
                ("associated_data", aad),
                ("nonce", nonce),
            ])
        });
    prop_oneof![
        6 => callback_envelope(prop::option::weighted(0.99, mostly(resource))).prop_map(|v| v.to_string().into_bytes()),
        1 => json_value().prop_map(|v| v.to_string().into_bytes()),
        1 => prop::collection::vec(any::<u8>(), 0..256),
    ]
}

/// Arbitrary plaintexts: bytes, text, JSON.
fn plaintext() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..64),
        "\\PC{0,24}".prop_map(String::into_bytes),
        json_value().prop_map(|v| v.to_string().into_bytes()),
    ]
}

proptest! {
    #![proptest_config(config(256))]

    /// Arbitrary callback bodies never panic: decrypting one fails cleanly (no key forged a seal), and
    /// opening one — signed with the platform key, so it gets past verification — fails cleanly too.
    #[test]
    fn arbitrary_callbacks_never_open(body in callback_body(), sign in prop::bool::weighted(0.25)) {
        let e = notify::decrypt::<Value>(APIV3_KEY, &body).unwrap_err();
        prop_assert!(e.is_decode(), "{e}");
        let h = if sign {
            signed(platform_key(), PUB_KEY_ID, NOW, "nonce", &body)
        } else {
            headers(&NOW.to_string(), "nonce", &b64(&[0; 256]), PUB_KEY_ID).unwrap()
        };
        let e = notify::open_at::<Value>(keyring(), APIV3_KEY, &h, &body, NOW).unwrap_err();
        prop_assert!(e.is_decode() || (!sign && e.is_verification()), "{e}");
    }

    /// A resource sealed with the right key but holding anything opens exactly when it is JSON, to that JSON.
    #[test]
    fn sealed_arbitrary_resources_open_only_as_json(
        plain in plaintext(),
        envelope in callback_envelope(Just(None)),
        nonce in "[A-Za-z0-9]{12}",
        aad in prop::option::of("[ -~]{0,12}"),
    ) {
        let ciphertext = AesGcm::encrypt(&plain, APIV3_KEY, &nonce, aad.as_deref().unwrap_or_default()).unwrap();
        let mut body = envelope;
        body["resource"] = object(vec![
            ("algorithm", Some(json!(notify::AEAD_AES_256_GCM))), ("ciphertext", Some(json!(ciphertext))),
            ("nonce", Some(json!(nonce))), ("associated_data", aad.map(Value::from)),
        ]);
        let body = body.to_string().into_bytes();
        let parsed: Value = serde_json::from_slice(&body).unwrap();
        let complete = ["id", "create_time", "event_type", "resource_type"].iter().all(|k| parsed[k].is_string())
            && (parsed["summary"].is_null() || parsed["summary"].is_string());
        let expected = serde_json::from_slice::<Value>(&plain).ok();
        let h = signed(platform_key(), PUB_KEY_ID, NOW, "nonce", &body);
        match notify::open_at::<Value>(keyring(), APIV3_KEY, &h, &body, NOW) {
            Ok(event) => {
                prop_assert!(complete);
                prop_assert_eq!(Some(&event.resource), expected.as_ref());
                prop_assert_eq!(event.plaintext.as_bytes(), &plain[..]);
            }
            Err(e) => {
                prop_assert!(e.is_decode(), "{e}");
                prop_assert!(!complete || expected.is_none(), "{e}");
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------------------
// Keys
// ---------------------------------------------------------------------------------------------------------

/// The base64 body of a PEM text (between its armor lines), without whitespace.
fn pem_body(pem: &str) -> String {
    pem.lines().filter(|l| !l.starts_with("-----")).collect::<String>()
}

/// Whether `text` quotes at least 16 consecutive characters of `material`.
fn quotes_material(text: &str, material: &str) -> bool {
    const WINDOW: usize = 16;
    let m = material.as_bytes();
    m.len() >= WINDOW && (0..=m.len() - WINDOW).any(|i| text.contains(std::str::from_utf8(&m[i..i + WINDOW]).unwrap()))
}

/// Everything an error shows: `Display`, `Debug` and every source.
fn error_text(e: &wechatpay::Error) -> String {
    let mut text = format!("{e}\n{e:?}");
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(&format!("\n{s}\n{s:?}"));
        source = s.source();
    }
    text
}

#[derive(Debug, Clone)]
enum Mangle {
    /// Keep only the first `n` bytes.
    Truncate(usize),
    /// Flip bits of one byte of the base64 body.
    FlipBody(usize, u8),
    /// Replace one character of the base64 body by another base64 character.
    SwapBody(usize, char),
    /// Delete a run of bytes anywhere.
    Delete(usize, usize),
    /// Insert a character anywhere.
    Insert(usize, char),
}

/// Edits of the base64 body only, or truncation anywhere.
fn body_mangle() -> impl Strategy<Value = Mangle> {
    let b64char = prop::sample::select(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="
            .chars()
            .collect::<Vec<_>>(),
    );
    prop_oneof![
        any::<usize>().prop_map(Mangle::Truncate),
        (any::<usize>(), 1u8..=255).prop_map(|(i, m)| Mangle::FlipBody(i, m)),
        (any::<usize>(), b64char).prop_map(|(i, c)| Mangle::SwapBody(i, c)),
    ]
}

fn mangle() -> impl Strategy<Value = Mangle> {
    let inserted = prop_oneof![Just('\n'), Just('-'), Just(':'), Just(' '), any::<char>()];
    prop_oneof![
        3 => body_mangle(),
        1 => (any::<usize>(), 1usize..64).prop_map(|(i, n)| Mangle::Delete(i, n)),
        1 => (any::<usize>(), inserted).prop_map(|(i, c)| Mangle::Insert(i, c)),
    ]
}

/// Applies `m` to `pem` (positions taken modulo the length; the result made UTF-8 again); edits of the
/// base64 body stay inside it, and do nothing when there is no body left.
fn apply(pem: &str, m: &Mangle) -> String {
    let mut bytes = pem.as_bytes().to_vec();
    let body_start = pem.find('\n').map_or(0, |i| i + 1);
    let body_end = pem.rfind("-----END").unwrap_or(pem.len());
    let in_body = |i: usize| (body_start < body_end).then(|| body_start + i % (body_end - body_start));
    match *m {
        Mangle::Truncate(n) => bytes.truncate(n % (bytes.len() + 1)),
        Mangle::FlipBody(i, mask) => {
            if let Some(i) = in_body(i) {
                bytes[i] ^= mask;
            }
        }
        Mangle::SwapBody(i, c) => {
            if let Some(i) = in_body(i) {
                bytes[i] = c as u8;
            }
        }
        Mangle::Delete(i, n) => {
            let i = i % (bytes.len() + 1);
            let end = (i + n).min(bytes.len());
            bytes.drain(i..end);
        }
        Mangle::Insert(i, c) => {
            let i = i % (bytes.len() + 1);
            let mut buf = [0; 4];
            bytes.splice(i..i, c.encode_utf8(&mut buf).bytes());
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

fn key_fixture() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        MERCHANT_KEY_PEM,
        MERCHANT_KEY_PKCS1_PEM,
        PLATFORM_KEY_PEM,
        MERCHANT_PUB_PEM,
        MERCHANT_PUB_PKCS1_PEM,
        PLATFORM_CERT_PEM,
    ])
}

/// Loads `text` every way a key is loaded; each error must be a key error that quotes no key material.
fn load_every_way(text: &str, material: &str) -> Result<(), TestCaseError> {
    let errors = [
        PrivateKey::load(text).err(),
        PublicKey::load(text).err(),
        wechatpay::keys::certificate_serial(text).err(),
        wechatpay::keys::pkcs1_to_spki_pem(text).err(),
    ];
    for e in errors.iter().flatten() {
        prop_assert!(e.is_key(), "{e}");
        let shown = error_text(e);
        prop_assert!(
            !quotes_material(&shown, material),
            "the error quotes key material: {shown}"
        );
    }
    Ok(())
}

/// Arbitrary text for a key loader, never a `file://` path (that would read files).
fn key_text() -> impl Strategy<Value = String> {
    let prefix = prop::sample::select(vec![
        "",
        "private.pkcs1://",
        "private.pkcs8://",
        "public.pkcs1://",
        "public.spki://",
        "-----BEGIN PRIVATE KEY-----\n",
        "-----BEGIN RSA PRIVATE KEY-----\n",
        "-----BEGIN PUBLIC KEY-----\n",
        "-----BEGIN CERTIFICATE-----\n",
        "-----BEGIN ENCRYPTED PRIVATE KEY-----\n",
        "-----BEGIN ",
    ]);
    let middle = prop_oneof![
        any::<String>(),
        "[A-Za-z0-9+/=\n:-]{0,64}",
        prop::collection::vec(any::<u8>(), 0..200).prop_map(|b| b64(&b)),
    ];
    let suffix = prop::sample::select(vec![
        "",
        "\n-----END PRIVATE KEY-----\n",
        "\n-----END RSA PRIVATE KEY-----\n",
        "\n-----END PUBLIC KEY-----\n",
        "\n-----END CERTIFICATE-----\n",
        "-----",
    ]);
    (prefix, middle, suffix)
        .prop_map(|(p, m, s)| format!("{p}{m}{s}"))
        .prop_filter("no file:// paths", |t| !t.trim().starts_with("file://"))
}

proptest! {
    #![proptest_config(config(256))]

    /// Arbitrary text never panics a key loader; every failure is a key error.
    #[test]
    fn keys_from_arbitrary_text_never_panic(text in key_text()) {
        load_every_way(&text, "")?;
        if let Ok(key) = PrivateKey::load(&text) {
            let _ = key.public_key().verify(b"x", &key.sign(b"x"));
        }
    }

}

proptest! {
    // Fewer cases: a DER that still holds a valid key costs a full RSA key check in every loader.
    #![proptest_config(config(96))]

    /// Arbitrary and bit-flipped DER never panics a key loader.
    #[test]
    fn keys_from_arbitrary_der_never_panic(
        fixture in key_fixture(),
        flips in prop::collection::vec((any::<usize>(), 1u8..=255), 0..4),
        truncate in prop::option::of(any::<usize>()),
        random in prop::option::of(prop::collection::vec(any::<u8>(), 0..512)),
    ) {
        let mut der = random.unwrap_or_else(|| unb64(&pem_body(fixture)));
        for (i, mask) in flips {
            if !der.is_empty() {
                let i = i % der.len();
                der[i] ^= mask;
            }
        }
        if let Some(n) = truncate {
            der.truncate(n % (der.len() + 1));
        }
        for result in [
            PrivateKey::from_pkcs1_der(&der).map(|_| ()),
            PrivateKey::from_pkcs8_der(&der).map(|_| ()),
            PublicKey::from_pkcs1_der(&der).map(|_| ()),
            PublicKey::from_spki_der(&der).map(|_| ()),
            PublicKey::from_certificate_der(&der).map(|_| ()),
        ] {
            if let Err(e) = result {
                prop_assert!(e.is_key(), "{e}");
            }
        }
        let text = b64(&der);
        for scheme in ["private.pkcs1://", "private.pkcs8://", "public.pkcs1://", "public.spki://"] {
            load_every_way(&format!("{scheme}{text}"), &text)?;
        }
    }
}

proptest! {
    #![proptest_config(config(256))]

    /// Mangled PEM — truncated, bits flipped, characters swapped, deleted or inserted anywhere, the armor
    /// lines included — never panics a key loader, every failure is a key error, and no error quotes the key
    /// material.
    #[test]
    fn mangled_pem_errors_never_quote_the_key(fixture in key_fixture(), mangles in prop::collection::vec(mangle(), 1..4)) {
        let mut text = fixture.to_owned();
        for m in &mangles {
            text = apply(&text, m);
        }
        load_every_way(&text, &pem_body(fixture))?;
    }
}

/// The minimal case `mangled_pem_errors_never_quote_the_key` found: a key whose BEGIN line lost its closing
/// dashes once made the label run to the next `-----`, and the `no -----END … line` error quoted the whole
/// base64 key.
#[test]
fn pem_with_an_unterminated_begin_line_errs_without_the_key() {
    let broken = PLATFORM_KEY_PEM.replacen("-----BEGIN PRIVATE KEY-----", "-----BEGIN PRIVATE KEY", 1);
    for e in [
        PrivateKey::load(&broken).unwrap_err(),
        PublicKey::load(&broken).unwrap_err(),
    ] {
        assert!(e.is_key(), "{e}");
        let shown = error_text(&e);
        assert!(
            !quotes_material(&shown, &pem_body(PLATFORM_KEY_PEM)),
            "the error quotes the key: {shown}"
        );
    }
}

// ---------------------------------------------------------------------------------------------------------
// Certificate downloads
// ---------------------------------------------------------------------------------------------------------

#[derive(Debug, Clone)]
struct Listing {
    nonce: String,
    aad: String,
    effective_time: String,
    expire_time: String,
    signing_nonce: String,
    skew: i64,
}

fn listing() -> impl Strategy<Value = Listing> {
    (
        "[A-Za-z0-9]{12}",
        "[a-z]{0,12}",
        "[0-9T:+-]{0,25}",
        "[0-9T:+-]{0,25}",
        "[A-Za-z0-9]{1,32}",
        -300i64..=300,
    )
        .prop_map(
            |(nonce, aad, effective_time, expire_time, signing_nonce, skew)| Listing {
                nonce,
                aad,
                effective_time,
                expire_time,
                signing_nonce,
                skew,
            },
        )
}

fn listing_body(l: &Listing, serial: &str, ciphertext: &str) -> Vec<u8> {
    json!({"data": [{
        "serial_no": serial, "effective_time": l.effective_time, "expire_time": l.expire_time,
        "encrypt_certificate": {
            "algorithm": "AEAD_AES_256_GCM", "nonce": l.nonce, "associated_data": l.aad, "ciphertext": ciphertext,
        },
    }]})
    .to_string()
    .into_bytes()
}

#[derive(Debug, Clone, Copy)]
enum Forgery {
    /// A byte of the body changed in transit; the signature kept.
    Body,
    /// A byte of the sealed certificate changed, and the body signed again.
    Ciphertext,
    /// The listing names another serial, signed again.
    Serial,
    /// Signed by another key that claims the certificate's serial.
    OtherSigner,
    /// Signed by the certificate's key, but the client trusts another key under that serial.
    TrustedWins,
    /// Genuine and freshly signed, but opened after the certificate expired.
    Expired,
    /// Genuine and freshly signed, but opened before the certificate is valid.
    NotYetValid,
}

proptest! {
    #![proptest_config(config(64))]

    /// A genuine listing opens to its certificate; a tampered or forged one is refused.
    #[test]
    fn certificate_listings_open_and_refuse_forgeries(
        l in listing(),
        forgery in prop::sample::select(vec![
            Forgery::Body, Forgery::Ciphertext, Forgery::Serial, Forgery::OtherSigner, Forgery::TrustedWins,
            Forgery::Expired, Forgery::NotYetValid,
        ]),
        index in any::<usize>(),
        mask in flip_mask(),
    ) {
        let sealed = AesGcm::encrypt(PLATFORM_CERT_PEM.as_bytes(), APIV3_KEY, &l.nonce, &l.aad).unwrap();
        let body = listing_body(&l, CERT_SERIAL, &sealed);
        let ts = CERT_NOW + l.skew;
        let h = signed(platform_key(), CERT_SERIAL, ts, &l.signing_nonce, &body);
        let certs = certificates::open(&h, &body, APIV3_KEY, &Keyring::default(), CERT_NOW);
        prop_assert!(certs.is_ok(), "{}", certs.unwrap_err());
        let certs = certs.unwrap();
        prop_assert_eq!(certs.len(), 1);
        prop_assert_eq!(certs[0].serial_no(), CERT_SERIAL);
        prop_assert_eq!(certs[0].pem(), PLATFORM_CERT_PEM);
        prop_assert_eq!(certs[0].effective_time(), l.effective_time.as_str());
        // Signed by a key the client already trusts, it opens too.
        let by_trusted = signed(platform_key(), PUB_KEY_ID, ts, &l.signing_nonce, &body);
        let certs = certificates::open(&by_trusted, &body, APIV3_KEY, keyring(), CERT_NOW);
        prop_assert!(certs.is_ok(), "{}", certs.unwrap_err());

        let mut trusted = Keyring::default();
        let mut now = CERT_NOW;
        let (h, body) = match forgery {
            Forgery::Body => (h, flip_bytes(&body, index, mask)),
            Forgery::Ciphertext => {
                let raw = flip_bytes(&unb64(&sealed), index, mask);
                let body = listing_body(&l, CERT_SERIAL, &b64(&raw));
                (signed(platform_key(), CERT_SERIAL, ts, &l.signing_nonce, &body), body)
            }
            Forgery::Serial => {
                let Some(serial) = flip_str(CERT_SERIAL, index, mask) else { return Ok(()) };
                if serial.eq_ignore_ascii_case(CERT_SERIAL) { return Ok(()) }
                let body = listing_body(&l, &serial, &sealed);
                (signed(platform_key(), CERT_SERIAL, ts, &l.signing_nonce, &body), body)
            }
            Forgery::OtherSigner => (signed(merchant_key(), CERT_SERIAL, ts, &l.signing_nonce, &body), body),
            Forgery::TrustedWins => {
                trusted = Keyring::new([(CERT_SERIAL.to_owned(), merchant_key().public_key())]);
                (h, body)
            }
            Forgery::Expired | Forgery::NotYetValid => {
                now = if let Forgery::Expired = forgery { AFTER_CERT } else { BEFORE_CERT };
                (signed(platform_key(), CERT_SERIAL, now + l.skew, &l.signing_nonce, &body), body)
            }
        };
        let result = certificates::open(&h, &body, APIV3_KEY, &trusted, now);
        prop_assert!(result.is_err(), "{:?} forgery accepted", forgery);
        let e = result.unwrap_err();
        prop_assert!(e.is_decode() || e.is_verification(), "{e}");
        if let Forgery::Expired | Forgery::NotYetValid = forgery {
            prop_assert_eq!(e.verification(), Some(Verification::CertificateValidity));
        }
    }
}

/// An item of a listing, sealed as `encrypt_certificate`, the other fields arbitrary but mostly well-typed.
fn certificate_item(sealed: impl Strategy<Value = Option<Value>>) -> impl Strategy<Value = Value> {
    let serial = prop::option::weighted(
        0.99,
        mostly(prop_oneof![
            Just(json!(CERT_SERIAL)),
            "[0-9A-Fa-f]{0,40}".prop_map(Value::String),
        ]),
    );
    (serial, text_field(), text_field(), sealed).prop_map(|(serial, effective, expire, sealed)| {
        object(vec![
            ("serial_no", serial),
            ("effective_time", effective),
            ("expire_time", expire),
            ("encrypt_certificate", sealed),
        ])
    })
}

/// `v3/certificates` bodies: arbitrary bytes and JSON, and listings with arbitrary items.
fn certificates_body() -> impl Strategy<Value = Vec<u8>> {
    let sealed = (algorithm_field(), nonce_field(), text_field(), ciphertext_field()).prop_map(
        |(algorithm, nonce, aad, ciphertext)| {
            object(vec![
                ("algorithm", algorithm),
                ("nonce", nonce),
                ("associated_data", aad),
                ("ciphertext", ciphertext),
            ])
        },
    );
    let item = certificate_item(prop::option::weighted(0.99, mostly(sealed)));
    prop_oneof![
        6 => prop::collection::vec(or_any(item), 0..3)
            .prop_map(|items| json!({ "data": items }).to_string().into_bytes()),
        1 => json_value().prop_map(|v| v.to_string().into_bytes()),
        1 => prop::collection::vec(any::<u8>(), 0..256),
    ]
}

/// What a sealed certificate might hold: the fixture mangled, other PEM, anything.
fn certificate_plaintext() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        3 => prop::collection::vec(mangle(), 0..3).prop_map(|ms| {
            ms.iter().fold(PLATFORM_CERT_PEM.to_owned(), |text, m| apply(&text, m)).into_bytes()
        }),
        1 => prop::sample::select(vec![PLATFORM_KEY_PEM, MERCHANT_PUB_PEM, MERCHANT_PUB_PKCS1_PEM])
            .prop_map(|p| p.as_bytes().to_vec()),
        1 => prop::collection::vec(any::<u8>(), 0..400)
            .prop_map(|b| format!("-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n", b64(&b)).into_bytes()),
        1 => plaintext(),
    ]
}

proptest! {
    #![proptest_config(config(256))]

    /// Arbitrary `v3/certificates` bodies never panic and never yield a certificate, whatever the APIv3
    /// key, and even signed with a trusted key.
    #[test]
    fn arbitrary_certificate_listings_never_open(
        body in certificates_body(),
        key in prop_oneof![4 => Just(APIV3_KEY.to_owned()), 1 => "\\PC{0,40}"],
        sign in prop::bool::weighted(0.25),
    ) {
        let e = certificates::decrypt(&body, &key).unwrap_err();
        prop_assert!(e.is_decode() || e.is_key(), "{e}");
        let h = if sign {
            signed(platform_key(), PUB_KEY_ID, CERT_NOW, "nonce", &body)
        } else {
            headers(&CERT_NOW.to_string(), "nonce", &b64(&[0; 256]), CERT_SERIAL).unwrap()
        };
        let e = certificates::open(&h, &body, &key, keyring(), CERT_NOW).unwrap_err();
        prop_assert!(e.is_decode() || e.is_key() || e.is_verification(), "{e}");
    }

    /// A listing sealed with the right key but holding anything never panics; what decrypts is a
    /// certificate of the serial the listing names, exactly as sealed; unsigned, it never opens.
    #[test]
    fn sealed_arbitrary_certificates_decrypt_only_as_themselves(
        plain in certificate_plaintext(),
        item in certificate_item(Just(None)),
        nonce in "[A-Za-z0-9]{12}",
        aad in "[ -~]{0,12}",
    ) {
        let ciphertext = AesGcm::encrypt(&plain, APIV3_KEY, &nonce, &aad).unwrap();
        let mut item = item;
        item["encrypt_certificate"] = json!({
            "algorithm": "AEAD_AES_256_GCM", "nonce": nonce, "associated_data": aad, "ciphertext": ciphertext,
        });
        let listed = item["serial_no"].as_str().map(str::to_owned);
        let body = json!({ "data": [item] }).to_string().into_bytes();
        match certificates::decrypt(&body, APIV3_KEY) {
            Ok(certs) => {
                prop_assert_eq!(certs.len(), 1);
                prop_assert!(listed.is_some_and(|s| s.eq_ignore_ascii_case(certs[0].serial_no())));
                prop_assert_eq!(certs[0].pem().as_bytes(), &plain[..]);
                prop_assert_eq!(certs[0].public_key().certificate_serial(), Some(certs[0].serial_no()));
            }
            Err(e) => prop_assert!(e.is_decode(), "{e}"),
        }
        let h = headers(&CERT_NOW.to_string(), "nonce", &b64(&[0; 256]), CERT_SERIAL).unwrap();
        prop_assert!(certificates::open(&h, &body, APIV3_KEY, &Keyring::default(), CERT_NOW).is_err());
    }
}
