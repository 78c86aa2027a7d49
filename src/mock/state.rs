//! A sandbox's `--state-dir`: its keys, identity and business state on disk, so a restart keeps them.
//!
//! Layout: `merchant_key.pem` (the key clients sign with), `platform_key.pem`, `platform_public_key.pem`,
//! `platform_cert.pem`, `identity.json` (ids, the APIv3 and APIv2 keys), and a file per endpoint family:
//! `busifavor.json` (stocks, coupons, …; earlier versions kept it in `state.json`, still read) and
//! `orders.json` (orders and refunds of both APIs); with `--tls`, also `ca_cert.pem`, `merchant_cert.pem` and
//! `merchant_cert.p12`.
//! Files are replaced atomically (write, then rename), so a crash never leaves half a file.

use std::fs;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::crypto::keys::PrivateKey;
use crate::error::{Error, Result};

/// The directory a sandbox keeps its state in.
#[derive(Debug, Clone)]
pub(crate) struct StateDir {
    root: PathBuf,
}

fn io_error(what: String) -> impl FnOnce(std::io::Error) -> Error {
    move |e| Error::config(what).with_source(e)
}

impl StateDir {
    pub(crate) fn open(root: &Path) -> Result<Self> {
        fs::create_dir_all(root).map_err(io_error(format!("cannot create the state dir `{}`", root.display())))?;
        Ok(StateDir { root: root.to_owned() })
    }

    pub(crate) fn root(&self) -> &Path {
        &self.root
    }

    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }

    /// Writes `bytes` to `name` atomically; `secret` files are readable by their owner only.
    pub(crate) fn write(&self, name: &str, bytes: &[u8], secret: bool) -> Result<()> {
        let target = self.path(name);
        let tmp = self.path(&format!(".{name}.tmp"));
        let mut open = fs::OpenOptions::new();
        open.write(true).create(true).truncate(true);
        // Secret files are the owner's alone from the moment they exist, not after a chmod.
        #[cfg(unix)]
        if secret {
            use std::os::unix::fs::OpenOptionsExt;
            open.mode(0o600);
        }
        #[cfg(not(unix))]
        let _ = secret;
        let _ = fs::remove_file(&tmp); // a leftover from a crash would keep its old mode
        open.open(&tmp)
            .and_then(|mut file| std::io::Write::write_all(&mut file, bytes))
            .map_err(io_error(format!("cannot write `{}`", tmp.display())))?;
        fs::rename(&tmp, &target).map_err(io_error(format!("cannot replace `{}`", target.display())))
    }

    /// The private key in `name`, or `make()`'s, written there first.
    pub(crate) fn key(&self, name: &str, make: impl FnOnce() -> PrivateKey) -> Result<PrivateKey> {
        let path = self.path(name);
        if path.exists() {
            return PrivateKey::load(&format!("file://{}", path.display()));
        }
        let key = make();
        self.write(name, key.to_pkcs8_pem().as_bytes(), true)?;
        Ok(key)
    }

    /// The JSON in `name`, if the file exists.
    pub(crate) fn read_json<T: DeserializeOwned>(&self, name: &str) -> Result<Option<T>> {
        let path = self.path(name);
        match fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| Error::config(format!("`{}` is not valid sandbox state", path.display())).with_source(e)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_error(format!("cannot read `{}`", path.display()))(e)),
        }
    }

    pub(crate) fn write_json<T: Serialize>(&self, name: &str, value: &T, secret: bool) -> Result<()> {
        let bytes = serde_json::to_vec_pretty(value)
            .map_err(|e| Error::config("sandbox state does not serialize").with_source(e))?;
        self.write(name, &bytes, secret)
    }
}
