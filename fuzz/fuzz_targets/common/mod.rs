//! What the fuzz targets share: the test fixtures (loaded once), a fixed clock, signing helpers, and a
//! reader that cuts the fuzzer's bytes into fields. The same invariants run as property tests in
//! `dev/tests/properties.rs`.
#![allow(dead_code)] // every target uses only some of it

use std::sync::OnceLock;

use base64::Engine as _;
use http::{HeaderMap, HeaderValue};
use wechatpay::{verify, Client, Keyring, PrivateKey};

/// The `now` every check runs at (never the wall clock, so a crash always reproduces).
pub const NOW: i64 = 1_700_000_000;
/// A `now` inside `platform_cert.pem`'s validity (2026-11-23 to 2126-10-30).
pub const CERT_NOW: i64 = 1_900_000_000;
pub const PUB_KEY_ID: &str = "PUB_KEY_ID_0114232134912410000000000000";
pub const MCHID: &str = "1900000109";
pub const MERCHANT_SERIAL: &str = "3775B6A45ACD588826D15E583A95F5DD00000001";
pub const APIV3_KEY: &str = "0123456789abcdef0123456789abcdef";
pub const CERT_SERIAL: &str = "5157F09EFDC096DE15EBE81A47057A7232F1B8E1";

pub const MERCHANT_KEY_PEM: &str = include_str!("../../../tests/fixtures/merchant_key.pem");
pub const MERCHANT_PUB_PEM: &str = include_str!("../../../tests/fixtures/merchant_pub.pem");
pub const PLATFORM_KEY_PEM: &str = include_str!("../../../tests/fixtures/platform_key.pem");
pub const PLATFORM_CERT_PEM: &str = include_str!("../../../tests/fixtures/platform_cert.pem");

pub fn merchant_key() -> &'static PrivateKey {
    static KEY: OnceLock<PrivateKey> = OnceLock::new();
    KEY.get_or_init(|| PrivateKey::load(MERCHANT_KEY_PEM).unwrap())
}

/// The platform key; its certificate is `platform_cert.pem`.
pub fn platform_key() -> &'static PrivateKey {
    static KEY: OnceLock<PrivateKey> = OnceLock::new();
    KEY.get_or_init(|| PrivateKey::load(PLATFORM_KEY_PEM).unwrap())
}

/// The trusted keys: the platform key under its public-key id.
pub fn keyring() -> &'static Keyring {
    static RING: OnceLock<Keyring> = OnceLock::new();
    RING.get_or_init(|| Keyring::new([(PUB_KEY_ID.to_owned(), platform_key().public_key())]))
}

/// A client for `Client::prepare` only (sans-IO; nothing is sent).
pub fn client() -> &'static Client {
    static CLIENT: OnceLock<Client> = OnceLock::new();
    CLIENT.get_or_init(|| {
        Client::builder()
            .mchid(MCHID)
            .serial(MERCHANT_SERIAL)
            .private_key_loaded(merchant_key().clone())
            .cert_loaded(PUB_KEY_ID, platform_key().public_key())
            .build()
            .unwrap()
    })
}

pub fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

pub fn unb64(text: &str) -> Option<Vec<u8>> {
    base64::engine::general_purpose::STANDARD.decode(text).ok()
}

/// The four `Wechatpay-*` headers; `None` if a value cannot be a header value (it could not be received).
pub fn headers(timestamp: &str, nonce: &str, signature: &str, serial: &str) -> Option<HeaderMap> {
    let mut h = HeaderMap::new();
    for (name, value) in [
        (verify::TIMESTAMP, timestamp),
        (verify::NONCE, nonce),
        (verify::SIGNATURE, signature),
        (verify::SERIAL, serial),
    ] {
        h.insert(name, HeaderValue::from_str(value).ok()?);
    }
    Some(h)
}

/// `body` signed by `key` at `timestamp` with `nonce`, naming the key `serial`.
pub fn signed(key: &PrivateKey, serial: &str, timestamp: i64, nonce: &str, body: &[u8]) -> HeaderMap {
    let ts = timestamp.to_string();
    let signature = key.sign(&verify::answer_message(&ts, nonce, body));
    headers(&ts, nonce, &signature, serial).expect("valid header text")
}

/// Headers that carry a well-formed but wrong signature (all zero bytes).
pub fn unsigned(serial: &str, now: i64) -> HeaderMap {
    headers(&now.to_string(), "nonce", &b64(&[0; 256]), serial).expect("valid header text")
}

/// XORs `mask | 1` (never zero) into the byte at `index % len`; appends a byte to an empty input.
pub fn flip(bytes: &[u8], index: usize, mask: u8) -> Vec<u8> {
    let mut bytes = bytes.to_vec();
    if bytes.is_empty() {
        bytes.push(mask | 1);
    } else {
        let i = index % bytes.len();
        bytes[i] ^= mask | 1;
    }
    bytes
}

/// Percent-decodes `%XX` triplets, keeping any other `%`.
pub fn pct_decode(text: &[u8]) -> Vec<u8> {
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let mut out = Vec::with_capacity(text.len());
    let mut i = 0;
    while i < text.len() {
        if text[i] == b'%' && i + 2 < text.len() {
            if let (Some(h), Some(l)) = (hex(text[i + 1]), hex(text[i + 2])) {
                out.push(h << 4 | l);
                i += 3;
                continue;
            }
        }
        out.push(text[i]);
        i += 1;
    }
    out
}

/// Whether a path segment is one a URL parser resolves (`.`, `..`, dots possibly written `%2e`).
pub fn is_dot_segment(segment: &str) -> bool {
    matches!(
        segment.to_ascii_lowercase().as_str(),
        "." | ".." | "%2e" | "%2e%2e" | ".%2e" | "%2e."
    )
}

/// Cuts the fuzzer's bytes into fields: single bytes, numbers, and runs ended by `0xFF` (which never
/// occurs in UTF-8, so text fields stay whole).
pub struct Input<'a>(pub &'a [u8]);

impl<'a> Input<'a> {
    pub fn byte(&mut self) -> u8 {
        match self.0.split_first() {
            Some((&b, rest)) => {
                self.0 = rest;
                b
            }
            None => 0,
        }
    }

    pub fn flag(&mut self) -> bool {
        self.byte() & 1 == 1
    }

    pub fn usize(&mut self) -> usize {
        u16::from_le_bytes([self.byte(), self.byte()]) as usize
    }

    pub fn field(&mut self) -> &'a [u8] {
        let end = self.0.iter().position(|&b| b == 0xFF).unwrap_or(self.0.len());
        let (field, rest) = self.0.split_at(end);
        self.0 = rest.get(1..).unwrap_or_default();
        field
    }

    pub fn text(&mut self) -> String {
        String::from_utf8_lossy(self.field()).into_owned()
    }

    pub fn rest(self) -> &'a [u8] {
        self.0
    }
}

/// Whether `text` quotes at least 16 consecutive characters of `material`.
pub fn quotes_material(text: &str, material: &str) -> bool {
    const WINDOW: usize = 16;
    let m = material.as_bytes();
    m.len() >= WINDOW
        && (0..=m.len() - WINDOW).any(|i| std::str::from_utf8(&m[i..i + WINDOW]).is_ok_and(|w| text.contains(w)))
}

/// Everything an error shows: `Display`, `Debug` and every source.
pub fn error_text(e: &wechatpay::Error) -> String {
    let mut text = format!("{e}\n{e:?}");
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(&format!("\n{s}\n{s:?}"));
        source = s.source();
    }
    text
}
