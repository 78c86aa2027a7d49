//! Twins of wechatpay-php's helpers that have no other home: APIv2's signatures and AES-ECB.

pub mod apiv2;
