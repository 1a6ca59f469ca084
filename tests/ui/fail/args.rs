//! The attribute's arguments: no `config` and no msal.toml found (trybuild's crate is its own
//! workspace), an unknown argument ("did you mean"), not a string, an argument given twice.
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
