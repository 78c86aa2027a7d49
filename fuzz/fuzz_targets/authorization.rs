//! `Authorization` headers: parsing never panics; what parses formats back to itself; a formatted header
//! parses to its own fields or is refused — one field's value is never read as another field.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wechatpay::sign::Authorization;

mod common;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    match Authorization::parse(&text) {
        Ok(a) => assert_eq!(Authorization::parse(&a.to_string()).ok(), Some(a)),
        Err(e) => assert!(e.is_request(), "{e}"),
    }

    let mut input = common::Input(data);
    let (mchid, serial_no) = (input.text(), input.text());
    let timestamp = i64::from_le_bytes(std::array::from_fn(|_| input.byte()));
    let a = Authorization::new(mchid, serial_no, timestamp, input.text(), input.text());
    let header = a.to_string();
    match Authorization::parse(&header) {
        Ok(parsed) => assert_eq!(parsed, a, "{header:?}"),
        Err(e) => {
            // Only a field holding `,` or a timestamp that is not plain seconds may be refused.
            let comma = [&a.mchid, &a.serial_no, &a.nonce_str, &a.signature]
                .iter()
                .any(|f| f.contains(','));
            assert!(comma || a.timestamp < 0, "{header:?}: {e}");
        }
    }
});
