//! HTTPS for the sandbox ([`crate::mock::MockBuilder::tls`]): its own CA issues the server's certificate
//! (for `127.0.0.1` and `localhost`) and the merchant's API certificate, and the APIv2 `security` endpoints
//! demand that client certificate, as WeChat Pay's do. A client certificate from another CA fails the
//! handshake; none at all is let through the handshake and refused by those endpoints.

use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime};

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use spki::der::asn1::{Ia5String, OctetString};
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::{BasicConstraints, ExtendedKeyUsage, KeyUsage, KeyUsages, SubjectAltName};

use crate::crypto::keys::PrivateKey;
use crate::error::{Error, Result};
use crate::mock::certificate::{extension, issue, to_pem};

const CA_NAME: &str = "CN=wechatpay-rs sandbox CA,O=wechatpay-rs sandbox,C=CN";
const SERVER_AUTH: spki::ObjectIdentifier = spki::ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.1");
const CLIENT_AUTH: spki::ObjectIdentifier = spki::ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.2");

/// The sandbox's TLS: the acceptor, and what a client needs to reach it.
pub(crate) struct Tls {
    pub(crate) acceptor: tokio_rustls::TlsAcceptor,
    /// The CA to trust (`root_certificate`), PEM.
    pub(crate) ca_pem: String,
    /// The merchant's API certificate, issued by that CA, PEM.
    pub(crate) merchant_cert_pem: String,
    /// The merchant's `apiclient_cert.p12` (key and certificate; the passphrase is the mchid).
    pub(crate) merchant_p12: Vec<u8>,
}

/// The CA's and the server's keys: made once per process (key generation is the slow part).
fn keys() -> &'static (PrivateKey, PrivateKey) {
    static KEYS: OnceLock<(PrivateKey, PrivateKey)> = OnceLock::new();
    KEYS.get_or_init(|| (PrivateKey::generate(), PrivateKey::generate()))
}

/// The rustls provider the build has: the process default when one is installed, else the TLS feature's.
fn provider() -> Option<Arc<rustls::crypto::CryptoProvider>> {
    if let Some(p) = rustls::crypto::CryptoProvider::get_default() {
        return Some(Arc::clone(p));
    }
    #[cfg(feature = "default-tls")]
    return Some(Arc::new(rustls::crypto::aws_lc_rs::default_provider()));
    #[cfg(all(feature = "rustls-ring", not(feature = "default-tls")))]
    return Some(Arc::new(rustls::crypto::ring::default_provider()));
    #[allow(unreachable_code)]
    None
}

impl Tls {
    /// A CA, a server certificate and the merchant's certificate for `merchant_key`.
    pub(crate) fn new(mchid: &str, merchant_key: &PrivateKey) -> Result<Tls> {
        let provider = provider().ok_or_else(|| {
            Error::config("the sandbox's HTTPS needs a TLS backend: build with `default-tls` or `rustls-ring`")
        })?;
        let (ca_key, server_key) = keys();
        let now = SystemTime::now();
        let validity = (
            now - Duration::from_secs(3600),
            now + Duration::from_secs(3650 * 86_400),
        );
        let key_usage = |usages| extension(true, &KeyUsage(usages));

        let ca = issue(
            ca_key,
            CA_NAME,
            ca_key,
            CA_NAME,
            validity,
            vec![
                extension(
                    true,
                    &BasicConstraints {
                        ca: true,
                        path_len_constraint: Some(0),
                    },
                ),
                key_usage(KeyUsages::KeyCertSign | KeyUsages::CRLSign),
            ],
        )
        .0;
        let names = SubjectAltName(vec![
            GeneralName::IpAddress(OctetString::new([127u8, 0, 0, 1]).expect("four bytes")),
            GeneralName::DnsName(Ia5String::new("localhost").expect("ASCII")),
        ]);
        let server = issue(
            server_key,
            "CN=127.0.0.1,O=wechatpay-rs sandbox,C=CN",
            ca_key,
            CA_NAME,
            validity,
            vec![
                extension(false, &names),
                key_usage(KeyUsages::DigitalSignature | KeyUsages::KeyEncipherment),
                extension(false, &ExtendedKeyUsage(vec![SERVER_AUTH])),
            ],
        )
        .0;
        // As WeChat Pay names it: the merchant id, the organisation `Tenpay.com`-issued for the merchant.
        let subject = format!("CN={mchid},OU=wechatpay-rs sandbox merchant,O=wechatpay-rs sandbox,C=CN");
        let merchant = issue(
            merchant_key,
            &subject,
            ca_key,
            CA_NAME,
            validity,
            vec![
                key_usage(KeyUsages::DigitalSignature | KeyUsages::KeyEncipherment),
                extension(false, &ExtendedKeyUsage(vec![CLIENT_AUTH])),
            ],
        )
        .0;

        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(CertificateDer::from(ca.clone()))
            .map_err(|e| Error::config("the sandbox CA is not a usable root").with_source(e))?;
        let verifier =
            rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), Arc::clone(&provider))
                .allow_unauthenticated()
                .build()
                .map_err(|e| {
                    Error::config("the sandbox's client certificate check could not be set up").with_source(e)
                })?;
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(server_key.pkcs8_der().to_vec()));
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| Error::config("the sandbox's TLS versions could not be set").with_source(e))?
            .with_client_cert_verifier(verifier)
            .with_single_cert(
                vec![CertificateDer::from(server), CertificateDer::from(ca.clone())],
                key,
            )
            .map_err(|e| Error::config("the sandbox's server certificate was refused").with_source(e))?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];

        Ok(Tls {
            acceptor: tokio_rustls::TlsAcceptor::from(Arc::new(config)),
            ca_pem: to_pem(&ca),
            merchant_cert_pem: to_pem(&merchant),
            merchant_p12: p12(mchid, merchant_key, &merchant, &ca)?,
        })
    }
}

/// For this crate's own tests (`tests/hostile.rs`): a rustls server configuration for `127.0.0.1` and
/// `localhost` (HTTP/1.1 ALPN, the sandbox's certificate and CA) and that CA's certificate (PEM), which a
/// client trusts with [`crate::ClientBuilder::root_certificate`]. Not part of the API.
#[doc(hidden)]
pub fn test_server_tls() -> Result<(Arc<rustls::ServerConfig>, String)> {
    let tls = Tls::new("1900000109", &keys().1)?;
    Ok((Arc::clone(tls.acceptor.config()), tls.ca_pem))
}

/// `apiclient_cert.p12` as WeChat Pay hands it out: the key and its certificate, under the mchid.
fn p12(mchid: &str, key: &PrivateKey, cert: &[u8], ca: &[u8]) -> Result<Vec<u8>> {
    let bad = |e: p12_keystore::error::Error| {
        Error::config("the sandbox's PKCS#12 file could not be written")
            .with_source(Box::<dyn std::error::Error + Send + Sync>::from(e.to_string()))
    };
    let chain = [
        p12_keystore::Certificate::from_der(cert).map_err(bad)?,
        p12_keystore::Certificate::from_der(ca).map_err(bad)?,
    ];
    let entry = p12_keystore::PrivateKeyChain::new(key.pkcs8_der().as_slice(), [1u8; 20], chain);
    let mut store = p12_keystore::KeyStore::new();
    store.add_entry(
        "Tenpay Certificate",
        p12_keystore::KeyStoreEntry::PrivateKeyChain(entry),
    );
    store.writer(mchid).write().map_err(bad)
}
