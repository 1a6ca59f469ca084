//! The root crate's integration tests, in one test binary (each test binary links the whole
//! dependency tree; one link instead of ten). Each file is a module, so its constants,
//! helpers and test names stay its own. `cargo test --test integration <module>::` runs one.
//!
//! Kept apart: `macro_ui.rs` (trybuild) and `macro_apps.rs` (sets process environment
//! variables that `#[msal_app]` clients read with `from_env`).

#[path = "../support/mod.rs"]
mod support;

#[path = "../support/capture.rs"]
mod capture;

/// The web_app example, compiled in once for the two modules that run it in-process.
#[path = "../../examples/web_app.rs"]
#[allow(dead_code)]
mod web_app;

mod azure;
mod blocking;
mod cache_backends;
mod client_credentials;
mod downstream;
mod examples_run;
mod fault_matrix;
mod managed_identity;
mod monorepo;
mod observability;
mod oidc_provider;
mod parity;
mod peer_caches;
mod perf_edge;
mod python_interop;
mod relocation;
mod user_flows;
mod web_api;
mod web_app_browser;
