//! Callbacks: arbitrary bodies never panic and never open unless sealed with the APIv3 key and signed; a
//! resource sealed with the key opens exactly when it is JSON, to that JSON.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::{json, Value};
use wechatpay::aes::AesGcm;
use wechatpay::notify;

mod common;
use common::{APIV3_KEY, NOW, PUB_KEY_ID};

fuzz_target!(|data: &[u8]| {
    let mut input = common::Input(data);
    if input.flag() {
        // Anything: no seal can be forged, so nothing decrypts; unsigned, nothing opens.
        let body = input.rest();
        let e = notify::decrypt::<Value>(APIV3_KEY, body).unwrap_err();
        assert!(e.is_decode(), "{e}");
        let e = notify::open_at::<Value>(
            common::keyring(),
            APIV3_KEY,
            &common::unsigned(PUB_KEY_ID, NOW),
            body,
            NOW,
        );
        assert!(e.is_err());
        // Signed (so it gets past verification): still never an event.
        let h = common::signed(common::platform_key(), PUB_KEY_ID, NOW, "nonce", body);
        let e = notify::open_at::<Value>(common::keyring(), APIV3_KEY, &h, body, NOW).unwrap_err();
        assert!(e.is_decode(), "{e}");
    } else {
        // Anything sealed with the APIv3 key, in a well-formed envelope, signed.
        let nonce = format!("{:0>12}", input.usize());
        let aad = input.text();
        let plain = input.rest();
        let ciphertext = AesGcm::encrypt(plain, APIV3_KEY, &nonce, &aad).unwrap();
        let body = json!({
            "id": "EV-1", "create_time": "2015-05-20T13:29:35+08:00", "event_type": "COUPON.SEND",
            "resource_type": "encrypt-resource", "summary": "通知",
            "resource": {"original_type": "coupon", "algorithm": notify::AEAD_AES_256_GCM, "ciphertext": ciphertext,
                "associated_data": aad, "nonce": nonce},
        })
        .to_string();
        let h = common::signed(common::platform_key(), PUB_KEY_ID, NOW, "nonce", body.as_bytes());
        let expected = serde_json::from_slice::<Value>(plain).ok();
        match notify::open_at::<Value>(common::keyring(), APIV3_KEY, &h, body.as_bytes(), NOW) {
            Ok(event) => {
                assert_eq!(Some(&event.resource), expected.as_ref());
                assert_eq!(event.plaintext.as_bytes(), plain);
            }
            Err(e) => assert!(e.is_decode() && expected.is_none(), "{e}"),
        }
        // The same body, tampered after signing: refused.
        let tampered = common::flip(body.as_bytes(), input_index(data), 0x20);
        assert!(notify::open_at::<Value>(common::keyring(), APIV3_KEY, &h, &tampered, NOW).is_err());
    }
});

fn input_index(data: &[u8]) -> usize {
    data.iter()
        .fold(0usize, |acc, &b| acc.wrapping_mul(31).wrapping_add(b as usize))
}
