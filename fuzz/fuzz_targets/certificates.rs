//! Certificate downloads: arbitrary bodies never panic and never open; anything sealed with the APIv3 key
//! decrypts only to a certificate of the serial the listing names, exactly as sealed; a genuine listing
//! tampered after signing is refused.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::json;
use wechatpay::aes::AesGcm;
use wechatpay::{certificates, Keyring};

mod common;
use common::{APIV3_KEY, CERT_NOW, CERT_SERIAL, PUB_KEY_ID};

fuzz_target!(|data: &[u8]| {
    let mut input = common::Input(data);
    match input.byte() % 3 {
        // Anything: no seal can be forged, so nothing decrypts or opens.
        0 => {
            let body = input.rest();
            let e = certificates::decrypt(body, APIV3_KEY).unwrap_err();
            assert!(e.is_decode(), "{e}");
            let h = common::signed(common::platform_key(), PUB_KEY_ID, CERT_NOW, "nonce", body);
            assert!(certificates::open(&h, body, APIV3_KEY, common::keyring(), CERT_NOW).is_err());
        }
        // Anything sealed with the APIv3 key under any serial.
        1 => {
            let serial = if input.flag() {
                CERT_SERIAL.to_owned()
            } else {
                input.text()
            };
            let nonce = format!("{:0>12}", input.usize());
            let plain = input.rest();
            let ciphertext = AesGcm::encrypt(plain, APIV3_KEY, &nonce, "certificate").unwrap();
            let body = listing(&serial, &nonce, &ciphertext);
            match certificates::decrypt(&body, APIV3_KEY) {
                Ok(certs) => {
                    assert_eq!(certs.len(), 1);
                    assert!(serial.eq_ignore_ascii_case(certs[0].serial_no()));
                    assert_eq!(certs[0].pem().as_bytes(), plain);
                    assert_eq!(certs[0].public_key().certificate_serial(), Some(certs[0].serial_no()));
                }
                Err(e) => assert!(e.is_decode(), "{e}"),
            }
            let h = common::unsigned(CERT_SERIAL, CERT_NOW);
            assert!(certificates::open(&h, &body, APIV3_KEY, &Keyring::default(), CERT_NOW).is_err());
        }
        // The genuine listing, signed, then one byte flipped.
        _ => {
            let (index, mask) = (input.usize(), input.byte());
            let nonce = format!("{:0>12}", input.usize());
            let ciphertext =
                AesGcm::encrypt(common::PLATFORM_CERT_PEM.as_bytes(), APIV3_KEY, &nonce, "certificate").unwrap();
            let body = listing(CERT_SERIAL, &nonce, &ciphertext);
            let h = common::signed(common::platform_key(), CERT_SERIAL, CERT_NOW, "nonce", &body);
            let certs = certificates::open(&h, &body, APIV3_KEY, &Keyring::default(), CERT_NOW).expect("genuine");
            assert_eq!(certs[0].serial_no(), CERT_SERIAL);
            let tampered = common::flip(&body, index, mask);
            assert!(certificates::open(&h, &tampered, APIV3_KEY, &Keyring::default(), CERT_NOW).is_err());
        }
    }
});

fn listing(serial: &str, nonce: &str, ciphertext: &str) -> Vec<u8> {
    json!({"data": [{
        "serial_no": serial, "effective_time": "2026-11-23T18:40:40+08:00", "expire_time": "2126-10-30T18:40:40+08:00",
        "encrypt_certificate": {
            "algorithm": "AEAD_AES_256_GCM", "nonce": nonce, "associated_data": "certificate", "ciphertext": ciphertext,
        },
    }]})
    .to_string()
    .into_bytes()
}
