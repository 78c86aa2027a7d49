//! The toolkit's primitives against fixed vectors and OpenSSL: APIv2 signatures, AES-256-ECB, digests,
//! encrypted PKCS#8, key conversions, certificate serials, RSA-OAEP interop, and front-end pay signs.

mod common;

use wechatpay::apiv2::{self, AesEcb, SignType};
use wechatpay::{hash, keys, paysign, PrivateKey, PublicKey};

const MERCHANT_KEY: &str = include_str!("fixtures/merchant_key.pem");
const MERCHANT_KEY_ENCRYPTED: &str = include_str!("fixtures/merchant_key_encrypted.pem");
const MERCHANT_PUB: &str = include_str!("fixtures/merchant_pub.pem");
const MERCHANT_PUB_PKCS1: &str = include_str!("fixtures/merchant_pub_pkcs1.pem");
const PLATFORM_PUB: &str = include_str!("fixtures/platform_pub.pem");
const PLATFORM_CERT: &str = include_str!("fixtures/platform_cert.pem");

const V2_JOINED: &str =
    "appid=wxd930ea5d5a258f4f&body=test&device_info=1000&mch_id=10000100&nonce_str=ibuaiVcKdpRxkhJA";
const V2_KEY: &str = "192006250b4c09247ec02edce69f6a2d";

fn fixture_path(name: &str) -> String {
    format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))
}

// ---------------------------------------------------------------------------------------------------------
// The shared vectors.

#[test]
fn vector_aes_256_ecb() {
    let key = "0123456789abcdef0123456789abcdef";
    assert_eq!(AesEcb::encrypt(b"hello", key).unwrap(), "pZwJZBLuy3mDACEQT4YTBw==");
    assert_eq!(AesEcb::decrypt("pZwJZBLuy3mDACEQT4YTBw==", key).unwrap(), b"hello");
}

#[test]
fn vector_apiv2_md5_sign() {
    assert_eq!(
        apiv2::sign_joined(SignType::Md5, V2_JOINED, V2_KEY),
        "9A0A8659F005D6984697E2CA0A9CF3B7"
    );
}

#[test]
fn vector_apiv2_hmac_sha256_sign() {
    assert_eq!(
        apiv2::sign_joined(SignType::HmacSha256, V2_JOINED, V2_KEY),
        "6A9AE1657590FD6257D693A078E1C3E4BB6BA4DC30B23E0EE2496E54170DACD6"
    );
}

#[test]
fn apiv2_sorts_and_joins_like_php() {
    // Out of order, with `sign` and an empty value that must be left out.
    let params = [
        ("nonce_str", "ibuaiVcKdpRxkhJA"),
        ("mch_id", "10000100"),
        ("sign", "WHATEVER"),
        ("body", "test"),
        ("attach", ""),
        ("device_info", "1000"),
        ("appid", "wxd930ea5d5a258f4f"),
    ];
    assert_eq!(apiv2::query_string_like(params), V2_JOINED);
    assert_eq!(
        apiv2::sign(SignType::Md5, params, V2_KEY),
        "9A0A8659F005D6984697E2CA0A9CF3B7"
    );
    // A map works as well as pairs.
    let map: std::collections::HashMap<String, String> =
        params.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    assert_eq!(apiv2::query_string_like(&map), V2_JOINED);

    let mut signed: Vec<(&str, &str)> = params.iter().filter(|(k, _)| *k != "sign").copied().collect();
    let hmac = apiv2::sign(SignType::HmacSha256, signed.clone(), V2_KEY);
    signed.push(("sign", &hmac));
    assert!(apiv2::verify(SignType::HmacSha256, signed.clone(), V2_KEY));
    assert!(
        !apiv2::verify(SignType::Md5, signed.clone(), V2_KEY),
        "the other algorithm"
    );
    assert!(!apiv2::verify(SignType::HmacSha256, signed.clone(), "another key"));
    signed.push(("sign_type", "MD5"));
    assert!(
        !apiv2::verify(SignType::HmacSha256, signed, V2_KEY),
        "a declared sign_type must agree"
    );
}

#[test]
fn vector_media_meta_shape() {
    // The vector's logo.png is not shipped, so a synthetic 2,748-byte file checks the meta's shape and
    // digest; the vector's own JSON is the same shape with its digest.
    let logo: Vec<u8> = (0..2748u32).map(|i| (i * 31 % 256) as u8).collect();
    let upload = wechatpay::media::Upload::from_bytes("logo.png", logo.clone()).unwrap();
    assert_eq!(upload.len(), 2748);
    let expected = format!(r#"{{"filename":"logo.png","sha256":"{}"}}"#, hash::sha256_hex(&logo));
    assert_eq!(std::str::from_utf8(upload.meta_json()).unwrap(), expected);
    let vector =
        r#"{"filename":"logo.png","sha256":"01c9b1153143ad6927290a6523a1e3c98291f58388d44e59c8d2d8a98a8d1050"}"#;
    assert_eq!(vector.len(), expected.len());
}

#[test]
fn refund_req_info_decrypts_with_the_md5_of_the_apiv2_key() {
    let xml = "<root><out_refund_no><![CDATA[131811191610442717309]]></out_refund_no></root>";
    let sealed = AesEcb::encrypt(xml.as_bytes(), &hash::md5_hex(V2_KEY.as_bytes())).unwrap();
    assert_eq!(apiv2::decrypt_refund_req_info(&sealed, V2_KEY).unwrap(), xml);
    assert!(apiv2::decrypt_refund_req_info(&sealed, "another key").is_err());
}

#[test]
fn digests() {
    assert_eq!(hash::md5_hex(b""), "d41d8cd98f00b204e9800998ecf8427e");
    assert_eq!(hash::sha1_hex(b"abc"), "a9993e364706816aba3e25717850c26c9cd0d89d");
    assert_eq!(
        hash::sha256_hex(b""),
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
    assert_eq!(
        hash::hmac_sha256_hex(b"key", b"The quick brown fox jumps over the lazy dog"),
        "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"
    );
}

// ---------------------------------------------------------------------------------------------------------
// Keys.

#[test]
fn encrypted_pkcs8_loads_with_its_passphrase() {
    let plain = PrivateKey::load(MERCHANT_KEY).unwrap();
    for thing in [
        MERCHANT_KEY_ENCRYPTED.to_owned(),
        format!("file://{}", fixture_path("merchant_key_encrypted.pem")),
    ] {
        let key = PrivateKey::load_encrypted(&thing, "wechatpay").unwrap();
        assert_eq!(key.sign(b"message"), plain.sign(b"message"), "the same key");
    }
    // scrypt instead of PBKDF2.
    let scrypt = PrivateKey::load_encrypted(include_str!("fixtures/merchant_key_encrypted_scrypt.pem"), "wechatpay");
    assert_eq!(scrypt.unwrap().sign(b"message"), plain.sign(b"message"));
    // An unencrypted key needs no passphrase, and ignores one.
    PrivateKey::load_encrypted(MERCHANT_KEY, "unused").unwrap();
}

#[test]
fn legacy_pbes1_encryption_is_refused_with_the_way_out() {
    let e =
        PrivateKey::load_encrypted(include_str!("fixtures/merchant_key_encrypted_pbes1.pem"), "wechatpay").unwrap_err();
    assert!(e.is_key(), "{e}");
    assert!(
        e.to_string().contains("PBES1") && e.to_string().contains("-v2 aes-256-cbc"),
        "{e}"
    );
}

#[test]
fn encrypted_pkcs8_with_a_wrong_passphrase_is_a_clear_key_error() {
    let body: String = MERCHANT_KEY_ENCRYPTED
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    for wrong in ["wrong-passphrase", "", "wechatpay "] {
        let e = PrivateKey::load_encrypted(MERCHANT_KEY_ENCRYPTED, wrong).unwrap_err();
        assert!(e.is_key(), "{e}");
        let shown = format!("{e} {e:?}");
        eprintln!("{e}");
        assert!(shown.contains("passphrase"), "{shown}");
        if !wrong.is_empty() {
            assert!(!shown.contains(wrong), "the passphrase is not echoed: {shown}");
        }
        assert!(!shown.contains(&body[..40]), "no key material: {shown}");
    }
    let e = PrivateKey::load(MERCHANT_KEY_ENCRYPTED).unwrap_err();
    assert!(e.is_key() && e.to_string().contains("load_encrypted"), "{e}");
}

#[test]
fn pkcs1_public_key_converts_to_spki() {
    let spki = keys::pkcs1_to_spki_pem(MERCHANT_PUB_PKCS1).unwrap();
    assert_eq!(
        spki.trim(),
        MERCHANT_PUB.trim(),
        "what `openssl rsa -RSAPublicKey_in -pubout` writes"
    );
    let key = PublicKey::load(&spki).unwrap();
    assert_eq!(key.to_pkcs1_pem().trim(), MERCHANT_PUB_PKCS1.trim());
    assert!(keys::pkcs1_to_spki_pem("not a key").unwrap_err().is_key());
    assert!(keys::pkcs1_to_spki_pem(MERCHANT_KEY).unwrap_err().is_key());
}

#[test]
fn certificate_serial_is_upper_hex() {
    assert_eq!(
        keys::certificate_serial(PLATFORM_CERT).unwrap(),
        "5157F09EFDC096DE15EBE81A47057A7232F1B8E1"
    );
    assert_eq!(
        keys::certificate_serial(&format!("file://{}", fixture_path("platform_cert.pem"))).unwrap(),
        "5157F09EFDC096DE15EBE81A47057A7232F1B8E1"
    );
    let e = keys::certificate_serial(PLATFORM_PUB).unwrap_err();
    assert!(e.is_key() && e.to_string().contains("certificate"), "{e}");
}

#[test]
fn oaep_encrypts_for_openssl() {
    let openssl_works = std::process::Command::new("openssl")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !openssl_works {
        eprintln!("skipped: `openssl` is not on PATH");
        return;
    }
    let public = PublicKey::load(PLATFORM_PUB).unwrap();
    let plaintext = "wechatpay 你好";
    let sealed = public.encrypt(plaintext.as_bytes()).unwrap();
    let raw = common::base64_decode(&sealed);
    let file = std::env::temp_dir().join(format!("wechatpay-oaep-{}.bin", std::process::id()));
    std::fs::write(&file, raw).unwrap();
    let out = std::process::Command::new("openssl")
        .args(["pkeyutl", "-decrypt", "-inkey"])
        .arg(fixture_path("platform_key.pem"))
        .args([
            "-pkeyopt",
            "rsa_padding_mode:oaep",
            "-pkeyopt",
            "rsa_oaep_md:sha1",
            "-pkeyopt",
            "rsa_mgf1_md:sha1",
            "-in",
        ])
        .arg(&file)
        .output()
        .unwrap();
    let _ = std::fs::remove_file(&file);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8(out.stdout).unwrap(), plaintext);
}

// ---------------------------------------------------------------------------------------------------------
// Front-end payment parameters.

#[test]
fn jsapi_pay_sign_verifies_and_has_the_front_end_shape() {
    let key = PrivateKey::load(MERCHANT_KEY).unwrap();
    let public = PublicKey::load(MERCHANT_PUB).unwrap();
    let params = paysign::jsapi_at(
        &key,
        "wxd678efh567hg6787",
        "wx201410272009395522657a690389285100",
        1_414_561_699,
        "5K8264ILTKCH16CQ2502SI8ZNMTM67VS",
    );
    let message = "wxd678efh567hg6787\n1414561699\n5K8264ILTKCH16CQ2502SI8ZNMTM67VS\nprepay_id=wx201410272009395522657a690389285100\n";
    assert_eq!(params.message(), message.as_bytes());
    assert!(public.verify(message.as_bytes(), &params.pay_sign));
    assert_eq!(params.pay_sign, key.sign(message.as_bytes()), "deterministic");
    let json = serde_json::to_value(&params).unwrap();
    let keys: Vec<&str> = json.as_object().unwrap().keys().map(String::as_str).collect();
    for k in ["appId", "timeStamp", "nonceStr", "package", "signType", "paySign"] {
        assert!(keys.contains(&k), "{k} in {keys:?}");
    }
    assert_eq!(keys.len(), 6);
    assert_eq!(json["timeStamp"], "1414561699", "a string, as the front end wants");
    assert_eq!(json["signType"], "RSA");
    // `prepay_id=…` given as the package is not doubled.
    let again = paysign::jsapi_at(&key, "wxd678efh567hg6787", "prepay_id=wx2014", 1, "n");
    assert_eq!(again.package, "prepay_id=wx2014");
    // Fresh ones verify too.
    let fresh = paysign::jsapi(&key, "wxd678efh567hg6787", "wx2014");
    assert!(public.verify(&fresh.message(), &fresh.pay_sign));
    assert_eq!(fresh.nonce_str.len(), 32);
}

#[test]
fn app_sign_verifies_and_has_the_sdk_shape() {
    let key = PrivateKey::load(MERCHANT_KEY).unwrap();
    let public = PublicKey::load(MERCHANT_PUB).unwrap();
    let params = paysign::app_at(
        &key,
        "wx8888888888888888",
        "1900000109",
        "WX1217752501201407033233368018",
        1_412_000_000,
        "5K8264ILTKCH16CQ2502SI8ZNMTM67VS",
    );
    let message = "wx8888888888888888\n1412000000\n5K8264ILTKCH16CQ2502SI8ZNMTM67VS\nWX1217752501201407033233368018\n";
    assert_eq!(params.message(), message.as_bytes());
    assert!(public.verify(message.as_bytes(), &params.sign));
    let json = serde_json::to_value(&params).unwrap();
    assert_eq!(
        json,
        serde_json::json!({
            "appid": "wx8888888888888888", "partnerid": "1900000109",
            "prepayid": "WX1217752501201407033233368018", "package": "Sign=WXPay",
            "noncestr": "5K8264ILTKCH16CQ2502SI8ZNMTM67VS", "timestamp": "1412000000",
            "sign": params.sign,
        })
    );
}
