//! 003 向用户发券 — `POST v3/marketing/busifavor/coupons/send` in the six call styles of its seed page (`shared/seeds/003_ed35a3cf662cb33d.txt`), against the sandbox.
//! Each style sends the same payload; the request number makes the repeats idempotent, as on WeChat Pay.
//!
//! Run: `cargo run --example busifavor_coupons_send --features mock`

use serde_json::{json, Value};
use wechatpay::mock::MockServer;

fn print_r(res: wechatpay::Response) -> wechatpay::Result<()> {
    println!("{:#}", res.json::<Value>()?);
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let sandbox = MockServer::start()?;
    let client = sandbox.client()?;

    let payload = || {
        json!({"json": {
            "openid": "xsd3434454567676",
            "appid": "wx1234567889999",
            "stock_id": "100088",
            "out_request_no": "1002600620019090123143254435",
            "coupon_code": "sxxe34343434",
        }})
    };

    // 异步纯链式
    client["v3"]["marketing"]["busifavor"]["coupons"]["send"]
        .post_async(payload())
        .then(print_r)
        .wait()?;
    // 异步声明式
    client
        .chain("v3/marketing/busifavor/coupons/send")
        .post_async(payload())
        .then(print_r)
        .wait()?;
    // 异步属性式
    client["v3/marketing/busifavor/coupons/send"]
        .post_async(payload())
        .then(print_r)
        .wait()?;
    // 同步纯链式
    let response = client["v3"]["marketing"]["busifavor"]["coupons"]["send"].post(payload())?;
    print_r(response)?;
    // 同步声明式
    let response = client.chain("v3/marketing/busifavor/coupons/send").post(payload())?;
    print_r(response)?;
    // 同步属性式
    let response = client["v3/marketing/busifavor/coupons/send"].post(payload())?;
    print_r(response)?;
    Ok(())
}
