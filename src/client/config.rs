//! Configuration files and the environment, read as `wxpay` reads them: [`Client::from_config`],
//! [`ClientBuilder::from_env`], [`ClientBuilder::from_profile`].
//!
//! Read here, not in the command line, so that a program and `wxpay` take the same keys and give them the
//! same meaning: a file that configures one configures the other, and the JSON line `wxpay mock serve`
//! prints configures both as it is.
//!
//! A file is one JSON object whose keys are [`ClientBuilder::CONFIG_KEYS`]; any other key is refused
//! (naming the key it probably meant), so that a misspelt setting is never silently missing. Key and
//! certificate values are PEM text, any form the key loader takes (`file://…`, `private.pkcs8://…`), or a
//! plain file path; relative paths are relative to the file (in the environment, to the working
//! directory) and made absolute when read.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::client::{Client, ClientBuilder};
use crate::error::{Error, Result};

/// Every key a configuration takes, with the variable that gives it in the environment.
const KEYS: [(&str, &str); 15] = [
    ("base_uri", "WECHATPAY_BASE_URI"),
    ("mchid", "WECHATPAY_MCHID"),
    ("serial", "WECHATPAY_SERIAL"),
    ("private_key", "WECHATPAY_PRIVATE_KEY"),
    ("public_key_id", "WECHATPAY_PUBLIC_KEY_ID"),
    ("public_key", "WECHATPAY_PUBLIC_KEY"),
    ("certs", "WECHATPAY_CERTS"),
    ("apiv3_key", "WECHATPAY_APIV3_KEY"),
    ("apiv2_key", "WECHATPAY_APIV2_KEY"),
    ("merchant_cert", "WECHATPAY_MERCHANT_CERT"),
    ("merchant_key", "WECHATPAY_MERCHANT_KEY"),
    ("merchant_key_passphrase", "WECHATPAY_MERCHANT_KEY_PASSPHRASE"),
    ("merchant_p12", "WECHATPAY_MERCHANT_P12"),
    ("merchant_p12_passphrase", "WECHATPAY_MERCHANT_P12_PASSPHRASE"),
    ("ca_cert", "WECHATPAY_CA_CERT"),
];

/// The keys whose value may be a file path (and is made absolute when read); `certs`' values too.
const PATH_KEYS: [&str; 6] = [
    "private_key",
    "public_key",
    "merchant_cert",
    "merchant_key",
    "merchant_p12",
    "ca_cert",
];

/// The variable that names the profile `wxpay` uses when `--profile` is not given.
const PROFILE_VAR: &str = "WXPAY_PROFILE";

/// A key value that is a plain path: neither PEM text nor a `scheme://` form the key loader reads.
fn is_path(value: &str) -> bool {
    ClientBuilder::is_key_path(value)
}

/// The argument the key loader takes for a key value: a plain path as `file://PATH`, anything else as is.
fn key_source(value: &str) -> String {
    ClientBuilder::key_source(value)
}

/// The PEM text a certificate value holds: the file a path (or `file://…`) names, or the text itself.
fn pem_text(value: &str, key: &str) -> Result<String> {
    let path = value.strip_prefix("file://").or(is_path(value).then_some(value));
    match path {
        Some(path) => std::fs::read_to_string(path)
            .map_err(|e| Error::config(format!("cannot read the `{key}` file {path}")).with_source(e)),
        None => Ok(value.to_owned()),
    }
}

/// A variable's value; an empty (or blank) one counts as unset.
fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// Makes the plain relative paths of `settings` absolute, against `base` (a file's directory) or the
/// working directory.
fn anchor_paths(settings: &mut Map<String, Value>, base: Option<&Path>) {
    let anchor = |value: &mut Value| {
        let Some(text) = value.as_str().filter(|text| is_path(text)) else {
            return;
        };
        let path = Path::new(text);
        let joined = match base {
            Some(base) if path.is_relative() => base.join(path),
            _ => path.to_path_buf(),
        };
        if let Ok(absolute) = std::path::absolute(&joined) {
            *value = Value::String(absolute.display().to_string());
        }
    };
    for key in PATH_KEYS {
        if let Some(value) = settings.get_mut(key) {
            anchor(value);
        }
    }
    if let Some(Value::Object(certs)) = settings.get_mut("certs") {
        certs.values_mut().for_each(anchor);
    }
}

/// Checks the keys and value types of `settings` (`what` names where they came from): every key one of
/// [`KEYS`], every value a string (`certs` an object of strings) or `null` (absent).
fn check(settings: &Map<String, Value>, what: &str) -> Result<()> {
    let unknown: Vec<String> = settings
        .keys()
        .filter(|key| !KEYS.iter().any(|(known, _)| known == key))
        .map(|key| match suggest(key) {
            Some(known) => format!("`{key}` (did you mean `{known}`?)"),
            None => format!("`{key}`"),
        })
        .collect();
    if !unknown.is_empty() {
        let known: Vec<&str> = KEYS.iter().map(|(key, _)| *key).collect();
        return Err(Error::config(format!(
            "unknown key{} in {what}: {}; a config file takes: {}",
            if unknown.len() == 1 { "" } else { "s" },
            unknown.join(", "),
            known.join(", ")
        )));
    }
    for (key, value) in settings {
        let fine = match (key.as_str(), value) {
            (_, Value::Null | Value::String(_)) => true,
            ("certs", Value::Object(certs)) => certs.values().all(Value::is_string),
            _ => false,
        };
        if !fine {
            return Err(Error::config(format!(
                "`{key}` in {what} must be {}",
                if key == "certs" {
                    "an object of certificate id to path (or PEM text)"
                } else {
                    "a string"
                }
            )));
        }
    }
    Ok(())
}

/// The known key `key` most likely means: the same but for case, `_` and `-` (PHP's `privateKey`), else
/// the nearest within two edits (`base_url`).
fn suggest(key: &str) -> Option<&'static str> {
    let squash = |s: &str| -> Vec<char> {
        s.chars()
            .filter(|c| !matches!(c, '_' | '-'))
            .flat_map(char::to_lowercase)
            .collect()
    };
    let wanted = squash(key);
    let known = KEYS.iter().map(|(key, _)| *key);
    if let Some(same) = known.clone().find(|known| squash(known) == wanted) {
        return Some(same);
    }
    known
        .map(|known| (edit_distance(&wanted, &squash(known)), known))
        .filter(|(distance, _)| *distance <= 2)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, known)| known)
}

/// Levenshtein distance.
fn edit_distance(a: &[char], b: &[char]) -> usize {
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (above + 1).min(row[j] + 1).min(diagonal + usize::from(ca != cb));
            diagonal = above;
        }
    }
    row[b.len()]
}

/// The string `key` holds in checked settings, if any.
fn text<'a>(settings: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    settings.get(key).and_then(Value::as_str)
}

impl ClientBuilder {
    /// Not part of the stable API (the `wxpay` binary's): whether a key setting is a plain path, neither
    /// PEM text nor a `scheme://` form the key loader reads.
    #[doc(hidden)]
    pub fn is_key_path(value: &str) -> bool {
        !value.contains("-----BEGIN") && !value.contains("://")
    }

    /// Not part of the stable API (the `wxpay` binary's): the argument the key loader takes for a key
    /// setting — a plain path as `file://PATH`, anything else as it is.
    #[doc(hidden)]
    pub fn key_source(value: &str) -> String {
        if Self::is_key_path(value) {
            format!("file://{value}")
        } else {
            value.to_owned()
        }
    }

    /// The keys a configuration file takes (the JSON `wxpay mock serve` prints, `wxpay --config FILE`, a
    /// `wxpay` profile), each with the environment variable that gives it ([`ClientBuilder::from_env`]).
    /// `certs` is an object of platform certificate serial to certificate (in the environment,
    /// `ID=PATH,…`); every other value is a string.
    ///
    /// ```
    /// let (key, var) = wechatpay::ClientBuilder::CONFIG_KEYS[1];
    /// assert_eq!((key, var), ("mchid", "WECHATPAY_MCHID"));
    /// ```
    pub const CONFIG_KEYS: [(&'static str, &'static str); 15] = KEYS;

    /// A builder configured from a JSON file: what `wxpay mock serve` prints, or a `wxpay --config` file
    /// (keys: [`ClientBuilder::CONFIG_KEYS`]). Relative paths in it are relative to the file. More builder
    /// calls may follow (`timeout`, `retry`, …); nothing is checked until [`ClientBuilder::build`] but the
    /// file itself.
    ///
    /// ```
    /// use wechatpay::mock::MockServer;
    /// let dir = std::env::temp_dir().join(format!("wechatpay-from-config-doc-{}", std::process::id()));
    /// let server = MockServer::builder().state_dir(dir.join("state")).start()?;
    /// let file = dir.join("sandbox.json"); // what `wxpay mock serve > sandbox.json` writes
    /// std::fs::write(&file, server.connection_info()?.to_string()).unwrap();
    ///
    /// let client = wechatpay::ClientBuilder::from_config(&file)?.timeout(std::time::Duration::from_secs(5)).build()?;
    /// assert_eq!(client.mchid(), server.mchid());
    /// # drop(server);
    /// # std::fs::remove_dir_all(&dir).ok();
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn from_config(path: impl AsRef<Path>) -> Result<Self> {
        ClientBuilder::default().config(&Self::read_config(path)?)
    }

    /// A builder configured from the `WECHATPAY_*` environment variables `wxpay` reads (one per key of
    /// [`ClientBuilder::CONFIG_KEYS`]: `WECHATPAY_MCHID`, `WECHATPAY_SERIAL`, `WECHATPAY_PRIVATE_KEY`,
    /// `WECHATPAY_PUBLIC_KEY_ID`, `WECHATPAY_PUBLIC_KEY`, `WECHATPAY_CERTS` as `ID=PATH,…`,
    /// `WECHATPAY_APIV3_KEY`, `WECHATPAY_BASE_URI`, …). An empty variable counts as unset; relative paths
    /// are relative to the working directory.
    ///
    /// ```no_run
    /// // WECHATPAY_MCHID=1900000109 WECHATPAY_SERIAL=… WECHATPAY_PRIVATE_KEY=/path/to/apiclient_key.pem
    /// // WECHATPAY_PUBLIC_KEY_ID=PUB_KEY_ID_… WECHATPAY_PUBLIC_KEY=/path/to/pub_key.pem
    /// let client = wechatpay::ClientBuilder::from_env()?.build()?;
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn from_env() -> Result<Self> {
        ClientBuilder::default().config(&Self::read_env()?)
    }

    /// A builder configured from a profile `wxpay config save NAME` saved, in the profiles file
    /// ([`ClientBuilder::profiles_path`]). `None`: the one `WXPAY_PROFILE` names, as `wxpay` picks it.
    ///
    /// ```no_run
    /// // after `wxpay --config sandbox.json config save sandbox`
    /// let client = wechatpay::ClientBuilder::from_profile(Some("sandbox"))?.build()?;
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn from_profile(name: Option<&str>) -> Result<Self> {
        let name = match name {
            Some(name) => name.to_owned(),
            None => env(PROFILE_VAR)
                .ok_or_else(|| Error::config(format!("no profile named: give one, or set {PROFILE_VAR}")))?,
        };
        let path = Self::profiles_path()?;
        let mut profiles = Self::read_profiles(&path)?;
        let settings = profiles.remove(&name).ok_or_else(|| {
            let known: Vec<&str> = profiles.keys().map(String::as_str).collect();
            Error::config(format!(
                "no profile `{name}` in {} (profiles there: [{}])",
                path.display(),
                known.join(", ")
            ))
        })?;
        ClientBuilder::default().config(&settings)
    }

    /// The settings of a configuration file, checked as [`ClientBuilder::from_config`] reads them: a JSON
    /// object of [`ClientBuilder::CONFIG_KEYS`] (an unknown key is an error naming the key it probably
    /// meant), its relative paths made absolute against the file's directory. For tools that layer
    /// settings before [`ClientBuilder::config`], as `wxpay` layers a profile, a file, the environment
    /// and flags.
    ///
    /// ```
    /// let file = std::env::temp_dir().join(format!("wechatpay-read-config-doc-{}.json", std::process::id()));
    /// std::fs::write(&file, r#"{"mchid": "1900000109", "privateKey": "key.pem"}"#).unwrap();
    /// let e = wechatpay::ClientBuilder::read_config(&file).unwrap_err();
    /// assert!(e.is_config() && e.to_string().contains("`privateKey` (did you mean `private_key`?)"));
    ///
    /// std::fs::write(&file, r#"{"mchid": "1900000109", "private_key": "key.pem"}"#).unwrap();
    /// let settings = wechatpay::ClientBuilder::read_config(&file)?;
    /// let key = std::path::Path::new(settings["private_key"].as_str().unwrap());
    /// assert!(key.is_absolute() && key.parent() == file.parent()); // beside the file
    /// # std::fs::remove_file(&file).ok();
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn read_config(path: impl AsRef<Path>) -> Result<Map<String, Value>> {
        let path = path.as_ref();
        let shown = path.display();
        let bytes = std::fs::read(path)
            .map_err(|e| Error::config(format!("cannot read the config file {shown}")).with_source(e))?;
        let value: Value = serde_json::from_slice(&bytes)
            .map_err(|e| Error::config(format!("the config file {shown} is not valid JSON")).with_source(e))?;
        let Value::Object(mut settings) = value else {
            return Err(Error::config(format!(
                "the config file {shown} is not a JSON object of settings"
            )));
        };
        check(&settings, &format!("the config file {shown}"))?;
        anchor_paths(&mut settings, path.parent());
        Ok(settings)
    }

    /// The settings the `WECHATPAY_*` variables give, as [`ClientBuilder::from_env`] reads them, keyed
    /// as a configuration file is ([`ClientBuilder::CONFIG_KEYS`]).
    ///
    /// ```
    /// let settings = wechatpay::ClientBuilder::read_env()?;
    /// assert!(settings.keys().all(|key| wechatpay::ClientBuilder::CONFIG_KEYS.iter().any(|(k, _)| k == key)));
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn read_env() -> Result<Map<String, Value>> {
        let mut settings = Map::new();
        for (key, var) in KEYS.iter().filter(|(key, _)| *key != "certs") {
            if let Some(value) = env(var) {
                settings.insert((*key).to_owned(), Value::String(value));
            }
        }
        if let Some(list) = env("WECHATPAY_CERTS") {
            let mut certs = Map::new();
            for item in list.split(',').map(str::trim).filter(|item| !item.is_empty()) {
                match item.split_once('=') {
                    Some((id, path)) if !id.trim().is_empty() => {
                        certs.insert(id.trim().to_owned(), Value::String(path.to_owned()));
                    }
                    _ => {
                        return Err(Error::config(format!(
                            "a WECHATPAY_CERTS entry `{item}` is not of the form ID=PATH"
                        )))
                    }
                }
            }
            settings.insert("certs".to_owned(), Value::Object(certs));
        }
        anchor_paths(&mut settings, None);
        Ok(settings)
    }

    /// Where `wxpay` keeps its profiles (`wxpay config path`): `$WXPAY_CONFIG_DIR/profiles.json`, else
    /// `$XDG_CONFIG_HOME/wxpay/profiles.json`, else `$HOME/.config/wxpay/profiles.json`.
    ///
    /// ```
    /// let path = wechatpay::ClientBuilder::profiles_path();
    /// assert!(path.map_or(true, |p| p.ends_with("profiles.json")));
    /// ```
    pub fn profiles_path() -> Result<PathBuf> {
        let dir = if let Some(dir) = env("WXPAY_CONFIG_DIR") {
            PathBuf::from(dir)
        } else if let Some(xdg) = env("XDG_CONFIG_HOME") {
            PathBuf::from(xdg).join("wxpay")
        } else if let Some(home) = env("HOME") {
            PathBuf::from(home).join(".config").join("wxpay")
        } else {
            return Err(Error::config(
                "no config directory: set WXPAY_CONFIG_DIR, XDG_CONFIG_HOME or HOME",
            ));
        };
        Ok(dir.join("profiles.json"))
    }

    /// The profiles of a profiles file (a JSON object of name to settings, as `wxpay config save`
    /// writes it), each checked as a configuration file is; none when the file does not exist.
    ///
    /// ```
    /// let file = std::env::temp_dir().join(format!("wechatpay-profiles-doc-{}.json", std::process::id()));
    /// std::fs::write(&file, r#"{"sandbox": {"mchid": "1900000109", "base_uri": "http://127.0.0.1:8080/"}}"#).unwrap();
    /// let profiles = wechatpay::ClientBuilder::read_profiles(&file)?;
    /// assert_eq!(profiles["sandbox"]["mchid"], "1900000109");
    /// # std::fs::remove_file(&file).ok();
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn read_profiles(path: impl AsRef<Path>) -> Result<BTreeMap<String, Map<String, Value>>> {
        let path = path.as_ref();
        let shown = path.display();
        let bytes = match std::fs::read(path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
            Err(e) => return Err(Error::config(format!("cannot read the profiles file {shown}")).with_source(e)),
        };
        let invalid = || Error::config(format!("the profiles file {shown} is not valid"));
        let value: Value = serde_json::from_slice(&bytes).map_err(|e| invalid().with_source(e))?;
        let Value::Object(profiles) = value else {
            return Err(invalid());
        };
        let mut read = BTreeMap::new();
        for (name, settings) in profiles {
            let Value::Object(mut settings) = settings else {
                return Err(Error::config(format!(
                    "the profile `{name}` in {shown} is not a JSON object of settings"
                )));
            };
            check(&settings, &format!("the profile `{name}` in {shown}"))?;
            anchor_paths(&mut settings, path.parent());
            read.insert(name, settings);
        }
        Ok(read)
    }

    /// Applies configuration settings (a JSON object of [`ClientBuilder::CONFIG_KEYS`], as
    /// [`ClientBuilder::read_config`] and [`ClientBuilder::read_env`] give them) over this builder; the
    /// settings it holds replace the builder's, and `public_key` and `certs` add verifying keys. Key
    /// values may be plain paths. Certificate files (`ca_cert`, `merchant_p12`) are read now.
    ///
    /// ```
    /// use serde_json::json;
    /// let settings = json!({"mchid": "1900000109", "apiv2_key": "exposed_your_key_here_have_risks"});
    /// let client = wechatpay::Client::builder().config(settings.as_object().unwrap())?.build()?;
    /// assert_eq!(client.mchid(), "1900000109"); // a client for APIv2 alone
    ///
    /// let half = json!({"public_key_id": "PUB_KEY_ID_0114232134912410000000000000"});
    /// assert!(wechatpay::Client::builder().config(half.as_object().unwrap()).unwrap_err().is_config());
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn config(mut self, settings: &Map<String, Value>) -> Result<Self> {
        check(settings, "the settings")?;
        let get = |key| text(settings, key);
        if let Some(uri) = get("base_uri") {
            self = self.base_uri(uri);
        }
        if let Some(mchid) = get("mchid") {
            self = self.mchid(mchid);
        }
        if let Some(serial) = get("serial") {
            self = self.serial(serial);
        }
        if let Some(key) = get("private_key") {
            self = self.private_key(&key_source(key));
        }
        match (get("public_key_id"), get("public_key")) {
            (Some(id), Some(key)) => self = self.cert(id, &key_source(key)),
            (None, None) => {}
            _ => {
                return Err(Error::config(
                    "`public_key_id` and `public_key` go together: give both or neither",
                ))
            }
        }
        if let Some(Value::Object(certs)) = settings.get("certs") {
            for (id, key) in certs {
                self = self.cert(id, &key_source(key.as_str().unwrap_or_default()));
            }
        }
        if let Some(key) = get("apiv3_key") {
            self = self.apiv3_key(key);
        }
        if let Some(key) = get("apiv2_key") {
            self = self.apiv2_key(key);
        }
        self = merchant_certificate(self, settings)?;
        if let Some(ca) = get("ca_cert") {
            // The builder takes the PEM text itself.
            self = self.root_certificate(&pem_text(ca, "ca_cert")?);
        }
        Ok(self)
    }
}

/// The TLS client certificate, if configured: `merchant_cert` with `merchant_key`, or `merchant_p12`.
/// When both are given (as `wxpay mock serve --tls` prints them: the same certificate twice), the PEM pair
/// is used.
fn merchant_certificate(builder: ClientBuilder, settings: &Map<String, Value>) -> Result<ClientBuilder> {
    let get = |key| text(settings, key);
    match (get("merchant_cert"), get("merchant_key"), get("merchant_p12")) {
        (None, None, None) => Ok(builder),
        (Some(cert), Some(key), _) => {
            let (cert, key) = (key_source(cert), key_source(key));
            Ok(match get("merchant_key_passphrase") {
                Some(passphrase) => builder.merchant_certificate_encrypted(&cert, &key, passphrase),
                None => builder.merchant_certificate(&cert, &key),
            })
        }
        (None, None, Some(p12)) => {
            let path = p12.strip_prefix("file://").unwrap_or(p12);
            let der = std::fs::read(path)
                .map_err(|e| Error::config(format!("cannot read the `merchant_p12` file {path}")).with_source(e))?;
            Ok(builder.merchant_p12(der, get("merchant_p12_passphrase")))
        }
        _ => Err(Error::config(
            "`merchant_cert` and `merchant_key` go together: give both (or `merchant_p12`) or neither",
        )),
    }
}

impl Client {
    /// A client configured from a JSON file: exactly what `wxpay mock serve` prints, or a `wxpay --config`
    /// file ([`ClientBuilder::from_config`], then [`ClientBuilder::build`]).
    ///
    /// ```
    /// use wechatpay::{mock::MockServer, Client};
    /// let dir = std::env::temp_dir().join(format!("wechatpay-client-from-config-doc-{}", std::process::id()));
    /// let server = MockServer::builder().state_dir(dir.join("state")).start()?;
    /// let file = dir.join("sandbox.json");
    /// std::fs::write(&file, server.connection_info()?.to_string()).unwrap();
    ///
    /// let client = Client::from_config(&file)?;
    /// let stock = client["v3/marketing/busifavor/stocks/{stock_id}"].get(serde_json::json!({"stock_id": "100088"}))?;
    /// assert_eq!(stock.status(), 200);
    /// # drop(server);
    /// # std::fs::remove_dir_all(&dir).ok();
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn from_config(path: impl AsRef<Path>) -> Result<Client> {
        ClientBuilder::from_config(path)?.build()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_the_key_a_near_miss_means() {
        assert_eq!(suggest("privateKey"), Some("private_key"));
        assert_eq!(suggest("PUBLIC-KEY-ID"), Some("public_key_id"));
        assert_eq!(suggest("apiv3Key"), Some("apiv3_key"));
        assert_eq!(suggest("mch_id"), Some("mchid"));
        assert_eq!(suggest("base_url"), Some("base_uri"));
        assert_eq!(suggest("cert"), Some("certs"));
        assert_eq!(suggest("serial_no"), Some("serial"));
        assert_eq!(suggest("notify_url"), None);
        assert_eq!(suggest("sources"), None);
    }

    #[test]
    #[cfg(unix)]
    fn relative_paths_are_anchored_and_other_values_kept() {
        let mut settings = serde_json::json!({
            "private_key": "keys/a.pem",
            "public_key": "-----BEGIN PUBLIC KEY-----\n…",
            "ca_cert": "file://ca.pem",
            "certs": {"AB": "c.pem"},
            "mchid": "relative/looking",
        });
        let settings = settings.as_object_mut().unwrap();
        anchor_paths(settings, Some(Path::new("/etc/wxpay")));
        assert_eq!(settings["private_key"], "/etc/wxpay/keys/a.pem");
        assert!(settings["public_key"].as_str().unwrap().starts_with("-----BEGIN"));
        assert_eq!(settings["ca_cert"], "file://ca.pem");
        assert_eq!(settings["certs"]["AB"], "/etc/wxpay/c.pem");
        assert_eq!(settings["mchid"], "relative/looking");
    }

    #[test]
    fn values_must_be_strings() {
        let settings = serde_json::json!({"mchid": 1900000109});
        let e = check(settings.as_object().unwrap(), "here").unwrap_err();
        assert!(
            e.is_config() && e.to_string().contains("`mchid` in here must be a string"),
            "{e}"
        );
        let settings = serde_json::json!({"certs": {"AB": 1}, "serial": null});
        assert!(check(settings.as_object().unwrap(), "here").is_err());
    }
}
