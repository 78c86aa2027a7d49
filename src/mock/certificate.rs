//! Self-signed platform certificates, so the sandbox can sign in platform-certificate mode.

use std::str::FromStr;
use std::time::Duration;

use spki::der::asn1::BitString;
use spki::der::{Decode, Encode};
use x509_cert::certificate::{Certificate, TbsCertificate, Version};
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;
use x509_cert::time::Validity;

use crate::keys::PrivateKey;

const SHA256_WITH_RSA: spki::ObjectIdentifier = spki::ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.11");

/// A certificate for `key`, signed by itself, valid from now for `days`; returns its DER and its serial
/// as WeChat Pay prints it (40 upper-case hex digits).
pub(crate) fn self_signed(key: &PrivateKey, days: u64) -> (Vec<u8>, String) {
    let mut serial = [0u8; 20];
    crate::crypto::fill_random(&mut serial);
    serial[0] = (serial[0] & 0x3f) | 0x10; // positive, and always 40 hex digits
    let spki_pem = key.public_key().to_spki_pem();
    let (_, spki_der) = pem_rfc7468::decode_vec(spki_pem.as_bytes()).expect("our own PEM decodes");
    let algorithm = spki::AlgorithmIdentifierOwned {
        oid: SHA256_WITH_RSA,
        parameters: Some(spki::der::asn1::Null.into()),
    };
    let name = Name::from_str("CN=Tenpay.com Root CA sandbox,O=wechatpay-rs sandbox,C=CN").expect("a valid name");
    let tbs = TbsCertificate {
        version: Version::V3,
        serial_number: SerialNumber::new(&serial).expect("20 bytes is a valid serial"),
        signature: algorithm.clone(),
        issuer: name.clone(),
        validity: Validity::from_now(Duration::from_secs(days * 86_400)).expect("a representable validity"),
        subject: name,
        subject_public_key_info: spki::SubjectPublicKeyInfoOwned::from_der(&spki_der).expect("our own SPKI decodes"),
        issuer_unique_id: None,
        subject_unique_id: None,
        extensions: None,
    };
    let tbs_der = tbs.to_der().expect("a TBS certificate encodes");
    let signature = key.sign_raw(&tbs_der);
    let cert = Certificate {
        tbs_certificate: tbs,
        signature_algorithm: algorithm,
        signature: BitString::from_bytes(&signature).expect("a byte string is a valid bit string"),
    };
    let der = cert.to_der().expect("a certificate encodes");
    let hex = serial.iter().map(|b| format!("{b:02X}")).collect();
    (der, hex)
}

/// DER → PEM `CERTIFICATE`.
pub(crate) fn to_pem(der: &[u8]) -> String {
    pem_rfc7468::encode_string("CERTIFICATE", pem_rfc7468::LineEnding::LF, der).expect("PEM encoding cannot fail")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::PublicKey;

    #[test]
    fn certificates_load_with_their_serial_and_key() {
        let key = PrivateKey::load(include_str!("../../tests/fixtures/platform_key.pem")).unwrap();
        let (der, serial) = self_signed(&key, 365);
        assert_eq!(serial.len(), 40);
        let public = PublicKey::load(&to_pem(&der)).unwrap();
        assert_eq!(public.certificate_serial(), Some(serial.as_str()));
        assert!(public.verify(b"m", &key.sign(b"m")));
    }
}
