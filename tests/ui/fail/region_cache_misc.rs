//! Region and IMDS (E08xx), timeouts, proxy and headers (E090x), token caches (E10xx).
//!
//! One struct per rule, each naming its own small `.toml` (next to this file), so every
//! rule has its failing case and expected message while the group compiles once.
use msal::msal_app;

/// E0801: a region that is not a DNS label.
#[msal_app(config = "invalid_region.toml", app = "orders_daemon")]
pub struct InvalidRegion;

/// E0802: an unknown region, with "did you mean".
#[msal_app(config = "unknown_region.toml", app = "orders_daemon")]
pub struct UnknownRegion;

/// E0803: an IMDS endpoint that is not an http(s) URL.
#[msal_app(config = "invalid_imds_endpoint.toml", app = "orders_daemon")]
pub struct InvalidImdsEndpoint;

/// E0901: a timeout outside 1..=600 seconds.
#[msal_app(config = "invalid_timeout.toml", app = "orders_daemon")]
pub struct InvalidTimeout;

/// E0902: a proxy that is not an http/https/socks5 URL.
#[msal_app(config = "invalid_proxy.toml", app = "orders_daemon")]
pub struct InvalidProxy;

/// E0903: an `app_name` that cannot be an HTTP header.
#[msal_app(config = "invalid_header_value.toml", app = "orders_daemon")]
pub struct InvalidHeaderValue;

/// E1001: an unknown token cache kind, with "did you mean".
#[msal_app(config = "unknown_cache_kind.toml", app = "orders_daemon")]
pub struct UnknownCacheKind;

/// E1002: a file cache without a path.
#[msal_app(config = "empty_cache_path.toml", app = "orders_daemon")]
pub struct EmptyCachePath;

/// E1003: a Redis URL that is not redis:// or rediss://.
#[msal_app(config = "invalid_redis_url.toml", app = "orders_daemon")]
pub struct InvalidRedisUrl;

/// E1004: a Redis cache with both `url` and `url_env`.
#[msal_app(config = "invalid_cache_source.toml", app = "orders_daemon")]
pub struct InvalidCacheSource;

fn main() {}
