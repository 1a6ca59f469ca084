//! Managed identity and workload identity: tokens without a secret in the program.
//!
//! `cargo run --example managed_identity` (the default, local mode) starts the in-process
//! test authority (msal-testkit) on loopback and gets tokens from its imitation of the VM
//! instance metadata service (IMDS), of App Service (a user-assigned identity), and through
//! workload identity federation (a projected service-account token file, as on AKS). Nothing
//! leaves this machine, and the Azure metadata address 169.254.169.254 is never contacted.
//!
//! On Azure, `cargo run --example managed_identity -- --real [RESOURCE]` uses the real
//! environment: workload identity when `AZURE_FEDERATED_TOKEN_FILE`, `AZURE_CLIENT_ID` and
//! `AZURE_TENANT_ID` are set (AKS), else the managed identity source the environment
//! announces (App Service, Functions, Arc, Service Fabric, Azure ML, Cloud Shell), else the
//! VM's IMDS. `AZURE_CLIENT_ID` without a token file selects a user-assigned identity.
//! Without `--real`, the real mode is used only when a managed identity variable is present.

use msal::{
    AuthenticationResult, AzureEnvironment, EnvLookup, ManagedIdentity, ManagedIdentityClient,
    TokenCache, Verify,
};
use msal_testkit::managed_identity::TOKEN_EXCHANGE_AUDIENCE;
use msal_testkit::{AppRegistration, FederatedCredential, ManagedIdentityRecord, TestAuthority};
use std::error::Error;

type Result<T> = std::result::Result<T, Box<dyn Error>>;

/// Variables that announce a managed identity or workload identity environment.
const ANNOUNCING_VARS: &[&str] = &[
    "IDENTITY_ENDPOINT",
    "MSI_ENDPOINT",
    "IMDS_ENDPOINT",
    "AZURE_POD_IDENTITY_AUTHORITY_HOST",
    "AZURE_FEDERATED_TOKEN_FILE",
];

#[tokio::main]
async fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let real_flag = args.iter().any(|a| a == "--real");
    let announced = ANNOUNCING_VARS
        .iter()
        .any(|v| std::env::var_os(v).is_some());
    if real_flag || announced {
        let resource = args
            .iter()
            .find(|a| !a.starts_with("--"))
            .cloned()
            .unwrap_or_else(|| "https://management.azure.com/".into());
        real(&resource).await
    } else {
        local().await
    }
}

fn show(label: &str, t: &AuthenticationResult) {
    let token = t.access_token.secret();
    let short: String = token.chars().take(16).collect();
    println!(
        "{label:<38} source={:<17} expires_in={:>5}s token={short}… ({} chars)",
        t.token_source.as_str(),
        t.expires_in(),
        token.len()
    );
}

/// Against the embedded authority on loopback.
pub async fn local() -> Result<()> {
    let vault = "https://vault.azure.net";
    // Plain HTTP, as the real IMDS and App Service endpoints are.
    let authority = TestAuthority::builder().https(false).start().await?;
    println!(
        "test authority (managed identity sources): {}",
        authority.base_url()
    );
    // The injected environment keeps this process's own variables out of the way.
    let no_arc_agent = std::env::temp_dir().join("msal-example-no-himds");

    // 1. A VM's system-assigned identity through IMDS, redirected to the test authority.
    let cache = TokenCache::new();
    let vm = ManagedIdentityClient::builder(ManagedIdentity::system_assigned())
        .env(EnvLookup::from_pairs([(
            "AZURE_POD_IDENTITY_AUTHORITY_HOST",
            authority.imds_host(),
        )]))
        .arc_himds_path(&no_arc_agent)
        .token_cache(cache.clone())
        .build()?;
    println!("source: {}", vm.get_managed_identity_source());
    show(
        "IMDS, system-assigned",
        &vm.acquire_token_for_client(vault).await?,
    );
    show(
        "IMDS, system-assigned again",
        &vm.acquire_token_for_client(vault).await?,
    );

    // 2. App Service with a user-assigned identity, selected by client id.
    let identity = ManagedIdentityRecord::new("orders-api");
    authority.add_user_assigned_identity(identity.clone());
    let web = ManagedIdentityClient::builder(ManagedIdentity::user_assigned_client_id(
        &identity.client_id,
    ))
    .env(EnvLookup::from_pairs([
        ("IDENTITY_ENDPOINT", authority.app_service_endpoint()),
        ("IDENTITY_HEADER", authority.managed_identity_secret()),
    ]))
    .arc_himds_path(&no_arc_agent)
    .token_cache(cache.clone())
    .build()?;
    println!("source: {}", web.get_managed_identity_source());
    show(
        "App Service, user-assigned",
        &web.acquire_token_for_client(vault).await?,
    );
    println!(
        "cached managed identity tokens: {}",
        cache.access_tokens().len()
    );

    // 3. Workload identity federation (AKS): the kubelet's token file is the client assertion.
    let entra = TestAuthority::start().await; // HTTPS, like Entra
    let client_id = "3c1e0f2a-0000-4000-8000-0000000000b7";
    let issuer = "https://oidc.example-aks.local/cluster/";
    let subject = "system:serviceaccount:orders:orders-sa";
    entra.register_app(AppRegistration {
        client_id: client_id.into(),
        ..Default::default()
    });
    entra.add_federated_credential(client_id, FederatedCredential::new(issuer, subject));
    let dir = tempfile::tempdir()?;
    let token_file = dir.path().join("azure-identity-token");
    std::fs::write(
        &token_file,
        entra.issue_federated_token(issuer, subject, TOKEN_EXCHANGE_AUDIENCE, 3600),
    )?;
    let env = EnvLookup::from_pairs([
        ("AZURE_CLIENT_ID", client_id.to_string()),
        ("AZURE_TENANT_ID", entra.tenant_id().to_string()),
        ("AZURE_AUTHORITY_HOST", entra.base_url()),
        (
            "AZURE_FEDERATED_TOKEN_FILE",
            token_file.display().to_string(),
        ),
    ]);
    let app = AzureEnvironment::workload_identity(&env)?
        .application_builder()
        .verify(Verify::CaBundle(entra.ca_path().to_path_buf()))
        .instance_discovery_endpoint(entra.instance_discovery_url())
        .build()?;
    let scopes = ["https://vault.azure.net/.default"];
    show(
        "workload identity",
        &app.acquire_token_for_client(&scopes).await?,
    );
    show(
        "workload identity again",
        &app.acquire_token_for_client(&scopes).await?,
    );
    println!(
        "token requests on the wire: managed identity {}, workload identity {}",
        authority.managed_identity_requests().len(),
        entra.token_requests().len()
    );
    Ok(())
}

/// Against the real environment of this process.
async fn real(resource: &str) -> Result<()> {
    let env = EnvLookup::process();
    if env.has("AZURE_FEDERATED_TOKEN_FILE") {
        let app = AzureEnvironment::workload_identity(&env)?
            .application_builder()
            .build()?;
        let scope = format!("{}/.default", resource.trim_end_matches('/'));
        show(
            "workload identity",
            &app.acquire_token_for_client(&[scope.as_str()]).await?,
        );
        return Ok(());
    }
    let identity = match std::env::var("AZURE_CLIENT_ID") {
        Ok(id) if !id.is_empty() => ManagedIdentity::user_assigned_client_id(id),
        _ => ManagedIdentity::system_assigned(),
    };
    let mi = ManagedIdentityClient::builder(identity).build()?;
    println!("source: {}", mi.get_managed_identity_source());
    show(
        "managed identity",
        &mi.acquire_token_for_client(resource).await?,
    );
    show(
        "managed identity again",
        &mi.acquire_token_for_client(resource).await?,
    );
    Ok(())
}
