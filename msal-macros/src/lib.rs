//! `#[msal_app(config = "msal.toml")]`: a thin proc macro over [`msal_config`].
//!
//! Use it through the `msal` crate (`msal::msal_app`), whose documentation shows what it
//! generates, with examples that compile. This crate only reads the file, asks
//! `msal-config` whether it is valid, and turns one app into code that calls the runtime.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod accepts;
mod args;
mod embed;
mod expand;
mod load;

use proc_macro::TokenStream;
use std::path::PathBuf;

/// Turns a unit struct into a typed client for one `[apps.NAME]` of `msal.toml`.
///
/// ```text
/// #[msal_app(config = "msal.toml")]                        // app `orders_daemon`
/// pub struct OrdersDaemon;
///
/// #[msal_app(config = "../msal.toml", app = "orders_api")]  // workspace-level file, explicit app
/// pub(crate) struct Api;
///
/// #[msal_app]                                              // msal.toml found up to the workspace root
/// pub struct BillingService;
/// ```
///
/// # Arguments
///
/// * `config = "PATH"` (optional): the file. A relative path is resolved against the
///   directory of the crate's `Cargo.toml` (`CARGO_MANIFEST_DIR`), so a workspace-level
///   file shared by several member crates is `config = "../msal.toml"` (one level per
///   directory between the member and the workspace root). If no such file exists there,
///   the directory of the source file holding the attribute is tried (as `include_str!`
///   does): that is how generated test crates such as trybuild's, whose manifest lives
///   under `target/`, find a config next to their test file. An absolute path is used as
///   is.
///
///   **Without `config`**, `msal.toml` is looked for in the crate's directory, then in
///   each parent directory up to and including the crate's workspace root (the directory
///   whose `Cargo.toml` has `[workspace]`; a crate in no workspace has only its own
///   directory), and the first found is used (`msal_config::discover`). So the crates of
///   a monorepo share one `msal.toml` at its root, and a crate may still keep its own. The
///   error when none is found lists every place looked in. Messages name the file relative
///   to the crate (`../../msal.toml`). Cargo rebuilds the crate when the file found
///   changes; a nearer `msal.toml` created later is picked up at the crate's next build.
/// * `app = "NAME"` (optional): the app key; by default the struct's name in snake_case
///   (`OrdersDaemon` → `orders_daemon`).
/// * `crate = "PATH"` (optional): the path of the `msal` crate in the generated code,
///   `::msal` by default. For a renamed dependency (`my_msal = { package = "msal", ... }`
///   in Cargo.toml) write `crate = "my_msal"`; for a re-export, its path
///   (`crate = "crate::deps::msal"`).
///
/// # Compile-time checks
///
/// Every rule of `msal-config` runs; each problem of the file is its own
/// `compile_error!` on the `config = "..."` string, reading (after rustc's `error: `)
/// `MESSAGE [CODE]`, then `--> msal.toml:LINE:COL`, the offending line with a caret and
/// a `help:` ("did you mean ..."). Paths in messages are shown as written in the
/// attribute, so they do not depend on where the crate is checked out. An unknown app is
/// reported on the `app = "..."` string or the struct's name, with the caret on the app
/// it probably meant. When several structs of a crate name the same broken file, the
/// first reports every problem and each of the others one summary error (with the first
/// problem), rather than repeating them all per struct.
///
/// A broken file (or argument) yields its own errors only: the client is generated
/// anyway, with every method and the scope sets that can still be read from the file, so
/// the code using it does not add "no function `from_env`" or "no field" errors.
///
/// The methods of a grant the app does not enable exist too, hidden from the docs;
/// calling one is an error that names the grant and the app, e.g. "`OrdersDaemon` cannot
/// do this: app `orders_daemon` does not enable the `on_behalf_of` grant" with the note
/// "add "on_behalf_of" to the `grants` of [apps.orders_daemon] in msal.toml:5". They
/// require a hidden per-app trait (`__OrdersDaemonHasGrant`) that is never implemented.
///
/// The expansion includes the file with `include_bytes!`/`include_str!`, so cargo
/// rebuilds the crate when it changes. rust-analyzer caches expansions: after editing
/// `msal.toml`, save the file that holds `#[msal_app]` to refresh completions.
///
/// The file's text is compiled into the program (for `from_env()`), with its path as
/// written in the attribute (for messages only); `msal.toml` never holds secrets, which
/// the checks enforce. Nothing the program reads at run time depends on where it was
/// built: relative paths in the file (key, certificate, secret or assertion files,
/// `ca_bundle`, a file cache) resolve when it starts, against `MSAL_CONFIG_DIR` when set,
/// else the working directory.
///
/// # Generated items
///
/// For `pub struct OrdersDaemon;`: the struct (wrapping a
/// `msal::ConfidentialClientApplication`; `Clone`, a secret-free `Debug`, `Send + Sync`),
/// `OrdersDaemonScopes` (one typed field per scope set), constructors (`from_env`,
/// `from_env_with`, `from_config`, `builder` + `from_builder`, `from_application`) and one
/// method per operation of each enabled grant (the others exist hidden, see above). Do
/// not derive `Clone` or `Debug` on the struct yourself, and do not define inherent items
/// of these names.
///
/// For a managed identity app (`credential = { kind = "managed_identity" }`) the struct
/// wraps a `msal::ManagedIdentityClient` instead and has only what a managed identity can
/// do: `acquire_token_for_client(set)` / `_with` (the resource of the `.default` set),
/// `token_cache()`, `client()`, `get_managed_identity_source()`, and the constructors
/// (`from_env_with` takes a `Send + Sync + 'static` lookup, which the client keeps to detect
/// its source on each request; `from_builder`/`from_client` take the managed identity
/// builder/client). The user-flow methods do not exist. `workload_identity` and
/// `azure_environment` apps are ordinary confidential clients whose client id and
/// authority, when msal.toml leaves them out, come from `AZURE_CLIENT_ID`,
/// `AZURE_TENANT_ID` and `AZURE_AUTHORITY_HOST` at run time.
#[proc_macro_attribute]
pub fn msal_app(attr: TokenStream, item: TokenStream) -> TokenStream {
    let cx = expand::Context {
        manifest_dir: std::env::var_os("CARGO_MANIFEST_DIR").map(PathBuf::from),
        source_file: source_file(),
    };
    expand::expand(attr.into(), item.into(), &cx).into()
}

/// The absolute path of the file holding the attribute (rustc may report it relative to
/// its working directory).
fn source_file() -> Option<PathBuf> {
    let file = proc_macro::Span::call_site().local_file()?;
    if file.is_absolute() {
        Some(file)
    } else {
        std::env::current_dir().ok().map(|d| d.join(file))
    }
}
