//! A monorepo shares one `msal.toml`: `examples/monorepo/` is a Cargo workspace of its own
//! with the file at its root and two service crates (`orders-service`, `billing-service`)
//! whose `#[msal_app]` names no `config`. The test builds that workspace (so the test
//! command fails when discovery breaks), then runs `orders-service` against msal-testkit:
//! the app the macro compiled in is the root file's `[apps.orders_service]`, and the token
//! comes from the authority the run-time overrides point at.
//!
//! The nested `cargo build` runs `--offline` with the example's committed `Cargo.lock` (which
//! cargo brings up to date from the local registry cache when the library's dependencies
//! change) and shares this workspace's target directory, so dependencies already built are
//! reused.

use msal_testkit::{AppRegistration, TestAuthority};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const ORDERS_CLIENT_ID: &str = "6f1c2d3e-0000-4000-8000-0000000000f1";
const BILLING_CLIENT_ID: &str = "6f1c2d3e-0000-4000-8000-0000000000f2";
const SECRET: &str = "orders-service-demo-secret";

fn monorepo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/monorepo")
}

/// Builds the example workspace; returns its binaries by name.
fn build() -> Vec<(String, PathBuf)> {
    // `CARGO_TARGET_TMPDIR` is `<target>/tmp`: share `<target>` with this workspace.
    let target = Path::new(env!("CARGO_TARGET_TMPDIR")).parent().unwrap();
    let out = Command::new(env!("CARGO"))
        .args([
            "build",
            "--offline",
            "--message-format=json-render-diagnostics",
            "--manifest-path",
        ])
        .arg(monorepo().join("Cargo.toml"))
        .env("CARGO_TARGET_DIR", target)
        .env_remove("RUSTC_WORKSPACE_WRAPPER")
        .output()
        .expect("cargo runs");
    assert!(
        out.status.success(),
        "building examples/monorepo failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|m| m["reason"] == "compiler-artifact")
        .filter_map(|m| {
            let exe = m["executable"].as_str()?;
            Some((
                m["target"]["name"].as_str()?.to_string(),
                PathBuf::from(exe),
            ))
        })
        .collect()
}

fn text(o: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_services_share_the_workspace_msal_toml() {
    let bins = tokio::task::spawn_blocking(build).await.unwrap();
    let exe = |name: &str| {
        bins.iter()
            .find(|(n, _)| n == name)
            .map(|(_, p)| p.clone())
            .unwrap_or_else(|| panic!("cargo built no `{name}`: {bins:?}"))
    };
    let orders = exe("orders-service");
    let billing = exe("billing-service");

    let auth = TestAuthority::start().await;
    auth.register_app(AppRegistration::with_secret(ORDERS_CLIENT_ID, SECRET));
    let authority = auth.authority(auth.tenant_id());
    let ca = auth.ca_path().display().to_string();
    let cwd = tempfile::tempdir().unwrap();
    let run = |exe: PathBuf, env: Vec<(&'static str, String)>| {
        let cwd = cwd.path().to_path_buf();
        tokio::task::spawn_blocking(move || {
            let mut cmd = Command::new(exe);
            cmd.current_dir(cwd)
                .env_remove("CARGO_MANIFEST_DIR")
                .env_remove("MSAL_CONFIG_DIR")
                .env_remove("MSAL_PROFILE")
                // Belt and braces: nothing here may probe the Azure metadata address.
                .env(
                    "MSAL_IMDS_ENDPOINT",
                    "http://127.0.0.1:9/metadata/instance/compute",
                );
            for (k, v) in env {
                cmd.env(k, v);
            }
            cmd.output().expect("the service starts")
        })
    };

    // orders-service: the root file's app, pointed at the test authority by its overrides.
    let o = run(
        orders,
        vec![
            ("ORDERS_SERVICE_SECRET", SECRET.to_string()),
            ("MSAL_ORDERS_SERVICE_AUTHORITY", authority.clone()),
            ("MSAL_ORDERS_SERVICE_CA_BUNDLE", ca.clone()),
            ("MSAL_ORDERS_SERVICE_INSTANCE_DISCOVERY", "false".into()),
        ],
    )
    .await
    .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains(ORDERS_CLIENT_ID), "{}", text(&o));
    assert!(
        out.contains(
            "billing token for [\"api://6f1c2d3e-0000-4000-8000-0000000000f2/.default\"] from identity_provider"
        ),
        "{}",
        text(&o)
    );
    assert!(out.contains("again from cache"), "{}", text(&o));
    assert!(!out.contains(SECRET) && !String::from_utf8_lossy(&o.stderr).contains(SECRET));
    let requests = auth.token_requests();
    assert_eq!(requests.len(), 1, "the second token came from the cache");
    assert_eq!(requests[0].form_value("client_id"), Some(ORDERS_CLIENT_ID));
    assert_eq!(requests[0].form_value("client_secret"), Some(SECRET));

    // billing-service: the same file's other app (no request without an incoming token).
    let o = run(
        billing,
        vec![("BILLING_SERVICE_SECRET", "billing-demo-secret".into())],
    )
    .await
    .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains(BILLING_CLIENT_ID), "{}", text(&o));
    assert!(out.contains("usage: billing-service"), "{}", text(&o));
}
