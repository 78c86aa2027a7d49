//! The keys that verify WeChat Pay's answers: platform certificates by serial, and `PUB_KEY_ID_…` keys.
//!
//! A [`Keyring`] is an immutable snapshot, cheap to clone. A [`SharedKeyring`] holds the current snapshot
//! and can be swapped while requests are using it: each request verifies against the snapshot it took,
//! and a swap only changes what later requests take. Certificates and public keys live side by side, so
//! a merchant migrating from platform certificates to the public-key mode verifies either.
//!
//! ```
//! use wechatpay::keyring::{Keyring, SharedKeyring};
//! use wechatpay::PrivateKey;
//!
//! let old = PrivateKey::generate().public_key();
//! let new = PrivateKey::generate().public_key();
//! let shared = SharedKeyring::new(Keyring::new([("PUB_KEY_ID_OLD".to_owned(), old)]));
//! let before = shared.load();
//! shared.update(|ring| ring.with([("PUB_KEY_ID_NEW".to_owned(), new)]));
//! assert_eq!(before.len(), 1); // a snapshot never changes
//! assert_eq!(shared.load().ids().collect::<Vec<_>>(), ["PUB_KEY_ID_NEW", "PUB_KEY_ID_OLD"]);
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex, RwLock};

use crate::crypto::keys::PublicKey;

/// Platform keys by id (a certificate serial or a `PUB_KEY_ID_…`). An immutable snapshot; cheap to clone.
///
/// ```
/// use wechatpay::{Keyring, PublicKey};
///
/// let key = PublicKey::load(include_str!("../../tests/fixtures/platform_pub.pem"))?;
/// let cert = PublicKey::load(include_str!("../../tests/fixtures/platform_cert.pem"))?;
/// let ring = Keyring::new([
///     ("PUB_KEY_ID_0114232134912410000000000000".to_owned(), key),
///     ("5157F09EFDC096DE15EBE81A47057A7232F1B8E1".to_owned(), cert),
/// ]);
/// assert!(ring.get("5157F09EFDC096DE15EBE81A47057A7232F1B8E1").is_some());
/// let (id, _) = ring.encryption_key(None).unwrap(); // what encrypts sensitive fields: the public key
/// assert_eq!(id, "PUB_KEY_ID_0114232134912410000000000000");
/// let ring = ring.without(|id| !id.starts_with("PUB_KEY_ID_")); // done migrating to public-key mode
/// assert_eq!(ring.len(), 1);
/// # Ok::<(), wechatpay::Error>(())
/// ```
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

    /// Every id with its key, sorted by id.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &PublicKey)> {
        self.keys.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// The key that encrypts sensitive fields, with its id: `preferred` if given, else a `PUB_KEY_ID_…`
    /// key (public-key mode is WeChat Pay's present), else the newest platform certificate valid now (the
    /// latest `notBefore` among those inside their dates; with none valid, the one that expires last).
    pub fn encryption_key(&self, preferred: Option<&str>) -> Option<(&str, &PublicKey)> {
        if let Some(id) = preferred {
            return self.keys.get_key_value(id).map(|(k, v)| (k.as_str(), v));
        }
        if let Some((id, key)) = self.keys.iter().find(|(id, _)| id.starts_with("PUB_KEY_ID_")) {
            return Some((id.as_str(), key));
        }
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        let dates = |key: &PublicKey| key.certificate_validity().unwrap_or((i64::MIN, i64::MAX));
        let valid_newest = self
            .keys
            .iter()
            .filter(|(_, key)| {
                let (from, until) = dates(key);
                from <= now && now <= until
            })
            .max_by_key(|(_, key)| dates(key).0);
        valid_newest
            .or_else(|| self.keys.iter().max_by_key(|(_, key)| dates(key).1))
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

    /// A new keyring: these keys plus `keys`, which replace keys of the same id.
    #[must_use]
    pub fn with(&self, keys: impl IntoIterator<Item = (String, PublicKey)>) -> Keyring {
        let mut map = (*self.keys).clone();
        map.extend(keys);
        Keyring { keys: Arc::new(map) }
    }

    /// A new keyring: these keys but those whose id `remove` returns true for.
    #[must_use]
    pub fn without(&self, mut remove: impl FnMut(&str) -> bool) -> Keyring {
        let map = self
            .keys
            .iter()
            .filter(|(id, _)| !remove(id))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        Keyring { keys: Arc::new(map) }
    }
}

impl FromIterator<(String, PublicKey)> for Keyring {
    fn from_iter<I: IntoIterator<Item = (String, PublicKey)>>(iter: I) -> Self {
        Keyring::new(iter)
    }
}

/// A [`Keyring`] that can be swapped while in use: readers take a snapshot ([`SharedKeyring::load`]),
/// writers replace it whole ([`SharedKeyring::store`], [`SharedKeyring::update`]).
///
/// Taking a snapshot is one `Arc` clone under a read lock held for no longer than that; nobody ever
/// waits on I/O or on crypto to read or swap it. A [`crate::Client`] verifies every answer against one.
///
/// ```
/// use wechatpay::keyring::{Keyring, SharedKeyring};
/// use wechatpay::PublicKey;
///
/// let shared = SharedKeyring::new(Keyring::default());
/// let snapshot = shared.load();
/// let key = PublicKey::load(include_str!("../../tests/fixtures/platform_pub.pem"))?;
/// shared.store(Keyring::new([("PUB_KEY_ID_0114232134912410000000000000".to_owned(), key)]));
/// assert!(snapshot.is_empty()); // what a request took does not change under it
/// assert_eq!(shared.load().len(), 1);
/// # Ok::<(), wechatpay::Error>(())
/// ```
#[derive(Default)]
pub struct SharedKeyring {
    current: RwLock<Keyring>,
    /// Serializes read-modify-write updates, so two concurrent `update`s never lose one another's keys.
    writer: Mutex<()>,
}

impl SharedKeyring {
    /// A shared keyring starting with `keyring`.
    pub fn new(keyring: Keyring) -> Self {
        SharedKeyring {
            current: RwLock::new(keyring),
            writer: Mutex::new(()),
        }
    }

    /// The current snapshot.
    pub fn load(&self) -> Keyring {
        self.current.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Replaces the keyring with `keyring`.
    pub fn store(&self, keyring: Keyring) {
        let _writer = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = keyring;
    }

    /// Replaces the keyring with what `f` makes of the current one; concurrent updates apply one after
    /// the other. `f` runs without blocking readers.
    pub fn update(&self, f: impl FnOnce(&Keyring) -> Keyring) {
        let _writer = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        let next = f(&self.load());
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = next;
    }
}

impl From<Keyring> for SharedKeyring {
    fn from(keyring: Keyring) -> Self {
        SharedKeyring::new(keyring)
    }
}

impl fmt::Debug for SharedKeyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedKeyring")
            .field("ids", &self.load().ids().map(str::to_owned).collect::<Vec<_>>())
            .finish()
    }
}
