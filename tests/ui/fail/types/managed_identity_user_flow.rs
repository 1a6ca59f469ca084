//! A managed identity client has no user-flow methods at all: it only gets app tokens.
use msal::msal_app;

#[msal_app(config = "apps.toml")]
pub struct BillingJob;

async fn sign_in(job: &BillingJob) {
    let _ = job
        .initiate_auth_code_flow(BillingJob::scopes().vault, Default::default())
        .await;
}

fn main() {
    let _ = sign_in;
}
