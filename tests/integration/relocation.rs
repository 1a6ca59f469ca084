//! Binaries run anywhere: nothing a `#[msal_app]` program reads at run time depends on where
//! it was built.
//!
//! The test builds `examples/daemon_certificate.rs` (a certificate credential whose
//! `private_key_file` / `certificate_file` are relative paths in msal.toml) from a throwaway
//! copy of its sources — the example, `examples/msal.toml` and `examples/certs/` in a fresh
//! package that depends on this workspace's crates by path — then copies the binary and the
//! certificate files to a fresh directory and **deletes the build tree**. Whatever the binary
//! would read from where it was built is gone, so a token proves that every run-time path
//! resolved against the documented base: `MSAL_CONFIG_DIR` when set, else the working
//! directory. A third run, from an empty directory, must fail naming the file it looked for
//! there, which proves the files were not found some other way.
//!
//! The nested `cargo build` shares this workspace's target directory, so dependencies already
//! built are reused (only the throwaway package and whatever its feature set changes are
//! compiled), and runs `--offline` with a copy of the workspace's `Cargo.lock`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const EXAMPLE: &str = "daemon_certificate";
const KEY: &str = "certs/orders_daemon.key";
const CERT: &str = "certs/orders_daemon.crt";

fn workspace() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn copy(from: &Path, to: &Path) {
    std::fs::create_dir_all(to.parent().unwrap()).unwrap();
    std::fs::copy(from, to)
        .unwrap_or_else(|e| panic!("copy {} -> {}: {e}", from.display(), to.display()));
}

/// A package holding a copy of the example's sources, depending on the workspace by path.
fn write_build_tree(dir: &Path) {
    let ws = workspace();
    let path_of = |krate: &str| ws.join(krate).display().to_string().replace('\\', "/");
    let manifest = format!(
        r#"[package]
name = "msal-relocation-check"
version = "0.0.0"
edition = "2021"
publish = false

[[bin]]
name = "{EXAMPLE}"
path = "examples/{EXAMPLE}.rs"

[dependencies]
msal = {{ path = "{ws}" }}
msal-testkit = {{ path = "{testkit}" }}
tokio = {{ version = "1", default-features = false, features = ["rt-multi-thread", "macros", "time", "sync", "net", "signal"] }}

[workspace]
"#,
        ws = ws.display().to_string().replace('\\', "/"),
        testkit = path_of("msal-testkit"),
    );
    std::fs::create_dir_all(dir.join("examples")).unwrap();
    std::fs::write(dir.join("Cargo.toml"), manifest).unwrap();
    copy(&ws.join("Cargo.lock"), &dir.join("Cargo.lock"));
    for f in [
        format!("{EXAMPLE}.rs"),
        "msal.toml".into(),
        KEY.into(),
        CERT.into(),
    ] {
        copy(
            &ws.join("examples").join(&f),
            &dir.join("examples").join(&f),
        );
    }
}

/// Builds the throwaway package; returns the path of the binary.
fn build(dir: &Path) -> PathBuf {
    // `CARGO_TARGET_TMPDIR` is `<target>/tmp`: share `<target>` with the workspace.
    let target = Path::new(env!("CARGO_TARGET_TMPDIR")).parent().unwrap();
    let out = Command::new(env!("CARGO"))
        .args([
            "build",
            "--offline",
            "--message-format=json-render-diagnostics",
            "--bin",
            EXAMPLE,
        ])
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", target)
        .env_remove("RUSTC_WORKSPACE_WRAPPER")
        .output()
        .expect("cargo runs");
    assert!(
        out.status.success(),
        "building the relocated example failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == EXAMPLE)
        .find_map(|m| m["executable"].as_str().map(PathBuf::from))
        .expect("cargo reports the executable")
}

fn run(exe: &Path, cwd: &Path, config_dir: Option<&Path>) -> Output {
    let mut cmd = Command::new(exe);
    cmd.current_dir(cwd)
        // `cargo test` sets it; the example would take it as "run by cargo".
        .env_remove("CARGO_MANIFEST_DIR")
        .env_remove("MSAL_CONFIG_DIR")
        // Belt and braces: nothing here may probe the Azure metadata address.
        .env(
            "MSAL_IMDS_ENDPOINT",
            "http://127.0.0.1:9/metadata/instance/compute",
        );
    if let Some(d) = config_dir {
        cmd.env("MSAL_CONFIG_DIR", d);
    }
    cmd.output().expect("the relocated binary starts")
}

fn text(o: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn a_relocated_binary_reads_its_certificate_files_from_where_it_runs() {
    let root = tempfile::tempdir().unwrap();
    let tree = root.path().join("build-tree");
    write_build_tree(&tree);
    let built = build(&tree);

    // The deployment: the binary and its certificate files, nothing else.
    let deploy = root.path().join("deploy");
    let exe = deploy.join(EXAMPLE);
    copy(&built, &exe);
    for f in [KEY, CERT] {
        copy(&tree.join("examples").join(f), &deploy.join(f));
    }
    // The build tree disappears (as it does when a CI image ships only the binary); the
    // copy cargo left in the target directory goes too, so the only binary is the deployed one.
    std::fs::remove_dir_all(&tree).unwrap();
    std::fs::remove_file(&built).ok();
    assert!(!tree.exists());

    // From the deployment directory: the working directory is the base.
    let o = run(&exe, &deploy, None);
    assert!(o.status.success(), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("token from identity_provider"), "{}", text(&o));
    assert!(
        out.contains("token issued to app 6f1c2d3e-0000-4000-8000-0000000000e5"),
        "{}",
        text(&o)
    );

    // From anywhere else with MSAL_CONFIG_DIR naming the deployment.
    let elsewhere = root.path().join("elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap();
    let o = run(&exe, &elsewhere, Some(&deploy));
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains(&format!(
            "relative paths resolve against {}",
            deploy.display()
        )),
        "{}",
        text(&o)
    );

    // From an empty directory without MSAL_CONFIG_DIR: the key is looked for there, and only
    // there; the error names that file and leaks nothing else.
    let o = run(&exe, &elsewhere, None);
    assert!(!o.status.success(), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    let wanted = elsewhere.join(KEY);
    assert!(
        err.contains(&format!(
            "cannot read the private key file {}",
            wanted.display()
        )),
        "{}",
        text(&o)
    );
    assert!(!err.contains("build-tree"), "{}", text(&o));
}
