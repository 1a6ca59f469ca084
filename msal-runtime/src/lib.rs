//! The msal engine.
