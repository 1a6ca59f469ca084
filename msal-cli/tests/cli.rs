//! The `msal` command, run as a process: diagnostics, tokens from the loopback test
//! authority, cache listing, exit codes.

use msal_testkit::{AppRegistration, TestAuthority};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const CLIENT_ID: &str = "a0b1c2d3-0000-4000-8000-00000000c11e";
const SECRET: &str = "cli-s3cr3t-value";

fn msal(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_msal"));
    cmd.args(args)
        .env_remove("MSAL_PROFILE")
        // Belt and braces: nothing here may probe the Azure metadata address.
        .env(
            "MSAL_IMDS_ENDPOINT",
            "http://127.0.0.1:9/metadata/instance/compute",
        );
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("the msal binary runs")
}

/// Runs the command off the async runtime, so the test authority keeps serving.
async fn msal_async(args: Vec<String>, env: Vec<(String, String)>) -> Output {
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        msal(&args, &env)
    })
    .await
    .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}
fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn temp_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("msal-cli-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn repo_file(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(rel)
}

#[test]
fn the_example_config_is_clean() {
    let o = msal(
        &["check", repo_file("msal.toml.example").to_str().unwrap()],
        &[],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("ok, 3 app(s)"), "{out}");
    for app in ["orders_daemon", "orders_web", "orders_api"] {
        assert!(out.contains(app), "{out}");
    }
    // The staging profile is valid too.
    let o = msal(
        &[
            "check",
            repo_file("msal.toml.example").to_str().unwrap(),
            "--profile",
            "staging",
        ],
        &[],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("profile: staging"));
}

/// Without a path, `msal check` finds msal.toml as `#[msal_app]` without `config` does:
/// from the working directory up to the Cargo workspace root, and never above it.
#[test]
fn check_without_a_path_finds_the_workspace_file() {
    let dir = temp_dir();
    let member = dir.join("repo/services/orders");
    std::fs::create_dir_all(&member).unwrap();
    std::fs::write(
        dir.join("repo/Cargo.toml"),
        "[workspace]\nmembers = [\"services/*\"]\n",
    )
    .unwrap();
    std::fs::write(member.join("Cargo.toml"), "[package]\nname = \"orders\"\n").unwrap();
    // Above the workspace root: never used.
    std::fs::copy(repo_file("msal.toml.example"), dir.join("msal.toml")).unwrap();
    let run = |cwd: &Path| {
        Command::new(env!("CARGO_BIN_EXE_msal"))
            .arg("check")
            .current_dir(cwd)
            .env_remove("MSAL_PROFILE")
            .output()
            .unwrap()
    };
    let o = run(&member);
    assert_eq!(o.status.code(), Some(2), "{}", stdout(&o));
    assert_eq!(
        stderr(&o).trim_end(),
        "error: no msal.toml found; looked for `msal.toml`, `../msal.toml`, `../../msal.toml` \
         (up to the workspace root, whose Cargo.toml has [workspace]); \
         name the file on the command line"
    );
    // At the workspace root: found from the member, named relative to it.
    std::fs::rename(dir.join("msal.toml"), dir.join("repo/msal.toml")).unwrap();
    let o = run(&member);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).starts_with("../../msal.toml: ok, "),
        "{}",
        stdout(&o)
    );
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn the_example_is_the_reference_config() {
    let example = std::fs::read_to_string(repo_file("msal.toml.example")).unwrap();
    let reference = std::fs::read_to_string(repo_file("msal-config/reference.toml")).unwrap();
    let body = |s: &str, skip: usize| s.lines().skip(skip).collect::<Vec<_>>().join("\n");
    assert_eq!(
        body(&example, 4),
        body(&reference, 1),
        "msal.toml.example drifted from msal-config/reference.toml"
    );
}

const TEN_MISTAKES: &str = r#"[defaults]
timeout_secs = 0

[apps.daemon]
client_id = "not-a-guid"
authority = "http://login.microsoftonline.com/contoso.onmicrosoft.com"
credential = { kind = "secret", value = "hunter2" }
grants = ["client_credentials", "implicit"]
scopes.graph = ["https://graph.microsoft.com/.default", "User.Read"]
clinet_capabilities = ["cp1"]

[apps.web]
client_id = "00000000-0000-0000-0000-000000000002"
authority = "https://login.microsoftonline.com/contoso.onmicrosoft.com"
credential = { kind = "secret", env = "WEB_SECRET" }
grants = ["authorization_code"]
scopes.user = ["User.Read", "User.Read"]
scopes.empty = []
"#;

#[test]
fn ten_mistakes_are_ten_errors_on_their_lines() {
    let dir = temp_dir();
    let path = dir.join("msal.toml");
    std::fs::write(&path, TEN_MISTAKES).unwrap();
    let o = msal(&["check", path.to_str().unwrap()], &[]);
    assert_eq!(o.status.code(), Some(2), "{}", stdout(&o));
    let err = stderr(&o);
    assert!(err.contains("has 10 problems"), "{err}");
    // The inline secret's line is quoted with the value masked.
    assert!(!err.contains("hunter2"), "{err}");
    assert!(err.contains(r#"value = "*******""#), "{err}");
    let p = path.display().to_string();
    // timeout, client id, http authority, inline secret, unknown grant, mixed .default set,
    // misspelled key, missing redirect_uri, duplicate scope, empty set.
    let mut lines: Vec<usize> = err
        .lines()
        .filter_map(|l| l.strip_prefix(&format!("{p}:")))
        .filter(|l| l.contains(": error:"))
        .map(|l| l.split(':').next().unwrap().parse().unwrap())
        .collect();
    lines.sort_unstable();
    assert_eq!(lines.len(), 10, "{err}");
    for expected in [2, 5, 6, 7, 8, 9, 10, 16, 17, 18] {
        assert!(
            lines.contains(&expected),
            "no error on line {expected}: {err}"
        );
    }
    assert!(err.contains("did you mean `client_capabilities`"), "{err}");
}

#[test]
fn unknown_app_suggests_the_right_one() {
    let o = msal(
        &[
            "cache",
            "show",
            "--config",
            repo_file("msal.toml.example").to_str().unwrap(),
            "--app",
            "orders_deamon",
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("did you mean `orders_daemon`"),
        "{}",
        stderr(&o)
    );
}

fn loopback_config(auth: &TestAuthority, dir: &Path, secret_var: &str) -> PathBuf {
    let path = dir.join("msal.toml");
    std::fs::write(
        &path,
        format!(
            r#"[apps.daemon]
client_id = "{CLIENT_ID}"
authority = "{authority}"
instance_discovery = false
credential = {{ kind = "secret", env = "{secret_var}" }}
grants = ["client_credentials"]
scopes.graph = ["https://graph.microsoft.com/.default"]
token_cache = {{ kind = "file", path = "cache.json" }}
"#,
            authority = auth.authority(auth.tenant_id()),
        ),
    )
    .unwrap();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_then_cache_show() {
    let auth = TestAuthority::start().await;
    auth.register_app(AppRegistration::with_secret(CLIENT_ID, SECRET));
    let dir = temp_dir();
    let config = loopback_config(&auth, &dir, "CLI_TEST_SECRET");
    let ca = auth.ca_path().display().to_string();
    let base = |json: bool| {
        let mut a = vec![
            "token".to_string(),
            "--config".into(),
            config.display().to_string(),
            "--app".into(),
            "daemon".into(),
            "--scopes".into(),
            "graph".into(),
            "--ca-bundle".into(),
            ca.clone(),
        ];
        if json {
            a.push("--json".into());
        }
        a
    };
    let env = vec![("CLI_TEST_SECRET".to_string(), SECRET.to_string())];

    let o = msal_async(base(false), env.clone()).await;
    assert!(o.status.success(), "{}", stderr(&o));
    let token = stdout(&o).trim().to_string();
    let claims = auth
        .verify_access_token(&token)
        .expect("a token the authority signed");
    assert_eq!(
        claims["appid"].as_str().or(claims["azp"].as_str()),
        Some(CLIENT_ID)
    );
    assert_eq!(auth.token_requests().len(), 1);

    // Second process: served from the file cache, as JSON.
    let o = msal_async(base(true), env.clone()).await;
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).expect("JSON output");
    assert_eq!(v["token_source"], "cache");
    assert_eq!(v["access_token"], token.as_str());
    assert_eq!(v["token_type"], "Bearer");
    assert!(v["expires_in"].as_u64().unwrap() > 0);
    assert_eq!(auth.token_requests().len(), 1, "no second request");

    // The cache listing never shows the token.
    let o = msal_async(
        vec![
            "cache".into(),
            "show".into(),
            "--config".into(),
            config.display().to_string(),
            "--app".into(),
            "daemon".into(),
        ],
        vec![],
    )
    .await;
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("AccessToken"), "{out}");
    assert!(
        out.contains("https://graph.microsoft.com/.default"),
        "{out}"
    );
    assert!(out.contains("<redacted>"), "{out}");
    assert!(!out.contains(&token), "the token leaked: {out}");
    std::fs::remove_dir_all(dir).ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exit_codes_tell_refusal_network_and_credential_apart() {
    let auth = TestAuthority::start().await;
    auth.register_app(AppRegistration::with_secret(CLIENT_ID, SECRET));
    let dir = temp_dir();
    let config = loopback_config(&auth, &dir, "CLI_TEST_SECRET_2");
    let args = |config: &Path| -> Vec<String> {
        [
            "token",
            "--config",
            config.to_str().unwrap(),
            "--app",
            "daemon",
            "--scopes",
            "graph",
            "--ca-bundle",
            auth.ca_path().to_str().unwrap(),
        ]
        .map(String::from)
        .to_vec()
    };

    // A wrong secret: the authority refuses (3); its error is shown, the secret is not.
    let wrong = "definitely-not-the-secret";
    let o = msal_async(
        args(&config),
        vec![("CLI_TEST_SECRET_2".into(), wrong.into())],
    )
    .await;
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(stderr(&o).contains("invalid_client"), "{}", stderr(&o));
    assert!(!stderr(&o).contains(wrong));
    assert!(!stdout(&o).contains(wrong));

    // The secret's variable is unset: a credential problem (5) that names it.
    let o = msal_async(args(&config), vec![]).await;
    assert_eq!(o.status.code(), Some(5), "{}", stderr(&o));
    assert!(stderr(&o).contains("CLI_TEST_SECRET_2"), "{}", stderr(&o));

    // Nothing listens: a network failure (4).
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let text = std::fs::read_to_string(&config)
        .unwrap()
        .replace(&format!(":{}/", auth.port()), &format!(":{closed}/"));
    let dead = dir.join("dead.toml");
    std::fs::write(&dead, text).unwrap();
    let o = msal_async(
        args(&dead),
        vec![("CLI_TEST_SECRET_2".into(), SECRET.into())],
    )
    .await;
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));

    // An unknown scope set is a usage error (2).
    let mut a = args(&config);
    a[6] = "grpah".into();
    let o = msal_async(a, vec![("CLI_TEST_SECRET_2".into(), SECRET.into())]).await;
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("graph"));
    std::fs::remove_dir_all(dir).ok();
}

/// The shared authority table (msal-config/tests/authorities.tsv): every string gets the
/// same verdict from `msal check`, the runtime builder and the config loader.
#[test]
fn authority_verdicts_agree_across_entry_points() {
    use msal_runtime::{ClientCredential, ConfidentialClientApplication};
    let table: Vec<(&str, &str)> = include_str!("../../msal-config/tests/authorities.tsv")
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| l.split_once('\t').unwrap())
        .collect();
    assert!(table.len() >= 40);

    // One file, one app per row; `validate_authority = false` so that only the URL model
    // speaks (an unknown host is a separate, config-only rule).
    let app = |i: usize, input: &str| {
        format!(
            "[apps.a{i}]\nclient_id = \"{CLIENT_ID}\"\nvalidate_authority = false\n\
             authority = {input:?}\ncredential = {{ kind = \"secret\", env = \"S\" }}\n\
             grants = [\"authorization_code\"]\nredirect_uri = \"http://localhost:8400/cb\"\n\
             scopes.s = [\"User.Read\"]\n\n"
        )
    };
    let mut src = String::new();
    let mut authority_line = Vec::new();
    for (i, (input, _)) in table.iter().enumerate() {
        authority_line.push(src.lines().count() + 4);
        src.push_str(&app(i, input));
    }
    let dir = temp_dir();
    let path = dir.join("msal.toml");
    std::fs::write(&path, &src).unwrap();
    let check = msal(&["check", path.to_str().unwrap()], &[]);
    let report = stderr(&check);
    let env = |k: &str| (k == "S").then(|| "secret".to_string());

    let mut disagreements = Vec::new();
    for (i, (input, want)) in table.iter().enumerate() {
        let want_ok = !want.starts_with("error");
        let flagged = report.contains(&format!("msal.toml:{}:", authority_line[i]));
        let built = ConfidentialClientApplication::builder(CLIENT_ID)
            .authority(*input)
            .client_credential(ClientCredential::secret("s"))
            .build();
        // The loader checks a whole file: give it one with just this app.
        let loaded =
            msal_runtime::config::resolve_app(&path, &app(i, input), &format!("a{i}"), &env);
        let verdict = |a: &msal_runtime::Authority| format!("{} {} {}", a.kind(), a.tenant(), a);
        let (built_ok, loaded_ok) = (built.is_ok(), loaded.is_ok());
        if flagged == want_ok || built_ok != want_ok || loaded_ok != want_ok {
            disagreements.push(format!(
                "{input:?} (want {want}): check flagged={flagged} builder ok={built_ok} loader ok={loaded_ok}"
            ));
            continue;
        }
        if let (Ok(app), Ok(cfg)) = (built, loaded) {
            for (who, got) in [
                ("builder", verdict(app.authority())),
                (
                    "loader",
                    verdict(
                        cfg.authority
                            .as_ref()
                            .expect("a secret app has an authority"),
                    ),
                ),
            ] {
                if got != *want {
                    disagreements.push(format!("{input:?}: {who} says `{got}`, want `{want}`"));
                }
            }
        }
    }
    assert!(
        disagreements.is_empty(),
        "{}\n--- msal check said:\n{report}",
        disagreements.join("\n")
    );
    assert!(!check.status.success(), "the file has invalid authorities");
}

// ---- secretless apps: managed identity, workload identity -----------------------------

fn vault_token_args(config: &Path, app: &str) -> Vec<String> {
    [
        "token",
        "--config",
        &config.display().to_string(),
        "--app",
        app,
        "--scopes",
        "vault",
        "--json",
    ]
    .map(str::to_string)
    .to_vec()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn managed_identity_check_token_and_cache_show() {
    let auth = TestAuthority::builder()
        .https(false)
        .start()
        .await
        .expect("start the test authority");
    let uami = msal_testkit::ManagedIdentityRecord::new("cli-identity");
    auth.add_user_assigned_identity(uami.clone());
    let dir = temp_dir();
    let config = dir.join("msal.toml");
    std::fs::write(
        &config,
        format!(
            r#"[defaults]
authority = "https://login.microsoftonline.com/contoso.onmicrosoft.com"

[apps.job]
credential = {{ kind = "managed_identity", client_id = "{}" }}
scopes.vault = ["https://vault.azure.net/.default"]
token_cache = {{ kind = "file", path = "cache.json" }}
"#,
            uami.client_id
        ),
    )
    .unwrap();

    let o = msal(&["check", config.to_str().unwrap()], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains(&format!(
            "job: user-assigned managed identity client_id {}, source detected at run time (managed_identity credential), grants [client_credentials]",
            uami.client_id
        )),
        "{out}"
    );

    // App Service, imitated by the test authority: the process environment selects it.
    let env = vec![
        ("IDENTITY_ENDPOINT".to_string(), auth.app_service_endpoint()),
        (
            "IDENTITY_HEADER".to_string(),
            auth.managed_identity_secret(),
        ),
    ];
    let o = msal_async(vault_token_args(&config, "job"), env.clone()).await;
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).expect("JSON output");
    assert_eq!(v["token_source"], "identity_provider");
    let token = v["access_token"].as_str().unwrap().to_string();
    let reqs = auth.managed_identity_requests();
    assert_eq!(reqs.len(), 1);
    // The resource is the scope without `/.default`, and the user-assigned id is selected.
    assert_eq!(
        reqs[0].query_value("resource"),
        Some("https://vault.azure.net")
    );
    assert_eq!(
        reqs[0].query_value("client_id"),
        Some(uami.client_id.as_str())
    );

    // A second process: from the file cache.
    let o = msal_async(vault_token_args(&config, "job"), env).await;
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["token_source"], "cache");
    assert_eq!(auth.managed_identity_requests().len(), 1);

    let o = msal(
        &[
            "cache",
            "show",
            "--config",
            config.to_str().unwrap(),
            "--app",
            "job",
        ],
        &[],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains(&format!("cached as {}", uami.client_id)),
        "{out}"
    );
    assert!(out.contains("target=\"https://vault.azure.net\""), "{out}");
    assert!(out.contains("realm=managed_identity"), "{out}");
    assert!(out.contains("1 entry"), "{out}");
    assert!(!out.contains(&token), "the token leaked: {out}");

    // A managed identity app with an authority of its own is refused like the macro refuses it.
    let bad = dir.join("bad.toml");
    std::fs::write(
        &bad,
        "[apps.job]\ncredential = { kind = \"managed_identity\" }\nauthority = \"https://login.microsoftonline.com/contoso.com\"\nscopes.vault = [\"https://vault.azure.net/.default\"]\n",
    )
    .unwrap();
    let o = msal(&["check", bad.to_str().unwrap()], &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("E0413-not-for-managed-identity"),
        "{}",
        stderr(&o)
    );
    std::fs::remove_dir_all(dir).ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workload_identity_from_the_azure_variables() {
    const ISSUER: &str = "https://oidc.prod-aks.example/cluster-cli/";
    const SUBJECT: &str = "system:serviceaccount:orders:cli";
    const WI_CLIENT: &str = "7d0c1d2e-0000-4000-8000-0000000c1f01";
    let auth = TestAuthority::start().await;
    auth.register_app(AppRegistration {
        client_id: WI_CLIENT.into(),
        ..Default::default()
    });
    auth.add_federated_credential(
        WI_CLIENT,
        msal_testkit::FederatedCredential::new(ISSUER, SUBJECT),
    );
    let dir = temp_dir();
    let token_file = dir.join("azure-identity-token");
    std::fs::write(
        &token_file,
        auth.issue_federated_token(
            ISSUER,
            SUBJECT,
            msal_testkit::managed_identity::TOKEN_EXCHANGE_AUDIENCE,
            3600,
        ),
    )
    .unwrap();
    let config = dir.join("msal.toml");
    std::fs::write(
        &config,
        "[apps.pod]\ncredential = { kind = \"workload_identity\" }\ninstance_discovery = false\nscopes.vault = [\"https://vault.azure.net/.default\"]\n",
    )
    .unwrap();
    let o = msal(&["check", config.to_str().unwrap()], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("pod: client from AZURE_CLIENT_ID (workload_identity credential)"),
        "{}",
        stdout(&o)
    );

    let mut args = vault_token_args(&config, "pod");
    args.extend(["--ca-bundle".into(), auth.ca_path().display().to_string()]);
    let env = vec![
        ("AZURE_CLIENT_ID".to_string(), WI_CLIENT.to_string()),
        ("AZURE_TENANT_ID".to_string(), auth.tenant_id().to_string()),
        (
            "AZURE_AUTHORITY_HOST".to_string(),
            auth.base_url().to_string(),
        ),
        (
            "AZURE_FEDERATED_TOKEN_FILE".to_string(),
            token_file.display().to_string(),
        ),
    ];
    let o = msal_async(args.clone(), env.clone()).await;
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let claims = auth
        .verify_access_token(v["access_token"].as_str().unwrap())
        .expect("a token the authority signed");
    assert_eq!(
        claims["appid"].as_str().or(claims["azp"].as_str()),
        Some(WI_CLIENT)
    );
    let reqs = auth.token_requests();
    assert_eq!(reqs.len(), 1);
    assert_eq!(
        reqs[0].form_value("client_assertion_type"),
        Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
    );

    // Without AZURE_CLIENT_ID the error names it (a credential problem: exit code 5).
    let o = msal_async(args, env[1..].to_vec()).await;
    assert_eq!(o.status.code(), Some(5), "{}", stderr(&o));
    assert!(stderr(&o).contains("AZURE_CLIENT_ID"), "{}", stderr(&o));
    std::fs::remove_dir_all(dir).ok();
}

/// Names of the files in `dir`, sorted.
fn listing(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

fn cache_show(config: &Path) -> Output {
    msal(
        &[
            "cache",
            "show",
            "--config",
            config.to_str().unwrap(),
            "--app",
            "daemon",
        ],
        &[],
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cache_show_only_reads_and_reports_an_unreadable_file() {
    let auth = TestAuthority::start().await;
    let dir = temp_dir();
    let config = loopback_config(&auth, &dir, "CLI_TEST_SECRET_3");
    let cache = dir.join("cache.json");

    // No file yet: said so, and nothing is created.
    let before = listing(&dir);
    let o = cache_show(&config);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("no cache file"), "{}", stdout(&o));
    assert_eq!(listing(&dir), before);

    // A file that does not parse (perhaps one another process is writing): reported,
    // non-zero, and left exactly where and as it is.
    let half = br#"{"AccessToken": {"k": {"credential_type": "AccessTo"#;
    std::fs::write(&cache, half).unwrap();
    let before = listing(&dir);
    let o = cache_show(&config);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    let err = stderr(&o);
    assert!(
        err.contains("cache.json") && err.contains("not valid JSON"),
        "{err}"
    );
    assert!(!stdout(&o).contains("0 entries"), "{}", stdout(&o));
    assert_eq!(listing(&dir), before, "nothing renamed, created or removed");
    assert_eq!(std::fs::read(&cache).unwrap(), half);

    // While another process holds the MSAL extensions' lock, a good file is shown at once
    // and the other's lock file is left alone.
    std::fs::write(&cache, "{}").unwrap();
    let lockfile = dir.join("cache.json.lockfile");
    std::fs::write(&lockfile, "4242 python").unwrap();
    let before = listing(&dir);
    let o = cache_show(&config);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("0 entries"), "{}", stdout(&o));
    assert_eq!(listing(&dir), before);
    assert_eq!(std::fs::read_to_string(&lockfile).unwrap(), "4242 python");
    std::fs::remove_dir_all(dir).ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn untrusted_text_is_printed_with_control_characters_escaped() {
    let auth = TestAuthority::start().await;
    auth.register_app(AppRegistration::with_secret(CLIENT_ID, SECRET));
    let dir = temp_dir();
    let config = loopback_config(&auth, &dir, "CLI_TEST_SECRET_4");

    // A cached username that would clear the screen and retitle the terminal.
    let evil = "mallory\u{1b}[2J\u{1b}]0;owned\u{7}@contoso.com";
    let account = serde_json::json!({
        "home_account_id": "uid.utid",
        "environment": "login.microsoftonline.com",
        "realm": "utid",
        "local_account_id": "uid",
        "username": evil,
        "authority_type": "MSSTS",
    });
    let cache =
        serde_json::json!({"Account": {"uid.utid-login.microsoftonline.com-utid": account}});
    std::fs::write(dir.join("cache.json"), cache.to_string()).unwrap();
    let o = cache_show(&config);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(!out.chars().any(|c| c.is_control() && c != '\n'), "{out:?}");
    assert!(
        out.contains(r"mallory\u{1b}[2J\u{1b}]0;owned\u{7}@contoso.com"),
        "{out}"
    );

    // A server whose error carries escape sequences and 100 KB of text.
    let body = serde_json::json!({
        "error": "invalid_client\u{1b}[31m",
        "error_description": format!("AADSTS7000215: bad\u{1b}]0;owned\u{7} {}", "A".repeat(100_000)),
    });
    auth.push_fault(msal_testkit::Fault::status("/token", 401, body.to_string()).times(4));
    let o = msal_async(
        [
            "token",
            "--config",
            config.to_str().unwrap(),
            "--app",
            "daemon",
            "--scopes",
            "graph",
            "--ca-bundle",
            auth.ca_path().to_str().unwrap(),
        ]
        .map(String::from)
        .to_vec(),
        vec![("CLI_TEST_SECRET_4".into(), SECRET.into())],
    )
    .await;
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        !err.chars().any(|c| c.is_control() && c != '\n'),
        "{:?}",
        &err[..err.len().min(300)]
    );
    assert!(err.contains(r"invalid_client\u{1b}[31m"), "{err}");
    assert!(err.len() < 4000, "{} bytes of server text", err.len());
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn a_reader_that_stops_early_ends_the_listing_without_a_panic() {
    // `msal check big.toml | head`: far more output than a pipe buffer holds, and the
    // reading end closed before any of it is read.
    let dir = temp_dir();
    let mut toml = String::new();
    for i in 0..3_000 {
        toml.push_str(&format!(
            "[apps.app{i}]\nclient_id = \"{CLIENT_ID}\"\nauthority = \"https://login.microsoftonline.com/contoso.onmicrosoft.com\"\n\
             credential = {{ kind = \"secret\", env = \"APP_SECRET\" }}\ngrants = [\"client_credentials\"]\n\
             scopes.graph = [\"https://graph.microsoft.com/.default\"]\n\n"
        ));
    }
    let path = dir.join("msal.toml");
    std::fs::write(&path, toml).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_msal"))
        .args(["check", path.to_str().unwrap()])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success(), "{:?} {}", o.status, stderr(&o));
    assert!(!stderr(&o).contains("panicked"), "{}", stderr(&o));
}
