//! Shared helpers of the integration tests: a test authority and apps pointed at it.
#![allow(dead_code)]

use msal_runtime::{
    ClientCredential, ConfidentialClientApplication, ConfidentialClientApplicationBuilder, Verify,
};
use msal_testkit::{AppRegistration, TestAuthority};

pub const CLIENT_ID: &str = "a0b1c2d3-0000-4000-8000-00000000c11e";
pub const SECRET: &str = "s3cr3t-value-for-tests";
pub const GRAPH: &str = "https://graph.microsoft.com/.default";

/// A running authority with one app registered with a secret.
pub async fn authority() -> TestAuthority {
    let auth = TestAuthority::start().await;
    auth.register_app(AppRegistration::with_secret(CLIENT_ID, SECRET));
    auth
}

/// A builder for an app against the test authority: its CA trusted, instance discovery
/// asked of the test authority, IMDS pointed at the test authority.
pub fn builder(
    auth: &TestAuthority,
    client_id: &str,
    tenant: &str,
) -> ConfidentialClientApplicationBuilder {
    ConfidentialClientApplication::builder(client_id)
        .authority(auth.authority(tenant))
        .verify(Verify::CaBundle(auth.ca_path().to_path_buf()))
        .instance_discovery_endpoint(auth.instance_discovery_url())
        .imds_endpoint(auth.imds_url())
}

/// An app with the registered secret, in the default tenant.
pub fn secret_app(auth: &TestAuthority) -> ConfidentialClientApplication {
    builder(auth, CLIENT_ID, auth.tenant_id())
        .client_credential(ClientCredential::secret(SECRET))
        .build()
        .expect("the app builds")
}

/// A reqwest client that trusts the test CA and resolves extra host names (regional
/// hosts such as `eastus.localhost`) to the authority.
pub fn client_resolving(auth: &TestAuthority, hosts: &[&str]) -> reqwest::Client {
    let port = auth.port();
    let mut b = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .tls_certs_only(reqwest::Certificate::from_pem_bundle(auth.ca_pem()).unwrap());
    for h in hosts {
        b = b.resolve(h, std::net::SocketAddr::from(([127, 0, 0, 1], port)));
    }
    b.build().unwrap()
}

/// The decoded header and claims of a JWT (no checks).
pub fn jwt_parts(jwt: &str) -> (serde_json::Value, serde_json::Value) {
    use base64::Engine;
    let mut it = jwt.split('.');
    let dec = |p: &str| -> serde_json::Value {
        serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(p)
                .unwrap(),
        )
        .unwrap()
    };
    let h = dec(it.next().unwrap());
    let c = dec(it.next().unwrap());
    (h, c)
}
