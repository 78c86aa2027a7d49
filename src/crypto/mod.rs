//! Keys and cryptography: the keys and keyring, digests, AES-GCM and the APIv3 key, over one backend
//! (`backend`: AWS-LC or RustCrypto, chosen there once). The backend depends on nothing here, so the
//! keys can depend on it without a loop.

pub mod aes;
pub(crate) mod apiv2_key;
pub(crate) mod apiv3_key;
pub(crate) mod backend;
pub mod hash;
pub mod keyring;
pub mod keys;
#[cfg(feature = "client")]
pub(crate) mod pkcs12;
