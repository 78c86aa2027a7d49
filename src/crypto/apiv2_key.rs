//! The merchant's APIv2 key (PHP's `secret`): the 32 characters that sign every APIv2 request and answer
//! and, through its MD5, seal refund notifications. Checked once, never shown, wiped when dropped.

use std::fmt;

use zeroize::Zeroizing;

use crate::error::{Error, Result};

/// An APIv2 key, checked to be 32 printable ASCII characters. Its `Debug` is `<redacted>`.
#[derive(Clone)]
pub(crate) struct ApiV2Key(Zeroizing<String>);

impl ApiV2Key {
    /// The key, or a key error (`is_key()`) naming only what is wrong with it.
    pub(crate) fn new(key: &str) -> Result<Self> {
        if key.len() != 32 {
            return Err(Error::key(format!(
                "the APIv2 key must be 32 characters, not {} (it is set in the merchant platform, under API security)",
                key.len()
            )));
        }
        if !key.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(Error::key(
                "the APIv2 key must be printable ASCII (letters and digits, as the merchant platform sets it)",
            ));
        }
        Ok(ApiV2Key(Zeroizing::new(key.to_owned())))
    }

    /// The key itself, for signing.
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApiV2Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_the_key_once_and_never_shows_it() {
        let key = ApiV2Key::new("exposed_your_key_here_have_risks").unwrap();
        assert_eq!(format!("{key:?}"), "<redacted>");
        for bad in [
            "short",
            "exposed_your_key_here_have_risk\u{e9}",
            "exposed your key here have risks",
        ] {
            let e = ApiV2Key::new(bad).unwrap_err();
            assert!(e.is_key() && !e.to_string().contains(bad), "{e}");
        }
    }
}
