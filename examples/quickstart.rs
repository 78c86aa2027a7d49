//! The main job: the seed coupon lifecycle — send → associate → disassociate → use — against the
//! embedded sandbox, with the six call styles of the seed pages spread across it. Each answer's JSON is
//! printed, as the seed pages' `print_r` does.
//!
//! Run: `cargo run --example quickstart --features mock`

use serde_json::{json, Value};
use wechatpay::mock::MockServer;

fn show(step: &str, res: wechatpay::Response) -> wechatpay::Result<()> {
    println!(
        "== {step} (HTTP {}, Request-ID {})",
        res.status(),
        res.request_id().unwrap_or("-")
    );
    println!("{:#}", res.json::<Value>()?);
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let sandbox = MockServer::start()?;
    // A real client, configured as for production but pointed at the sandbox.
    let client = sandbox.client()?;
    println!("sandbox at {} (mchid {})\n", sandbox.base_uri(), client.mchid());

    // 003 向用户发券 — 异步纯链式: PHP `$instance->v3->marketing->busifavor->coupons->send->postAsync([...])->then(...)->wait()`
    client["v3"]["marketing"]["busifavor"]["coupons"]["send"]
        .post_async(json!({"json": {
            "openid": "xsd3434454567676",
            "appid": "wx1234567889999",
            "stock_id": "100088",
            "out_request_no": "1002600620019090123143254435",
            "coupon_code": "sxxe34343434",
        }}))
        .then(|res| show("coupons/send 向用户发券 (异步纯链式)", res))
        .wait()?;

    // 000 关联订单信息 — 异步声明式, awaited.
    let res = client
        .chain("v3/marketing/busifavor/coupons/associate")
        .post_async(json!({"json": {
            "stock_id": "100088",
            "coupon_code": "sxxe34343434",
            "out_trade_no": "MCH_ORDER_20240520001",
            "out_request_no": "1002600620019090123143254436",
        }}))
        .await?;
    show("coupons/associate 关联订单信息 (异步声明式)", res)?;

    // 002 取消关联订单信息 — 异步属性式.
    let res = client["v3/marketing/busifavor/coupons/disassociate"]
        .post_async(json!({"json": {
            "stock_id": "100088",
            "coupon_code": "sxxe34343434",
            "out_trade_no": "MCH_ORDER_20240520001",
            "out_request_no": "1002600620019090123143254437",
        }}))
        .await?;
    show("coupons/disassociate 取消关联订单信息 (异步属性式)", res)?;

    // The blocking styles run off the async executor, as a PHP script would run them.
    let client2 = client.clone();
    tokio::task::spawn_blocking(move || -> wechatpay::Result<()> {
        let client = client2;
        // 查询用户单张券详情 — 同步声明式, placeholders filled from top-level options.
        let res = client
            .chain("v3/marketing/busifavor/users/{openid}/coupons/{coupon_code}/appids/{appid}")
            .get(json!({"openid": "xsd3434454567676", "coupon_code": "sxxe34343434", "appid": "wx1234567889999"}))?;
        show(
            "users/{openid}/coupons/{coupon_code}/appids/{appid} 查询用户单张券详情 (同步声明式)",
            res,
        )?;

        // 004 核销用户券 — 同步纯链式: PHP `$response = $instance->v3->marketing->busifavor->coupons->use->post([...])`
        let res = client["v3"]["marketing"]["busifavor"]["coupons"]["use"].post(json!({"json": {
            "coupon_code": "sxxe34343434",
            "stock_id": "100088",
            "appid": "wx1234567889999",
            "use_time": "2015-05-20T13:29:35+08:00",
            "use_request_no": "1002600620019090123143254435",
            "openid": "xsd3434454567676",
        }}))?;
        show("coupons/use 核销用户券 (同步纯链式)", res)?;

        // 根据过滤条件查询用户券 — 同步属性式, with a query.
        let res = client["v3/marketing/busifavor/users/{openid}/coupons"].get(json!({
            "openid": "xsd3434454567676",
            "query": {"appid": "wx1234567889999", "stock_id": "100088", "offset": 0, "limit": 10},
        }))?;
        show("users/{openid}/coupons 查询用户券 (同步属性式)", res)
    })
    .await??;

    // Using it twice is refused by the sandbox's rules, as WeChat Pay would.
    let refused = client["v3/marketing/busifavor/coupons/use"]
        .post_async(json!({"json": {
            "coupon_code": "sxxe34343434", "stock_id": "100088", "appid": "wx1234567889999",
            "use_time": "2015-05-20T13:30:00+08:00", "use_request_no": "1002600620019090123143254499",
            "openid": "xsd3434454567676",
        }}))
        .await;
    if let Err(e) = refused {
        println!(
            "== using it again is refused: HTTP {:?} {:?}: {:?}",
            e.status(),
            e.code(),
            e.api_message()
        );
    }
    Ok(())
}
