//! The `msal.toml` schema and its validation rules.
