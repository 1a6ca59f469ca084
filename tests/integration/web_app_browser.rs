//! The web_app example in a real browser: Debian's headless Chromium, driven by
//! playwright-core from npm (pinned in tests/browser/package-lock.json; no browser download).
//!
//! The example runs in-process (its source is compiled in as a module) against msal-testkit
//! with the sign-in page on; `tests/browser/web_app.mjs` then signs in, reads the profile,
//! reloads, opens a second tab, signs out, presses Back, signs in from two tabs at once,
//! survives a forged callback, completes a form_post sign-in, cancels, and opens the app
//! as 127.0.0.1. Every step is printed; the test fails when any step does.
//!
//! Needs /usr/bin/chromium (Debian package `chromium`), Node.js >= 20 and npm; scripts/setup.sh
//! installs them, and this test runs tests/browser/install.sh itself. It never skips.
//!
//! ```text
//! cargo test --test integration web_app_browser -- --nocapture
//! ```

use crate::web_app;

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The whole script takes about 15 s on an idle machine; a loaded 2-core CI machine gets
/// ample room, and a hung browser is still killed.
const LIMIT: Duration = Duration::from_secs(300);

fn browser_dir() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/browser"))
}

fn install() {
    let status = Command::new("bash")
        .arg(browser_dir().join("install.sh"))
        .status()
        .expect("run tests/browser/install.sh (needs bash, node and npm)");
    assert!(status.success(), "tests/browser/install.sh failed");
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        Path::new(&chromium).exists(),
        "{chromium} is missing: install Debian's `chromium` (scripts/setup.sh does)"
    );
}

#[test]
fn web_app_in_headless_chromium() {
    install();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    // The app serves on its own runtime threads while this thread waits for the browser.
    let running = rt.block_on(async {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
            .await
            .expect("bind a loopback port");
        web_app::start_local(listener, true)
            .await
            .expect("start the web app")
    });
    let base = running.public_url().to_string();

    let mut child = Command::new("node")
        .arg(browser_dir().join("web_app.mjs"))
        .arg(&base)
        .current_dir(browser_dir())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start node tests/browser/web_app.mjs");
    let mut stdout = child.stdout.take().expect("piped stdout");
    let mut stderr = child.stderr.take().expect("piped stderr");
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for node") {
            break Some(status);
        }
        if started.elapsed() > LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let out = out.join().unwrap_or_default();
    let err = err.join().unwrap_or_default();
    println!("{out}");
    if !err.trim().is_empty() {
        eprintln!("{err}");
    }
    drop(running);
    drop(rt);

    let Some(status) = status else {
        panic!("the browser test did not finish within {LIMIT:?}:\n{out}\n{err}");
    };
    let failed: Vec<&str> = out.lines().filter(|l| l.starts_with("FAILED")).collect();
    assert!(
        status.success() && failed.is_empty(),
        "browser steps failed ({status}):\n{}\n{err}",
        failed.join("\n")
    );
    // Every behaviour the issue names is a step that ran and passed.
    for step in [
        "home page: lang, title, not signed in",
        "an unknown page is a readable 404",
        "sign in: the authority shows a sign-in page",
        "profile shows what the API says about alice",
        "reload keeps the profile",
        "Cache-Control: no-store",
        "a second tab of the same browser is signed in too",
        "sign out: via the authority, back on the app, signed out",
        "Back after sign-out shows no user data",
        "signing out in one browser leaves the other signed in",
        "sign-in from /profile returns to /profile",
        "\"sign out everywhere\" ends the other browser's session too",
        "two tabs signing in at once both succeed",
        "a forged callback is refused readably and does not cancel a pending sign-in",
        "form_post sign-in completes",
        "cancelling on the sign-in page shows a readable page",
        "the downstream API answers 401 with a readable body",
        "opened as 127.0.0.1, sign-in works",
    ] {
        assert!(
            out.lines()
                .any(|l| l.starts_with("  ok  ") && l.contains(step)),
            "step not reported as passed: {step}\n{out}"
        );
    }
}
