//! The attribute's own arguments: no `config` and no msal.toml to find (trybuild's crate is
//! the root of its own workspace, so only its directory is looked in), an unknown argument
//! (with "did you mean"), a value that is not a string, an argument given twice.
use msal::msal_app;

#[msal_app]
pub struct NoArgs;

#[msal_app(app = "orders_daemon")]
pub struct NoConfig;

#[msal_app(confg = "args.toml")]
pub struct Typo;

#[msal_app(config = args.toml)]
pub struct NotAString;

#[msal_app(config = "args.toml", config = "args.toml")]
pub struct Twice;

fn main() {}
