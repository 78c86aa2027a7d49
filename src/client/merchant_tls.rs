//! The merchant's TLS client certificate (`apiclient_cert`), which the APIv2 `security` endpoints demand,
//! made into the identity the transport presents. The certificate and its key are checked to belong
//! together at build time, so a mismatch is a configuration error, not a TLS failure on the first refund.

use zeroize::Zeroizing;

use crate::crypto::keys::{PrivateKey, PublicKey};
use crate::error::{Error, Result};

/// A client certificate and its key, as one PEM (what the TLS stack takes). Wiped when dropped.
pub(crate) struct MerchantIdentity {
    #[cfg_attr(not(any(feature = "default-tls", feature = "rustls-ring")), allow(dead_code))]
    pem: Zeroizing<Vec<u8>>,
}

impl MerchantIdentity {
    /// From the certificate (PEM text or `file://` path; a chain may follow it) and its private key.
    pub(crate) fn new(certificate: &str, key: &PrivateKey) -> Result<Self> {
        let text = match certificate.strip_prefix("file://") {
            Some(path) => std::fs::read_to_string(path)
                .map_err(|e| Error::config(format!("cannot read the merchant certificate `{path}`")).with_source(e))?,
            None => certificate.to_owned(),
        };
        Self::from_pem_chain(&text, key)
    }

    /// From certificate PEM blocks (the merchant's first) and its key.
    pub(crate) fn from_pem_chain(chain: &str, key: &PrivateKey) -> Result<Self> {
        let first = chain
            .find("-----BEGIN CERTIFICATE-----")
            .ok_or_else(|| Error::config("the merchant certificate is not a PEM `CERTIFICATE` (apiclient_cert.pem)"))?;
        let leaf = PublicKey::load(&chain[first..])
            .map_err(|e| Error::config("the merchant certificate could not be read").with_source(e))?;
        if leaf.to_spki_der() != key.public_key().to_spki_der() {
            return Err(Error::config(
                "the merchant certificate and the merchant key do not belong together (apiclient_cert.pem goes with \
                 apiclient_key.pem of the same merchant)",
            ));
        }
        Self::from_parts(&chain.as_bytes()[first..], key)
    }

    /// From certificate DER (the merchant's first) and its key, as a PKCS#12 file holds them.
    pub(crate) fn from_der_chain(chain: &[Vec<u8>], key: &PrivateKey) -> Result<Self> {
        let mut pem = String::new();
        for der in chain {
            pem.push_str(
                &pem_rfc7468::encode_string("CERTIFICATE", pem_rfc7468::LineEnding::LF, der)
                    .map_err(|_| Error::config("a certificate of the PKCS#12 file cannot be written as PEM"))?,
            );
        }
        Self::from_pem_chain(&pem, key)
    }

    fn from_parts(chain_pem: &[u8], key: &PrivateKey) -> Result<Self> {
        let key_pem = Zeroizing::new(key.to_pkcs8_pem());
        let mut pem = Zeroizing::new(Vec::with_capacity(chain_pem.len() + key_pem.len() + 1));
        pem.extend_from_slice(chain_pem);
        pem.push(b'\n');
        pem.extend_from_slice(key_pem.as_bytes());
        Ok(MerchantIdentity { pem })
    }

    /// The certificate chain and key rustls presents.
    #[cfg(any(feature = "default-tls", feature = "rustls-ring"))]
    pub(crate) fn rustls(
        &self,
    ) -> Result<(
        Vec<rustls::pki_types::CertificateDer<'static>>,
        rustls::pki_types::PrivateKeyDer<'static>,
    )> {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let unusable = |e: rustls::pki_types::pem::Error| {
            Error::config("the merchant certificate cannot be used as a TLS client identity").with_source(e)
        };
        let chain = CertificateDer::pem_slice_iter(&self.pem)
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(unusable)?;
        let key = PrivateKeyDer::from_pem_slice(&self.pem).map_err(unusable)?;
        Ok((chain, key))
    }
}

impl std::fmt::Debug for MerchantIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MerchantIdentity(<redacted>)")
    }
}
