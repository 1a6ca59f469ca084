//! `#[msal_app(config = "msal.toml")]`: a thin proc macro over `msal-config`.
use proc_macro::TokenStream;

/// Generates a strongly typed client for one app of `msal.toml`.
#[proc_macro_attribute]
pub fn msal_app(_attr: TokenStream, item: TokenStream) -> TokenStream {
    item
}
