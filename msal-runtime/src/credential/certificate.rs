//! Certificates for client assertions, loaded with OpenSSL.

use crate::error::{Error, Result};
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private};
use openssl::x509::X509;
use std::fmt;
use std::sync::Arc;

/// An RSA private key and the certificate registered for the app.
///
/// Built from PEM ([`Certificate::from_pem`]), from PEM plus a SHA-1 thumbprint
/// ([`Certificate::from_pem_with_thumbprint`]), from both plus the public certificate
/// ([`Certificate::from_pem_with_thumbprint_and_certificate`]), or from PKCS#12
/// ([`Certificate::from_pkcs12`]).
///
/// ```no_run
/// use msal_runtime::{Certificate, ClientCredential};
///
/// let key = std::fs::read("certs/app.key")?;
/// let cert = std::fs::read("certs/app.crt")?;
/// let passphrase = std::env::var("APP_KEY_PASSPHRASE").ok();
/// let certificate = Certificate::from_pem(&key, &cert, passphrase.as_deref())?;
/// let credential = ClientCredential::certificate(certificate);
/// # let _ = credential;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Certificate {
    pub(crate) key: Arc<PKey<Private>>,
    /// Leaf first, then the rest of the chain as given.
    pub(crate) chain: Vec<Vec<u8>>,
    pub(crate) sha1: Vec<u8>,
    pub(crate) sha256: Option<Vec<u8>>,
    pub(crate) send_x5c: bool,
}

impl Certificate {
    /// A PEM private key (optionally encrypted) and its PEM certificate (or chain, leaf
    /// first). Signs with PS256 and sends `x5t#S256`, as MSAL does for Entra; ADFS
    /// authorities get RS256 and `x5t`.
    pub fn from_pem(
        private_key_pem: &[u8],
        certificate_pem: &[u8],
        passphrase: Option<&str>,
    ) -> Result<Self> {
        let key = load_key(private_key_pem, passphrase)?;
        let chain = X509::stack_from_pem(certificate_pem)
            .map_err(|e| Error::credential_from("the certificate is not valid PEM", e))?;
        let leaf = chain
            .first()
            .ok_or_else(|| Error::credential("no certificate found in the certificate PEM"))?;
        Self::from_parts(key, leaf, &chain)
    }

    /// A PEM private key and the SHA-1 thumbprint (hex) shown in the app registration.
    /// Signs with RS256 and sends `x5t` (MSAL's legacy form).
    pub fn from_pem_with_thumbprint(
        private_key_pem: &[u8],
        thumbprint_hex: &str,
        passphrase: Option<&str>,
    ) -> Result<Self> {
        let key = load_key(private_key_pem, passphrase)?;
        let sha1 = decode_hex(thumbprint_hex)
            .filter(|b| b.len() == 20)
            .ok_or_else(|| {
                Error::credential("the thumbprint must be 40 hex digits (a SHA-1 thumbprint)")
            })?;
        Ok(Certificate {
            key: Arc::new(key),
            chain: Vec::new(),
            sha1,
            sha256: None,
            send_x5c: false,
        })
    }

    /// MSAL Python's `{"private_key", "thumbprint", "public_certificate"}` form: a PEM
    /// private key, the SHA-1 thumbprint (hex) of its certificate, and the public
    /// certificate PEM (the leaf, then any chain). Signs with RS256 and sends `x5t` (the
    /// given thumbprint) plus `x5c`: every certificate of `public_certificate_pem`, in
    /// file order, for Subject Name + Issuer authentication.
    ///
    /// The key must belong to the first certificate; the thumbprint is sent as given (as
    /// MSAL Python sends it).
    ///
    /// ```no_run
    /// use msal_runtime::{Certificate, ClientCredential};
    ///
    /// let key = std::fs::read("certs/app.key")?;
    /// let chain = std::fs::read("certs/app-chain.pem")?;
    /// let cert = Certificate::from_pem_with_thumbprint_and_certificate(
    ///     &key,
    ///     "CAB92571E2BBCE98EE7F3FF6E4AE3E1F2F55E936",
    ///     &chain,
    ///     None,
    /// )?;
    /// let credential = ClientCredential::certificate(cert);
    /// # let _ = credential;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_pem_with_thumbprint_and_certificate(
        private_key_pem: &[u8],
        thumbprint_hex: &str,
        public_certificate_pem: &[u8],
        passphrase: Option<&str>,
    ) -> Result<Self> {
        let mut cert = Self::from_pem_with_thumbprint(private_key_pem, thumbprint_hex, passphrase)?;
        let chain = X509::stack_from_pem(public_certificate_pem)
            .map_err(|e| Error::credential_from("the public certificate is not valid PEM", e))?;
        let leaf = chain.first().ok_or_else(|| {
            Error::credential("no certificate found in the public certificate PEM")
        })?;
        let public = leaf
            .public_key()
            .map_err(|e| Error::credential_from("the certificate has no usable public key", e))?;
        if !cert.key.public_eq(&public) {
            return Err(Error::credential(
                "the private key does not belong to the first certificate of the public certificate PEM",
            ));
        }
        cert.chain = chain
            .iter()
            .map(|c| c.to_der())
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| Error::credential_from("cannot encode the certificate", e))?;
        cert.send_x5c = true;
        Ok(cert)
    }

    /// A PKCS#12 (`.pfx`) file holding the key and its certificate.
    pub fn from_pkcs12(der: &[u8], passphrase: &str) -> Result<Self> {
        let p12 = openssl::pkcs12::Pkcs12::from_der(der)
            .map_err(|e| Error::credential_from("the PKCS#12 data is not valid", e))?;
        let parsed = p12.parse2(passphrase).map_err(|_| {
            Error::credential("cannot open the PKCS#12 data: wrong passphrase or corrupt file")
        })?;
        let key = parsed
            .pkey
            .ok_or_else(|| Error::credential("the PKCS#12 data holds no private key"))?;
        let leaf = parsed
            .cert
            .ok_or_else(|| Error::credential("the PKCS#12 data holds no certificate"))?;
        let mut chain = vec![leaf.clone()];
        if let Some(ca) = parsed.ca {
            chain.extend(ca);
        }
        Self::from_parts(key, &leaf, &chain)
    }

    /// Whether to send the certificate chain (`x5c`) for Subject Name + Issuer auth.
    pub fn send_x5c(mut self, send: bool) -> Self {
        self.send_x5c = send;
        self
    }

    /// The SHA-1 thumbprint as upper-case hex, as the Azure portal shows it.
    pub fn thumbprint(&self) -> String {
        self.sha1.iter().map(|b| format!("{b:02X}")).collect()
    }

    fn from_parts(key: PKey<Private>, leaf: &X509, chain: &[X509]) -> Result<Self> {
        let public = leaf
            .public_key()
            .map_err(|e| Error::credential_from("the certificate has no usable public key", e))?;
        if !key.public_eq(&public) {
            return Err(Error::credential(
                "the private key does not belong to the certificate",
            ));
        }
        let digest = |md| {
            leaf.digest(md)
                .map(|d| d.to_vec())
                .map_err(|e| Error::credential_from("cannot compute the certificate thumbprint", e))
        };
        let chain = chain
            .iter()
            .map(|c| c.to_der())
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| Error::credential_from("cannot encode the certificate", e))?;
        Ok(Certificate {
            key: Arc::new(key),
            chain,
            sha1: digest(MessageDigest::sha1())?,
            sha256: Some(digest(MessageDigest::sha256())?),
            send_x5c: false,
        })
    }
}

impl fmt::Debug for Certificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Certificate")
            .field("thumbprint", &self.thumbprint())
            .field("send_x5c", &self.send_x5c)
            .field("private_key", &"[redacted]")
            .finish()
    }
}

fn load_key(pem: &[u8], passphrase: Option<&str>) -> Result<PKey<Private>> {
    let text = String::from_utf8_lossy(pem);
    if !text.contains("-----BEGIN") || !text.contains("PRIVATE KEY-----") {
        return Err(Error::credential(
            "the private key is not PEM (expected a `-----BEGIN ... PRIVATE KEY-----` block)",
        ));
    }
    let encrypted = text.contains("ENCRYPTED");
    let key = match passphrase {
        Some(pass) => PKey::private_key_from_pem_passphrase(pem, pass.as_bytes()),
        None if encrypted => {
            return Err(Error::credential(
                "the private key is encrypted; a passphrase is required",
            ))
        }
        None => PKey::private_key_from_pem(pem),
    };
    let key = key.map_err(|_| {
        if encrypted {
            Error::credential("cannot decrypt the private key: wrong passphrase")
        } else {
            Error::credential("the private key PEM cannot be parsed")
        }
    })?;
    if key.rsa().is_err() {
        return Err(Error::credential(
            "only RSA keys can sign client assertions for Entra ID",
        ));
    }
    Ok(key)
}

fn decode_hex(s: &str) -> Option<Vec<u8>> {
    let s = s.trim();
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex() {
        assert_eq!(decode_hex("0aFF"), Some(vec![10, 255]));
        assert_eq!(decode_hex("0aF"), None);
        assert_eq!(decode_hex("zz"), None);
        assert_eq!(decode_hex("é1"), None);
    }

    #[test]
    fn garbage_key_is_a_clear_error() {
        let err = Certificate::from_pem(b"hello", b"world", None)
            .err()
            .unwrap();
        assert!(err.to_string().contains("not PEM"), "{err}");
    }
}
