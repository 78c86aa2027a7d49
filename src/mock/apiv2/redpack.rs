//! APIv2 现金红包: `mmpaymkttransfers/sendredpack` and its query `mmpaymkttransfers/gethbinfo`, which WeChat
//! Pay answers without a `sign`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use http::Method;

use crate::mock::apiv2::{fail, read, xml_answer, V2Request};
use crate::mock::{Answer, MockRequest, MockServer};

struct Packet {
    wxappid: String,
    re_openid: String,
    total_amount: u64,
    total_num: u64,
    send_listid: String,
    time: i64,
}

/// Registers the red-packet routes.
pub(crate) fn install(server: &MockServer) {
    let packets: Arc<Mutex<HashMap<String, Packet>>> = Arc::default();
    let (mchid, key) = (server.mchid().to_owned(), server.apiv2_key().to_owned());
    let sent = Arc::clone(&packets);
    let (m, k) = (mchid.clone(), key.clone());
    server.route(
        Method::POST,
        "mmpaymkttransfers/sendredpack",
        move |req: &MockRequest| match read(&m, &k, "mmpaymkttransfers/sendredpack", req) {
            Ok(v2) => send(&v2.mchid, &sent, &v2),
            Err(refused) => refused,
        },
    );
    server.route(
        Method::POST,
        "mmpaymkttransfers/gethbinfo",
        move |req: &MockRequest| match read(&mchid, &key, "mmpaymkttransfers/gethbinfo", req) {
            Ok(v2) => query(&v2.mchid, &packets, &v2),
            Err(refused) => refused,
        },
    );
}

/// An unsigned answer: `return_code` `SUCCESS` then `fields`.
fn unsigned(fields: &[(&str, &str)]) -> Answer {
    let mut all = vec![("return_code", "SUCCESS"), ("return_msg", "OK")];
    all.extend_from_slice(fields);
    xml_answer(all)
}

fn send(mchid: &str, packets: &Mutex<HashMap<String, Packet>>, req: &V2Request) -> Answer {
    let required = [
        "mch_billno",
        "wxappid",
        "send_name",
        "re_openid",
        "total_amount",
        "total_num",
        "wishing",
        "client_ip",
        "act_name",
        "remark",
    ];
    if let Err(refused) = req.require(&required) {
        return refused;
    }
    let number = |name: &str| req.get(name).and_then(|v| v.parse::<u64>().ok()).filter(|&v| v > 0);
    let (Some(total_amount), Some(total_num)) = (number("total_amount"), number("total_num")) else {
        return fail("total_amount或total_num参数格式错误");
    };
    let billno = req.get("mch_billno").unwrap_or_default();
    if let Some(code) = req.negative.as_deref() {
        return unsigned(&[
            ("result_code", "FAIL"),
            ("err_code", code),
            ("err_code_des", "negative test"),
            ("mch_billno", billno),
            ("mch_id", mchid),
        ]);
    }
    if !(100..=20_000).contains(&total_amount) {
        return unsigned(&[
            ("result_code", "FAIL"),
            ("err_code", "MONEY_LIMIT"),
            ("err_code_des", "每个红包的平均金额必须在1.00元到200.00元之间"),
            ("mch_billno", billno),
            ("mch_id", mchid),
        ]);
    }
    let mut packets = packets.lock().unwrap_or_else(|p| p.into_inner());
    let n = packets.len() + 1;
    let packet = packets.entry(billno.to_owned()).or_insert_with(|| Packet {
        wxappid: req.get("wxappid").unwrap_or_default().to_owned(),
        re_openid: req.get("re_openid").unwrap_or_default().to_owned(),
        total_amount,
        total_num,
        send_listid: format!("1000041701{:08}{:010}", std::process::id() % 100_000_000, n),
        time: crate::protocol::formatter::timestamp(),
    });
    if packet.total_amount != total_amount || packet.re_openid != req.get("re_openid").unwrap_or_default() {
        return unsigned(&[
            ("result_code", "FAIL"),
            ("err_code", "PARAM_ERROR"),
            ("err_code_des", "该商户订单号已被使用，请更换订单号"),
            ("mch_billno", billno),
            ("mch_id", mchid),
        ]);
    }
    let amount = packet.total_amount.to_string();
    unsigned(&[
        ("result_code", "SUCCESS"),
        ("err_code", "SUCCESS"),
        ("err_code_des", "发放成功"),
        ("mch_billno", billno),
        ("mch_id", mchid),
        ("wxappid", &packet.wxappid),
        ("re_openid", &packet.re_openid),
        ("total_amount", &amount),
        ("send_listid", &packet.send_listid),
    ])
}

fn query(mchid: &str, packets: &Mutex<HashMap<String, Packet>>, req: &V2Request) -> Answer {
    if let Err(refused) = req.require(&["mch_billno", "appid", "bill_type"]) {
        return refused;
    }
    let billno = req.get("mch_billno").unwrap_or_default();
    let packets = packets.lock().unwrap_or_else(|p| p.into_inner());
    let Some(packet) = packets.get(billno) else {
        return unsigned(&[
            ("result_code", "FAIL"),
            ("err_code", "NOT_FOUND"),
            ("err_code_des", "指定单号数据不存在"),
            ("mch_billno", billno),
            ("mch_id", mchid),
        ]);
    };
    let (amount, num) = (packet.total_amount.to_string(), packet.total_num.to_string());
    let time = crate::protocol::formatter::rfc3339(packet.time, 8 * 3600)[..19].replace('T', " ");
    unsigned(&[
        ("result_code", "SUCCESS"),
        ("err_code", "SUCCESS"),
        ("err_code_des", "OK"),
        ("mch_billno", billno),
        ("mch_id", mchid),
        ("detail_id", &packet.send_listid),
        ("status", "SENT"),
        ("send_type", "API"),
        ("hb_type", "NORMAL"),
        ("total_num", &num),
        ("total_amount", &amount),
        ("send_time", &time),
        ("openid", &packet.re_openid),
    ])
}
