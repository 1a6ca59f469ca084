//! Test certificates: self-signed leaves, a small CA, leaves issued by that CA.
//!
//! Everything is generated with the `openssl` crate (RSA 2048, SHA-256 signatures) and returned as
//! PEM, which is the form both the runtime's credential loaders and the authority's registrations
//! take.

use std::fmt;
use std::net::IpAddr;

use openssl::asn1::{Asn1Integer, Asn1Time};
use openssl::bn::{BigNum, MsbOption};
use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{Id, PKey, Private};
use openssl::rsa::Rsa;
use openssl::symm::Cipher;
use openssl::x509::extension::{
    AuthorityKeyIdentifier, BasicConstraints, ExtendedKeyUsage, KeyUsage, SubjectAlternativeName,
    SubjectKeyIdentifier,
};
use openssl::x509::{X509Builder, X509NameBuilder, X509};

/// A certificate with its private key, both PEM encoded.
#[derive(Clone)]
pub struct TestCert {
    /// PKCS#8 PEM private key (unencrypted; see [`encrypted_key_pem`]).
    pub key_pem: Vec<u8>,
    /// PEM certificate (just this certificate; see [`TestCert::chain_pem`] for leaf + CA).
    pub cert_pem: Vec<u8>,
    /// Lower-case hex SHA-1 of the DER certificate (what MSAL calls the `thumbprint`).
    pub sha1_thumbprint_hex: String,
}

impl fmt::Debug for TestCert {
    // The private key is never printed.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestCert")
            .field("subject_cn", &self.subject_cn())
            .field("sha1_thumbprint_hex", &self.sha1_thumbprint_hex)
            .field("key_pem", &"<redacted>")
            .finish()
    }
}

impl TestCert {
    /// The parsed certificate.
    pub fn x509(&self) -> X509 {
        X509::from_pem(&self.cert_pem).expect("TestCert holds a valid PEM certificate")
    }

    /// The parsed private key.
    pub fn private_key(&self) -> PKey<Private> {
        PKey::private_key_from_pem(&self.key_pem).expect("TestCert holds a valid PEM key")
    }

    /// Lower-case hex SHA-256 of the DER certificate.
    pub fn sha256_thumbprint_hex(&self) -> String {
        hex(&self
            .x509()
            .digest(MessageDigest::sha256())
            .expect("sha256 digest"))
    }

    /// The certificate's subject common name.
    pub fn subject_cn(&self) -> String {
        X509::from_pem(&self.cert_pem)
            .ok()
            .and_then(|c| subject_cn(&c))
            .unwrap_or_default()
    }

    /// This certificate followed by `issuer`'s certificate: the chain a client sends as `x5c`.
    pub fn chain_pem(&self, issuer: &TestCert) -> Vec<u8> {
        let mut out = self.cert_pem.clone();
        if !out.ends_with(b"\n") {
            out.push(b'\n');
        }
        out.extend_from_slice(&issuer.cert_pem);
        out
    }

    /// The certificate and key as a PKCS#12 (PFX) archive protected by `passphrase`.
    pub fn to_pkcs12_der(&self, passphrase: &str) -> Vec<u8> {
        openssl::pkcs12::Pkcs12::builder()
            .name("msal-testkit")
            .pkey(&self.private_key())
            .cert(&self.x509())
            .build2(passphrase)
            .and_then(|p| p.to_der())
            .expect("build PKCS#12")
    }
}

/// A self-signed leaf certificate (the usual "upload the .cer to the app registration" case).
pub fn self_signed(cn: &str) -> TestCert {
    let key = new_key();
    let cert = build(cn, &key, None, Role::Leaf, &[], &[]);
    finish(key, cert)
}

/// A self-signed CA certificate, usable with [`issued_by`].
pub fn ca(cn: &str) -> TestCert {
    let key = new_key();
    let cert = build(cn, &key, None, Role::Ca, &[], &[]);
    finish(key, cert)
}

/// A leaf certificate for `cn` signed by `ca` (the "Subject Name + Issuer" case).
pub fn issued_by(ca: &TestCert, cn: &str) -> TestCert {
    let key = new_key();
    let issuer = (ca.x509(), ca.private_key());
    let cert = build(cn, &key, Some(&issuer), Role::Leaf, &[], &[]);
    finish(key, cert)
}

/// Re-encrypts a PEM private key as an encrypted PKCS#8 PEM (`ENCRYPTED PRIVATE KEY`, AES-256-CBC).
pub fn encrypted_key_pem(key_pem: &[u8], passphrase: &str) -> Vec<u8> {
    let key = PKey::private_key_from_pem(key_pem).expect("valid PEM private key");
    key.private_key_to_pem_pkcs8_passphrase(Cipher::aes_256_cbc(), passphrase.as_bytes())
        .expect("encrypt private key")
}

/// A CA for the TLS server certificate. ECDSA P-256: generating it is ~100x faster than RSA,
/// which matters because every authority gets its own CA.
pub(crate) fn tls_ca(cn: &str) -> TestCert {
    let key = new_ec_key();
    let cert = build(cn, &key, None, Role::Ca, &[], &[]);
    finish(key, cert)
}

/// A TLS server certificate (ECDSA P-256) signed by `ca` with the given DNS and IP subject
/// alternative names.
pub(crate) fn server_cert(ca: &TestCert, dns: &[String], ips: &[IpAddr]) -> TestCert {
    let key = new_ec_key();
    let issuer = (ca.x509(), ca.private_key());
    let cert = build("localhost", &key, Some(&issuer), Role::Server, dns, ips);
    finish(key, cert)
}

/// The subject common name of a certificate, if any.
pub(crate) fn subject_cn(cert: &X509) -> Option<String> {
    cert.subject_name()
        .entries_by_nid(Nid::COMMONNAME)
        .next()
        .and_then(|e| e.data().to_string().ok())
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[derive(Clone, Copy, PartialEq)]
enum Role {
    Ca,
    Leaf,
    Server,
}

fn new_key() -> PKey<Private> {
    PKey::from_rsa(Rsa::generate(2048).expect("generate RSA key")).expect("wrap RSA key")
}

fn new_ec_key() -> PKey<Private> {
    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).expect("P-256 group");
    PKey::from_ec_key(EcKey::generate(&group).expect("generate EC key")).expect("wrap EC key")
}

fn finish(key: PKey<Private>, cert: X509) -> TestCert {
    TestCert {
        key_pem: key.private_key_to_pem_pkcs8().expect("encode key"),
        cert_pem: cert.to_pem().expect("encode certificate"),
        sha1_thumbprint_hex: hex(&cert.digest(MessageDigest::sha1()).expect("sha1 digest")),
    }
}

fn build(
    cn: &str,
    key: &PKey<Private>,
    issuer: Option<&(X509, PKey<Private>)>,
    role: Role,
    dns: &[String],
    ips: &[IpAddr],
) -> X509 {
    build_inner(cn, key, issuer, role, dns, ips).expect("build test certificate")
}

fn build_inner(
    cn: &str,
    key: &PKey<Private>,
    issuer: Option<&(X509, PKey<Private>)>,
    role: Role,
    dns: &[String],
    ips: &[IpAddr],
) -> Result<X509, openssl::error::ErrorStack> {
    let mut name = X509NameBuilder::new()?;
    name.append_entry_by_text("CN", cn)?;
    name.append_entry_by_text("O", "msal-testkit")?;
    let name = name.build();

    let mut b = X509Builder::new()?;
    b.set_version(2)?;
    let mut serial = BigNum::new()?;
    serial.rand(127, MsbOption::MAYBE_ZERO, false)?;
    let serial = Asn1Integer::from_bn(&serial)?;
    b.set_serial_number(&serial)?;
    b.set_subject_name(&name)?;
    b.set_issuer_name(issuer.map_or(&name, |(c, _)| c.subject_name()))?;
    b.set_pubkey(key)?;
    // Back-dated a day so clock skew between processes never makes a fresh cert "not yet valid".
    let not_before = Asn1Time::from_unix(unix_now() - 86_400)?;
    let not_after = Asn1Time::days_from_now(365)?;
    b.set_not_before(&not_before)?;
    b.set_not_after(&not_after)?;

    if role == Role::Ca {
        b.append_extension(BasicConstraints::new().critical().ca().build()?)?;
        b.append_extension(
            KeyUsage::new()
                .critical()
                .key_cert_sign()
                .crl_sign()
                .digital_signature()
                .build()?,
        )?;
    } else {
        b.append_extension(BasicConstraints::new().build()?)?;
        let mut usage = KeyUsage::new();
        usage.critical().digital_signature();
        // Key encipherment only makes sense for RSA (TLS RSA key exchange).
        if key.id() == Id::RSA {
            usage.key_encipherment();
        }
        b.append_extension(usage.build()?)?;
    }
    if role == Role::Server {
        b.append_extension(ExtendedKeyUsage::new().server_auth().build()?)?;
        let mut san = SubjectAlternativeName::new();
        for d in dns {
            san.dns(d);
        }
        for ip in ips {
            san.ip(&ip.to_string());
        }
        let ext = san.build(&b.x509v3_context(issuer.map(|(c, _)| c.as_ref()), None))?;
        b.append_extension(ext)?;
    }
    let ski = SubjectKeyIdentifier::new().build(&b.x509v3_context(None, None))?;
    b.append_extension(ski)?;
    if let Some((issuer_cert, _)) = issuer {
        let aki = AuthorityKeyIdentifier::new()
            .keyid(false)
            .build(&b.x509v3_context(Some(issuer_cert), None))?;
        b.append_extension(aki)?;
    }

    let signer = issuer.map_or(key, |(_, k)| k);
    b.sign(signer, MessageDigest::sha256())?;
    Ok(b.build())
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issued_leaf_verifies_against_ca() {
        let root = ca("Test Root");
        let leaf = issued_by(&root, "client.contoso.test");
        let ca_key = root.x509().public_key().unwrap();
        assert!(leaf.x509().verify(&ca_key).unwrap());
        assert_eq!(leaf.subject_cn(), "client.contoso.test");
        assert_eq!(leaf.sha1_thumbprint_hex.len(), 40);
        let chain = leaf.chain_pem(&root);
        assert_eq!(X509::stack_from_pem(&chain).unwrap().len(), 2);
    }

    #[test]
    fn encrypted_key_round_trips() {
        let c = self_signed("x");
        let enc = encrypted_key_pem(&c.key_pem, "pw");
        assert!(String::from_utf8_lossy(&enc).contains("ENCRYPTED PRIVATE KEY"));
        let k = PKey::private_key_from_pem_passphrase(&enc, b"pw").unwrap();
        assert!(k.public_eq(&c.private_key()));
        assert!(!format!("{c:?}").contains("PRIVATE"));
    }
}
