//! APIv3 bills: `v3/bill/tradebill` and `v3/bill/fundflowbill` answer `hash_type`, `hash_value` and a
//! `download_url` into `v3/billdownload/file`, which serves that bill (gzip with `tar_type=GZIP`) unsigned,
//! as WeChat Pay does — so [`crate::media::download_bill`] checks a real digest. The bill is made when it is
//! asked for; its URL serves exactly those bytes.
//!
//! As WeChat Pay's: the file starts with a UTF-8 byte-order mark; the digest is the original bill's — the
//! CSV's, before any compression ("原始账单（gzip需要解压缩）的摘要值") — so a client must unzip a gzip bill
//! to check it; and a gzip bill's `download_url` carries `tartype=GZIP` beside its `token`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use http::Method;
use serde_json::json;

use super::Family;
use crate::mock::kit::{missing, param_error};
use crate::mock::orders::{fundflow_bill, gzip, trade_bill};
use crate::mock::{Answer, MockRequest, MockServer};

/// Bills asked for, by download token.
type Files = Arc<Mutex<HashMap<String, (Vec<u8>, &'static str)>>>;

pub(crate) fn install(server: &MockServer, family: &Family) {
    let files: Files = Arc::default();
    let base = server.base_uri();
    for (route, fund) in [("v3/bill/tradebill", false), ("v3/bill/fundflowbill", true)] {
        let (f, files, base) = (family.clone(), Arc::clone(&files), base.clone());
        server.route(Method::GET, route, move |req| {
            bill(&f, &files, &base, req, fund).unwrap_or_else(|refused| refused)
        });
    }
    server.route(Method::GET, "v3/billdownload/file", move |req| {
        let files = files.lock().unwrap_or_else(|p| p.into_inner());
        match req.query("token").and_then(|t| files.get(t)) {
            Some((bytes, content_type)) => Answer::bytes(200, content_type, bytes.clone()),
            None => Answer::error(404, "RESOURCE_NOT_EXISTS", "账单文件不存在或已过期"),
        }
    });
}

fn bill(family: &Family, files: &Files, base: &str, req: &MockRequest, fund: bool) -> Result<Answer, Answer> {
    let date = req
        .query("bill_date")
        .filter(|d| !d.is_empty())
        .ok_or_else(|| missing("bill_date", "query"))?;
    let valid = date.len() == 10 && date.as_bytes()[4] == b'-' && date.as_bytes()[7] == b'-';
    let day: String = date.chars().filter(char::is_ascii_digit).collect();
    if !valid || day.len() != 8 {
        return Err(param_error(
            "bill_date",
            "query",
            "应为 yyyy-MM-dd 格式的日期，如 2019-06-11",
        ));
    }
    let gz = match req.query("tar_type") {
        None | Some("") => false,
        Some("GZIP") => true,
        Some(_) => return Err(param_error("tar_type", "query", "仅支持 GZIP")),
    };
    let csv = {
        let orders = family.book.lock();
        if fund {
            match req.query("account_type").unwrap_or("BASIC") {
                "BASIC" => fundflow_bill(&orders, &day),
                "OPERATION" | "FEES" => None,
                _ => return Err(param_error("account_type", "query", "应为 BASIC、OPERATION、FEES 之一")),
            }
        } else {
            let bill_type = req.query("bill_type").unwrap_or("ALL");
            if !["ALL", "SUCCESS", "REFUND"].contains(&bill_type) {
                return Err(param_error("bill_type", "query", "应为 ALL、SUCCESS、REFUND 之一"));
            }
            trade_bill(&orders, &family.mchid, &day, bill_type)
        }
    };
    let csv = csv.ok_or_else(|| Answer::error(400, "NO_STATEMENT_EXIST", "该日期无账单"))?;
    // The digest of the bill itself, taken before it is compressed.
    let hash = crate::crypto::hash::sha1_hex(csv.as_bytes());
    let token = crate::protocol::formatter::nonce_of_len(32);
    let mut download_url = format!("{base}v3/billdownload/file?token={token}");
    let (bytes, content_type) = if gz {
        download_url.push_str("&tartype=GZIP");
        (gzip(csv.as_bytes()), "application/x-gzip")
    } else {
        (csv.into_bytes(), "text/plain;charset=utf-8")
    };
    files
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(token, (bytes, content_type));
    Ok(Answer::json(
        200,
        &json!({
            "hash_type": "SHA1",
            "hash_value": hash,
            "download_url": download_url,
        }),
    ))
}
