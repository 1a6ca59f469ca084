//! `TokenCache::deserialize` and `serialize` of MSAL caches of 10,000 and 100,000 app
//! tokens (about 2 KB an entry; unknown fields and sections included, and kept).

mod common;

use msal_runtime::TokenCache;

fn main() {
    divan::main();
}

#[divan::bench(args = [10_000, 100_000], sample_count = 10, sample_size = 1)]
fn deserialize(bencher: divan::Bencher<'_, '_>, tokens: usize) {
    let text = common::cache_json(common::size(tokens), "login.microsoftonline.com");
    let cache = TokenCache::new();
    bencher.bench_local(|| cache.deserialize(&text).expect("parses"));
}

/// Into an empty cache, as an application loads its cache at start-up (and as
/// `bench/compare.sh` times it): the cache is dropped after the timing, whereas
/// `deserialize` above also frees the cache it replaces.
#[divan::bench(args = [10_000, 100_000], sample_count = 10, sample_size = 1)]
fn deserialize_into_empty(bencher: divan::Bencher<'_, '_>, tokens: usize) {
    let text = common::cache_json(common::size(tokens), "login.microsoftonline.com");
    bencher
        .with_inputs(TokenCache::new)
        .bench_local_values(|cache| {
            cache.deserialize(&text).expect("parses");
            cache
        });
}

#[divan::bench(args = [10_000, 100_000], sample_count = 10, sample_size = 1)]
fn serialize(bencher: divan::Bencher<'_, '_>, tokens: usize) {
    let text = common::cache_json(common::size(tokens), "login.microsoftonline.com");
    let cache = TokenCache::new();
    cache.deserialize(&text).expect("parses");
    drop(text);
    bencher.bench_local(|| cache.serialize());
}
