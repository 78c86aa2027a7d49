//! URI templates: expansion never panics, and a value can never add, remove or escape a path segment.
#![no_main]

use std::borrow::Cow;

use libfuzzer_sys::fuzz_target;
use wechatpay::template;

mod common;

fuzz_target!(|data: &[u8]| {
    let mut input = common::Input(data);
    let template_text = input.text();
    let mut values = Vec::new();
    for name in ["a", "b", "v", "empty"] {
        if input.flag() {
            values.push((name, input.text()));
        }
    }
    let lookup = |name: &str| {
        values
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| Cow::Borrowed(v.as_str()))
    };

    let _ = template::placeholders(&template_text);
    match template::expand(&template_text, lookup) {
        Err(e) => assert!(e.is_path(), "{e}"),
        Ok(out) => check_path(&template_text, &out),
    }

    // One value in a fixed template, both expansions.
    let value = input.text();
    let one = |name: &str| (name == "v").then_some(Cow::Borrowed(value.as_str()));
    match template::expand("v3/users/{v}/coupons", one) {
        Err(e) => assert!(
            e.is_path() && matches!(value.as_str(), "" | "." | ".."),
            "{value:?}: {e}"
        ),
        Ok(out) => {
            check_path("v3/users/{v}/coupons", &out);
            let enc = &out["v3/users/".len()..out.len() - "/coupons".len()];
            assert_eq!(
                common::pct_decode(enc.as_bytes()),
                value.as_bytes(),
                "{value:?} -> {out:?}"
            );
        }
    }
    let decoded = common::pct_decode(value.as_bytes());
    let escapes = value.is_empty() || value.contains(['/', '?', '#']) || decoded == b"." || decoded == b"..";
    match template::expand("v3/x/{+v}/y", one) {
        Err(e) => assert!(e.is_path() && escapes, "{value:?}: {e}"),
        Ok(out) => {
            assert!(!escapes, "{value:?} -> {out:?}");
            check_path("v3/x/{+v}/y", &out);
            let enc = &out["v3/x/".len()..out.len() - "/y".len()];
            assert_eq!(common::pct_decode(enc.as_bytes()), decoded, "{value:?} -> {out:?}");
        }
    }
});

/// `out`, expanded from `template`, keeps its structure and survives URL parsing unchanged.
fn check_path(template: &str, out: &str) {
    assert_eq!(
        out.matches('/').count(),
        template.matches('/').count(),
        "{template:?} -> {out:?}"
    );
    assert!(!out.contains(['?', '#']), "{template:?} -> {out:?}");
    for (t, o) in template.split('/').zip(out.split('/')) {
        assert!(!common::is_dot_segment(o), "{template:?} -> {out:?}");
        let without_empty = t.replace("{empty}", "").replace("{+empty}", "");
        assert_eq!(o.is_empty(), without_empty.is_empty(), "{template:?} -> {out:?}");
    }
    let url = url::Url::parse(&format!("https://api.mch.weixin.qq.com/{out}")).expect("a valid URL");
    assert_eq!(url.path(), format!("/{out}"), "{template:?} -> {out:?}");
    assert!(
        url.query().is_none() && url.fragment().is_none(),
        "{template:?} -> {out:?}"
    );
}
