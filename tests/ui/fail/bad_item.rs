//! `#[msal_app]` goes on a unit struct: not on a struct with fields, a generic struct or
//! an enum.
use msal::msal_app;

#[msal_app(config = "args.toml", app = "orders_daemon")]
pub struct WithFields {
    pub name: String,
}

#[msal_app(config = "args.toml", app = "orders_daemon")]
pub struct Generic<const N: usize>;

#[msal_app(config = "args.toml", app = "orders_daemon")]
pub enum NotAStruct {}

fn main() {}
