//! How `msal check` scales with the number of apps: parses and checks generated
//! `msal.toml` files of 1,000 to 20,000 apps (clean, and with a mistake in every tenth
//! app, rendered as the CLI renders it) and prints the median time of each.
//!
//! `cargo bench -p msal-config --bench check_many_apps` (add `-- 20000` to run one size).
//! Under `cargo test --all-targets` it only checks a small file once.

use msal_config::Config;
use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

/// `n` apps in the three shapes of `msal.toml.example`; every tenth with a misspelt key
/// and a bad client id when `with_errors`.
fn generate(n: usize, with_errors: bool) -> String {
    let mut s = String::from(
        "[defaults]\nauthority = \"https://login.microsoftonline.com/11111111-2222-3333-4444-555555555555\"\ntimeout_secs = 10\n\n",
    );
    for i in 0..n {
        let bad = with_errors && i % 10 == 0;
        let client_id = if bad {
            format!("not-a-guid-{i}")
        } else {
            format!("00000000-0000-4000-8000-{i:012x}")
        };
        let typo = if bad { "authorty" } else { "authority" };
        match i % 3 {
            0 => write!(
                s,
                "[apps.daemon_{i}]\nclient_id = \"{client_id}\"\n\
                 credential = {{ kind = \"certificate\", private_key_file = \"certs/d{i}.key\", certificate_file = \"certs/d{i}.crt\" }}\n\
                 grants = [\"client_credentials\"]\n\
                 scopes.graph = [\"https://graph.microsoft.com/.default\"]\n\
                 azure_region = \"westeurope\"\n\
                 {typo} = \"https://login.microsoftonline.com/11111111-2222-3333-4444-555555555555\"\n\
                 token_cache = {{ kind = \"file\", path = \"/var/cache/d{i}/msal.json\" }}\n\n"
            ),
            1 => write!(
                s,
                "[apps.web_{i}]\nclient_id = \"{client_id}\"\n\
                 credential = {{ kind = \"secret\", env = \"WEB_{i}_SECRET\" }}\n\
                 grants = [\"authorization_code\", \"refresh_token\"]\n\
                 redirect_uri = \"https://web{i}.example.com/auth/callback\"\n\
                 scopes.user = [\"User.Read\"]\n\
                 {typo} = \"https://login.microsoftonline.com/11111111-2222-3333-4444-555555555555\"\n\n"
            ),
            _ => write!(
                s,
                "[apps.api_{i}]\nclient_id = \"{client_id}\"\n\
                 credential = {{ kind = \"secret\", file = \"secrets/api{i}\" }}\n\
                 grants = [\"on_behalf_of\", \"client_credentials\"]\n\
                 scopes.downstream = [\"api://00000000-0000-0000-0000-0000000000d4/Items.Read\"]\n\
                 scopes.app = [\"api://00000000-0000-0000-0000-0000000000d4/.default\"]\n\
                 {typo} = \"https://login.microsoftonline.com/11111111-2222-3333-4444-555555555555\"\n\n"
            ),
        }
        .unwrap();
    }
    s
}

/// Parse + check (and render the diagnostics, as `msal check` does); returns the
/// number of diagnostics.
fn check(path: &Path, source: &str) -> usize {
    match Config::parse(path, source) {
        Ok(cfg) => {
            assert!(!cfg.apps.is_empty());
            0
        }
        Err(d) => {
            let text = d.render(path, source);
            assert!(!text.is_empty());
            d.0.len()
        }
    }
}

/// CPU time used by this process so far (Linux; `None` elsewhere): on a machine shared
/// with other work, wall time says more about the neighbours than about this code.
fn cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which is in parentheses and may contain spaces).
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    // Clock ticks: 100 per second on Linux.
    Some(Duration::from_millis((utime + stime) * 10))
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --all-targets` runs this binary without
    // it (unoptimized): then one small check, as a smoke test.
    if !std::env::args().any(|a| a == "--bench") {
        let source = generate(300, true);
        assert_eq!(check(Path::new("msal.toml"), &source), 60);
        assert_eq!(check(Path::new("msal.toml"), &generate(300, false)), 0);
        println!("check_many_apps: smoke test passed (run `cargo bench` to measure)");
        return;
    }
    let sizes: Vec<usize> = match std::env::args().skip(1).find_map(|a| a.parse().ok()) {
        Some(n) => vec![n],
        None => vec![1_000, 2_000, 5_000, 10_000, 20_000],
    };
    let path = Path::new("msal.toml");
    for with_errors in [false, true] {
        for &n in &sizes {
            let source = generate(n, with_errors);
            let mut times = Vec::new();
            let mut cpu = Vec::new();
            let mut diagnostics = 0;
            let budget = Instant::now();
            // Up to 5 runs, fewer when one run takes long.
            for _ in 0..5 {
                let (t, c) = (Instant::now(), cpu_time());
                diagnostics = check(path, &source);
                times.push(t.elapsed());
                if let (Some(c0), Some(c1)) = (c, cpu_time()) {
                    cpu.push(c1.saturating_sub(c0));
                }
                if budget.elapsed() > Duration::from_secs(60) {
                    break;
                }
            }
            times.sort();
            cpu.sort();
            let ms = |d: Duration| d.as_secs_f64() * 1000.0;
            println!(
                "{n:>6} apps, {:>6} KiB, {}: median {:>9.1} ms wall, {:>9} ms CPU, over {} run(s), {diagnostics} diagnostic(s)",
                source.len() / 1024,
                if with_errors { "with errors" } else { "clean      " },
                ms(times[times.len() / 2]),
                cpu.get(cpu.len() / 2).map_or("-".to_string(), |c| format!("{:.0}", ms(*c))),
                times.len(),
            );
        }
    }
}
