//! The keys that verify WeChat Pay's answers: platform certificates by serial, and `PUB_KEY_ID_…` keys.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::keys::PublicKey;

/// Platform keys by id (a certificate serial or a `PUB_KEY_ID_…`). Cheap to clone.
#[derive(Clone, Default, Debug)]
pub struct Keyring {
    keys: Arc<BTreeMap<String, PublicKey>>,
}

impl Keyring {
    /// A keyring holding `keys`.
    pub fn new(keys: impl IntoIterator<Item = (String, PublicKey)>) -> Self {
        Keyring {
            keys: Arc::new(keys.into_iter().collect()),
        }
    }

    /// The key named `id`.
    pub fn get(&self, id: &str) -> Option<&PublicKey> {
        self.keys.get(id)
    }

    /// The configured ids, sorted.
    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.keys.keys().map(String::as_str)
    }

    /// The key that encrypts sensitive fields, with its id: `preferred` if given, else a `PUB_KEY_ID_…`
    /// key (public-key mode is WeChat Pay's present), else the first platform certificate.
    pub fn encryption_key(&self, preferred: Option<&str>) -> Option<(&str, &PublicKey)> {
        if let Some(id) = preferred {
            return self.keys.get_key_value(id).map(|(k, v)| (k.as_str(), v));
        }
        self.keys
            .iter()
            .find(|(id, _)| id.starts_with("PUB_KEY_ID_"))
            .or_else(|| self.keys.iter().next())
            .map(|(k, v)| (k.as_str(), v))
    }

    /// How many keys there are.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}
