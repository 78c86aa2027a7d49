//! 004 核销用户券 — `POST v3/marketing/busifavor/coupons/use` in the six call styles of its seed page (`shared/seeds/004_d88615185d324fbb.txt`), against the sandbox.
//! Each style sends the same payload; the request number makes the repeats idempotent, as on WeChat Pay.
//!
//! Run: `cargo run --example busifavor_coupons_use --features mock`

use serde_json::{json, Value};
use wechatpay::mock::MockServer;

fn print_r(res: wechatpay::Response) -> wechatpay::Result<()> {
    println!("{:#}", res.json::<Value>()?);
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let sandbox = MockServer::start()?;
    let client = sandbox.client()?;
    // The coupon the lifecycle works on (seed 003 payload).
    client["v3/marketing/busifavor/coupons/send"].post(json!({"json": {
        "openid": "xsd3434454567676", "appid": "wx1234567889999", "stock_id": "100088",
        "out_request_no": "1002600620019090123143254435", "coupon_code": "sxxe34343434",
    }}))?;
    let payload = || {
        json!({"json": {
            "coupon_code": "sxxe34343434",
            "stock_id": "100088",
            "appid": "wx1234567889999",
            "use_time": "2015-05-20T13:29:35+08:00",
            "use_request_no": "1002600620019090123143254435",
            "openid": "xsd3434454567676",
        }})
    };

    // 异步纯链式
    client["v3"]["marketing"]["busifavor"]["coupons"]["use"]
        .post_async(payload())
        .then(print_r)
        .wait()?;
    // 异步声明式
    client
        .chain("v3/marketing/busifavor/coupons/use")
        .post_async(payload())
        .then(print_r)
        .wait()?;
    // 异步属性式
    client["v3/marketing/busifavor/coupons/use"]
        .post_async(payload())
        .then(print_r)
        .wait()?;
    // 同步纯链式
    let response = client["v3"]["marketing"]["busifavor"]["coupons"]["use"].post(payload())?;
    print_r(response)?;
    // 同步声明式
    let response = client.chain("v3/marketing/busifavor/coupons/use").post(payload())?;
    print_r(response)?;
    // 同步属性式
    let response = client["v3/marketing/busifavor/coupons/use"].post(payload())?;
    print_r(response)?;
    Ok(())
}
