//! Unit tests: one case per rule (with the position of the offending token), plus
//! profiles, environment overrides, the model, rendering and the reference file.

mod accepts;
mod model;
mod overlays;
mod render;
mod rules;
mod secretless;

use std::path::Path;

use crate::{Code, Config, Diagnostic, Diagnostics};

/// A valid daemon app; tests edit it with [`with`].
pub(crate) const BASE: &str = r#"[apps.web]
client_id = "00000000-0000-0000-0000-000000000001"
authority = "https://login.microsoftonline.com/contoso.onmicrosoft.com"
credential = { kind = "secret", env = "WEB_SECRET" }
grants = ["client_credentials"]
scopes.graph = ["https://graph.microsoft.com/.default"]
"#;

/// [`BASE`] with keys replaced (`Some`), removed (`None`) or appended.
pub(crate) fn with(edits: &[(&str, Option<&str>)]) -> String {
    let mut lines: Vec<String> = BASE.lines().map(str::to_string).collect();
    for (key, value) in edits {
        let prefix = format!("{key} = ");
        let pos = lines.iter().position(|l| l.starts_with(&prefix));
        match (pos, value) {
            (Some(i), Some(v)) => lines[i] = format!("{key} = {v}"),
            (Some(i), None) => {
                lines.remove(i);
            }
            (None, Some(v)) => lines.push(format!("{key} = {v}")),
            (None, None) => panic!("no key {key} to remove"),
        }
    }
    lines.join("\n") + "\n"
}

pub(crate) fn parse(src: &str) -> Result<Config, Diagnostics> {
    Config::parse(Path::new("msal.toml"), src)
}

pub(crate) fn ok(src: &str) -> Config {
    match parse(src) {
        Ok(c) => c,
        Err(d) => panic!(
            "expected a valid config, got:\n{}",
            d.render(Path::new("msal.toml"), src)
        ),
    }
}

pub(crate) fn errs(src: &str) -> Diagnostics {
    match parse(src) {
        Ok(_) => panic!("expected diagnostics for:\n{src}"),
        Err(d) => d,
    }
}

/// Asserts that `src` fails with exactly one diagnostic, of `code`, and returns it.
pub(crate) fn single(src: &str, code: Code) -> Diagnostic {
    let d = errs(src);
    assert_eq!(
        d.codes(),
        [code],
        "{}",
        d.render(Path::new("msal.toml"), src)
    );
    d.0.into_iter().next().unwrap()
}

/// The byte range, 1-based line and column of the first occurrence of `needle`.
pub(crate) fn locate(src: &str, needle: &str) -> (std::ops::Range<usize>, usize, usize) {
    let start = src
        .find(needle)
        .unwrap_or_else(|| panic!("`{needle}` not in source"));
    let line = src[..start].matches('\n').count() + 1;
    let line_start = src[..start].rfind('\n').map_or(0, |i| i + 1);
    let col = src[line_start..start].chars().count() + 1;
    (start..start + needle.len(), line, col)
}

/// Asserts that `d` starts at the first occurrence of `needle` and is `len` bytes long.
pub(crate) fn assert_at_prefix(d: &Diagnostic, src: &str, needle: &str, len: usize) {
    let (span, line, col) = locate(src, needle);
    assert_eq!(
        (d.span.clone(), d.line, d.col),
        (span.start..span.start + len, line, col),
        "{} should point at `{needle}`",
        d.code
    );
}

/// Asserts that `d` points exactly at the first occurrence of `needle`.
pub(crate) fn assert_at(d: &Diagnostic, src: &str, needle: &str) {
    let (span, line, col) = locate(src, needle);
    assert_eq!(
        (d.span.clone(), d.line, d.col),
        (span, line, col),
        "{} should point at `{needle}`",
        d.code
    );
}
