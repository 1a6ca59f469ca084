//! Authorities: the shared URL model, tenant discovery, instance discovery, regional
//! endpoints.
//!
//! Parsing and classification live in [`msal_config::authority`], the one model the
//! `msal.toml` checks, the macro, the `msal` command and this runtime share, so a verdict on
//! an authority cannot differ between compile time and run time. Parsing is pure and happens
//! in `build()`; discovery is lazy (first token request) and done once per application, so
//! constructing an application costs no network I/O (unlike MSAL Python, whose constructor
//! fetches the OpenID configuration).

mod aliases;
mod discovery;
mod region;

pub(crate) use aliases::AliasDiscovery;
pub(crate) use discovery::{AuthorityMetadata, Discovery};
pub use msal_config::authority::{
    is_loopback_host, Authority, AuthorityError, AuthorityKind, WELL_KNOWN_HOSTS,
};
pub use region::Region;
pub(crate) use region::{forced_region, regional_host, RegionResolver};

/// Anything [`ConfidentialClientApplicationBuilder::authority`](crate::ConfidentialClientApplicationBuilder::authority)
/// accepts: a string (parsed by the shared model) or an [`Authority`] parsed already.
///
/// ```
/// use msal_runtime::{Authority, IntoAuthority};
/// let parsed = Authority::parse("https://login.microsoftonline.com/contoso.com").unwrap();
/// assert_eq!("https://login.microsoftonline.com/contoso.com".into_authority().unwrap(), parsed);
/// assert!("http://example.com/contoso".into_authority().is_err());
/// ```
pub trait IntoAuthority {
    /// Parses (or passes through) the authority.
    fn into_authority(self) -> crate::Result<Authority>;
}

impl IntoAuthority for Authority {
    fn into_authority(self) -> crate::Result<Authority> {
        Ok(self)
    }
}

impl IntoAuthority for &Authority {
    fn into_authority(self) -> crate::Result<Authority> {
        Ok(self.clone())
    }
}

impl IntoAuthority for &str {
    fn into_authority(self) -> crate::Result<Authority> {
        Authority::parse(self).map_err(|e| crate::Error::authority(self, e))
    }
}

impl IntoAuthority for String {
    fn into_authority(self) -> crate::Result<Authority> {
        self.as_str().into_authority()
    }
}

impl IntoAuthority for &String {
    fn into_authority(self) -> crate::Result<Authority> {
        self.as_str().into_authority()
    }
}
