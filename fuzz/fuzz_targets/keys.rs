//! Keys: any text (and any DER) never panics a loader; every failure is a key error; and an error about
//! a mangled fixture never quotes its key material.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wechatpay::{keys, PrivateKey, PublicKey};

mod common;

fuzz_target!(|data: &[u8]| {
    let mut input = common::Input(data);
    match input.byte() % 3 {
        // Arbitrary text. Never a `file://` path: that would read files.
        0 => {
            let text = String::from_utf8_lossy(input.rest()).into_owned();
            if !text.trim().starts_with("file://") {
                load_every_way(&text, "");
            }
        }
        // Arbitrary DER, raw and as `scheme://` base64.
        1 => {
            let der = input.rest();
            for e in [
                PrivateKey::from_pkcs1_der(der).err(),
                PrivateKey::from_pkcs8_der(der).err(),
                PublicKey::from_pkcs1_der(der).err(),
                PublicKey::from_spki_der(der).err(),
                PublicKey::from_certificate_der(der).err(),
            ]
            .into_iter()
            .flatten()
            {
                assert!(e.is_key(), "{e}");
            }
            let text = common::b64(der);
            for scheme in [
                "private.pkcs1://",
                "private.pkcs8://",
                "public.pkcs1://",
                "public.spki://",
            ] {
                load_every_way(&format!("{scheme}{text}"), &text);
            }
        }
        // A fixture, mangled: bytes flipped, deleted or inserted, then truncated.
        _ => {
            let fixture = [
                common::MERCHANT_KEY_PEM,
                common::PLATFORM_KEY_PEM,
                common::MERCHANT_PUB_PEM,
                common::PLATFORM_CERT_PEM,
            ][input.byte() as usize % 4];
            let mut bytes = fixture.as_bytes().to_vec();
            for _ in 0..input.byte() % 4 {
                let at = input.usize() % (bytes.len() + 1);
                match input.byte() % 3 {
                    0 if at < bytes.len() => bytes[at] ^= input.byte() | 1,
                    1 => drop(bytes.drain(at..(at + 1 + input.byte() as usize % 8).min(bytes.len()))),
                    _ => bytes.insert(at, input.byte()),
                }
            }
            if input.flag() {
                bytes.truncate(input.usize() % (bytes.len() + 1));
            }
            let material: String = fixture.lines().filter(|l| !l.starts_with("-----")).collect();
            load_every_way(&String::from_utf8_lossy(&bytes), &material);
        }
    }
});

/// Every loader: any failure is a key error that quotes no 16 characters of `material`.
fn load_every_way(text: &str, material: &str) {
    for e in [
        PrivateKey::load(text).err(),
        PublicKey::load(text).err(),
        keys::certificate_serial(text).err(),
        keys::pkcs1_to_spki_pem(text).err(),
    ]
    .into_iter()
    .flatten()
    {
        assert!(e.is_key(), "{e}");
        let shown = common::error_text(&e);
        assert!(
            !common::quotes_material(&shown, material),
            "the error quotes key material: {shown}"
        );
    }
}
