//! # wechatpay
//!
//! A WeChat Pay API v3 client in the style of wechatpay-php: call any of the ~1,150 endpoints by writing
//! its path as a chain, and every request is signed with the merchant key and every answer verified
//! against WeChat Pay's platform key.
//!
//! ```no_run
//! use serde_json::json;
//! use wechatpay::Client;
//!
//! # async fn demo() -> Result<(), wechatpay::Error> {
//! let client = Client::builder()
//!     .mchid("1900000109")
//!     .serial("3775B6A45ACD588826D15E583A95F5DD00000001")
//!     .private_key("file:///path/to/apiclient_key.pem")
//!     .cert("PUB_KEY_ID_0114232134912410000000000000", "file:///path/to/pub_key.pem")
//!     .build()?;
//!
//! let body = json!({"json": {"stock_id": "100088", "coupon_code": "sxxe34343434",
//!     "appid": "wx1234567889999", "openid": "xsd3434454567676",
//!     "use_time": "2015-05-20T13:29:35+08:00", "use_request_no": "1002600620019090123143254435"}});
//! client["v3"]["marketing"]["busifavor"]["coupons"]["use"].post_async(body.clone()).await?; // 异步纯链式
//! client.chain("v3/marketing/busifavor/coupons/use").post_async(body.clone()).await?;        // 异步声明式
//! client["v3/marketing/busifavor/coupons/use"].post_async(body.clone()).await?;             // 异步属性式
//! client["v3"]["marketing"]["busifavor"]["coupons"]["use"].post(body.clone())?;             // 同步纯链式
//! client.chain("v3/marketing/busifavor/coupons/use").post(body.clone())?;                    // 同步声明式
//! let res = client["v3/marketing/busifavor/coupons/use"].post(body)?;                       // 同步属性式
//! println!("{:#}", res.json::<serde_json::Value>()?);
//! # Ok(()) }
//! ```
//!
//! The pieces, each a module: [`path`] rules and [`template`]s make the request target; [`sign`] and
//! [`verify`] are the sans-IO protocol core over [`keys`] and a [`Keyring`]; [`Client`] and [`Chain`] sit
//! on a thin transport. Around them: [`notify`] opens callbacks, [`certificates`] downloads and refreshes
//! platform certificates, [`media`] uploads files; [`aes`], [`hash`], [`apiv2`] and [`paysign`] are the
//! twins of PHP's helpers; `mock` (feature `mock`) is the embedded WeChat Pay sandbox.

#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod aes;
pub mod apiv2;
pub mod certificates;
mod chain;
mod client;
mod crypto;
mod error;
pub mod formatter;
pub mod hash;
pub mod keyring;
pub mod keys;
pub mod media;
#[cfg(feature = "mock")]
pub mod mock;
pub mod notify;
pub mod observe;
mod options;
pub mod path;
pub mod paysign;
mod pending;
mod pipeline;
mod protocol;
mod request;
mod response;
mod sensitive;
pub mod sign;
pub mod template;
mod trace;
mod transport;
pub mod verify;

pub use chain::Chain;
pub use client::{
    Client, ClientBuilder, ACCEPT, CONTENT_TYPE, DEFAULT_BASE_URI, DEFAULT_CONNECT_TIMEOUT, DEFAULT_MAX_RESPONSE_SIZE,
    DEFAULT_TIMEOUT,
};
pub use error::{Error, Outcome, Result, Verification};
pub use http::Method;
pub use keyring::Keyring;
pub use keys::{PrivateKey, PublicKey};
pub use options::Options;
pub use pending::{Pending, ResponseFuture};
pub use protocol::retry::RetryPolicy;
pub use request::Prepared;
pub use response::Response;
