//! Secretless apps: a managed identity client has only the app-token methods and typed
//! `.default` sets; workload identity and `azure_environment` apps are ordinary confidential
//! clients whose ids come from the AZURE_* variables. Built and run without network I/O.
#![deny(
    warnings,
    missing_docs,
    missing_debug_implementations,
    unused_qualifications
)]
#![deny(clippy::all)]

use msal::msal_app;
use msal::scope::{AppScopes, ScopeSet};

/// A system-assigned managed identity.
#[msal_app(config = "secretless.toml")]
pub struct BillingJob;

/// A user-assigned managed identity on App Service.
#[msal_app(config = "secretless.toml")]
pub struct BillingUami;

/// AKS workload identity.
#[msal_app(config = "secretless.toml")]
pub struct OrdersPod;

/// Whatever the AZURE_* variables hold.
#[msal_app(config = "secretless.toml")]
pub struct OrdersAnywhere;

fn assert_send_sync_clone<T: Send + Sync + Clone + 'static>() {}

#[allow(dead_code)]
async fn calls(job: &BillingJob, pod: &OrdersPod, any: &OrdersAnywhere) -> msal::Result<()> {
    let _t: msal::AuthenticationResult =
        job.acquire_token_for_client(BillingJob::scopes().vault).await?;
    let _t = job
        .acquire_token_for_client_with(BillingJob::scopes().arm, msal::ForClientOptions::default())
        .await?;
    let _c: &msal::ManagedIdentityClient = job.client();
    let _t = pod.acquire_token_for_client(OrdersPod::scopes().graph).await?;
    let _t = any
        .acquire_token_on_behalf_of("user-token", OrdersAnywhere::scopes().downstream)
        .await?;
    Ok(())
}

fn main() {
    assert_send_sync_clone::<BillingJob>();
    assert_send_sync_clone::<OrdersPod>();
    assert_eq!(BillingJob::APP_NAME, "billing_job");
    let vault: ScopeSet<BillingJob, AppScopes> = BillingJob::scopes().vault;
    assert_eq!(vault.compiled_scopes(), ["https://vault.azure.net/.default"]);

    // App Service's variables come from the lookup; nothing is sent while building.
    let job = BillingJob::from_env_with(|k| match k {
        "IDENTITY_ENDPOINT" => Some("http://127.0.0.1:9/msi/token".to_string()),
        "IDENTITY_HEADER" => Some("pass-case-header".to_string()),
        _ => None,
    })
    .unwrap();
    assert_eq!(
        job.get_managed_identity_source(),
        msal::ManagedIdentitySource::AppService
    );
    let dbg = format!("{job:?}");
    assert!(dbg.starts_with("BillingJob { app: \"billing_job\""), "{dbg}");
    assert!(!dbg.contains("pass-case-header"), "{dbg}");

    let uami = BillingUami::from_env_with(|_| None).unwrap();
    assert_eq!(
        uami.get_managed_identity_source(),
        msal::ManagedIdentitySource::AppService
    );

    let pod = OrdersPod::from_env_with(|k| {
        Some(match k {
            "AZURE_CLIENT_ID" => "6f1c2d3e-0000-4000-8000-0000000000f1".to_string(),
            "AZURE_TENANT_ID" => "contoso.onmicrosoft.com".to_string(),
            "AZURE_FEDERATED_TOKEN_FILE" => "/var/run/secrets/azure/tokens/azure-identity-token".to_string(),
            _ => return None,
        })
    })
    .unwrap();
    assert_eq!(pod.application().client_id(), "6f1c2d3e-0000-4000-8000-0000000000f1");
    assert!(OrdersAnywhere::from_env_with(|_| None).is_err());
    let _copy = job.clone();
}
