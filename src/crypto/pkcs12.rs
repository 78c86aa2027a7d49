//! Reading the `apiclient_cert.p12` WeChat Pay hands merchants (PKCS#12, whose passphrase is the mchid):
//! the merchant key and its certificate chain, with `p12-keystore` (PBES1 RC2/3DES and PBES2).

use crate::crypto::keys::PrivateKey;
use crate::error::{Error, Result};

/// The private key and the certificates (the key's own first, when the file says which) of a PKCS#12 file.
/// A wrong passphrase or a damaged file is a key error that never shows the passphrase.
pub(crate) fn open(der: &[u8], passphrase: &str) -> Result<(PrivateKey, Vec<Vec<u8>>)> {
    let store = p12_keystore::KeyStore::from_pkcs12(der, passphrase).map_err(|e| {
        Error::key(
            "the PKCS#12 file could not be opened: a wrong passphrase (for apiclient_cert.p12 it is the mchid) or a \
             damaged file",
        )
        .with_source(Box::<dyn std::error::Error + Send + Sync>::from(e.to_string()))
    })?;
    let (_, chain) = store
        .private_key_chain()
        .ok_or_else(|| Error::key("the PKCS#12 file holds no private key with its certificate"))?;
    let key = PrivateKey::from_pkcs8_der(chain.key())?;
    let certificates = chain.chain().iter().map(|c| c.as_der().to_vec()).collect();
    Ok((key, certificates))
}
