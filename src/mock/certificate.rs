//! Self-signed platform certificates, so the sandbox can sign in platform-certificate mode and serve
//! `v3/certificates`.

use std::str::FromStr;
use std::time::Duration;

use spki::der::asn1::BitString;
use spki::der::{Decode, Encode};
use x509_cert::certificate::{Certificate, TbsCertificate, Version};
use x509_cert::ext::Extension;
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;
use x509_cert::time::Validity;

use crate::crypto::keys::PrivateKey;

const SHA256_WITH_RSA: spki::ObjectIdentifier = spki::ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.11");

/// A certificate for `key`, signed by itself, valid from now for `days`; returns its DER and its serial
/// as WeChat Pay prints it (40 upper-case hex digits).
pub(crate) fn self_signed(key: &PrivateKey, days: u64) -> (Vec<u8>, String) {
    let now = std::time::SystemTime::now();
    self_signed_valid(key, now, now + Duration::from_secs(days * 86_400))
}

/// A certificate for `key`, signed by itself, valid from `not_before` to `not_after`.
pub(crate) fn self_signed_valid(
    key: &PrivateKey,
    not_before: std::time::SystemTime,
    not_after: std::time::SystemTime,
) -> (Vec<u8>, String) {
    let name = "CN=Tenpay.com Root CA sandbox,O=wechatpay-rs sandbox,C=CN";
    issue(key, name, key, name, (not_before, not_after), Vec::new())
}

/// A certificate for `subject`'s public key named `subject_name`, signed by `issuer` as `issuer_name`,
/// with `extensions`; returns its DER and its serial as WeChat Pay prints it (40 upper-case hex digits).
pub(crate) fn issue(
    subject: &PrivateKey,
    subject_name: &str,
    issuer: &PrivateKey,
    issuer_name: &str,
    (not_before, not_after): (std::time::SystemTime, std::time::SystemTime),
    extensions: Vec<Extension>,
) -> (Vec<u8>, String) {
    let mut serial = [0u8; 20];
    crate::crypto::backend::fill_random(&mut serial);
    serial[0] = (serial[0] & 0x3f) | 0x10; // positive, and always 40 hex digits
    let spki_der = subject.public_key().to_spki_der();
    let algorithm = spki::AlgorithmIdentifierOwned {
        oid: SHA256_WITH_RSA,
        parameters: Some(spki::der::asn1::Null.into()),
    };
    let tbs = TbsCertificate {
        version: Version::V3,
        serial_number: SerialNumber::new(&serial).expect("20 bytes is a valid serial"),
        signature: algorithm.clone(),
        issuer: Name::from_str(issuer_name).expect("a valid name"),
        validity: Validity {
            not_before: x509_cert::time::Time::try_from(not_before).expect("a representable time"),
            not_after: x509_cert::time::Time::try_from(not_after).expect("a representable time"),
        },
        subject: Name::from_str(subject_name).expect("a valid name"),
        subject_public_key_info: spki::SubjectPublicKeyInfoOwned::from_der(&spki_der).expect("our own SPKI decodes"),
        issuer_unique_id: None,
        subject_unique_id: None,
        extensions: (!extensions.is_empty()).then_some(extensions),
    };
    let tbs_der = tbs.to_der().expect("a TBS certificate encodes");
    let signature = issuer.sign_raw(&tbs_der);
    let cert = Certificate {
        tbs_certificate: tbs,
        signature_algorithm: algorithm,
        signature: BitString::from_bytes(&signature).expect("a byte string is a valid bit string"),
    };
    let der = cert.to_der().expect("a certificate encodes");
    let hex = crate::crypto::hash::hex(&serial).to_ascii_uppercase();
    (der, hex)
}

/// An extension of a certificate, from its value.
pub(crate) fn extension<T: spki::der::Encode + spki::der::oid::AssociatedOid>(critical: bool, value: &T) -> Extension {
    Extension {
        extn_id: T::OID,
        critical,
        extn_value: spki::der::asn1::OctetString::new(value.to_der().expect("an extension encodes"))
            .expect("an octet string holds any bytes"),
    }
}

/// A platform certificate with its private key, as the sandbox keeps it.
pub(crate) struct PlatformCert {
    pub(crate) key: PrivateKey,
    pub(crate) der: Vec<u8>,
    /// As WeChat Pay prints it: upper-case hex.
    pub(crate) serial: String,
    /// Validity, Unix seconds.
    pub(crate) not_before: i64,
    pub(crate) not_after: i64,
}

impl PlatformCert {
    /// A new self-signed certificate for `key`, valid from now for `days`.
    pub(crate) fn generate(key: PrivateKey, days: u64) -> Self {
        let (der, serial) = self_signed(&key, days);
        Self::from_der(key, der, serial)
    }

    /// A certificate read back from a state dir.
    pub(crate) fn from_der(key: PrivateKey, der: Vec<u8>, serial: String) -> Self {
        let (not_before, not_after) = validity(&der).unwrap_or((0, 0));
        PlatformCert {
            key,
            der,
            serial,
            not_before,
            not_after,
        }
    }

    /// PEM `CERTIFICATE`.
    pub(crate) fn pem(&self) -> String {
        to_pem(&self.der)
    }
}

/// The validity of a DER certificate, as Unix seconds.
pub(crate) fn validity(der: &[u8]) -> Option<(i64, i64)> {
    let cert = Certificate::from_der(der).ok()?;
    let v = &cert.tbs_certificate.validity;
    let secs = |t: &x509_cert::time::Time| i64::try_from(t.to_unix_duration().as_secs()).ok();
    Some((secs(&v.not_before)?, secs(&v.not_after)?))
}

/// DER → PEM `CERTIFICATE`.
pub(crate) fn to_pem(der: &[u8]) -> String {
    pem_rfc7468::encode_string("CERTIFICATE", pem_rfc7468::LineEnding::LF, der).expect("PEM encoding cannot fail")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::keys::PublicKey;

    #[test]
    fn certificates_load_with_their_serial_and_key() {
        let key = PrivateKey::load(include_str!("../../tests/fixtures/platform_key.pem")).unwrap();
        let (der, serial) = self_signed(&key, 365);
        assert_eq!(serial.len(), 40);
        let public = PublicKey::load(&to_pem(&der)).unwrap();
        assert_eq!(public.certificate_serial(), Some(serial.as_str()));
        assert!(public.verify(b"m", &key.sign(b"m")));
        let cert = PlatformCert::from_der(key, der, serial);
        assert_eq!(cert.not_after - cert.not_before, 365 * 86_400);
    }
}
