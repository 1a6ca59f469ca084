//! The Azure SDK adapter (feature `azure`): a real `azure_core` 1.x pipeline with its
//! `BearerTokenAuthorizationPolicy`, authenticated by an msal application or managed
//! identity client, sends a request to a local HTTPS server (the test authority, which
//! records every request) over loopback; the test checks the `Authorization` header it
//! sent and that the token is the one msal acquired and cached.

use crate::support;

use azure_core::credentials::TokenCredential;
use azure_core::http::policies::auth::BearerTokenAuthorizationPolicy;
use azure_core::http::policies::Policy;
use azure_core::http::{
    AsyncRawResponse, ClientOptions, Context, HttpClient, Method, Pipeline, Request, StatusCode,
    Transport,
};
use msal::{ClientCredential, EnvLookup, ManagedIdentity, ManagedIdentityClient, TokenSource};
use msal_testkit::{AppRegistration, Fault, TestAuthority};
use std::sync::Arc;
use support::*;

const VAULT_SCOPE: &str = "https://vault.azure.net/.default";
const SECRET_PATH: &str = "/vault-test/secrets/db-password";

/// The transport of the pipeline: reqwest, trusting the test authority's CA.
#[derive(Debug)]
struct ReqwestTransport(reqwest::Client);

#[async_trait::async_trait]
impl HttpClient for ReqwestTransport {
    async fn execute_request(&self, request: &Request) -> azure_core::Result<AsyncRawResponse> {
        let io = |e: reqwest::Error| azure_core::Error::new(azure_core::error::ErrorKind::Io, e);
        let method = reqwest::Method::from_bytes(request.method().to_string().as_bytes())
            .expect("an HTTP method");
        let mut builder = self.0.request(method, request.url().as_str());
        for (name, value) in request.headers().iter() {
            builder = builder.header(name.as_str(), value.as_str());
        }
        let resp = builder.send().await.map_err(io)?;
        let status = StatusCode::from(resp.status().as_u16());
        let mut headers = azure_core::http::headers::Headers::new();
        for (name, value) in resp.headers() {
            if let Ok(v) = value.to_str() {
                headers.insert(name.as_str().to_string(), v.to_string());
            }
        }
        let body = resp.bytes().await.map_err(io)?;
        Ok(AsyncRawResponse::from_bytes(status, headers, body))
    }
}

/// What an Azure SDK client builds: a pipeline whose per-try policies include the bearer
/// token policy over `credential`.
fn pipeline(credential: Arc<dyn TokenCredential>, transport: reqwest::Client) -> Pipeline {
    let bearer: Arc<dyn Policy> = Arc::new(BearerTokenAuthorizationPolicy::new(
        credential,
        [VAULT_SCOPE],
    ));
    let options = ClientOptions {
        transport: Some(Transport::new(Arc::new(ReqwestTransport(transport)))),
        ..Default::default()
    };
    Pipeline::new(
        Some("msal-azure-test"),
        Some("0.1.0"),
        options,
        Vec::new(),
        vec![bearer],
        None,
    )
}

/// Sends one GET for the secret through the pipeline; the vault (the test authority,
/// answering with a canned 200) records it. Returns its `Authorization` header.
async fn get_secret(pipeline: &Pipeline, vault: &TestAuthority) -> String {
    vault.push_fault(Fault::status(SECRET_PATH, 200, r#"{"value":"hunter2"}"#));
    let url = format!("{}{SECRET_PATH}?api-version=7.5", vault.base_url());
    let mut request = Request::new(url.parse().unwrap(), Method::Get);
    let resp = pipeline
        .send(&Context::new(), &mut request, None)
        .await
        .unwrap();
    assert_eq!(u16::from(resp.status()), 200);
    let seen = vault
        .requests()
        .into_iter()
        .rev()
        .find(|r| r.path == SECRET_PATH)
        .expect("the vault got the request");
    seen.header("authorization")
        .expect("an Authorization header")
        .to_string()
}

#[tokio::test]
async fn an_application_authenticates_an_azure_core_pipeline() {
    let auth = authority().await;
    let app = secret_app(&auth);
    let credential: Arc<dyn TokenCredential> = Arc::new(app.clone());
    let pipeline = pipeline(credential, auth.http_client());

    let header = get_secret(&pipeline, &auth).await;
    let token = header.strip_prefix("Bearer ").expect("a bearer token");
    let claims = auth.verify_access_token(token).unwrap();
    assert_eq!(claims["aud"], "https://vault.azure.net");
    assert_eq!(claims["appid"], CLIENT_ID);
    // The token is msal's: in its cache, acquired with the client credentials grant.
    let cached = app.acquire_token_for_client([VAULT_SCOPE]).await.unwrap();
    assert_eq!(cached.token_source, TokenSource::Cache);
    assert_eq!(cached.access_token.secret(), token);
    let posts = auth.token_requests();
    assert_eq!(posts.len(), 1);
    assert_eq!(posts[0].form_value("scope"), Some(VAULT_SCOPE));

    // Direct use of the trait: the expiry is the token's.
    let direct = app.get_token(&[VAULT_SCOPE], None).await.unwrap();
    assert_eq!(direct.token.secret(), token);
    assert_eq!(
        direct.expires_on.unix_timestamp(),
        i64::try_from(cached.expires_on).unwrap()
    );
}

#[tokio::test]
async fn a_refusal_is_a_credential_error_of_azure_core() {
    let auth = authority().await;
    let wrong = builder(&auth, CLIENT_ID, auth.tenant_id())
        .client_credential(ClientCredential::secret("not-the-secret"))
        .build()
        .unwrap();
    let err = wrong.get_token(&[VAULT_SCOPE], None).await.unwrap_err();
    assert_eq!(*err.kind(), azure_core::error::ErrorKind::Credential);
    assert!(format!("{err}").contains("invalid_client"), "{err}");
}

#[tokio::test]
async fn a_managed_identity_authenticates_an_azure_core_pipeline() {
    // The identity endpoint (App Service, plain HTTP as on Azure) and the vault (HTTPS).
    let identity = TestAuthority::builder().https(false).start().await.unwrap();
    let vault = TestAuthority::start().await;
    vault.register_app(AppRegistration::with_secret(CLIENT_ID, SECRET));
    let mi = ManagedIdentityClient::builder(ManagedIdentity::system_assigned())
        .env(EnvLookup::from_pairs([
            (
                "IDENTITY_ENDPOINT".to_string(),
                identity.app_service_endpoint(),
            ),
            (
                "IDENTITY_HEADER".to_string(),
                identity.managed_identity_secret(),
            ),
        ]))
        .build()
        .unwrap();
    let pipeline = pipeline(Arc::new(mi.clone()), vault.http_client());
    let header = get_secret(&pipeline, &vault).await;
    let token = header.strip_prefix("Bearer ").unwrap();
    let claims = identity.verify_access_token(token).unwrap();
    assert_eq!(
        claims["aud"], "https://vault.azure.net",
        "the scope's resource"
    );
    let mi_request = identity
        .requests()
        .into_iter()
        .find(|r| r.path.contains("appservice"))
        .unwrap();
    assert_eq!(
        mi_request.query_value("resource"),
        Some("https://vault.azure.net")
    );

    // More than one scope is refused with a clear message.
    let err = mi
        .get_token(&[VAULT_SCOPE, "https://storage.azure.com/.default"], None)
        .await
        .unwrap_err();
    assert!(format!("{err}").contains("one resource"), "{err}");
}
