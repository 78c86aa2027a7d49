//! Configuration: layered from a named profile, a `--config` file, the environment and flags (each
//! winning over the one before), and the `wxpay config` commands.
//!
//! A file holds the JSON `wxpay mock serve` prints: `base_uri`, `mchid`, `serial`, `private_key` (a path),
//! `public_key_id`, `public_key` (a path), and optionally `certs` (`{id: path}`) and `apiv3_key`. Relative
//! paths in a file are relative to that file. Key values may also be PEM text or any form the library's
//! key loader takes (`file://…`, `private.pkcs8://…`).
//!
//! The library reads the files, the profiles and the `WECHATPAY_*` variables
//! ([`ClientBuilder::read_config`], [`ClientBuilder::read_profiles`], [`ClientBuilder::read_env`]) and
//! builds the client from the merged settings ([`ClientBuilder::config`]): what `wxpay` takes,
//! `Client::from_config` and `ClientBuilder::from_env` take too. Only the flags, the layering and
//! `config show`'s sources are the command line's own.
//!
//! APIv2 (`v2/…` paths) takes `apiv2_key` and, for the endpoints that demand the TLS client certificate,
//! `merchant_cert` with `merchant_key` (and `merchant_key_passphrase` for an encrypted key) or
//! `merchant_p12` (with `merchant_p12_passphrase`, the mchid unless given). `ca_cert` adds a trusted root
//! for TLS, whichever the API. A configuration of `mchid` and `apiv2_key` alone makes APIv2 calls.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Args, Subcommand};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use wechatpay::{Client, ClientBuilder, Keyring, PublicKey};

use crate::failure::{Exit, Failure};
use crate::output;

/// Where settings come from: what every command that reads settings takes.
#[derive(Args, Default, Clone)]
#[command(next_help_heading = "Configuration")]
pub(crate) struct SourceArgs {
    /// A JSON configuration file (e.g. what `wxpay mock serve` prints).
    #[arg(long, value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,
    /// A named profile from the profiles file (`wxpay config path`); env WXPAY_PROFILE.
    #[arg(long, value_name = "NAME")]
    pub(crate) profile: Option<String>,
}

/// The merchant's own settings: what signs requests, and where they go.
#[derive(Args, Default, Clone)]
#[command(next_help_heading = "Configuration")]
pub(crate) struct MerchantArgs {
    /// The merchant id; env WECHATPAY_MCHID.
    #[arg(long)]
    mchid: Option<String>,
    /// The merchant API certificate serial; env WECHATPAY_SERIAL.
    #[arg(long)]
    serial: Option<String>,
    /// The merchant private key (a PEM file path); env WECHATPAY_PRIVATE_KEY.
    #[arg(long, value_name = "PATH")]
    private_key: Option<String>,
    /// Where requests go (default `https://api.mch.weixin.qq.com/`); env WECHATPAY_BASE_URI.
    #[arg(long, value_name = "URL")]
    base_uri: Option<String>,
    /// One more trusted root certificate for TLS (a PEM file path), e.g. a TLS proxy's; env WECHATPAY_CA_CERT.
    #[arg(long, value_name = "PATH")]
    ca_cert: Option<String>,
}

/// The merchant's APIv2 settings: the key that signs `v2/…` calls, and the TLS client certificate the
/// security endpoints demand.
#[derive(Args, Default, Clone)]
#[command(next_help_heading = "Configuration")]
pub(crate) struct Apiv2Args {
    /// The APIv2 key, for `v2/…` paths. Prefer env WECHATPAY_APIV2_KEY or `apiv2_key` in the config:
    /// flags show in `ps`.
    #[arg(long, value_name = "KEY")]
    apiv2_key: Option<String>,
    /// The merchant API certificate, `apiclient_cert.pem` (a PEM file path), for the APIv2 endpoints that
    /// demand it; env WECHATPAY_MERCHANT_CERT.
    #[arg(long, value_name = "PATH")]
    merchant_cert: Option<String>,
    /// Its key, `apiclient_key.pem` (a PEM file path); env WECHATPAY_MERCHANT_KEY (an encrypted one's
    /// passphrase: env WECHATPAY_MERCHANT_KEY_PASSPHRASE).
    #[arg(long, value_name = "PATH")]
    merchant_key: Option<String>,
    /// Or both as `apiclient_cert.p12` (a file path); env WECHATPAY_MERCHANT_P12 (its passphrase, the mchid
    /// unless given: env WECHATPAY_MERCHANT_P12_PASSPHRASE).
    #[arg(long, value_name = "PATH")]
    merchant_p12: Option<String>,
}

/// The WeChat Pay keys that verify answers and callbacks.
#[derive(Args, Default, Clone)]
#[command(next_help_heading = "Configuration")]
pub(crate) struct KeyArgs {
    /// The WeChat Pay public key id (PUB_KEY_ID_…); env WECHATPAY_PUBLIC_KEY_ID.
    #[arg(long, value_name = "ID")]
    public_key_id: Option<String>,
    /// The WeChat Pay public key (a PEM file path); env WECHATPAY_PUBLIC_KEY.
    #[arg(long, value_name = "PATH")]
    public_key: Option<String>,
    /// A platform certificate (repeatable); env WECHATPAY_CERTS as ID=PATH,….
    #[arg(long = "cert", value_name = "ID=PATH")]
    certs: Vec<String>,
}

/// The configuration flags: all of them, as the commands that send requests take them (and as `wxpay`
/// takes them before the command, for the commands that use them).
#[derive(Args, Default, Clone)]
#[command(next_help_heading = "Configuration")]
pub(crate) struct ConfigArgs {
    #[command(flatten)]
    pub(crate) source: SourceArgs,
    #[command(flatten)]
    merchant: MerchantArgs,
    #[command(flatten)]
    apiv2: Apiv2Args,
    #[command(flatten)]
    keys: KeyArgs,
    /// Total time allowed for a request, in seconds.
    #[arg(long, value_name = "SECS")]
    pub(crate) timeout: Option<f64>,
}

/// What `config show` and `config save` take: every setting, but no request timeout.
#[derive(Args, Default, Clone)]
pub(crate) struct SettingsArgs {
    #[command(flatten)]
    source: SourceArgs,
    #[command(flatten)]
    merchant: MerchantArgs,
    #[command(flatten)]
    apiv2: Apiv2Args,
    #[command(flatten)]
    keys: KeyArgs,
}

/// What `notify open` takes: where settings come from, and the keys that verify callbacks.
#[derive(Args, Default, Clone)]
pub(crate) struct KeyringArgs {
    #[command(flatten)]
    source: SourceArgs,
    #[command(flatten)]
    keys: KeyArgs,
}

/// What `paysign` takes: where settings come from, and the merchant's id and signing key.
#[derive(Args, Default, Clone)]
#[command(next_help_heading = "Configuration")]
pub(crate) struct SignerArgs {
    #[command(flatten)]
    source: SourceArgs,
    /// The merchant id (APP parameters name it `partnerid`); env WECHATPAY_MCHID.
    #[arg(long)]
    mchid: Option<String>,
    /// The merchant private key (a PEM file path); env WECHATPAY_PRIVATE_KEY.
    #[arg(long, value_name = "PATH")]
    private_key: Option<String>,
}

/// The flags of [`SignerArgs`], as written.
pub(crate) const SIGNER_FLAGS: [&str; 4] = ["--config", "--profile", "--mchid", "--private-key"];

/// The flags of [`SourceArgs`], as written.
pub(crate) const SOURCE_FLAGS: [&str; 2] = ["--config", "--profile"];
/// The flags of [`MerchantArgs`], as written.
pub(crate) const MERCHANT_FLAGS: [&str; 5] = ["--mchid", "--serial", "--private-key", "--base-uri", "--ca-cert"];
/// The flags of [`Apiv2Args`], as written.
pub(crate) const APIV2_FLAGS: [&str; 4] = ["--apiv2-key", "--merchant-cert", "--merchant-key", "--merchant-p12"];
/// The flags of [`KeyArgs`], as written.
pub(crate) const KEY_FLAGS: [&str; 3] = ["--public-key-id", "--public-key", "--cert"];

impl ConfigArgs {
    /// The flags given here, as written (e.g. `--mchid`).
    pub(crate) fn given(&self) -> Vec<&'static str> {
        let (s, m, v2, k) = (&self.source, &self.merchant, &self.apiv2, &self.keys);
        let set = [
            s.config.is_some(),
            s.profile.is_some(),
            m.mchid.is_some(),
            m.serial.is_some(),
            m.private_key.is_some(),
            m.base_uri.is_some(),
            m.ca_cert.is_some(),
            v2.apiv2_key.is_some(),
            v2.merchant_cert.is_some(),
            v2.merchant_key.is_some(),
            v2.merchant_p12.is_some(),
            k.public_key_id.is_some(),
            k.public_key.is_some(),
            !k.certs.is_empty(),
            self.timeout.is_some(),
        ];
        let names = SOURCE_FLAGS
            .iter()
            .chain(&MERCHANT_FLAGS)
            .chain(&APIV2_FLAGS)
            .chain(&KEY_FLAGS)
            .chain(&["--timeout"]);
        names.zip(set).filter(|(_, set)| *set).map(|(name, _)| *name).collect()
    }

    /// These flags (given before the command) with `later` ones (given after it) over them: a flag given
    /// after the command wins; certificates add up.
    pub(crate) fn then(self, later: impl Into<ConfigArgs>) -> ConfigArgs {
        let later = later.into();
        let mut certs = self.keys.certs;
        certs.extend(later.keys.certs);
        ConfigArgs {
            source: SourceArgs {
                config: later.source.config.or(self.source.config),
                profile: later.source.profile.or(self.source.profile),
            },
            merchant: MerchantArgs {
                mchid: later.merchant.mchid.or(self.merchant.mchid),
                serial: later.merchant.serial.or(self.merchant.serial),
                private_key: later.merchant.private_key.or(self.merchant.private_key),
                base_uri: later.merchant.base_uri.or(self.merchant.base_uri),
                ca_cert: later.merchant.ca_cert.or(self.merchant.ca_cert),
            },
            apiv2: Apiv2Args {
                apiv2_key: later.apiv2.apiv2_key.or(self.apiv2.apiv2_key),
                merchant_cert: later.apiv2.merchant_cert.or(self.apiv2.merchant_cert),
                merchant_key: later.apiv2.merchant_key.or(self.apiv2.merchant_key),
                merchant_p12: later.apiv2.merchant_p12.or(self.apiv2.merchant_p12),
            },
            keys: KeyArgs {
                public_key_id: later.keys.public_key_id.or(self.keys.public_key_id),
                public_key: later.keys.public_key.or(self.keys.public_key),
                certs,
            },
            timeout: later.timeout.or(self.timeout),
        }
    }
}

impl From<SettingsArgs> for ConfigArgs {
    fn from(args: SettingsArgs) -> Self {
        ConfigArgs {
            source: args.source,
            merchant: args.merchant,
            apiv2: args.apiv2,
            keys: args.keys,
            timeout: None,
        }
    }
}

impl From<SignerArgs> for ConfigArgs {
    fn from(args: SignerArgs) -> Self {
        ConfigArgs {
            source: args.source,
            merchant: MerchantArgs {
                mchid: args.mchid,
                private_key: args.private_key,
                ..MerchantArgs::default()
            },
            ..ConfigArgs::default()
        }
    }
}

impl From<KeyringArgs> for ConfigArgs {
    fn from(args: KeyringArgs) -> Self {
        ConfigArgs {
            source: args.source,
            keys: args.keys,
            ..ConfigArgs::default()
        }
    }
}

/// One layer of settings, as a file holds them.
#[derive(Default, Clone, Serialize, Deserialize)]
pub(crate) struct Settings {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    base_uri: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    mchid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    serial: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    private_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    public_key_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    public_key: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    certs: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    apiv3_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    apiv2_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    merchant_cert: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    merchant_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    merchant_key_passphrase: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    merchant_p12: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    merchant_p12_passphrase: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ca_cert: Option<String>,
}

/// The settings an APIv3 client is built from: the APIv2 ones are left out, so that a broken APIv2
/// setting never stops an APIv3 call.
const APIV3_KEYS: [&str; 8] = [
    "base_uri",
    "mchid",
    "serial",
    "private_key",
    "public_key_id",
    "public_key",
    "certs",
    "ca_cert",
];

/// The settings an APIv2 client is built from: the APIv3 ones are left out, so that a configuration
/// without them (or with a broken one) still makes APIv2 calls.
const APIV2_KEYS: [&str; 9] = [
    "base_uri",
    "mchid",
    "apiv2_key",
    "merchant_cert",
    "merchant_key",
    "merchant_key_passphrase",
    "merchant_p12",
    "merchant_p12_passphrase",
    "ca_cert",
];

/// The settings every layer gave, merged, with where each came from.
#[derive(Default)]
pub(crate) struct Resolved {
    settings: Settings,
    sources: BTreeMap<String, String>,
}

impl Settings {
    /// The scalar settings: name, value.
    fn scalars(&mut self) -> [(&'static str, &mut Option<String>); 14] {
        [
            ("base_uri", &mut self.base_uri),
            ("mchid", &mut self.mchid),
            ("serial", &mut self.serial),
            ("private_key", &mut self.private_key),
            ("public_key_id", &mut self.public_key_id),
            ("public_key", &mut self.public_key),
            ("apiv3_key", &mut self.apiv3_key),
            ("apiv2_key", &mut self.apiv2_key),
            ("merchant_cert", &mut self.merchant_cert),
            ("merchant_key", &mut self.merchant_key),
            ("merchant_key_passphrase", &mut self.merchant_key_passphrase),
            ("merchant_p12", &mut self.merchant_p12),
            ("merchant_p12_passphrase", &mut self.merchant_p12_passphrase),
            ("ca_cert", &mut self.ca_cert),
        ]
    }

    /// Settings as the library reads them ([`ClientBuilder::read_config`] and friends: keys checked,
    /// paths made absolute).
    fn from_map(map: Map<String, Value>) -> Result<Settings, Failure> {
        serde_json::from_value(Value::Object(map)).map_err(|e| Failure::config(format!("invalid settings: {e}")))
    }

    /// Those of `keys` that are set, as the library's [`ClientBuilder::config`] takes them.
    fn subset(&self, keys: &[&str]) -> Map<String, Value> {
        match serde_json::to_value(self) {
            Ok(Value::Object(all)) => all
                .into_iter()
                .filter(|(key, _)| keys.contains(&key.as_str()))
                .collect(),
            _ => Map::new(),
        }
    }

    /// Makes relative key paths absolute, against `base` (a file's directory) or the working directory.
    fn anchor_paths(&mut self, base: Option<&Path>) {
        let anchor = |value: &mut String| {
            if is_path(value) {
                let path = Path::new(value.as_str());
                let joined = match base {
                    Some(base) if path.is_relative() => base.join(path),
                    _ => path.to_path_buf(),
                };
                if let Ok(abs) = std::path::absolute(&joined) {
                    *value = abs.display().to_string();
                }
            }
        };
        for value in [
            &mut self.private_key,
            &mut self.public_key,
            &mut self.merchant_cert,
            &mut self.merchant_key,
            &mut self.merchant_p12,
            &mut self.ca_cert,
        ] {
            value.iter_mut().for_each(anchor);
        }
        self.certs.values_mut().for_each(anchor);
    }
}

/// A key value that is a plain path (not PEM text, nor a `scheme://` form the key loader reads).
fn is_path(value: &str) -> bool {
    ClientBuilder::is_key_path(value)
}

/// The argument the key loader takes for a key setting.
fn key_source(value: &str) -> String {
    ClientBuilder::key_source(value)
}

/// A setting no layer gave: which, and the three ways to give it.
fn missing(what: &str, flag: &str, var: &str, key: &str) -> Failure {
    Failure::config(format!("no {what} configured")).note(format!(
        "give {flag}, set {var}, or put `{key}` in a --config file or --profile"
    ))
}

/// `ID=PATH` (or `NAME=VALUE`), split at the first `=`; `what` names it in the error.
pub(crate) fn split_pair<'a>(text: &'a str, sep: char, what: &str) -> Result<(&'a str, &'a str), Failure> {
    match text.split_once(sep) {
        Some((name, value)) if !name.trim().is_empty() => Ok((name.trim(), value)),
        _ => Err(Failure::usage(format!(
            "{what} `{text}` is not of the form NAME{sep}VALUE"
        ))),
    }
}

impl Resolved {
    fn apply(&mut self, mut layer: Settings, origin: &str) {
        for ((name, mine), (_, theirs)) in self.settings.scalars().into_iter().zip(layer.scalars()) {
            if let Some(value) = theirs.take() {
                *mine = Some(value);
                self.sources.insert(name.to_owned(), origin.to_owned());
            }
        }
        for (id, path) in layer.certs {
            self.sources.insert(format!("certs.{id}"), origin.to_owned());
            self.settings.certs.insert(id, path);
        }
    }

    /// The merged settings of profile, file, environment and flags; the first three read by the library
    /// ([`ClientBuilder::read_profiles`], [`ClientBuilder::read_config`], [`ClientBuilder::read_env`]), so
    /// that `wxpay` and a program take the same keys.
    pub(crate) fn load(args: &ConfigArgs) -> Result<Self, Failure> {
        let mut resolved = Resolved::default();
        let profile = args.source.profile.clone().or_else(|| env("WXPAY_PROFILE"));
        if let Some(name) = profile {
            let (file, mut profiles) = read_profiles()?;
            let layer = profiles.remove(&name).ok_or_else(|| {
                let known: Vec<&str> = profiles.keys().map(String::as_str).collect();
                Failure::config(format!("no profile `{name}` in {}", file.display())).note(format!(
                    "profiles there: [{}]; add one with `wxpay config save {name} --config FILE`",
                    known.join(", ")
                ))
            })?;
            resolved.apply(layer, &format!("profile {name}"));
        }
        if let Some(path) = &args.source.config {
            let layer = ClientBuilder::read_config(path).map_err(|e| file_failure(&e))?;
            resolved.apply(Settings::from_map(layer)?, &format!("--config {}", path.display()));
        }
        let env_layer = ClientBuilder::read_env().map_err(|e| Failure::from_wechatpay(&e))?;
        resolved.apply(Settings::from_map(env_layer)?, "env");
        resolved.apply(from_flags(args)?, "flag");
        Ok(resolved)
    }

    /// The APIv3 key, if any layer gave one.
    pub(crate) fn apiv3_key(&self) -> Option<&str> {
        self.settings.apiv3_key.as_deref()
    }

    /// The verifying keys configured: (id, loader argument).
    pub(crate) fn verifying_keys(&self) -> Vec<(String, String)> {
        let s = &self.settings;
        let mut keys = Vec::new();
        if let (Some(id), Some(key)) = (&s.public_key_id, &s.public_key) {
            keys.push((id.clone(), key_source(key)));
        }
        keys.extend(s.certs.iter().map(|(id, key)| (id.clone(), key_source(key))));
        keys
    }

    /// A client for an APIv3 call from these settings.
    pub(crate) fn client(&self, args: &ConfigArgs) -> Result<Client, Failure> {
        build(self.builder(args, true)?)
    }

    /// A client for an APIv2 (`v2/…`) call: the merchant id, the APIv2 key, and the TLS client certificate
    /// when one is configured. The APIv3 settings are left out, so that a configuration without them (or
    /// with a broken one) still makes APIv2 calls.
    pub(crate) fn apiv2_client(&self, args: &ConfigArgs) -> Result<Client, Failure> {
        self.mchid()?;
        self.settings.apiv2_key.as_deref().ok_or_else(|| {
            missing("APIv2 key", "--apiv2-key", "WECHATPAY_APIV2_KEY", "apiv2_key")
                .note("a `v2/…` path is an APIv2 (XML) call, signed with the APIv2 key, not the APIv3 settings")
        })?;
        let builder = Client::builder()
            .config(&self.settings.subset(&APIV2_KEYS))
            .map_err(|e| {
                let failure = Failure::from_wechatpay(&e);
                if e.is_config() && e.to_string().contains("merchant_") {
                    failure.note(
                    "give `merchant_cert` and `merchant_key` (WECHATPAY_MERCHANT_CERT, WECHATPAY_MERCHANT_KEY), or \
                     `merchant_p12` (WECHATPAY_MERCHANT_P12)",
                )
                } else {
                    failure
                }
            })?;
        build(self.timeout(builder, args)?)
    }

    /// Whether a TLS client certificate (PEM pair or PKCS#12) is configured.
    pub(crate) fn has_merchant_certificate(&self) -> bool {
        let s = &self.settings;
        s.merchant_cert.is_some() || s.merchant_key.is_some() || s.merchant_p12.is_some()
    }

    /// The merchant's private key, loaded: what signs requests and payment parameters.
    pub(crate) fn private_key(&self) -> Result<wechatpay::PrivateKey, Failure> {
        let key = self.settings.private_key.as_deref().ok_or_else(|| {
            missing(
                "merchant private key",
                "--private-key",
                "WECHATPAY_PRIVATE_KEY",
                "private_key",
            )
        })?;
        wechatpay::PrivateKey::load(&key_source(key)).map_err(|e| Failure::with_sources(Exit::Config, &e, &e))
    }

    pub(crate) fn mchid(&self) -> Result<&str, Failure> {
        self.settings
            .mchid
            .as_deref()
            .ok_or_else(|| missing("merchant id", "--mchid", "WECHATPAY_MCHID", "mchid"))
    }

    /// A client builder from these settings; `need_keys`: at least one verifying key is required.
    pub(crate) fn builder(&self, args: &ConfigArgs, need_keys: bool) -> Result<ClientBuilder, Failure> {
        let s = &self.settings;
        // A configuration made for APIv2 alone: say why it does not do for this call.
        let v3_missing = |failure: Failure| {
            if s.apiv2_key.is_some() {
                failure.note("`apiv2_key` serves APIv2 (`v2/…`) paths only; APIv3 ones need the APIv3 settings")
            } else {
                failure
            }
        };
        self.mchid()?;
        s.serial.as_deref().ok_or_else(|| {
            v3_missing(missing(
                "merchant certificate serial",
                "--serial",
                "WECHATPAY_SERIAL",
                "serial",
            ))
        })?;
        s.private_key.as_deref().ok_or_else(|| {
            v3_missing(missing(
                "merchant private key",
                "--private-key",
                "WECHATPAY_PRIVATE_KEY",
                "private_key",
            ))
        })?;
        if s.public_key_id.is_some() != s.public_key.is_some() {
            return Err(Failure::config(
                "`public_key_id` and `public_key` go together: give both or neither",
            ));
        }
        let verifying = self.verifying_keys();
        if verifying.is_empty() && need_keys {
            return Err(Failure::config("no WeChat Pay public key or platform certificate configured").note(
                "give --public-key-id and --public-key (or --cert ID=PATH), or the matching env variables or file keys",
            ));
        }
        let builder = Client::builder()
            .config(&self.settings.subset(&APIV3_KEYS))
            .map_err(|e| Failure::from_wechatpay(&e))?;
        self.timeout(builder, args)
    }

    /// The request timeout `--timeout` gives, if any.
    fn timeout(&self, builder: ClientBuilder, args: &ConfigArgs) -> Result<ClientBuilder, Failure> {
        let Some(secs) = args.timeout else {
            return Ok(builder);
        };
        let timeout = Some(secs)
            .filter(|s| *s > 0.0)
            .and_then(|s| Duration::try_from_secs_f64(s).ok())
            .ok_or_else(|| Failure::usage("--timeout must be a positive number of seconds"))?;
        Ok(builder.timeout(timeout))
    }

    /// What `config show` prints: every setting, secrets hidden, and where each came from.
    fn redacted(&self) -> Value {
        let s = &self.settings;
        let mut shown = serde_json::to_value(s).unwrap_or(Value::Null);
        for (name, value) in [
            ("apiv3_key", &s.apiv3_key),
            ("apiv2_key", &s.apiv2_key),
            ("merchant_key_passphrase", &s.merchant_key_passphrase),
            ("merchant_p12_passphrase", &s.merchant_p12_passphrase),
        ] {
            if value.is_some() {
                shown[name] = json!("<hidden>");
            }
        }
        for (name, value, hidden) in [
            ("private_key", &s.private_key, "<inline key, hidden>"),
            ("public_key", &s.public_key, "<inline key, hidden>"),
            ("merchant_key", &s.merchant_key, "<inline key, hidden>"),
            ("merchant_cert", &s.merchant_cert, "<inline certificate, hidden>"),
            ("ca_cert", &s.ca_cert, "<inline certificate, hidden>"),
        ] {
            if value.as_deref().is_some_and(|v| !is_path(v)) {
                shown[name] = json!(hidden);
            }
        }
        if let Some(certs) = shown.get_mut("certs").and_then(Value::as_object_mut) {
            for value in certs.values_mut() {
                if value.as_str().is_some_and(|v| !is_path(v)) {
                    *value = json!("<inline certificate, hidden>");
                }
            }
        }
        shown["sources"] = json!(self.sources);
        shown
    }
}

/// Builds a client; every failure here is a configuration error.
pub(crate) fn build(builder: ClientBuilder) -> Result<Client, Failure> {
    builder.build().map_err(|e| {
        let failure = Failure::from_wechatpay(&e);
        if failure.exit() == Exit::Config {
            failure
        } else {
            Failure::with_sources(Exit::Config, &e, &e)
        }
    })
}

/// The verifying keys of `resolved`, loaded, as a keyring (ids of certificates as their serials).
pub(crate) fn keyring(resolved: &Resolved) -> Result<Keyring, Failure> {
    let mut keys = Vec::new();
    for (id, source) in resolved.verifying_keys() {
        let key = PublicKey::load(&source).map_err(|e| Failure::with_sources(Exit::Config, &e, &e))?;
        let id = match key.certificate_serial() {
            Some(serial) if serial.eq_ignore_ascii_case(&id) => serial.to_owned(),
            _ => id,
        };
        keys.push((id, key));
    }
    if keys.is_empty() {
        return Err(
            Failure::config("no WeChat Pay public key or platform certificate configured").note(
                "give --public-key-id and --public-key (or --cert ID=PATH), or the matching env variables or file keys",
            ),
        );
    }
    Ok(Keyring::new(keys))
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn from_flags(args: &ConfigArgs) -> Result<Settings, Failure> {
    let (merchant, apiv2, keys) = (&args.merchant, &args.apiv2, &args.keys);
    let mut layer = Settings {
        base_uri: merchant.base_uri.clone(),
        mchid: merchant.mchid.clone(),
        serial: merchant.serial.clone(),
        private_key: merchant.private_key.clone(),
        ca_cert: merchant.ca_cert.clone(),
        apiv2_key: apiv2.apiv2_key.clone(),
        merchant_cert: apiv2.merchant_cert.clone(),
        merchant_key: apiv2.merchant_key.clone(),
        merchant_p12: apiv2.merchant_p12.clone(),
        public_key_id: keys.public_key_id.clone(),
        public_key: keys.public_key.clone(),
        ..Settings::default()
    };
    for item in &keys.certs {
        let (id, path) = split_pair(item, '=', "--cert")?;
        layer.certs.insert(id.to_owned(), path.to_owned());
    }
    layer.anchor_paths(None);
    Ok(layer)
}

/// A `--config` file the library could not read: a usage error when the file is missing or not JSON (as
/// any unreadable input file is), a configuration error for what it holds (an unknown key).
pub(crate) fn file_failure(e: &wechatpay::Error) -> Failure {
    use std::error::Error as _;
    let unreadable = e
        .source()
        .is_some_and(|cause| cause.is::<std::io::Error>() || cause.is::<serde_json::Error>());
    let exit = if unreadable { Exit::Usage } else { Exit::Config };
    Failure::with_sources(exit, e, e)
}

/// The profiles file: where [`ClientBuilder::profiles_path`] says.
pub(crate) fn profiles_path() -> Result<PathBuf, Failure> {
    ClientBuilder::profiles_path().map_err(|e| Failure::from_wechatpay(&e))
}

fn read_profiles() -> Result<(PathBuf, BTreeMap<String, Settings>), Failure> {
    let path = profiles_path()?;
    let mut profiles = BTreeMap::new();
    for (name, settings) in ClientBuilder::read_profiles(&path).map_err(|e| Failure::from_wechatpay(&e))? {
        profiles.insert(name, Settings::from_map(settings)?);
    }
    Ok((path, profiles))
}

fn write_profiles(path: &Path, profiles: &BTreeMap<String, Settings>) -> Result<(), Failure> {
    let fail = |e: std::io::Error| {
        Failure::other(format!("cannot write the profiles file {}", path.display())).note(format!("caused by: {e}"))
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(fail)?;
    }
    let text = serde_json::to_string_pretty(profiles).map_err(|e| Failure::other(e.to_string()))?;
    let tmp = path.with_extension("json.tmp");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&tmp).map_err(fail)?;
    std::io::Write::write_all(&mut file, format!("{text}\n").as_bytes()).map_err(fail)?;
    drop(file);
    std::fs::rename(&tmp, path).map_err(fail)
}

/// `wxpay config …`.
#[derive(Subcommand)]
pub(crate) enum ConfigCommand {
    /// Prints the settings in effect (secrets hidden) and where each came from.
    Show {
        #[command(flatten)]
        settings: SettingsArgs,
    },
    /// Prints the path of the profiles file.
    Path,
    /// Lists the profile names.
    List,
    /// Saves the settings in effect (from --config, env and flags) as a named profile.
    Save {
        /// The profile name.
        name: String,
        #[command(flatten)]
        settings: SettingsArgs,
    },
    /// Removes a named profile.
    Remove {
        /// The profile name.
        name: String,
    },
}

impl ConfigCommand {
    /// Its name after `wxpay config`, and the configuration flags it takes.
    pub(crate) fn describe(&self) -> (&'static str, Vec<&'static str>) {
        let settings = || [&SOURCE_FLAGS[..], &MERCHANT_FLAGS, &APIV2_FLAGS, &KEY_FLAGS].concat();
        match self {
            ConfigCommand::Show { .. } => ("show", settings()),
            ConfigCommand::Save { .. } => ("save", settings()),
            ConfigCommand::Path => ("path", Vec::new()),
            ConfigCommand::List => ("list", Vec::new()),
            ConfigCommand::Remove { .. } => ("remove", Vec::new()),
        }
    }
}

/// `config show` where no layer gave anything: said in words, on stderr (stdout stays empty).
fn nothing_configured() -> crate::CliResult {
    let profiles = profiles_path().map(|p| p.display().to_string());
    eprintln!("wxpay: nothing is configured: no profile, --config file, WECHATPAY_* variable or flag gives a setting");
    eprintln!("  try: wxpay mock serve > sandbox.json &   then: wxpay --config sandbox.json config show");
    eprintln!("  the sources, lowest to highest precedence: --profile NAME (or WXPAY_PROFILE), --config FILE,");
    eprintln!("  the WECHATPAY_* variables, then flags (`wxpay --help`)");
    if let Ok(path) = profiles {
        eprintln!("  profiles file: {path} (`wxpay config list`)");
    }
    Ok(())
}

pub(crate) fn run(command: ConfigCommand, before: ConfigArgs) -> crate::CliResult {
    match command {
        ConfigCommand::Show { settings } => {
            let resolved = Resolved::load(&before.then(settings))?;
            if resolved.sources.is_empty() {
                return nothing_configured();
            }
            output::print_json(&resolved.redacted(), None)
        }
        ConfigCommand::Path => output::print_line(&profiles_path()?.display().to_string()),
        ConfigCommand::List => {
            let (_, profiles) = read_profiles()?;
            profiles.keys().try_for_each(|name| output::print_line(name))
        }
        ConfigCommand::Save { name, settings } => {
            if name.trim().is_empty() {
                return Err(Failure::usage("a profile name cannot be empty"));
            }
            let resolved = Resolved::load(&before.then(settings))?;
            let (path, mut profiles) = read_profiles()?;
            profiles.insert(name.clone(), resolved.settings);
            write_profiles(&path, &profiles)?;
            eprintln!("wxpay: saved profile `{name}` in {}", path.display());
            Ok(())
        }
        ConfigCommand::Remove { name } => {
            let (path, mut profiles) = read_profiles()?;
            if profiles.remove(&name).is_none() {
                return Err(Failure::usage(format!("no profile `{name}` in {}", path.display())));
            }
            write_profiles(&path, &profiles)
        }
    }
}
