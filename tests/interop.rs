//! Any correct client must work against the sandbox unchanged: here the Node twin of wechatpay-php,
//! `wechatpay-axios-plugin`, runs the coupon lifecycle against `wxpay mock serve`. Its verifier checks
//! the sandbox's answers and the sandbox checks its signatures, so each side vouches for the other.
//!
//! Needs `node` and `interop/node_modules` (`npm install --prefix interop`, which `.ci/run` does); without
//! them the test says so and passes, so that `cargo test` stays offline-friendly.
#![cfg(all(feature = "cli", unix))]

mod common;

use std::path::Path;
use std::process::Command;

#[test]
fn the_node_sdk_runs_the_lifecycle_against_the_sandbox() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("interop");
    let has_node = Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_node || !root.join("node_modules/wechatpay-axios-plugin").exists() {
        eprintln!("skipped: node or interop/node_modules missing (run `npm install --prefix interop`)");
        return;
    }
    let (mut sandbox, line) = common::serve(std::iter::empty::<&str>());
    let out = Command::new("node")
        .arg(root.join("node-lifecycle.js"))
        .arg(line.trim())
        .output()
        .unwrap();
    common::stop(&mut sandbox);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "node failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let steps: Vec<serde_json::Value> = stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let names: Vec<&str> = steps.iter().map(|s| s["step"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        ["send", "associate", "disassociate", "query", "use", "unknown stock"]
    );
    assert_eq!(steps[3]["data"]["coupon_state"], "SENDED");
    assert_eq!(steps[4]["data"]["stock_id"], "100088");
    assert_eq!(steps[5]["data"]["code"], "RESOURCE_NOT_EXISTS");
}
