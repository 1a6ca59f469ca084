//! trybuild UI tests of `#[msal_app]`.
//!
//! * `tests/ui/fail/*.rs`: every `msal.toml` rule of `msal-config` has its failing case, a
//!   struct whose `config` is its own small `.toml` next to it; the structs are grouped by
//!   rule family (`file_and_schema.rs`, `client_and_authority.rs`, `credential.rs`,
//!   `grants_and_redirect.rs`, `scopes.rs`, `region_cache_misc.rs`) so each family compiles
//!   once; then the attribute's own errors (`args.rs`, `bad_item.rs`) and whole-file cases.
//!   Their `.stderr` files hold only the macro's messages (`error: MESSAGE [CODE]`,
//!   `--> FILE:LINE:COL`, the quoted line, the caret, `help:`) plus rustc's location
//!   arrow, so they survive compiler updates. `broken_file_no_cascade.rs` uses the client
//!   of a broken file: its errors are the file's only.
//! * `tests/ui/fail/types/*.rs`: type-level guarantees (a method of a grant the app does
//!   not enable says which grant to add to which app, a scope set only for its own app,
//!   `.default` sets only for client credentials). These are rustc's own type errors, whose
//!   wording changes between compiler versions, so they run on stable only.
//! * `tests/ui/pass/*.rs`: a daemon, a web app, a web API with OBO, several apps of one
//!   file, `crate = "..."` (a renamed crate, a re-export); built and run (no network I/O).
//!
//! trybuild compiles the cases in a crate under `target/tests/trybuild/`, so its
//! `CARGO_MANIFEST_DIR` is not this repository: `#[msal_app]` then finds `config = "x.toml"`
//! next to the case's source file (its documented fallback, like `include_str!`).
//! Regenerate expectations with `TRYBUILD=overwrite cargo test --test macro_ui` and review
//! the diff.

#[test]
fn ui() {
    // One run: a separate run of the failing cases alone would be one batched `cargo check`,
    // but it checks the whole dependency tree once more (in check mode) before the pass
    // cases build it, which costs a fresh CI machine more than it saves. Fewer, grouped
    // cases are what keeps this suite short.
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/fail/*.rs");
    if rustc_is_stable() {
        t.compile_fail("tests/ui/fail/types/*.rs");
    }
    t.pass("tests/ui/pass/*.rs");
}

#[rustversion::stable]
fn rustc_is_stable() -> bool {
    true
}

#[rustversion::not(stable)]
fn rustc_is_stable() -> bool {
    false
}
