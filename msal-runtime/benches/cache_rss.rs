//! Memory of a cache holding 100,000 app tokens (about 2 KB an entry): the peak while
//! loading it from MSAL's JSON and what stays resident after, from /proc/self/status
//! (Linux). The fixture is written by this process, then loaded by a child process (so
//! the peak is the loading's alone), which prints `VmHWM` (peak) and `VmRSS` (resident).

mod common;

use msal_runtime::TokenCache;

const FIXTURE_VAR: &str = "MSAL_BENCH_RSS_FIXTURE";

fn status(field: &str) -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .map(|l| l[field.len()..].trim().to_string())
        })
        .unwrap_or_else(|| "unknown (no /proc)".into())
}

fn report(step: &str) {
    println!(
        "{step:<40} peak (VmHWM) {:>12}   resident (VmRSS) {:>12}",
        status("VmHWM:"),
        status("VmRSS:")
    );
}

/// The child: loads the fixture as an application would (read the file, deserialize).
fn load(path: &str, tokens: usize) {
    report("child start");
    let cache = TokenCache::new();
    {
        let text = std::fs::read_to_string(path).expect("the fixture is read");
        cache.deserialize(&text).expect("parses");
    }
    report(&format!("{tokens} tokens loaded (text dropped)"));
    let held = cache.access_tokens().len();
    assert_eq!(held, tokens);
}

fn main() {
    let tokens = common::size(100_000);
    if let Ok(path) = std::env::var(FIXTURE_VAR) {
        return load(&path, tokens);
    }
    let path = std::env::temp_dir().join(format!("msal-bench-rss-{}.json", std::process::id()));
    let text = common::cache_json(tokens, "login.microsoftonline.com");
    println!(
        "fixture: {tokens} tokens, {:.1} MB",
        text.len() as f64 / 1e6
    );
    std::fs::write(&path, text).expect("the fixture is written");
    let status = std::process::Command::new(std::env::current_exe().expect("this program"))
        .args(std::env::args().skip(1))
        .env(FIXTURE_VAR, &path)
        .status();
    let _ = std::fs::remove_file(&path);
    assert!(
        status.expect("the child runs").success(),
        "the child failed"
    );
}
