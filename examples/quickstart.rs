//! Quickstart: app-only tokens with a secret and with a certificate, then one from the cache,
//! then the daemon declared in `msal.toml.example` (its `local` profile), then a managed
//! identity (no secret at all; App Service imitated in-process, never the Azure metadata
//! address).
//!
//! `cargo run --example quickstart` starts the in-process test authority (msal-testkit) on
//! loopback and talks to it over HTTPS. With `AZURE_TENANT_ID`, `AZURE_CLIENT_ID` and
//! `AZURE_CLIENT_SECRET` (or `AZURE_CLIENT_CERTIFICATE_PATH`, a PEM with key and certificate
//! or a .pfx, plus `AZURE_CLIENT_CERTIFICATE_PASSWORD` if it is protected) it targets that
//! tenant instead; `AZURE_AUTHORITY_HOST` picks the cloud and `MSAL_QUICKSTART_SCOPE` the
//! resource (default Microsoft Graph).
//!
//! Region discovery is never attempted here: no request goes to the instance metadata service.

use msal::{
    AuthenticationResult, Certificate, ClientCredential, ConfidentialClientApplication, EnvLookup,
    ManagedIdentity, ManagedIdentityClient, TokenCache, Verify,
};
use msal_testkit::{certs, AppRegistration, TestAuthority};
use std::error::Error;

type Result<T> = std::result::Result<T, Box<dyn Error>>;

#[tokio::main]
async fn main() -> Result<()> {
    match RealTenant::from_env() {
        Some(real) => real.run().await,
        None => local().await,
    }
}

fn show(label: &str, t: &AuthenticationResult) {
    let token = t.access_token.secret();
    let short: String = token.chars().take(16).collect();
    println!(
        "{label:<34} source={:<17} expires_in={:>4}s token={short}… ({} chars)",
        t.token_source.as_str(),
        t.expires_in(),
        token.len()
    );
}

/// Against the embedded authority: nothing leaves this machine.
async fn local() -> Result<()> {
    let authority = TestAuthority::start().await;
    let tenant = authority.tenant_domain().to_string();
    println!(
        "test authority: {} (CA {})",
        authority.authority(&tenant),
        authority.ca_path().display()
    );

    let secret_app_id = "5f0c2d3e-0000-4000-8000-0000000000a1";
    let cert_app_id = "5f0c2d3e-0000-4000-8000-0000000000a2";
    authority.register_app(AppRegistration::with_secret(
        secret_app_id,
        "quickstart-secret",
    ));
    let cert = certs::self_signed("quickstart-daemon");
    authority.register_app(AppRegistration::with_certificate(
        cert_app_id,
        cert.cert_pem.clone(),
    ));

    let scope = ["https://graph.microsoft.com/.default"];
    let cache = TokenCache::new();
    let base = |client_id: &str| {
        ConfidentialClientApplication::builder(client_id)
            .authority(authority.authority(&tenant))
            .verify(Verify::CaBundle(authority.ca_path().to_path_buf()))
            .instance_discovery_endpoint(authority.instance_discovery_url())
            .token_cache(cache.clone())
            .app_name("msal-quickstart")
            .app_version(env!("CARGO_PKG_VERSION"))
    };

    let by_secret = base(secret_app_id)
        .client_credential(ClientCredential::secret("quickstart-secret"))
        .build()?;
    show(
        "client credentials, secret:",
        &by_secret.acquire_token_for_client(&scope).await?,
    );

    let certificate = Certificate::from_pem(&cert.key_pem, &cert.cert_pem, None)?;
    println!(
        "certificate thumbprint (SHA-1): {}",
        certificate.thumbprint()
    );
    let by_cert = base(cert_app_id)
        .client_credential(ClientCredential::certificate(certificate))
        .build()?;
    show(
        "client credentials, certificate:",
        &by_cert.acquire_token_for_client(&scope).await?,
    );

    show(
        "again, secret app:",
        &by_secret.acquire_token_for_client(&scope).await?,
    );

    println!(
        "token requests sent: {}, cached access tokens: {}",
        authority.token_requests().len(),
        cache.access_tokens().len()
    );

    from_msal_toml(&authority, &tenant).await
}

/// The `orders_daemon` app of msal.toml.example, with its `local` profile: the app as a
/// service would declare it, pointed at the embedded authority by run-time overrides
/// (`MSAL_PROFILE`, `MSAL_ORDERS_DAEMON_*`), its secret read from its variable.
async fn from_msal_toml(authority: &TestAuthority, tenant: &str) -> Result<()> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("msal.toml.example");
    let source = std::fs::read_to_string(&path)?;
    let secret = "orders-daemon-secret";
    let authority_url = authority.authority(tenant);
    let ca = authority.ca_path().display().to_string();
    // What the process environment would hold in a deployment.
    let env = |k: &str| -> Option<String> {
        match k {
            "MSAL_PROFILE" => Some("local".into()),
            "MSAL_ORDERS_DAEMON_AUTHORITY" => Some(authority_url.clone()),
            "MSAL_ORDERS_DAEMON_CA_BUNDLE" => Some(ca.clone()),
            "ORDERS_DAEMON_SECRET" => Some(secret.into()),
            _ => None,
        }
    };
    let app = msal::config::resolve_app(&path, &source, "orders_daemon", &env)?;
    let client_id = app
        .client_id
        .clone()
        .ok_or("orders_daemon has a client_id")?;
    authority.register_app(AppRegistration::with_secret(client_id.clone(), secret));
    let daemon = msal::config::builder(&app, &env)?.build()?;
    println!("msal.toml.example, app orders_daemon (profile local): client {client_id}");
    let graph = &app.scopes["graph"].scopes;
    show(
        "client credentials, from msal.toml:",
        &daemon.acquire_token_for_client(graph).await?,
    );
    show(
        "again, from msal.toml:",
        &daemon.acquire_token_for_client(graph).await?,
    );
    managed_identity().await
}

/// No secret at all: a managed identity. Here App Service's identity endpoint is imitated by a
/// second in-process authority (plain HTTP on loopback, as the platform's local endpoint is);
/// on Azure the platform sets `IDENTITY_ENDPOINT` / `IDENTITY_HEADER` (or the VM's metadata
/// service answers) and `EnvLookup::process()` — the default — reads them.
async fn managed_identity() -> Result<()> {
    let platform = TestAuthority::builder().https(false).start().await?;
    let mi = ManagedIdentityClient::builder(ManagedIdentity::system_assigned())
        .env(EnvLookup::from_pairs([
            ("IDENTITY_ENDPOINT", platform.app_service_endpoint()),
            ("IDENTITY_HEADER", platform.managed_identity_secret()),
        ]))
        .build()?;
    println!(
        "managed identity, source {}:",
        mi.get_managed_identity_source()
    );
    // A resource, not scopes (`https://vault.azure.net/.default` in msal.toml).
    show(
        "  token for Key Vault:",
        &mi.acquire_token_for_client("https://vault.azure.net")
            .await?,
    );
    println!(
        "more: `cargo run --example managed_identity` (IMDS, App Service, workload identity), \
         and `credential = {{ kind = \"managed_identity\" }}` in msal.toml (README: \"Managed identity and workload identity\")"
    );
    Ok(())
}

/// A real Entra tenant, configured the way azure-identity users already do.
struct RealTenant {
    tenant: String,
    client_id: String,
    host: String,
    scope: String,
}

impl RealTenant {
    fn from_env() -> Option<Self> {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
        let tenant = var("AZURE_TENANT_ID")?;
        let client_id = var("AZURE_CLIENT_ID")?;
        if var("AZURE_CLIENT_SECRET").is_none() && var("AZURE_CLIENT_CERTIFICATE_PATH").is_none() {
            return None;
        }
        let host = var("AZURE_AUTHORITY_HOST")
            .unwrap_or_else(|| "https://login.microsoftonline.com".into());
        let scope = var("MSAL_QUICKSTART_SCOPE")
            .unwrap_or_else(|| "https://graph.microsoft.com/.default".into());
        Some(RealTenant {
            tenant,
            client_id,
            host,
            scope,
        })
    }

    fn credential(&self) -> Result<ClientCredential> {
        if let Ok(secret) = std::env::var("AZURE_CLIENT_SECRET") {
            if !secret.is_empty() {
                return Ok(ClientCredential::secret(secret));
            }
        }
        let path = std::env::var("AZURE_CLIENT_CERTIFICATE_PATH")?;
        let password = std::env::var("AZURE_CLIENT_CERTIFICATE_PASSWORD").ok();
        let bytes = std::fs::read(&path).map_err(|e| format!("cannot read {path}: {e}"))?;
        let cert = if path.ends_with(".pfx") || path.ends_with(".p12") {
            Certificate::from_pkcs12(&bytes, password.as_deref().unwrap_or(""))?
        } else {
            // azure-identity's convention: one PEM file holding the key and the certificate.
            Certificate::from_pem(&bytes, &bytes, password.as_deref())?
        };
        let send_x5c = std::env::var("AZURE_CLIENT_SEND_CERTIFICATE_CHAIN")
            .is_ok_and(|v| v == "true" || v == "1");
        Ok(if send_x5c {
            ClientCredential::certificate_with_x5c(cert)
        } else {
            ClientCredential::certificate(cert)
        })
    }

    async fn run(self) -> Result<()> {
        let authority = format!("{}/{}", self.host.trim_end_matches('/'), self.tenant);
        println!("authority: {authority}");
        let app = ConfidentialClientApplication::builder(&self.client_id)
            .authority(authority)
            .client_credential(self.credential()?)
            .app_name("msal-quickstart")
            .build()?;
        let scope = [self.scope.as_str()];
        show(
            "client credentials:",
            &app.acquire_token_for_client(&scope).await?,
        );
        show("again:", &app.acquire_token_for_client(&scope).await?);
        Ok(())
    }
}
