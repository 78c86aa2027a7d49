//! Keys load from every form PHP's `Rsa::from` takes, refuse every malformed input with a clear error that
//! never echoes key material, and sign byte-for-byte like OpenSSL; the client builder checks its whole
//! configuration at `build()`.

mod common;

use wechatpay::{Client, ClientBuilder, Error, PrivateKey, PublicKey};

const MERCHANT_KEY: &str = include_str!("fixtures/merchant_key.pem");
const MERCHANT_KEY_PKCS1: &str = include_str!("fixtures/merchant_key_pkcs1.pem");
const MERCHANT_PUB: &str = include_str!("fixtures/merchant_pub.pem");
const MERCHANT_PUB_PKCS1: &str = include_str!("fixtures/merchant_pub_pkcs1.pem");
const PLATFORM_KEY: &str = include_str!("fixtures/platform_key.pem");
const PLATFORM_PUB: &str = include_str!("fixtures/platform_pub.pem");
const PLATFORM_CERT: &str = include_str!("fixtures/platform_cert.pem");
const WEAK_KEY: &str = include_str!("fixtures/weak_key.pem");
const EC_KEY: &str = include_str!("fixtures/ec_key.pem");
const MESSAGE: &[u8] = include_bytes!("fixtures/message.txt");
const SIGNATURE: &str = include_str!("fixtures/message.sig.b64");
const CERT_SERIAL: &str = "5157F09EFDC096DE15EBE81A47057A7232F1B8E1";

macro_rules! fixture_url {
    ($name:literal) => {
        concat!("file://", env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/", $name)
    };
}

/// A throwaway RSA-2048 key, encrypted with `openssl pkcs8 -topk8 -v2 aes-256-cbc` (password `throwaway`).
const ENCRYPTED_KEY: &str = r"-----BEGIN ENCRYPTED PRIVATE KEY-----
MIIFLTBXBgkqhkiG9w0BBQ0wSjApBgkqhkiG9w0BBQwwHAQI7q4pvkUa4hwCAggA
MAwGCCqGSIb3DQIJBQAwHQYJYIZIAWUDBAEqBBC4Zlck+qyK4D4YunsdM7KkBIIE
0C5U83QOFwe+hnnJG9ZDMjczwIf9UaVy56C/VSQCPzv9gjuRhkGgH4McTG6pXn+I
A5xXJUg2MZ9rrirDEmzkT9OVZhOkNL/l3NyaZEWJaZcYR2FLMSUFOHbXhfGebZSj
Ph5ZroDT2Rwt1D+DcdhqktkMpmD3SF0+ODAmt/sWhE4mRkSTkQIHjc3nIM0pFJcW
rhxhTdMA60JGHC23pZb05kjJoftbC/2RGb1Mo8Ucu7Km0zosm7baPMRbPOuSiKbU
sXcMTOQlV+l1kmzyGZ2ITeAWGi1NC9vA5xKCQewb9OI+42ZCqHmmjFX6OipGMDEC
KLHhJxTyWlg8R2/f4MtrkKLL34m1f3jQOymlpdtSOTdsEkFA6cV7zEie+mIiMWqr
X8J2cgJ/bwhhV+t4UUUiX7mrYZIH5GSArQxV6MvA7XheuypjwK12lTpvyyCj4mQ/
bSDG29bPH/8Gxei+c1h7iBKc/xLJ96jbe3z6N85XanStxqA1QBt3hJi3WlzkBhwG
yBM2b4M3BrXzDEMuvcqWvuHefWFQc3o/oWOzaDyMgh0CnIqhj3YO9lKsaXENhwQn
QQDqLoCa9plySrxYRr88VCLm96SLAQrcrkmMP03jdcrd7aIL/NOSzR411MISAbBZ
95MuW/5ip56YGr/pek9ZbHXloGq45MlHH/MVJeaPLLqMa9SWpSfk9I6RvGg3gh0c
y54z442gxB2M/Lh4hJmELEjLh5nCC1FpnO7u0hxbHIpPtrFHvN6nOxK1+5PRRmKY
H6XDE/8lYpR4idWZM5TT8Oi1p7ECjft7rXUk2pS+LRr//p7mplnw9a7Z3vQwHhb2
wrJMnaczHv5Z/tMeqrsqQWR47D3YxzAeiiILH7JKSKNCBuYO1r5VxOp6WoJENGr+
abVo6OgQ2u2rOcjuxoxNTK+eD1zxNckp7EB2D9kXW8wHJhR8S77AGdMmE9oz7l8W
wwFsGsytuDOZ+7MsrcgOWF5tSfKHjE5Dc7cPDrGpzUIgk3wLmapqh5sX+mctZfyA
5UVV0XboFxPgeKh4V27VmpGCEMkMASSrdfrQd6ppu7OHcBX/R6NbcDVyLcbL9HOf
bTpOI+OQ0ciJmsd4QjMqIw6X+4l7FxY790NT1usglL2JzBEfo3zwnSb9TeHKKx1O
YxvWz/gzVXxUrLJkt7pczCOC7kZ7SH4+HVJvCID9ouyoNdG7zVOAvazXPzZmuqqS
ugeadO5V9gcY6caRg0m4A7rnBf04BAlvW2Ip98bd0DE/28sZUbgC9dZRo2p2GtY4
6QNWexqAnIZPbn644FT5DdkPFON8bCeBz1hncSsu8pwhppRCAjuvvrB80C8Rh+iw
8ArwYm66CFbA7lHlsCX3sV1Tc9bkXqOBCd3XMdNDnDMvF4FaVgQJOi+XuDg2x8Ig
7LP5XoQBb4S7nhwdI7VAQa0ME4Zj6/gNDU2TIni767whUFQHHQfAvgH3YLCR42Za
cjSMaccPXJPcsW+EXes34nT3W3yb7VJ62yUxnRzONFGh9dOzZvgFi5yXhZ6iPB3w
oVqyGE7ZHzPTjJ5CyOv7YaBWbn+NW2ex+yvjTvjftYRB2YqSPEwEXjYveK071JxR
vtcd0EHyjC5A2S4NbI/IsD6Tlfa+ETOsIUAM9XqYAuYN
-----END ENCRYPTED PRIVATE KEY-----
";

/// The base64 body of a PEM text: every line but the `-----` ones, joined.
fn body(pem: &str) -> String {
    pem.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("-----"))
        .collect()
}

/// The label of the first PEM block (`PRIVATE KEY`, …).
fn label(pem: &str) -> &str {
    let start = pem.find("-----BEGIN ").unwrap() + "-----BEGIN ".len();
    let end = start + pem[start..].find("-----").unwrap();
    &pem[start..end]
}

/// Rewraps a PEM text: `width` base64 characters per line (0 = all on one line), with `eol` line ends.
fn rewrap(pem: &str, width: usize, eol: &str) -> String {
    let b64 = body(pem);
    let label = label(pem);
    let lines: Vec<String> = if width == 0 {
        vec![b64]
    } else {
        b64.as_bytes()
            .chunks(width)
            .map(|c| String::from_utf8(c.to_vec()).unwrap())
            .collect()
    };
    format!(
        "-----BEGIN {label}-----{eol}{}{eol}-----END {label}-----{eol}",
        lines.join(eol)
    )
}

/// The PEM text with one character of its base64 body (second body line, tenth column) replaced by `bad`.
fn corrupt_body(pem: &str, bad: char) -> String {
    let mut lines: Vec<String> = pem.lines().map(str::to_owned).collect();
    lines[2].replace_range(9..10, &bad.to_string());
    lines.join("\n")
}

fn signature() -> &'static str {
    SIGNATURE.trim()
}

/// Fails if any 16 consecutive characters of any of `secrets` appear in `shown`.
fn assert_no_material(shown: &str, secrets: &[&str]) {
    for secret in secrets {
        let chars: Vec<char> = secret.chars().filter(|c| !c.is_whitespace()).collect();
        for window in chars.windows(16) {
            let chunk: String = window.iter().collect();
            assert!(!shown.contains(&chunk), "key material {chunk:?} leaked into {shown:?}");
        }
    }
}

/// Every way an error can be shown: Display, alternate Display, Debug, pretty Debug, and its sources.
fn renderings(err: &Error) -> Vec<String> {
    let mut out = vec![
        err.to_string(),
        format!("{err:#}"),
        format!("{err:?}"),
        format!("{err:#?}"),
    ];
    let mut source = std::error::Error::source(err);
    while let Some(s) = source {
        out.push(s.to_string());
        out.push(format!("{s:?}"));
        source = s.source();
    }
    out
}

/// Checks a refused key: a key error whose message names `mentions` and shows none of `secrets`.
fn check_refusal(case: &str, result: Result<impl std::fmt::Debug, Error>, mentions: &[&str], secrets: &[&str]) {
    let err = match result {
        Ok(key) => panic!("{case}: expected a key error, loaded {key:?}"),
        Err(e) => e,
    };
    assert!(err.is_key(), "{case}: expected is_key(), got {err:?}");
    assert!(
        !err.is_config() && !err.is_api() && !err.is_transport(),
        "{case}: one kind only: {err:?}"
    );
    let message = err.to_string();
    for m in mentions {
        assert!(
            message.to_lowercase().contains(&m.to_lowercase()),
            "{case}: the message should name {m:?}: {message}"
        );
    }
    for shown in renderings(&err) {
        assert_no_material(&shown, secrets);
    }
}

// ---------------------------------------------------------------------------------------------------------
// Private keys: every form loads, and signs exactly like `openssl dgst -sha256 -sign`.

fn assert_signs_like_openssl(case: &str, key: &PrivateKey) {
    assert_eq!(key.bits(), 2048, "{case}");
    assert_eq!(
        key.sign(MESSAGE),
        signature(),
        "{case}: PKCS#1 v1.5 signatures are deterministic"
    );
    assert!(key.public_key().verify(MESSAGE, signature()), "{case}");
}

#[test]
fn private_key_from_pem_pkcs8() {
    let key = PrivateKey::load(MERCHANT_KEY).unwrap();
    assert_signs_like_openssl("PEM PKCS#8", &key);
}

#[test]
fn private_key_from_pem_pkcs1() {
    assert_eq!(label(MERCHANT_KEY_PKCS1), "RSA PRIVATE KEY");
    let key = PrivateKey::load(MERCHANT_KEY_PKCS1).unwrap();
    assert_signs_like_openssl("PEM PKCS#1", &key);
}

#[test]
fn private_key_from_file() {
    for url in [fixture_url!("merchant_key.pem"), fixture_url!("merchant_key_pkcs1.pem")] {
        let key = PrivateKey::load(url).unwrap_or_else(|e| panic!("{url}: {e}"));
        assert_signs_like_openssl(url, &key);
    }
}

#[test]
fn private_key_from_base64_der() {
    let pkcs1 = format!("private.pkcs1://{}", body(MERCHANT_KEY_PKCS1));
    let pkcs8 = format!("private.pkcs8://{}", body(MERCHANT_KEY));
    for (case, text) in [("private.pkcs1://", &pkcs1), ("private.pkcs8://", &pkcs8)] {
        let key = PrivateKey::load(text).unwrap_or_else(|e| panic!("{case}: {e}"));
        assert_signs_like_openssl(case, &key);
    }
    // Whitespace inside the base64 (a value wrapped in a config file) is ignored, as PHP's base64_decode does.
    let wrapped = format!(
        "private.pkcs8://{}",
        rewrap(MERCHANT_KEY, 64, "\n")
            .lines()
            .filter(|l| !l.starts_with("-----"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert_signs_like_openssl("wrapped private.pkcs8://", &PrivateKey::load(&wrapped).unwrap());
}

#[test]
fn private_key_from_str() {
    let key: PrivateKey = MERCHANT_KEY.parse().unwrap();
    assert_signs_like_openssl("FromStr", &key);
}

#[test]
fn pem_with_odd_wrapping_loads() {
    let cases = [
        ("all base64 on one line", rewrap(MERCHANT_KEY, 0, "\n")),
        ("CRLF line ends", rewrap(MERCHANT_KEY, 64, "\r\n")),
        ("76-column lines", rewrap(MERCHANT_KEY, 76, "\n")),
        ("ragged 13-column lines", rewrap(MERCHANT_KEY, 13, "\n")),
        ("one line with CRLF, PKCS#1", rewrap(MERCHANT_KEY_PKCS1, 0, "\r\n")),
        (
            "indented and padded",
            format!("\n\n   {}\n\n", MERCHANT_KEY.replace('\n', "\n    ")),
        ),
        ("everything on one line", rewrap(MERCHANT_KEY, 0, "")),
        (
            "text before the block",
            format!("Bag Attributes\n    localKeyID: 01 02 03\n{MERCHANT_KEY}"),
        ),
    ];
    for (case, text) in &cases {
        let key = PrivateKey::load(text).unwrap_or_else(|e| panic!("{case}: {e}"));
        assert_signs_like_openssl(case, &key);
    }
    let public = PublicKey::load(&rewrap(MERCHANT_PUB, 0, "\r\n")).unwrap();
    assert!(public.verify(MESSAGE, signature()));
    let cert = PublicKey::load(&rewrap(PLATFORM_CERT, 0, "\n")).unwrap();
    assert_eq!(cert.certificate_serial(), Some(CERT_SERIAL));
}

#[test]
fn private_key_debug_shows_no_material() {
    for text in [MERCHANT_KEY, MERCHANT_KEY_PKCS1] {
        let key = PrivateKey::load(text).unwrap();
        for shown in [format!("{key:?}"), format!("{key:#?}")] {
            assert!(shown.contains("PrivateKey"), "{shown}");
            assert!(!shown.contains("MII"), "{shown}");
            assert_no_material(&shown, &[&body(MERCHANT_KEY), &body(MERCHANT_KEY_PKCS1)]);
        }
    }
}

// ---------------------------------------------------------------------------------------------------------
// Public keys and certificates.

#[test]
fn public_key_every_form_verifies() {
    let spki = format!("public.spki://{}", body(MERCHANT_PUB));
    let pkcs1 = format!("public.pkcs1://{}", body(MERCHANT_PUB_PKCS1));
    assert_eq!(label(MERCHANT_PUB), "PUBLIC KEY");
    assert_eq!(label(MERCHANT_PUB_PKCS1), "RSA PUBLIC KEY");
    let cases = [
        ("PEM SPKI", MERCHANT_PUB),
        ("PEM RSA PUBLIC KEY", MERCHANT_PUB_PKCS1),
        ("file:// SPKI", fixture_url!("merchant_pub.pem")),
        ("file:// RSA PUBLIC KEY", fixture_url!("merchant_pub_pkcs1.pem")),
        ("public.spki://", spki.as_str()),
        ("public.pkcs1://", pkcs1.as_str()),
    ];
    for (case, text) in cases {
        let key = PublicKey::load(text).unwrap_or_else(|e| panic!("{case}: {e}"));
        assert_eq!(key.bits(), 2048, "{case}");
        assert_eq!(key.certificate_serial(), None, "{case}: a bare key has no serial");
        assert!(key.verify(MESSAGE, signature()), "{case}: verifies OpenSSL's signature");
        let mut tampered = MESSAGE.to_vec();
        tampered[0] ^= 1;
        assert!(!key.verify(&tampered, signature()), "{case}: a changed message fails");
        assert!(
            !key.verify(MESSAGE, "not base64!"),
            "{case}: a malformed signature fails"
        );
        let mut sig = common::base64_decode(signature());
        sig[10] ^= 0x40;
        assert!(!key.verify_raw(MESSAGE, &sig), "{case}: a changed signature fails");
    }
}

#[test]
fn public_key_from_certificate() {
    for (case, text) in [
        ("PEM CERTIFICATE", PLATFORM_CERT),
        ("file:// CERTIFICATE", fixture_url!("platform_cert.pem")),
    ] {
        let cert = PublicKey::load(text).unwrap_or_else(|e| panic!("{case}: {e}"));
        assert_eq!(cert.certificate_serial(), Some(CERT_SERIAL), "{case}");
        assert_eq!(cert.bits(), 2048);
        // The key inside the certificate is the platform key: it verifies the platform's signature only.
        let platform = PrivateKey::load(PLATFORM_KEY).unwrap();
        assert!(cert.verify(MESSAGE, &platform.sign(MESSAGE)), "{case}");
        assert!(
            !cert.verify(MESSAGE, signature()),
            "{case}: the merchant's signature is not the platform's"
        );
    }
    let bare = PublicKey::load(PLATFORM_PUB).unwrap();
    let platform = PrivateKey::load(PLATFORM_KEY).unwrap();
    assert!(bare.verify(MESSAGE, &platform.sign(MESSAGE)));
    assert_eq!(bare.certificate_serial(), None);
}

#[test]
fn public_half_of_a_private_key_round_trips() {
    let key = PrivateKey::load(MERCHANT_KEY).unwrap();
    let public = key.public_key();
    assert_eq!(body(&public.to_spki_pem()), body(MERCHANT_PUB));
    assert_eq!(body(&key.to_pkcs8_pem()), body(MERCHANT_KEY));
    let again = PublicKey::load(&public.to_spki_pem()).unwrap();
    assert!(again.verify(MESSAGE, signature()));
}

#[test]
fn the_fixture_signature_is_raw_rsa_2048() {
    assert_eq!(common::base64_decode(signature()).len(), 256);
    let key = PrivateKey::load(MERCHANT_KEY).unwrap();
    assert_eq!(key.sign_raw(MESSAGE), common::base64_decode(signature()));
}

// ---------------------------------------------------------------------------------------------------------
// Refusals: `is_key()`, the form named, no material shown.

#[test]
fn missing_file_is_refused() {
    let url = concat!(
        "file://",
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/does-not-exist.pem"
    );
    check_refusal(
        "private, missing file",
        PrivateKey::load(url),
        &["does-not-exist.pem"],
        &[],
    );
    check_refusal(
        "public, missing file",
        PublicKey::load(url),
        &["does-not-exist.pem"],
        &[],
    );
    let err = PrivateKey::load(url).unwrap_err();
    assert!(
        std::error::Error::source(&err).is_some(),
        "the I/O error is kept as the source"
    );
}

#[test]
fn file_without_pem_is_refused() {
    // A file that exists but holds no key: this very test file.
    let url = concat!("file://", env!("CARGO_MANIFEST_DIR"), "/Cargo.toml");
    check_refusal("not a key file", PrivateKey::load(url), &["Cargo.toml"], &[]);
}

#[test]
fn garbage_text_is_refused() {
    for garbage in [
        "",
        "   ",
        "hello, world",
        "-----BEGIN",
        "MIIEvQ",
        "file:",
        "private.pkcs9://AAAA",
    ] {
        check_refusal(&format!("private {garbage:?}"), PrivateKey::load(garbage), &[], &[]);
        check_refusal(&format!("public {garbage:?}"), PublicKey::load(garbage), &[], &[]);
    }
    check_refusal(
        "plain words",
        PrivateKey::load("hello, world"),
        &["PEM", "private.pkcs8://"],
        &[],
    );
    // Base64 DER without its scheme is not guessed at, and is never echoed back.
    let bare = body(MERCHANT_KEY);
    check_refusal("bare base64", PrivateKey::load(&bare), &["private.pkcs8://"], &[&bare]);
}

#[test]
fn truncated_pem_is_refused() {
    let secret = body(MERCHANT_KEY);
    // Cut off halfway: no END line.
    let half = &MERCHANT_KEY[..MERCHANT_KEY.len() / 2];
    check_refusal("no END line", PrivateKey::load(half), &["PRIVATE KEY"], &[&secret]);
    // END line intact, but lines missing from the middle: valid base64, broken DER.
    let lines: Vec<&str> = MERCHANT_KEY.lines().collect();
    let mut short = lines[..lines.len() / 2].to_vec();
    short.push(lines[lines.len() - 1]);
    let short = short.join("\n");
    check_refusal("DER cut short", PrivateKey::load(&short), &["PRIVATE KEY"], &[&secret]);
    let short_pkcs1 = MERCHANT_KEY_PKCS1
        .lines()
        .take(10)
        .chain(MERCHANT_KEY_PKCS1.lines().last())
        .collect::<Vec<_>>()
        .join("\n");
    check_refusal(
        "PKCS#1 DER cut short",
        PrivateKey::load(&short_pkcs1),
        &["RSA PRIVATE KEY"],
        &[&body(MERCHANT_KEY_PKCS1)],
    );
    let pub_lines: Vec<&str> = MERCHANT_PUB.lines().collect();
    let short_pub = [&pub_lines[..3], &pub_lines[pub_lines.len() - 1..]].concat().join("\n");
    check_refusal("SPKI cut short", PublicKey::load(&short_pub), &["PUBLIC KEY"], &[]);
    let cert_lines: Vec<&str> = PLATFORM_CERT.lines().collect();
    let short_cert = [&cert_lines[..5], &cert_lines[cert_lines.len() - 1..]]
        .concat()
        .join("\n");
    check_refusal(
        "certificate cut short",
        PublicKey::load(&short_cert),
        &["CERTIFICATE"],
        &[],
    );
    // A mismatched END label.
    let mismatched = MERCHANT_KEY.replace("-----END PRIVATE KEY-----", "-----END PUBLIC KEY-----");
    check_refusal(
        "mismatched END",
        PrivateKey::load(&mismatched),
        &["PRIVATE KEY"],
        &[&secret],
    );
}

#[test]
fn bad_base64_is_refused() {
    let secret = body(MERCHANT_KEY);
    let broken = corrupt_body(MERCHANT_KEY, '!');
    check_refusal(
        "PEM with !",
        PrivateKey::load(&broken),
        &["PRIVATE KEY", "base64"],
        &[&secret],
    );
    let broken_pub = corrupt_body(MERCHANT_PUB, '*');
    check_refusal(
        "SPKI PEM with *",
        PublicKey::load(&broken_pub),
        &["PUBLIC KEY", "base64"],
        &[&body(MERCHANT_PUB)],
    );
    for scheme in ["private.pkcs1://", "private.pkcs8://"] {
        let text = format!("{scheme}{}", secret.replacen('A', "!", 1));
        check_refusal(scheme, PrivateKey::load(&text), &[scheme, "base64"], &[&secret]);
    }
    for scheme in ["public.pkcs1://", "public.spki://"] {
        let text = format!("{scheme}@@@@");
        check_refusal(scheme, PublicKey::load(&text), &[scheme, "base64"], &[]);
    }
}

#[test]
fn base64_of_the_wrong_shape_is_refused() {
    // Valid base64, valid DER, but not what the scheme announces.
    let pkcs8 = body(MERCHANT_KEY);
    let pkcs1 = body(MERCHANT_KEY_PKCS1);
    let spki = body(MERCHANT_PUB);
    let rsa_pub = body(MERCHANT_PUB_PKCS1);
    check_refusal(
        "PKCS#8 as pkcs1",
        PrivateKey::load(&format!("private.pkcs1://{pkcs8}")),
        &["private.pkcs1://"],
        &[&pkcs8],
    );
    check_refusal(
        "PKCS#1 as pkcs8",
        PrivateKey::load(&format!("private.pkcs8://{pkcs1}")),
        &["private.pkcs8://"],
        &[&pkcs1],
    );
    check_refusal(
        "SPKI as pkcs1",
        PublicKey::load(&format!("public.pkcs1://{spki}")),
        &["public.pkcs1://"],
        &[],
    );
    check_refusal(
        "PKCS#1 as spki",
        PublicKey::load(&format!("public.spki://{rsa_pub}")),
        &["public.spki://"],
        &[],
    );
    // A PEM whose label lies about its body.
    let lying = MERCHANT_KEY_PKCS1.replace("RSA PRIVATE KEY", "PRIVATE KEY");
    check_refusal(
        "PKCS#1 labelled PKCS#8",
        PrivateKey::load(&lying),
        &["PRIVATE KEY"],
        &[&pkcs1],
    );
}

#[test]
fn weak_key_is_refused() {
    let secret = body(WEAK_KEY);
    check_refusal("RSA-1024 PEM", PrivateKey::load(WEAK_KEY), &["1024"], &[&secret]);
    check_refusal(
        "RSA-1024 file",
        PrivateKey::load(fixture_url!("weak_key.pem")),
        &["1024", "PRIVATE KEY"],
        &[&secret],
    );
    check_refusal(
        "RSA-1024 private.pkcs8://",
        PrivateKey::load(&format!("private.pkcs8://{secret}")),
        &["1024", "private.pkcs8://"],
        &[&secret],
    );
}

#[test]
fn non_rsa_key_is_refused() {
    let secret = body(EC_KEY);
    check_refusal("EC PEM", PrivateKey::load(EC_KEY), &["RSA", "PRIVATE KEY"], &[&secret]);
    check_refusal(
        "EC file",
        PrivateKey::load(fixture_url!("ec_key.pem")),
        &["RSA", "PRIVATE KEY"],
        &[&secret],
    );
    check_refusal(
        "EC private.pkcs8://",
        PrivateKey::load(&format!("private.pkcs8://{secret}")),
        &["RSA", "private.pkcs8://"],
        &[&secret],
    );
    // An unknown PEM label (e.g. OpenSSL's traditional EC form) names the label.
    let ec_traditional = format!("-----BEGIN EC PRIVATE KEY-----\n{secret}\n-----END EC PRIVATE KEY-----\n");
    check_refusal(
        "EC PRIVATE KEY",
        PrivateKey::load(&ec_traditional),
        &["EC PRIVATE KEY"],
        &[&secret],
    );
    check_refusal(
        "EC PRIVATE KEY as public",
        PublicKey::load(&ec_traditional),
        &["EC PRIVATE KEY"],
        &[&secret],
    );
}

#[test]
fn public_key_where_a_private_key_is_needed_is_refused() {
    let spki = format!("public.spki://{}", body(MERCHANT_PUB));
    let cases = [
        ("SPKI PEM", MERCHANT_PUB, "PUBLIC KEY"),
        ("RSA PUBLIC KEY PEM", MERCHANT_PUB_PKCS1, "RSA PUBLIC KEY"),
        ("certificate PEM", PLATFORM_CERT, "CERTIFICATE"),
        ("SPKI file", fixture_url!("merchant_pub.pem"), "PUBLIC KEY"),
        ("public.spki://", spki.as_str(), "public.spki://"),
    ];
    for (case, text, form) in cases {
        check_refusal(case, PrivateKey::load(text), &[form, "public"], &[]);
    }
}

#[test]
fn private_key_where_a_public_key_is_needed_is_refused() {
    let pkcs8 = body(MERCHANT_KEY);
    let pkcs1 = body(MERCHANT_KEY_PKCS1);
    let scheme = format!("private.pkcs8://{pkcs8}");
    let cases = [
        ("PKCS#8 PEM", MERCHANT_KEY, "PRIVATE KEY"),
        ("PKCS#1 PEM", MERCHANT_KEY_PKCS1, "RSA PRIVATE KEY"),
        ("PKCS#8 file", fixture_url!("merchant_key.pem"), "PRIVATE KEY"),
        ("private.pkcs8://", scheme.as_str(), "private.pkcs8://"),
        ("encrypted PEM", ENCRYPTED_KEY, "ENCRYPTED PRIVATE KEY"),
    ];
    for (case, text, form) in cases {
        check_refusal(
            case,
            PublicKey::load(text),
            &[form, "private"],
            &[&pkcs8, &pkcs1, &body(ENCRYPTED_KEY)],
        );
    }
}

#[test]
fn encrypted_private_key_is_refused() {
    let secret = body(ENCRYPTED_KEY);
    check_refusal(
        "ENCRYPTED PRIVATE KEY",
        PrivateKey::load(ENCRYPTED_KEY),
        &["ENCRYPTED PRIVATE KEY", "encrypted"],
        &[&secret],
    );
    // OpenSSL's legacy encryption: a PKCS#1 PEM with Proc-Type/DEK-Info headers.
    let legacy = MERCHANT_KEY_PKCS1.replacen(
        "-----BEGIN RSA PRIVATE KEY-----\n",
        "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,BE6CA3E7C88AC3754E552501D4B2762F\n\n",
        1,
    );
    check_refusal(
        "legacy encrypted PEM",
        PrivateKey::load(&legacy),
        &["RSA PRIVATE KEY"],
        &[&body(MERCHANT_KEY_PKCS1)],
    );
}

// ---------------------------------------------------------------------------------------------------------
// The client builder checks everything at `build()`.

fn builder() -> ClientBuilder {
    Client::builder()
        .mchid("1900000109")
        .serial("ABC123")
        .private_key(MERCHANT_KEY)
        .cert("PUB_KEY_ID_0114232134912410000000000000", PLATFORM_PUB)
}

fn config_error(case: &str, builder: ClientBuilder, mentions: &[&str]) -> Error {
    let err = builder.build().expect_err(case);
    assert!(err.is_config(), "{case}: expected is_config(), got {err:?}");
    assert!(!err.is_key(), "{case}");
    let message = err.to_string();
    for m in mentions {
        assert!(message.contains(m), "{case}: the message should name {m:?}: {message}");
    }
    for shown in renderings(&err) {
        assert_no_material(&shown, &[&body(MERCHANT_KEY)]);
    }
    err
}

#[test]
fn the_complete_builder_builds() {
    let client = builder().build().unwrap();
    assert_eq!(client.mchid(), "1900000109");
    assert_eq!(client.base_uri(), "https://api.mch.weixin.qq.com/");
    // Every accepted key form works through the builder too.
    let client = Client::builder()
        .mchid("1900000109")
        .serial("ABC123")
        .private_key(fixture_url!("merchant_key_pkcs1.pem"))
        .cert(CERT_SERIAL, PLATFORM_CERT)
        .cert(
            "PUB_KEY_ID_0114232134912410000000000000",
            fixture_url!("platform_pub.pem"),
        )
        .base_uri("https://apihk.mch.weixin.qq.com/hk")
        .build()
        .unwrap();
    assert_eq!(client.base_uri(), "https://apihk.mch.weixin.qq.com/hk/");
    let mut ids: Vec<String> = client.keyring().ids().map(|id| id.to_string()).collect();
    ids.sort();
    assert_eq!(ids, [CERT_SERIAL, "PUB_KEY_ID_0114232134912410000000000000"]);
}

#[test]
fn missing_pieces_are_config_errors() {
    let key = MERCHANT_KEY;
    let id = "PUB_KEY_ID_0114232134912410000000000000";
    config_error(
        "no mchid",
        Client::builder()
            .serial("ABC123")
            .private_key(key)
            .cert(id, PLATFORM_PUB),
        &["mchid"],
    );
    config_error(
        "no serial",
        Client::builder()
            .mchid("1900000109")
            .private_key(key)
            .cert(id, PLATFORM_PUB),
        &["serial"],
    );
    config_error(
        "no private key",
        Client::builder()
            .mchid("1900000109")
            .serial("ABC123")
            .cert(id, PLATFORM_PUB),
        &["private_key"],
    );
    config_error(
        "no cert",
        Client::builder().mchid("1900000109").serial("ABC123").private_key(key),
        &["cert"],
    );
    config_error("nothing at all", Client::builder(), &[]);
    config_error("empty mchid", builder().mchid(""), &["mchid"]);
    // Ids travel inside a quoted header field.
    config_error("quote in mchid", builder().mchid("1900000109\",x=\"y"), &["mchid"]);
    config_error(
        "newline in serial",
        builder().serial("ABC\r\nX-Injected: 1"),
        &["serial"],
    );
}

#[test]
fn cert_id_equal_to_the_merchant_serial_is_refused_with_the_reason() {
    let err = config_error(
        "cert id = merchant serial",
        builder().cert("ABC123", PLATFORM_PUB),
        &["ABC123", "merchant serial"],
    );
    assert!(err.to_string().contains("platform"), "says what `cert` is for: {err}");
}

#[test]
fn certificate_under_another_id_is_refused() {
    let err = config_error(
        "X.509 under a PUB_KEY_ID",
        builder().cert("PUB_KEY_ID_0114232134912410000000000001", PLATFORM_CERT),
        &["PUB_KEY_ID_0114232134912410000000000001", CERT_SERIAL],
    );
    assert!(err.to_string().contains("serial"), "{err}");
    config_error(
        "X.509 under another serial",
        builder().cert("5157F09EFDC096DE15EBE81A47057A7232F1B8E0", PLATFORM_CERT),
        &[CERT_SERIAL],
    );
    // Under its own serial it is accepted.
    builder().cert(CERT_SERIAL, PLATFORM_CERT).build().unwrap();
}

#[test]
fn bad_base_uri_is_refused() {
    for uri in [
        "not a url",
        "",
        "api.mch.weixin.qq.com",
        "ftp://api.mch.weixin.qq.com/",
        "file:///etc/passwd",
        "https://api.mch.weixin.qq.com/?debug=1",
        "https://api.mch.weixin.qq.com/#top",
        "https://user:pass@api.mch.weixin.qq.com/",
    ] {
        config_error(&format!("base_uri {uri:?}"), builder().base_uri(uri), &["base_uri"]);
    }
    for uri in [
        "https://api.mch.weixin.qq.com/",
        "http://127.0.0.1:8080",
        "https://apihk.mch.weixin.qq.com/hk/",
    ] {
        builder().base_uri(uri).build().unwrap_or_else(|e| panic!("{uri}: {e}"));
    }
}

#[test]
fn keys_that_fail_to_load_surface_as_key_errors_from_build() {
    let secret = body(MERCHANT_KEY);
    let cases: Vec<(&str, ClientBuilder)> = vec![
        ("weak private key", builder().private_key(WEAK_KEY)),
        ("EC private key", builder().private_key(EC_KEY)),
        ("garbage private key", builder().private_key("apiclient_key.pem")),
        ("missing key file", builder().private_key(fixture_url!("nope.pem"))),
        ("public key as private", builder().private_key(MERCHANT_PUB)),
        ("encrypted private key", builder().private_key(ENCRYPTED_KEY)),
        (
            "wrong-shape base64",
            builder().private_key(&format!("private.pkcs1://{secret}")),
        ),
        (
            "private key as cert",
            builder().cert("PUB_KEY_ID_0114232134912410000000000001", MERCHANT_KEY),
        ),
        (
            "garbage cert",
            builder().cert("PUB_KEY_ID_0114232134912410000000000001", "pub_key.pem"),
        ),
    ];
    for (case, builder) in cases {
        check_refusal(
            case,
            builder.build(),
            &[],
            &[&secret, &body(WEAK_KEY), &body(EC_KEY), &body(ENCRYPTED_KEY)],
        );
    }
}

#[test]
fn builder_debug_never_shows_the_private_key() {
    let pkcs8 = body(MERCHANT_KEY);
    let pkcs1 = body(MERCHANT_KEY_PKCS1);
    let scheme = format!("private.pkcs8://{pkcs8}");
    for key in [MERCHANT_KEY, MERCHANT_KEY_PKCS1, scheme.as_str()] {
        let b = builder().private_key(key);
        for shown in [format!("{b:?}"), format!("{b:#?}")] {
            assert!(shown.contains("1900000109"), "the Debug is still useful: {shown}");
            assert!(!shown.contains("BEGIN"), "{shown}");
            assert_no_material(&shown, &[&pkcs8, &pkcs1]);
        }
        let client = b.build().unwrap();
        for shown in [format!("{client:?}"), format!("{client:#?}")] {
            assert_no_material(&shown, &[&pkcs8, &pkcs1]);
        }
    }
    let loaded = builder().private_key_loaded(PrivateKey::load(MERCHANT_KEY).unwrap());
    assert_no_material(&format!("{loaded:?}"), &[&pkcs8, &pkcs1]);
}

#[test]
fn key_errors_from_files_name_the_file() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/weak_key.pem");
    let e = wechatpay::PrivateKey::load(&format!("file://{path}")).unwrap_err();
    assert!(e.to_string().contains("weak_key.pem"), "{e}");
}

#[test]
fn certificate_ids_are_stored_as_their_serial_and_duplicates_refused() {
    let base = || {
        wechatpay::Client::builder()
            .mchid("1900000109")
            .serial("ABC123")
            .private_key(include_str!("fixtures/merchant_key.pem"))
    };
    let client = base()
        .cert(
            "5157f09efdc096de15ebe81a47057a7232f1b8e1",
            include_str!("fixtures/platform_cert.pem"),
        )
        .build()
        .unwrap();
    assert!(client
        .keyring()
        .get("5157F09EFDC096DE15EBE81A47057A7232F1B8E1")
        .is_some());
    let e = base()
        .cert("PUB_KEY_ID_1", include_str!("fixtures/platform_pub.pem"))
        .cert("PUB_KEY_ID_1", include_str!("fixtures/merchant_pub.pem"))
        .build()
        .unwrap_err();
    assert!(e.is_config() && e.to_string().contains("twice"), "{e}");
}
