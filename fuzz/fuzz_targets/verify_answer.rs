//! Answer verification: arbitrary headers and bodies never panic and never verify; a correctly signed
//! answer verifies, and flipping any byte of its body, nonce, timestamp, signature or serial is refused.
#![no_main]

use http::{HeaderMap, HeaderValue};
use libfuzzer_sys::fuzz_target;
use wechatpay::verify::{self, Policy};

mod common;
use common::{NOW, PUB_KEY_ID};

fuzz_target!(|data: &[u8]| {
    let mut input = common::Input(data);
    match input.byte() % 3 {
        // Arbitrary headers (some plausible), any policy that verifies, any `now`.
        0 => {
            let mut h = HeaderMap::new();
            for name in [
                verify::TIMESTAMP,
                verify::NONCE,
                verify::SIGNATURE,
                verify::SERIAL,
                verify::STATEMENT_SHA1,
            ] {
                let value = match input.byte() % 4 {
                    0 => continue,
                    1 if name == verify::TIMESTAMP => NOW.to_string(),
                    1 if name == verify::SERIAL => PUB_KEY_ID.to_owned(),
                    1 if name == verify::SIGNATURE => common::b64(input.field()),
                    _ => input.text(),
                };
                if let Ok(v) = HeaderValue::from_str(&value) {
                    h.insert(name, v);
                }
            }
            let policy = if input.flag() {
                Policy::Statement
            } else {
                Policy::Verify
            };
            let now = if input.flag() {
                i64::from_le_bytes(std::array::from_fn(|_| input.byte()))
            } else {
                NOW
            };
            let body = input.rest();
            let result = verify::verify_signed(common::keyring(), policy, &h, body, now);
            assert!(result.is_err(), "a forged answer verified: {h:?}");
            assert!(result.unwrap_err().is_verification());
        }
        // A signed answer, then one byte of one part flipped.
        _ => {
            let part = input.byte() % 5;
            let (index, mask) = (input.usize(), input.byte());
            let skew = i64::from(input.byte() as i8) * 2; // within the 300 s window
                                                          // A nonce that is header text (`to_str` takes visible ASCII only).
            let nonce: String = input
                .text()
                .chars()
                .filter(|c| c.is_ascii_graphic() || *c == ' ')
                .collect();
            let body = input.rest();
            let ts = (NOW + skew).to_string();
            let signature = common::platform_key().sign(&verify::answer_message(&ts, &nonce, body));
            let Some(h) = common::headers(&ts, &nonce, &signature, PUB_KEY_ID) else {
                return;
            };
            verify::verify_signed(common::keyring(), Policy::Verify, &h, body, NOW).expect("a signed answer verifies");

            let text = |s: &str| String::from_utf8(common::flip(s.as_bytes(), index, mask)).ok();
            let (mut ts2, mut nonce2, mut sig2, mut serial2, mut body2) = (
                Some(ts.clone()),
                Some(nonce.clone()),
                Some(signature.clone()),
                Some(PUB_KEY_ID.to_owned()),
                body.to_vec(),
            );
            match part {
                0 => body2 = common::flip(body, index, mask),
                1 => nonce2 = text(&nonce),
                2 => ts2 = text(&ts),
                3 => sig2 = text(&signature),
                _ => serial2 = text(PUB_KEY_ID),
            }
            let (Some(ts2), Some(nonce2), Some(sig2), Some(serial2)) = (ts2, nonce2, sig2, serial2) else {
                return;
            };
            let Some(h) = common::headers(&ts2, &nonce2, &sig2, &serial2) else {
                return;
            };
            let result = verify::verify_signed(common::keyring(), Policy::Verify, &h, &body2, NOW);
            assert!(result.is_err(), "part {part} flipped at {index} still verifies");
        }
    }
});
