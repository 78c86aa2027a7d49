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
//! twins of PHP's helpers; [`catalog`] lists the 1,147 documented operations; `mock` (feature `mock`) is the
//! embedded WeChat Pay sandbox.

#![deny(missing_docs)]
#![forbid(unsafe_code)]
// Without the `client` feature (the sans-IO core alone) some helpers the client uses go unused.
#![cfg_attr(not(feature = "client"), allow(dead_code, unused_imports))]

// The layers, bottom up: `error`; `crypto` (keys, digests, AES); the sans-IO `protocol` core (paths,
// templates, options, building and signing requests, verifying answers, the retry decision); the `client`
// (builder, chain, the one send pipeline, the transport, certificate refresh); the features on top
// (`certificates`, `notify`, `media`, `paysign`); the PHP twin helpers (`php`); and the sandbox (`mock`).
pub mod catalog;
pub mod certificates;
#[cfg(feature = "client")]
mod client;
mod crypto;
mod error;
pub mod media;
#[cfg(feature = "mock")]
pub mod mock;
pub mod notify;
pub mod paysign;
mod php;
mod protocol;

#[cfg(feature = "client")]
#[doc(inline)]
pub use client::{observe, runtime};
#[doc(inline)]
pub use crypto::{aes, hash, keyring, keys};
#[doc(inline)]
pub use php::apiv2;
#[doc(inline)]
pub use protocol::{formatter, path, sign, template, verify};

#[cfg(feature = "client")]
pub use client::chain::Chain;
#[cfg(feature = "client")]
pub use client::pending::{Pending, ResponseFuture};
#[cfg(feature = "client")]
pub use client::response::Response;
#[cfg(feature = "client")]
pub use client::{
    Client, ClientBuilder, TlsVersion, ACCEPT, CONTENT_TYPE, DEFAULT_BASE_URI, DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_MAX_RESPONSE_SIZE, DEFAULT_POOL_IDLE_TIMEOUT, DEFAULT_TIMEOUT,
};
pub use crypto::keyring::Keyring;
pub use crypto::keys::{PrivateKey, PublicKey};
pub use error::{Error, Outcome, Result, Verification};
pub use http::Method;
pub use protocol::options::Options;
pub use protocol::request::Prepared;
pub use protocol::retry::RetryPolicy;
#[doc(hidden)]
pub use protocol::sensitive::plaintext_fields;

/// Not part of the stable API: the `wxpay` command line's start-up. From now on, keys loaded in this
/// process sign and decrypt with RustCrypto, and sensitive fields are sealed with it, even where AWS-LC is
/// compiled in: a process that lives for milliseconds then never seeds AWS-LC's random generator (~20 ms of
/// CPU-jitter sampling). Everything else, and the answers it verifies, are unchanged.
#[cfg(feature = "rust-crypto")]
#[doc(hidden)]
pub fn prefer_rust_crypto() {
    #[cfg(feature = "aws-lc-rs")]
    crypto::backend::prefer_rust_crypto();
}
