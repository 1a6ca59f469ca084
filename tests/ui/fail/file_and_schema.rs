//! The file and its schema (E00xx, E01xx): unreadable, not TOML, unknown keys, wrong
//! types, what [defaults] and profiles may set, app and profile names, empty values.
//!
//! One struct per rule, each naming its own small `.toml` (next to this file), so every
//! rule has its failing case and expected message while the group compiles once.
use msal::msal_app;

/// E0001: the file does not exist (neither next to the crate's Cargo.toml nor next to
/// this source file).
#[msal_app(config = "does_not_exist.toml", app = "orders_daemon")]
pub struct FileUnreadable;

/// E0002: the file is not valid TOML (toml's own message).
#[msal_app(config = "invalid_toml.toml", app = "orders_daemon")]
pub struct InvalidToml;

/// E0101: a key the schema does not know, with "did you mean".
#[msal_app(config = "unknown_key.toml", app = "orders_daemon")]
pub struct UnknownKey;

/// E0102: a value of the wrong TOML type.
#[msal_app(config = "wrong_type.toml", app = "orders_daemon")]
pub struct WrongType;

/// E0103: `client_id` in [defaults] (it cannot be shared).
#[msal_app(config = "not_inheritable.toml", app = "orders_daemon")]
pub struct NotInheritable;

/// E0104: a profile changing `grants` (that would change the generated methods).
#[msal_app(config = "not_overridable.toml", app = "orders_daemon")]
pub struct NotOverridable;

/// E0105: a file without any [apps.NAME].
#[msal_app(config = "no_apps.toml", app = "orders_daemon")]
pub struct NoApps;

/// E0106: the struct's name (snake_case) maps to an app the file does not declare; the
/// error is on the struct's name, with "did you mean".
#[msal_app(config = "unknown_app.toml")]
pub struct OrdersDeamon;

/// E0106: `app = "..."` names an app the file does not declare; the error is on that
/// string, with "did you mean".
#[msal_app(config = "unknown_app_explicit.toml", app = "orders_apj")]
pub struct Api;

/// E0107: an app name that is not snake_case.
#[msal_app(config = "invalid_app_name.toml", app = "orders_daemon")]
pub struct InvalidAppName;

/// E0109: a profile name with a space.
#[msal_app(config = "invalid_profile_name.toml", app = "orders_daemon")]
pub struct InvalidProfileName;

/// E0110: an empty string where a value is needed.
#[msal_app(config = "empty_value.toml", app = "orders_daemon")]
pub struct EmptyValue;

fn main() {}
