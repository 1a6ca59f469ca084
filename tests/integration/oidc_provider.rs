//! Interop: the generic OpenID Connect path (`oidc_authority`) against a real third-party
//! server, `oidc-provider` from npm (panva, pinned 9.13.3 in tests/oidc-provider), on
//! loopback HTTPS with a CA this test makes.
//!
//! Each test starts its own server (`node tests/oidc-provider/server.mjs`) and stops it when
//! done. No browser: the login and consent pages are driven with plain HTTP requests.
//! Node.js and npm are required; without them these tests fail (they never skip).
//! `tests/oidc-provider/install.sh` installs the pinned package (the tests run it too).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use msal_runtime::{
    AuthCodeFlowOptions, AuthenticationResult, Certificate, ClientCredential,
    ConfidentialClientApplication, Error, SilentOptions, TokenSource, Verify,
};
use openssl::asn1::{Asn1Integer, Asn1Time};
use openssl::bn::{BigNum, MsbOption};
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private, Public};
use openssl::rsa::Rsa;
use openssl::sign::Verifier;
use openssl::x509::extension::{
    AuthorityKeyIdentifier, BasicConstraints, ExtendedKeyUsage, KeyUsage, SubjectAlternativeName,
    SubjectKeyIdentifier,
};
use openssl::x509::{X509Builder, X509Name, X509NameBuilder};
use serde_json::{json, Map, Value};
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const REDIRECT_URI: &str = "http://localhost/callback";
const CLIENT_SECRET: &str = "msal-secret-client-password";
/// The resource server.mjs puts client-credentials tokens in (a JWT access token).
const API_RESOURCE: &str = "urn:msal-test:api";
const READY_TIMEOUT: Duration = Duration::from_secs(20);
/// Starts tried before a test fails: on a loaded 2-core machine a node process has been seen
/// (about one run in five) to print nothing at all until killed, while the next start is fine.
const START_ATTEMPTS: usize = 3;

// ---------------------------------------------------------------------------------------
// Keys and certificates
// ---------------------------------------------------------------------------------------

fn rsa_key() -> PKey<Private> {
    PKey::from_rsa(Rsa::generate(2048).expect("RSA key")).expect("PKey")
}

fn x509_name(cn: &str) -> X509Name {
    let mut b = X509NameBuilder::new().unwrap();
    b.append_entry_by_text("CN", cn).unwrap();
    b.build()
}

fn random_serial() -> Asn1Integer {
    let mut bn = BigNum::new().unwrap();
    bn.rand(64, MsbOption::MAYBE_ZERO, false).unwrap();
    bn.to_asn1_integer().unwrap()
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A certificate builder with subject, serial, key and a validity window around now.
fn cert_builder(cn: &str, key: &PKey<Private>) -> X509Builder {
    let mut b = X509Builder::new().unwrap();
    b.set_version(2).unwrap();
    b.set_serial_number(&random_serial()).unwrap();
    b.set_subject_name(&x509_name(cn)).unwrap();
    b.set_pubkey(key).unwrap();
    let now = now_secs() as i64;
    b.set_not_before(&Asn1Time::from_unix(now - 3600).unwrap())
        .unwrap();
    b.set_not_after(&Asn1Time::from_unix(now + 86_400).unwrap())
        .unwrap();
    b
}

/// The files and credentials one server run needs.
struct Pki {
    dir: PathBuf,
    ca_pem: PathBuf,
    server_cert: PathBuf,
    server_key: PathBuf,
    client_jwks: PathBuf,
    /// The private_key_jwt client's key and self-signed certificate.
    client_key_pem: Vec<u8>,
    client_cert_pem: Vec<u8>,
    client_sha1_hex: String,
}

impl Pki {
    fn create() -> Pki {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
            "oidc-provider-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");

        // A CA, and the server's certificate for localhost / 127.0.0.1 signed by it.
        let ca_key = rsa_key();
        let mut b = cert_builder("msal oidc-provider test CA", &ca_key);
        b.set_issuer_name(&x509_name("msal oidc-provider test CA"))
            .unwrap();
        b.append_extension(BasicConstraints::new().critical().ca().build().unwrap())
            .unwrap();
        b.append_extension(
            KeyUsage::new()
                .critical()
                .key_cert_sign()
                .crl_sign()
                .build()
                .unwrap(),
        )
        .unwrap();
        let ski = SubjectKeyIdentifier::new()
            .build(&b.x509v3_context(None, None))
            .unwrap();
        b.append_extension(ski).unwrap();
        b.sign(&ca_key, MessageDigest::sha256()).unwrap();
        let ca = b.build();

        let server_key = rsa_key();
        let mut b = cert_builder("localhost", &server_key);
        b.set_issuer_name(ca.subject_name()).unwrap();
        b.append_extension(BasicConstraints::new().critical().build().unwrap())
            .unwrap();
        b.append_extension(
            KeyUsage::new()
                .critical()
                .digital_signature()
                .key_encipherment()
                .build()
                .unwrap(),
        )
        .unwrap();
        b.append_extension(ExtendedKeyUsage::new().server_auth().build().unwrap())
            .unwrap();
        let san = SubjectAlternativeName::new()
            .dns("localhost")
            .ip("127.0.0.1")
            .build(&b.x509v3_context(Some(&ca), None))
            .unwrap();
        b.append_extension(san).unwrap();
        let aki = AuthorityKeyIdentifier::new()
            .keyid(false)
            .build(&b.x509v3_context(Some(&ca), None))
            .unwrap();
        b.append_extension(aki).unwrap();
        b.sign(&ca_key, MessageDigest::sha256()).unwrap();
        let server = b.build();

        // The private_key_jwt client: a self-signed certificate; the server gets its JWK.
        let client_key = rsa_key();
        let mut b = cert_builder("msal-pkjwt-client", &client_key);
        b.set_issuer_name(&x509_name("msal-pkjwt-client")).unwrap();
        b.sign(&client_key, MessageDigest::sha256()).unwrap();
        let client_cert = b.build();
        let rsa = client_key.rsa().unwrap();
        let jwks = json!({"keys": [{
            "kty": "RSA",
            "use": "sig",
            "n": URL_SAFE_NO_PAD.encode(rsa.n().to_vec()),
            "e": URL_SAFE_NO_PAD.encode(rsa.e().to_vec()),
        }]});
        let client_sha1_hex = client_cert
            .digest(MessageDigest::sha1())
            .unwrap()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();

        let write = |name: &str, bytes: &[u8]| {
            let path = dir.join(name);
            std::fs::write(&path, bytes).expect("write test file");
            path
        };
        Pki {
            ca_pem: write("ca.pem", &ca.to_pem().unwrap()),
            server_cert: write("server.pem", &server.to_pem().unwrap()),
            server_key: write(
                "server-key.pem",
                &server_key.private_key_to_pem_pkcs8().unwrap(),
            ),
            client_jwks: write("client-jwks.json", jwks.to_string().as_bytes()),
            client_key_pem: client_key.private_key_to_pem_pkcs8().unwrap(),
            client_cert_pem: client_cert.to_pem().unwrap(),
            client_sha1_hex,
            dir,
        }
    }
}

// ---------------------------------------------------------------------------------------
// The server process
// ---------------------------------------------------------------------------------------

fn provider_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/oidc-provider")
}

/// Runs install.sh once per test process (it is a no-op when node_modules is current).
fn ensure_installed() {
    static INSTALLED: OnceLock<Result<(), String>> = OnceLock::new();
    let outcome = INSTALLED.get_or_init(|| {
        let out = Command::new("bash")
            .arg(provider_dir().join("install.sh"))
            .output()
            .map_err(|e| format!("cannot run bash tests/oidc-provider/install.sh: {e}"))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "tests/oidc-provider/install.sh failed ({}):\n{}{}",
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ))
        }
    });
    if let Err(e) = outcome {
        panic!("{e}");
    }
}

/// A running oidc-provider; killed when dropped.
struct OidcProvider {
    child: Child,
    stdin: Option<ChildStdin>,
    log: Arc<Mutex<String>>,
    issuer: String,
    ready: Value,
    pki: Pki,
}

impl OidcProvider {
    fn start() -> OidcProvider {
        let mut failures = Vec::new();
        for _ in 0..START_ATTEMPTS {
            match Self::try_start() {
                Ok(server) => return server,
                Err(why) => {
                    eprintln!("oidc-provider start failed, retrying: {why}");
                    failures.push(why);
                }
            }
        }
        panic!(
            "oidc-provider did not start in {START_ATTEMPTS} attempts:\n{}",
            failures.join("\n---\n")
        );
    }

    fn try_start() -> Result<OidcProvider, String> {
        ensure_installed();
        let pki = Pki::create();
        let node = std::env::var("MSAL_TEST_NODE").unwrap_or_else(|_| "node".into());
        let started = Instant::now();
        let mut child = Command::new(&node)
            .arg(provider_dir().join("server.mjs"))
            .args(["--port", "0", "--exit-with-stdin"])
            .arg("--cert")
            .arg(&pki.server_cert)
            .arg("--key")
            .arg(&pki.server_key)
            .arg("--client-jwks")
            .arg(&pki.client_jwks)
            .args(["--client-secret", CLIENT_SECRET])
            .current_dir(provider_dir())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start `{node}` (Node.js is required for this test): {e}")
            });

        let log = Arc::new(Mutex::new(String::new()));
        let mut stderr = child.stderr.take().unwrap();
        let sink = log.clone();
        let stderr_reader = std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = stderr.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        let (tx, rx) = mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            if let Some(Ok(first)) = lines.next() {
                let _ = tx.send(first);
            }
            for _ in lines {}
        });

        let stdin = child.stdin.take();
        let line = match rx.recv_timeout(READY_TIMEOUT) {
            Ok(line) => line,
            Err(e) => {
                let what = match e {
                    mpsc::RecvTimeoutError::Timeout => {
                        format!("did not report ready within {READY_TIMEOUT:?}")
                    }
                    mpsc::RecvTimeoutError::Disconnected => "exited before it was ready".into(),
                };
                let _ = child.kill();
                let status = child.wait();
                let _ = stderr_reader.join();
                return Err(format!(
                    "oidc-provider ({node} tests/oidc-provider/server.mjs) {what} \
                     (exit status {status:?}); its stderr:\n{}",
                    log.lock().unwrap()
                ));
            }
        };
        let ready: Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("oidc-provider's ready line is not JSON ({e}): {line}"));
        let issuer = ready["issuer"].as_str().expect("issuer").to_string();
        assert!(
            issuer.starts_with("https://localhost:"),
            "unexpected issuer {issuer}"
        );
        eprintln!("oidc-provider ready at {issuer} in {:?}", started.elapsed());
        Ok(OidcProvider {
            child,
            stdin,
            log,
            issuer,
            ready,
            pki,
        })
    }

    fn client(&self, which: &str) -> String {
        self.ready["clients"][which]
            .as_str()
            .unwrap_or_else(|| panic!("server.mjs registered no `{which}` client: {}", self.ready))
            .to_string()
    }

    fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// Unwraps, or panics with the error and the server's log.
    fn ok<T>(&self, what: &str, r: Result<T, Error>) -> T {
        r.unwrap_or_else(|e| {
            panic!(
                "{what}: {e} ({e:?})\n--- oidc-provider log ---\n{}",
                self.log()
            )
        })
    }

    fn app(&self, client_id: &str, credential: ClientCredential) -> ConfidentialClientApplication {
        ConfidentialClientApplication::builder(client_id)
            .oidc_authority(&self.issuer)
            .client_credential(credential)
            .verify(Verify::CaBundle(self.pki.ca_pem.clone()))
            .build()
            .expect("build the application")
    }

    fn secret_app(&self) -> ConfidentialClientApplication {
        self.app(
            &self.client("secret"),
            ClientCredential::secret(CLIENT_SECRET),
        )
    }

    /// PS256 with `x5t#S256`.
    fn certificate(&self) -> ClientCredential {
        ClientCredential::certificate(
            Certificate::from_pem(&self.pki.client_key_pem, &self.pki.client_cert_pem, None)
                .expect("certificate from PEM"),
        )
    }

    /// RS256 with `x5t`.
    fn thumbprint_certificate(&self) -> ClientCredential {
        ClientCredential::certificate(
            Certificate::from_pem_with_thumbprint(
                &self.pki.client_key_pem,
                &self.pki.client_sha1_hex,
                None,
            )
            .expect("certificate from key + thumbprint"),
        )
    }

    /// A reqwest client that trusts the test CA and follows no redirects.
    fn http(&self) -> reqwest::Client {
        let pem = std::fs::read(&self.pki.ca_pem).unwrap();
        reqwest::Client::builder()
            .tls_certs_only(reqwest::Certificate::from_pem_bundle(&pem).unwrap())
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap()
    }

    /// Verifies an RS256 JWT with the provider's published keys and returns its claims.
    async fn verified_jwt_claims(&self, jwt: &str) -> Map<String, Value> {
        let jwks: Value = self
            .http()
            .get(format!("{}/jwks", self.issuer))
            .send()
            .await
            .expect("GET /jwks")
            .json()
            .await
            .expect("JWKS JSON");
        let (header, claims) = decode_jwt(jwt);
        assert_eq!(header["alg"], "RS256", "JWT header {header:?}");
        let key = jwks["keys"]
            .as_array()
            .expect("keys")
            .iter()
            .find(|k| k["kid"] == header["kid"])
            .unwrap_or_else(|| panic!("no key {} in {jwks}", header["kid"]));
        let b64 = |v: &Value| URL_SAFE_NO_PAD.decode(v.as_str().unwrap()).unwrap();
        let rsa = Rsa::from_public_components(
            BigNum::from_slice(&b64(&key["n"])).unwrap(),
            BigNum::from_slice(&b64(&key["e"])).unwrap(),
        )
        .unwrap();
        let public: PKey<Public> = PKey::from_rsa(rsa).unwrap();
        let (input, sig) = jwt.rsplit_once('.').unwrap();
        let mut v = Verifier::new(MessageDigest::sha256(), &public).unwrap();
        assert!(
            v.verify_oneshot(&URL_SAFE_NO_PAD.decode(sig).unwrap(), input.as_bytes())
                .unwrap(),
            "the JWT does not verify with oidc-provider's keys"
        );
        claims
    }
}

impl Drop for OidcProvider {
    fn drop(&mut self) {
        self.stdin.take();
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.pki.dir);
    }
}

fn decode_jwt(jwt: &str) -> (Map<String, Value>, Map<String, Value>) {
    let mut parts = jwt.split('.');
    let mut part = || -> Map<String, Value> {
        let bytes = URL_SAFE_NO_PAD
            .decode(parts.next().expect("JWT part"))
            .expect("base64url");
        serde_json::from_slice(&bytes).expect("JWT part JSON")
    };
    let header = part();
    let claims = part();
    (header, claims)
}

// ---------------------------------------------------------------------------------------
// The browser part, over plain HTTP
// ---------------------------------------------------------------------------------------

/// A user agent: a cookie jar (carried by hand), no redirects followed.
struct Browser {
    http: reqwest::Client,
    cookies: Vec<(String, String)>,
    /// The interaction pages shown, in order (`login`, `consent`).
    pages: Vec<String>,
}

fn between<'a>(haystack: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let from = haystack.find(start)? + start.len();
    let len = haystack[from..].find(end)?;
    Some(&haystack[from..from + len])
}

fn html_unescape(s: &str) -> String {
    s.replace("&#x2F;", "/")
        .replace("&#47;", "/")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

impl Browser {
    fn new(server: &OidcProvider) -> Browser {
        Browser {
            http: server.http(),
            cookies: Vec::new(),
            pages: Vec::new(),
        }
    }

    fn keep_cookies(&mut self, resp: &reqwest::Response) {
        for h in resp.headers().get_all(reqwest::header::SET_COOKIE) {
            let h = h.to_str().expect("Set-Cookie is ASCII");
            let mut attrs = h.split(';');
            let Some((name, value)) = attrs.next().and_then(|nv| nv.split_once('=')) else {
                continue;
            };
            let (name, value) = (name.trim().to_string(), value.trim().to_string());
            let deleted = value.is_empty()
                || attrs.any(|a| {
                    let a = a.trim().to_ascii_lowercase();
                    a == "max-age=0" || (a.starts_with("expires=") && a.contains("1970"))
                });
            self.cookies.retain(|(n, _)| *n != name);
            if !deleted {
                self.cookies.push((name, value));
            }
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(n, v)| format!("{n}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// Follows the authorization request through the provider's login and consent pages
    /// until it redirects to the app, and returns that redirect's query parameters.
    async fn sign_in(&mut self, auth_uri: &str, login: &str) -> Vec<(String, String)> {
        let mut url = url::Url::parse(auth_uri).expect("auth_uri is a URL");
        let mut form: Option<Vec<(&str, String)>> = None;
        for _ in 0..20 {
            let req = match form.take() {
                Some(fields) => self.http.post(url.clone()).form(&fields),
                None => self.http.get(url.clone()),
            };
            let resp = req
                .header(reqwest::header::COOKIE, self.cookie_header())
                .send()
                .await
                .unwrap_or_else(|e| panic!("request to {url} failed: {e}"));
            self.keep_cookies(&resp);
            let status = resp.status();
            if status.is_redirection() {
                let location = resp
                    .headers()
                    .get(reqwest::header::LOCATION)
                    .expect("a redirect has a Location")
                    .to_str()
                    .unwrap()
                    .to_string();
                let next = url.join(&location).expect("Location is a URL");
                if next.as_str().starts_with(REDIRECT_URI) {
                    return next.query_pairs().into_owned().collect();
                }
                url = next;
                continue;
            }
            let body = resp.text().await.unwrap_or_default();
            assert!(status.is_success(), "{url} answered HTTP {status}:\n{body}");
            let prompt = between(&body, r#"name="prompt" value=""#, "\"")
                .unwrap_or_else(|| panic!("{url} is not a login or consent page:\n{body}"))
                .to_string();
            let action = between(&body, r#"action=""#, "\"").expect("the page has a form");
            url = url.join(&html_unescape(action)).expect("form action");
            form = Some(match prompt.as_str() {
                "login" => vec![
                    ("prompt", "login".into()),
                    ("login", login.into()),
                    ("password", "correct horse battery staple".into()),
                ],
                "consent" => vec![("prompt", "consent".into())],
                other => panic!("unexpected interaction prompt `{other}`"),
            });
            self.pages.push(prompt);
        }
        panic!(
            "no redirect to {REDIRECT_URI} after 20 steps (pages: {:?})",
            self.pages
        );
    }
}

/// Runs a full sign-in (login + consent pages) for `login` and redeems the code.
async fn sign_in(
    server: &OidcProvider,
    app: &ConfidentialClientApplication,
    login: &str,
) -> AuthenticationResult {
    let flow = server.ok(
        "initiate_auth_code_flow",
        app.initiate_auth_code_flow(
            &["api:read"],
            // oidc-provider keeps offline_access (so issues a refresh token) only with
            // prompt=consent.
            AuthCodeFlowOptions::new(REDIRECT_URI).prompt("consent"),
        )
        .await,
    );
    assert!(
        flow.auth_uri
            .starts_with(&format!("{}/auth?", server.issuer)),
        "{}",
        flow.auth_uri
    );
    let auth_query: Vec<(String, String)> = url::Url::parse(&flow.auth_uri)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect();
    let param = |k: &str| {
        auth_query
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(param("code_challenge_method"), Some("S256"));
    assert_eq!(param("response_type"), Some("code"));
    let mut scope: Vec<&str> = param("scope").unwrap_or_default().split(' ').collect();
    scope.sort_unstable();
    assert_eq!(scope, ["api:read", "offline_access", "openid", "profile"]);

    let mut browser = Browser::new(server);
    let response = browser.sign_in(&flow.auth_uri, login).await;
    assert_eq!(
        browser.pages,
        ["login", "consent"],
        "the sign-in went through both pages"
    );
    let get = |k: &str| {
        response
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
    };
    assert!(
        get("code").is_some(),
        "the redirect carries no code: {response:?}\n{}",
        server.log()
    );
    assert_eq!(get("state").as_deref(), Some(flow.state.as_str()));
    assert_eq!(get("iss").as_deref(), Some(server.issuer.as_str()));

    let result = server.ok(
        "acquire_token_by_auth_code_flow",
        app.acquire_token_by_auth_code_flow(&flow, response.clone())
            .await,
    );

    // The ID token was validated by the library; check what it let through.
    let claims = result.id_token_claims.clone().expect("ID token claims");
    assert_eq!(claims["iss"], server.issuer.as_str());
    assert_eq!(claims["aud"], app.client_id());
    assert_eq!(claims["sub"], login);
    assert_eq!(
        claims["preferred_username"],
        format!("{login}@example.test")
    );
    let nonce_hash: String = openssl::sha::sha256(flow.nonce().as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(claims["nonce"], nonce_hash.as_str());
    assert!(result.id_token.is_some());

    // Redeeming the same response again is refused before any request.
    match app.acquire_token_by_auth_code_flow(&flow, response).await {
        Err(Error::Validation(_)) => {}
        other => panic!("a replayed auth response must be refused, got {other:?}"),
    }
    result
}

// ---------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn client_credentials_with_a_secret_then_from_the_cache() {
    let server = OidcProvider::start();
    let app = server.secret_app();

    let first = server.ok(
        "acquire_token_for_client",
        app.acquire_token_for_client(&["api:read"]).await,
    );
    assert_eq!(first.token_source, TokenSource::IdentityProvider);
    assert_eq!(first.token_type, "Bearer");
    assert_eq!(first.scopes, ["api:read"]);
    assert!(
        (3500..=3600).contains(&first.expires_in()),
        "expires_in {}",
        first.expires_in()
    );
    assert!(first.correlation_id.is_some());
    let claims = server
        .verified_jwt_claims(first.access_token.secret())
        .await;
    assert_eq!(claims["iss"], server.issuer.as_str());
    assert_eq!(claims["client_id"], server.client("secret").as_str());
    assert_eq!(claims["aud"], API_RESOURCE);
    assert_eq!(claims["scope"], "api:read");

    let second = server.ok(
        "acquire_token_for_client (cached)",
        app.acquire_token_for_client(&["api:read"]).await,
    );
    assert_eq!(second.token_source, TokenSource::Cache);
    assert_eq!(
        second.access_token.secret(),
        first.access_token.secret(),
        "the cached token is the one issued"
    );
    assert_eq!(second.expires_on, first.expires_on);
}

#[tokio::test]
async fn client_credentials_with_private_key_jwt_ps256() {
    let server = OidcProvider::start();
    // This client accepts only PS256 assertions: success proves the algorithm.
    let client_id = server.client("private_key_jwt_ps256");
    let app = server.app(&client_id, server.certificate());
    let token = server.ok(
        "acquire_token_for_client (PS256 assertion)",
        app.acquire_token_for_client(&["api:read"]).await,
    );
    assert_eq!(token.token_source, TokenSource::IdentityProvider);
    let claims = server
        .verified_jwt_claims(token.access_token.secret())
        .await;
    assert_eq!(claims["client_id"], client_id.as_str());
    assert_eq!(claims["sub"], client_id.as_str());

    // The same credential on the client that accepts any algorithm.
    let any_alg = server.app(&server.client("private_key_jwt"), server.certificate());
    server.ok(
        "acquire_token_for_client (PS256, any-alg client)",
        any_alg.acquire_token_for_client(&["api:read"]).await,
    );

    // And the check is real: an RS256 assertion is refused by the PS256-only client.
    let wrong_alg = server.app(&client_id, server.thumbprint_certificate());
    match wrong_alg.acquire_token_for_client(&["api:read"]).await {
        Err(Error::Server(e)) => assert_eq!(e.error, "invalid_client", "{e}"),
        other => panic!("an RS256 assertion to a PS256-only client must fail, got {other:?}"),
    }
}

#[tokio::test]
async fn client_credentials_with_private_key_jwt_rs256() {
    let server = OidcProvider::start();
    let client_id = server.client("private_key_jwt_rs256");
    let app = server.app(&client_id, server.thumbprint_certificate());
    let token = server.ok(
        "acquire_token_for_client (RS256 assertion)",
        app.acquire_token_for_client(&["api:write"]).await,
    );
    assert_eq!(token.token_source, TokenSource::IdentityProvider);
    assert_eq!(token.scopes, ["api:write"]);
    let claims = server
        .verified_jwt_claims(token.access_token.secret())
        .await;
    assert_eq!(claims["client_id"], client_id.as_str());

    let wrong_alg = server.app(&client_id, server.certificate());
    match wrong_alg.acquire_token_for_client(&["api:write"]).await {
        Err(Error::Server(e)) => assert_eq!(e.error, "invalid_client", "{e}"),
        other => panic!("a PS256 assertion to an RS256-only client must fail, got {other:?}"),
    }
}

#[tokio::test]
async fn a_wrong_secret_is_invalid_client() {
    let server = OidcProvider::start();
    let app = server.app(
        &server.client("secret"),
        ClientCredential::secret("not-the-secret"),
    );
    match app.acquire_token_for_client(&["api:read"]).await {
        Err(Error::Server(e)) => {
            assert_eq!(e.error, "invalid_client", "{e}");
            assert_eq!(e.status, 401, "{e}");
        }
        other => panic!("a wrong secret must be refused with invalid_client, got {other:?}"),
    }
    // Nothing was cached by the refusal; the right secret still works.
    let good = server.secret_app();
    server.ok(
        "acquire_token_for_client (right secret)",
        good.acquire_token_for_client(&["api:read"]).await,
    );
}

#[tokio::test]
async fn authorization_code_with_pkce_through_login_and_consent() {
    let server = OidcProvider::start();
    let app = server.secret_app();
    let result = sign_in(&server, &app, "alice").await;

    assert_eq!(result.token_source, TokenSource::IdentityProvider);
    assert!(!result.access_token.secret().is_empty());
    assert!(
        result.scopes.iter().any(|s| s == "api:read"),
        "{:?}",
        result.scopes
    );
    assert!(result.expires_in() > 3000, "{}", result.expires_in());
    let account = result.account.clone().expect("the signed-in account");
    assert_eq!(account.username, "alice@example.test");
    assert_eq!(account.home_account_id, "alice");
    assert_eq!(account.environment, "localhost");

    let accounts = server.ok("get_accounts", app.get_accounts(None).await);
    assert_eq!(accounts, std::slice::from_ref(&account));
    let by_name = server.ok(
        "get_accounts(username)",
        app.get_accounts(Some("ALICE@example.test")).await,
    );
    assert_eq!(by_name, std::slice::from_ref(&account));

    // The token just issued is now served from the cache.
    let cached = server
        .ok(
            "acquire_token_silent_with_error",
            app.acquire_token_silent_with_error(&["api:read"], &account, SilentOptions::default())
                .await,
        )
        .expect("a cached token");
    assert_eq!(cached.token_source, TokenSource::Cache);
    assert_eq!(cached.access_token.secret(), result.access_token.secret());
}

#[tokio::test]
async fn refresh_token_through_acquire_token_silent() {
    let server = OidcProvider::start();
    let app = server.secret_app();
    let first = sign_in(&server, &app, "bob").await;

    let accounts = server.ok("get_accounts", app.get_accounts(None).await);
    assert_eq!(accounts.len(), 1, "{accounts:?}");
    let refreshed = server
        .ok(
            "acquire_token_silent_with_error(force_refresh)",
            app.acquire_token_silent_with_error(
                &["api:read"],
                &accounts[0],
                SilentOptions::default().force_refresh(true),
            )
            .await,
        )
        .expect("a token from the refresh token");
    assert_eq!(refreshed.token_source, TokenSource::IdentityProvider);
    assert_ne!(
        refreshed.access_token.secret(),
        first.access_token.secret(),
        "a new access token"
    );
    assert!(refreshed.expires_in() > 3000);
    assert_eq!(
        refreshed
            .account
            .as_ref()
            .map(|a| a.home_account_id.as_str()),
        Some("bob")
    );

    // The refreshed token replaced the old one in the cache.
    let cached = server
        .ok(
            "acquire_token_silent_with_error (cached)",
            app.acquire_token_silent_with_error(
                &["api:read"],
                &accounts[0],
                SilentOptions::default(),
            )
            .await,
        )
        .expect("a cached token");
    assert_eq!(cached.token_source, TokenSource::Cache);
    assert_eq!(
        cached.access_token.secret(),
        refreshed.access_token.secret()
    );

    // And refreshing again works (the refresh token kept in the cache is still good).
    let again = server
        .ok(
            "acquire_token_silent_with_error(force_refresh) again",
            app.acquire_token_silent_with_error(
                &["api:read"],
                &accounts[0],
                SilentOptions::default().force_refresh(true),
            )
            .await,
        )
        .expect("a token from the refresh token");
    assert_eq!(again.token_source, TokenSource::IdentityProvider);
    assert_ne!(again.access_token.secret(), refreshed.access_token.secret());
}

#[tokio::test]
async fn authorization_code_with_a_private_key_jwt_client() {
    let server = OidcProvider::start();
    let app = server.app(
        &server.client("private_key_jwt_ps256"),
        server.certificate(),
    );
    let result = sign_in(&server, &app, "carol").await;
    assert_eq!(result.token_source, TokenSource::IdentityProvider);
    let account = result.account.expect("the signed-in account");
    assert_eq!(account.username, "carol@example.test");
    let accounts = server.ok("get_accounts", app.get_accounts(None).await);
    assert_eq!(accounts, [account]);
}

/// A private_key_jwt client makes two token requests a moment apart (here two app tokens;
/// a sign-in followed by a refresh is the same). OpenID Connect Core §9 says a client
/// assertion "MUST only be used once" and oidc-provider enforces it (its `jti` replay
/// check), so each request needs a freshly signed assertion: reusing one for 540 s, as
/// MSAL does for Entra (which tolerates it), gets the second request refused with
/// `invalid_client` ("client assertion tokens must only be used once").
#[tokio::test]
async fn private_key_jwt_client_makes_more_than_one_request() {
    let server = OidcProvider::start();
    let app = server.app(&server.client("private_key_jwt"), server.certificate());
    server.ok(
        "acquire_token_for_client (api:read)",
        app.acquire_token_for_client(&["api:read"]).await,
    );
    server.ok(
        "acquire_token_for_client (api:write), the second request with an assertion",
        app.acquire_token_for_client(&["api:write"]).await,
    );
}
