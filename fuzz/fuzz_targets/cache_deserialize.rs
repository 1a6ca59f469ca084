//! The token cache deserializer: any bytes never panic; whatever it accepts it writes out
//! in a form it reads back the same; a JSON object comes back out as the same JSON value
//! (unknown sections, entries and fields included).
#![no_main]

use libfuzzer_sys::fuzz_target;
use msal_runtime::TokenCache;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let cache = TokenCache::new();
    if cache.deserialize(text).is_err() {
        return;
    }
    let _ = cache.access_tokens();
    let _ = cache.refresh_tokens();
    let _ = cache.accounts();
    let once = cache.serialize();
    let again = TokenCache::new();
    again
        .deserialize(&once)
        .expect("the cache reads back what it wrote");
    assert_eq!(again.serialize(), once, "serialize is not a fixpoint");
    if let Ok(input @ Value::Object(_)) = serde_json::from_str::<Value>(text) {
        let output: Value = serde_json::from_str(&once).expect("the cache writes JSON");
        assert_eq!(output, input, "the round trip lost or changed something");
    }
});
