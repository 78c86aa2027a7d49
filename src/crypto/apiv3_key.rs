//! The merchant's APIv3 key: the 32-byte AES-256-GCM key that seals callbacks and downloaded platform
//! certificates. One type, checked once, never shown, wiped when dropped.

use std::fmt;

use zeroize::Zeroizing;

use crate::error::{Error, Result};

/// An APIv3 key, checked to be 32 bytes. Its `Debug` is `<redacted>`; its memory is zeroed on drop.
#[derive(Clone)]
pub(crate) struct ApiV3Key(Zeroizing<[u8; 32]>);

impl ApiV3Key {
    /// The key, or a key error (`is_key()`) naming only its length.
    pub(crate) fn new(key: &str) -> Result<Self> {
        let bytes: [u8; 32] = key.as_bytes().try_into().map_err(|_| {
            Error::key(format!(
                "the APIv3 key must be 32 bytes, not {} (it is set in the merchant platform, under API security)",
                key.len()
            ))
        })?;
        Ok(ApiV3Key(Zeroizing::new(bytes)))
    }

    /// The raw key, for AES-256-GCM.
    pub(crate) fn bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for ApiV3Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_the_length_once_and_never_shows_the_key() {
        let key = ApiV3Key::new("0123456789abcdef0123456789abcdef").unwrap();
        assert_eq!(format!("{key:?}"), "<redacted>");
        let e = ApiV3Key::new("not thirty-two bytes").unwrap_err();
        assert!(
            e.is_key() && e.to_string().contains("not 20") && !e.to_string().contains("thirty"),
            "{e}"
        );
    }
}
