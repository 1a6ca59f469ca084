//! Grants: what each flow sends, and the shared pipeline that sends it.

mod auth_code;
mod cached;
mod client_credentials;
mod extended;
mod obo;
mod pipeline;
mod refresh;
pub(crate) mod response;
mod silent;
mod user;

pub use auth_code::{
    AuthCodeFlow, AuthCodeFlowOptions, AuthorizationCodeOptions, AuthorizationRequestOptions,
};
pub use silent::SilentOptions;

pub use client_credentials::ForClientOptions;
pub use obo::OnBehalfOfOptions;
