//! Sensitive fields (敏感信息): personal data WeChat Pay wants encrypted with RSA-OAEP (SHA-1, MGF1-SHA1)
//! under its platform key, and decrypted with the merchant key when it comes back.
//!
//! Fields are named by path: `user_name`, `contact_info.contact_email`, or `receivers[].name` for a field
//! of every element of an array. A path that names nothing is an error, never a silent plaintext send.

use base64::Engine as _;
use serde_json::Value;

use crate::crypto::keys::{PrivateKey, PublicKey};
use crate::error::{Error, Result};

use crate::crypto::backend::B64;

/// Calls `f` on every string the `path` names in `value`; returns how many there were.
fn for_each_string(value: &mut Value, path: &str, f: &mut dyn FnMut(&mut String) -> Result<()>) -> Result<usize> {
    let (head, rest) = match path.split_once('.') {
        Some((h, r)) => (h, Some(r)),
        None => (path, None),
    };
    let (name, each) = match head.strip_suffix("[]") {
        Some(name) => (name, true),
        None => (head, false),
    };
    let Some(field) = value.as_object_mut().and_then(|o| o.get_mut(name)) else {
        return Ok(0);
    };
    let targets: Vec<&mut Value> = match (each, field) {
        (true, Value::Array(items)) => items.iter_mut().collect(),
        (true, _) => {
            return Err(Error::request(format!(
                "`{name}` is not an array, so `{name}[]` names nothing"
            )))
        }
        (false, field) => vec![field],
    };
    let mut count = 0;
    for target in targets {
        count += match (rest, target) {
            (Some(rest), target) => for_each_string(target, rest, f)?,
            (None, Value::String(s)) => {
                f(s)?;
                1
            }
            (None, Value::Null) => 0,
            (None, other) => {
                return Err(Error::request(format!(
                    "the sensitive field `{path}` must be a string, not {}",
                    if other.is_number() { "a number" } else { "a structure" }
                )))
            }
        };
    }
    Ok(count)
}

/// Encrypts the fields `paths` name in `body` with `key`. Every path must name at least one string.
pub(crate) fn encrypt_fields(body: &mut Value, paths: &[String], key: &PublicKey) -> Result<()> {
    for path in paths {
        let found = for_each_string(body, path, &mut |s| {
            *s = key.encrypt(s.as_bytes())?;
            Ok(())
        })?;
        if found == 0 {
            return Err(Error::request(format!(
                "the sensitive field `{path}` is not in the JSON body; nothing would be encrypted"
            )));
        }
    }
    Ok(())
}

/// Whether `s` already is an RSA-OAEP ciphertext for a key of `bits`: base64 of exactly the modulus size.
/// (A name, phone or ID number in plaintext never is 344 base64 characters.)
fn is_ciphertext(s: &str, bits: usize) -> bool {
    let s = s.trim();
    s.len() == (bits / 8).div_ceil(3) * 4 && B64.decode(s).is_ok_and(|raw| raw.len() == bits / 8)
}

/// The documented encrypted `paths` that `body` holds in plaintext (absent, empty and already-encrypted
/// ones left out; a key of 2048 bits is assumed for the check, what WeChat Pay's platform keys are). Not
/// part of the stable API: the `wxpay` binary asks it what the library would seal.
#[doc(hidden)]
pub fn plaintext_fields(body: &Value, paths: &[&str]) -> Vec<String> {
    let mut body = body.clone();
    paths
        .iter()
        .filter(|path| {
            let mut plain = 0;
            let _ = for_each_string(&mut body, path, &mut |s| {
                plain += usize::from(!s.is_empty() && !is_ciphertext(s, 2048));
                Ok(())
            });
            plain > 0
        })
        .map(|p| (*p).to_owned())
        .collect()
}

/// Encrypts the documented `paths` that `body` holds in plaintext with `key`; absent fields and values that
/// already are ciphertexts for `key` are left as they are.
pub(crate) fn encrypt_documented(body: &mut Value, paths: &[&str], key: &PublicKey) -> Result<()> {
    let bits = key.bits();
    for path in paths {
        for_each_string(body, path, &mut |s| {
            if !s.is_empty() && !is_ciphertext(s, bits) {
                *s = key.encrypt(s.as_bytes())?;
            }
            Ok(())
        })?;
    }
    Ok(())
}

/// Decrypts, in place, the fields `paths` name in `value` with the merchant `key`. Paths naming nothing
/// are skipped (answers leave out empty fields).
pub(crate) fn decrypt_fields(value: &mut Value, paths: &[&str], key: &PrivateKey) -> Result<()> {
    for path in paths {
        for_each_string(value, path, &mut |s| {
            let plain = key.decrypt(s)?;
            *s = String::from_utf8(plain)
                .map_err(|_| Error::decode(format!("the field `{path}` decrypted to non-UTF-8")))?;
            Ok(())
        })?;
    }
    Ok(())
}

impl PublicKey {
    /// Encrypts with RSAES-OAEP (SHA-1, MGF1-SHA1) and returns base64 — PHP's `Rsa::encrypt`, for
    /// WeChat Pay's sensitive fields. (PKCS#1 v1.5 encryption is deliberately not offered: it is open to
    /// padding-oracle attacks, and WeChat Pay does not take it.)
    pub fn encrypt(&self, plaintext: &[u8]) -> Result<String> {
        crate::crypto::backend::oaep_sha1_encrypt(&self.to_spki_der(), plaintext)
            .map(|c| B64.encode(c))
            .map_err(|why| Error::key(format!("RSA-OAEP encryption failed: {why}")))
    }
}

impl PrivateKey {
    /// Decrypts base64 RSAES-OAEP (SHA-1, MGF1-SHA1) ciphertext — PHP's `Rsa::decrypt`.
    pub fn decrypt(&self, ciphertext_b64: &str) -> Result<Vec<u8>> {
        let raw = B64
            .decode(ciphertext_b64.trim())
            .map_err(|_| Error::decode("the RSA ciphertext is not valid base64"))?;
        self.oaep_sha1_decrypt(&raw)
            .map_err(|why| Error::decode(format!("RSA-OAEP decryption failed: {why}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn keys() -> (PrivateKey, PublicKey) {
        let key = PrivateKey::load(include_str!("../../tests/fixtures/platform_key.pem")).unwrap();
        let public = key.public_key();
        (key, public)
    }

    #[test]
    fn fields_round_trip_by_path() {
        let (key, public) = keys();
        let mut body = json!({"user_name": "张三", "contact": {"email": "a@b.c"}, "receivers": [{"name": "李四"}, {"name": "王五"}], "amount": 1});
        let paths = ["user_name", "contact.email", "receivers[].name"].map(String::from);
        encrypt_fields(&mut body, &paths, &public).unwrap();
        assert_ne!(body["user_name"], "张三");
        assert_eq!(body["amount"], 1);
        decrypt_fields(&mut body, &["user_name", "contact.email", "receivers[].name"], &key).unwrap();
        assert_eq!(
            body,
            json!({"user_name": "张三", "contact": {"email": "a@b.c"}, "receivers": [{"name": "李四"}, {"name": "王五"}], "amount": 1})
        );
    }

    #[test]
    fn a_path_naming_nothing_or_a_non_string_is_an_error() {
        let (_, public) = keys();
        for (body, path) in [
            (json!({"user_name": "x"}), "username"),
            (json!({"amount": 1}), "amount"),
            (json!({"a": "x"}), "a[]"),
        ] {
            let mut body = body;
            let e = encrypt_fields(&mut body, &[path.to_owned()], &public).unwrap_err();
            assert!(
                e.is_request() && e.to_string().contains(path.trim_end_matches("[]")),
                "{e}"
            );
        }
    }

    #[test]
    fn openssl_oaep_ciphertext_decrypts() {
        // `openssl pkeyutl -encrypt -pubin -inkey platform_pub.pem -pkeyopt rsa_padding_mode:oaep
        //  -pkeyopt rsa_oaep_md:sha1 -pkeyopt rsa_mgf1_md:sha1` of "wechatpay 你好".
        let (key, _) = keys();
        let c = include_str!("../../tests/fixtures/oaep_openssl.b64");
        assert_eq!(key.decrypt(c).unwrap(), "wechatpay 你好".as_bytes());
        assert!(key.decrypt("AAAA").unwrap_err().is_decode());
        // PKCS#1 v1.5 encryption is refused: its ciphertext does not open as OAEP.
        let v15 = include_str!("../../tests/fixtures/pkcs1v15_openssl.b64");
        assert!(key.decrypt(v15).unwrap_err().is_decode());
    }
}
