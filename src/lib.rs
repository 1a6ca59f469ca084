//! # msal
//!
//! The Microsoft Authentication Library's confidential-client features for Rust.
//!
//! This facade re-exports the engine ([`msal_runtime`]) and the `#[msal_app]` attribute
//! macro ([`msal_macros`]). See the README for a tour.
#![forbid(unsafe_code)]

pub use msal_macros::msal_app;
pub use msal_runtime::*;
