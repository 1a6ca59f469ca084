//! The sign-in page (account picker, consent, cancel) and the end-session endpoint.

use msal_testkit::{AppRegistration, TestAuthority, TestUser};
use reqwest::redirect::Policy;
use std::collections::HashMap;

const CLIENT_ID: &str = "5f0c2d3e-0000-4000-8000-0000000000c7";
const REDIRECT: &str = "http://localhost:8400/callback";

async fn setup() -> (TestAuthority, reqwest::Client) {
    let authority = TestAuthority::builder()
        .https(false)
        .app(AppRegistration::with_secret(CLIENT_ID, "s").redirect_uri(REDIRECT))
        .user(TestUser::new("alice@contoso.onmicrosoft.com"))
        .user(TestUser::new("bob@contoso.onmicrosoft.com"))
        .sign_in_page(true)
        .start()
        .await
        .unwrap();
    let client = reqwest::Client::builder()
        .redirect(Policy::none())
        .no_proxy()
        .build()
        .unwrap();
    (authority, client)
}

fn authorize_url(authority: &TestAuthority, extra: &[(&str, &str)]) -> String {
    let mut params = vec![
        ("client_id", CLIENT_ID),
        ("response_type", "code"),
        ("redirect_uri", REDIRECT),
        ("scope", "User.Read openid profile offline_access"),
        ("state", "st-1"),
        ("client_info", "1"),
    ];
    params.extend_from_slice(extra);
    let q = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params)
        .finish();
    format!(
        "{}/oauth2/v2.0/authorize?{q}",
        authority.authority(authority.tenant_id())
    )
}

fn hidden(page: &str, name: &str) -> String {
    let key = format!("name=\"{name}\" value=\"");
    let start = page.find(&key).expect("hidden field") + key.len();
    page[start..][..page[start..].find('"').unwrap()].to_string()
}

fn location_params(r: &reqwest::Response) -> HashMap<String, String> {
    let loc = r.headers()["location"].to_str().unwrap();
    let url = url::Url::parse(loc).unwrap();
    assert!(loc.starts_with(REDIRECT), "{loc}");
    url.query_pairs().into_owned().collect()
}

#[tokio::test]
async fn the_page_picks_a_user_and_asks_for_consent() {
    let (authority, client) = setup().await;
    let url = authorize_url(&authority, &[("login_hint", "bob@contoso.onmicrosoft.com")]);
    let r = client.get(&url).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let page = r.text().await.unwrap();
    assert!(page.contains("lang=\"en\"") && page.contains("<title>Sign in to your account"));
    assert!(page.contains("alice@contoso.onmicrosoft.com"));
    assert!(page.contains("value=\"bob@contoso.onmicrosoft.com\" checked"));
    assert!(page.contains("<code>User.Read</code>") && page.contains("id=\"cancel\""));
    let ctx = hidden(&page, "ctx");
    let post = url.split('?').next().unwrap().to_string();

    // Accept as alice (not the hinted user): a code for alice comes back with the state.
    let r = client
        .post(&post)
        .form(&[
            ("ctx", ctx.as_str()),
            ("username", "alice@contoso.onmicrosoft.com"),
            ("action", "accept"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 302);
    let back = location_params(&r);
    assert_eq!(back["state"], "st-1");
    assert!(back["code"].starts_with("0.A"));
    let token = client
        .post(format!(
            "{}/oauth2/v2.0/token",
            authority.authority(authority.tenant_id())
        ))
        .form(&[
            ("client_id", CLIENT_ID),
            ("client_secret", "s"),
            ("grant_type", "authorization_code"),
            ("code", back["code"].as_str()),
            ("redirect_uri", REDIRECT),
            ("scope", "User.Read openid profile offline_access"),
        ])
        .send()
        .await
        .unwrap()
        .json::<serde_json::Value>()
        .await
        .unwrap();
    let claims = authority
        .verify_access_token(token["access_token"].as_str().unwrap())
        .unwrap();
    assert_eq!(
        claims["preferred_username"],
        "alice@contoso.onmicrosoft.com"
    );

    // A page is answered once.
    let r = client
        .post(&post)
        .form(&[("ctx", ctx.as_str()), ("action", "accept")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("expired or was already used"));
}

#[tokio::test]
async fn cancel_unknown_user_prompt_none_and_form_post() {
    let (authority, client) = setup().await;
    let url = authorize_url(&authority, &[]);
    let post = url.split('?').next().unwrap().to_string();
    let page = client.get(&url).send().await.unwrap().text().await.unwrap();
    let r = client
        .post(&post)
        .form(&[("ctx", hidden(&page, "ctx").as_str()), ("action", "cancel")])
        .send()
        .await
        .unwrap();
    let back = location_params(&r);
    assert_eq!(back["error"], "access_denied");
    assert_eq!(back["state"], "st-1");

    // An unknown user shows the page again with a note.
    let page = client.get(&url).send().await.unwrap().text().await.unwrap();
    let r = client
        .post(&post)
        .form(&[
            ("ctx", hidden(&page, "ctx").as_str()),
            ("username", "mallory@evil.example"),
            ("action", "accept"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("Pick one of the accounts"));

    let r = client
        .get(authorize_url(&authority, &[("prompt", "none")]))
        .send()
        .await
        .unwrap();
    assert_eq!(location_params(&r)["error"], "interaction_required");

    // form_post: the answer is the auto-submitting form.
    let url = authorize_url(&authority, &[("response_mode", "form_post")]);
    let page = client.get(&url).send().await.unwrap().text().await.unwrap();
    let r = client
        .post(&post)
        .form(&[
            ("ctx", hidden(&page, "ctx").as_str()),
            ("username", "bob@contoso.onmicrosoft.com"),
            ("action", "accept"),
        ])
        .send()
        .await
        .unwrap();
    let page = r.text().await.unwrap();
    assert!(page.contains("hiddenform") && page.contains(&format!("action=\"{REDIRECT}\"")));
    assert_eq!(hidden(&page, "state"), "st-1");

    // Scripted sign-in (TestAuthority::sign_in) bypasses the page.
    let params = authority
        .sign_in(
            &authorize_url(&authority, &[]),
            "bob@contoso.onmicrosoft.com",
        )
        .await
        .unwrap();
    assert!(params.iter().any(|(k, _)| k == "code"));
}

#[tokio::test]
async fn end_session_redirects_only_to_registered_uris() {
    let (authority, client) = setup().await;
    let meta: serde_json::Value = client
        .get(format!(
            "{}/v2.0/.well-known/openid-configuration",
            authority.authority(authority.tenant_id())
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let end = meta["end_session_endpoint"].as_str().unwrap().to_string();

    let r = client
        .get(&end)
        .query(&[("post_logout_redirect_uri", REDIRECT), ("state", "x y")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 302);
    assert_eq!(
        r.headers()["location"].to_str().unwrap(),
        format!("{REDIRECT}?state=x+y")
    );
    // Narrowed to a named app; POST works too.
    let r = client
        .post(&end)
        .form(&[
            ("post_logout_redirect_uri", REDIRECT),
            ("client_id", CLIENT_ID),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 302);

    let r = client
        .get(&end)
        .query(&[("post_logout_redirect_uri", "https://evil.example/")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.headers().get("location").is_none());
    assert!(r.text().await.unwrap().contains("not registered"));
    let r = client
        .get(&end)
        .query(&[
            ("post_logout_redirect_uri", REDIRECT),
            ("client_id", "someone-else"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);

    let r = client.get(&end).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("You signed out"));
}
