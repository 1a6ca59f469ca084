//! The authority parser: any text never panics; an accepted authority's canonical form
//! parses to the same kind, tenant, host and canonical form.
#![no_main]

use libfuzzer_sys::fuzz_target;
use msal_config::Authority;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(a) = Authority::parse(text) {
        let again = Authority::parse(a.as_str())
            .unwrap_or_else(|e| panic!("{text:?} -> {:?} does not parse: {e}", a.as_str()));
        assert_eq!(again.kind(), a.kind());
        assert_eq!(again.tenant(), a.tenant());
        assert_eq!(again.host(), a.host());
        assert_eq!(again.port(), a.port());
        assert_eq!(again.as_str(), a.as_str());
        let _ = a.openid_configuration_url();
        let _ = a.needs_instance_discovery();
    }
    if let Ok(a) = Authority::oidc(text) {
        let again = Authority::oidc(a.as_str())
            .unwrap_or_else(|e| panic!("{text:?} -> {:?} does not parse: {e}", a.as_str()));
        assert_eq!(again.as_str(), a.as_str());
    }
});
