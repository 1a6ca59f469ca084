//! The credential (E04xx).
//!
//! One struct per rule, each naming its own small `.toml` (next to this file), so every
//! rule has its failing case and expected message while the group compiles once.
use msal::msal_app;

/// E0401: no `credential`.
#[msal_app(config = "missing_credential.toml", app = "orders_daemon")]
pub struct MissingCredential;

/// E0402: an unknown credential kind, with "did you mean".
#[msal_app(config = "unknown_credential_kind.toml", app = "orders_daemon")]
pub struct UnknownCredentialKind;

/// E0403: a secret written into the file (it would be compiled into the binary).
#[msal_app(config = "inline_secret.toml", app = "orders_daemon")]
pub struct InlineSecret;

/// E0404: a secret from both a variable and a file.
#[msal_app(config = "invalid_credential_source.toml", app = "orders_daemon")]
pub struct InvalidCredentialSource;

/// E0405: a variable name that is not one.
#[msal_app(config = "invalid_env_var_name.toml", app = "orders_daemon")]
pub struct InvalidEnvVarName;

/// E0406: a thumbprint that is not 40 hex digits.
#[msal_app(config = "invalid_thumbprint.toml", app = "orders_daemon")]
pub struct InvalidThumbprint;

/// E0407: `send_x5c` without a certificate to send.
#[msal_app(config = "x5c_without_certificate.toml", app = "orders_daemon")]
pub struct X5cWithoutCertificate;

/// E0408: a certificate credential with neither certificate nor thumbprint.
#[msal_app(config = "missing_certificate.toml", app = "orders_daemon")]
pub struct MissingCertificate;

fn main() {}
