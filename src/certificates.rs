//! Platform certificates: download `GET v3/certificates`, decrypt them with the APIv3 key, and verify
//! that answer with the certificates it brought — PHP's `CertificateDownloader`, built in.
//!
//! The download is how a merchant in platform-certificate mode bootstraps: its client may hold no
//! platform certificate yet (or only a public key), so the answer is fetched with verification deferred,
//! decrypted, and then verified against the downloaded certificates together with the keys the client
//! already trusts (a trusted key wins over a downloaded one of the same id, so a forged download cannot
//! replace it). A tampered ciphertext fails to decrypt; a tampered answer fails the signature.
//!
//! Merchants onboarded since late 2024 have no platform certificates: WeChat Pay answers 404
//! `RESOURCE_NOT_EXISTS`, and [`download`] says to use the public-key mode (`PUB_KEY_ID_…`).
//!
//! To keep certificates fresh in-process, see [`crate::ClientBuilder::apiv3_key`] and
//! [`crate::ClientBuilder::refresh_certificates_every`].
//!
//! ```
//! use wechatpay::certificates;
//! use wechatpay::mock::MockServer;
//!
//! let server = MockServer::builder().certificate_mode(true).start()?;
//! // A client that knows no platform certificate yet (only some other key).
//! let client = server
//!     .client_builder()
//!     .clear_certs()
//!     .cert_loaded("PUB_KEY_ID_SOMETHING_ELSE", wechatpay::PrivateKey::generate().public_key())
//!     .build()?;
//! let certs = certificates::download(&client, server.apiv3_key())?;
//! assert_eq!(certs[0].serial_no(), server.platform_certificate_serial());
//! // Use them: every later answer verifies.
//! client.update_keyring(|ring| ring.with(certificates::keys(&certs)));
//! client["v3/marketing/busifavor/stocks/{stock_id}"].get(serde_json::json!({"stock_id": "100088"}))?;
//! # Ok::<(), wechatpay::Error>(())
//! ```

#[cfg(feature = "client")]
use crate::client::pending::Pending;
#[cfg(feature = "client")]
use crate::client::Client;
#[cfg(feature = "client")]
use crate::crypto::apiv3_key::ApiV3Key;
#[cfg(feature = "client")]
use crate::error::Result;
#[cfg(feature = "client")]
use crate::protocol::listing::{self, Vouching};
#[cfg(feature = "client")]
use crate::protocol::options::Options;

#[cfg(feature = "client")]
pub use crate::client::refresh::{RefreshState, DEFAULT_REFRESH_MIN_INTERVAL};
pub use crate::protocol::listing::{decrypt, keys, open, PlatformCertificate, PATH, VALIDITY_TOLERANCE_SECS};

#[cfg(feature = "client")]
/// Downloads, decrypts and verifies the platform certificates (blocking). See the [module docs](self).
///
/// A 404 `RESOURCE_NOT_EXISTS` (a merchant without platform certificates) stays an API error, with a
/// message that says to use the public-key mode.
pub fn download(client: &Client, apiv3_key: &str) -> Result<Vec<PlatformCertificate>> {
    download_async(client, apiv3_key).wait()
}

#[cfg(feature = "client")]
/// Downloads, decrypts and verifies the platform certificates; the future runs on any executor. It goes
/// through the client's public face like any call, and verifies as a bootstrap ([`open`]): nothing is
/// planted in the client's keyring, that is the caller's decision.
pub fn download_async(client: &Client, apiv3_key: &str) -> Pending<Vec<PlatformCertificate>> {
    let client = client.clone();
    let key = ApiV3Key::new(apiv3_key);
    Pending::new(async move {
        let key = key?;
        let res = client
            .chain(PATH)
            .get_async(Options::new().unverified_download())
            .await
            .map_err(listing::explain_not_found)?;
        listing::open_with(
            res.headers(),
            res.bytes(),
            &key,
            &client.keyring(),
            crate::protocol::formatter::timestamp(),
            Vouching::Bootstrap,
        )
    })
}
