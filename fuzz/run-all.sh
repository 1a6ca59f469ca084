#!/usr/bin/env bash
# Seeds each target's corpus from the repository (real caches of five MSAL libraries,
# msal.toml files, the authority table, token answers) and runs the four targets one after
# another, SECONDS each (default 600), at low priority. Needs a nightly toolchain and
# cargo-fuzz (`cargo install cargo-fuzz`). Corpus and crashes stay under fuzz/ (gitignored).
set -euo pipefail
cd "$(dirname "$0")"
secs="${1:-600}"
root=..

mkdir -p corpus/cache_deserialize corpus/msal_toml corpus/authority_parse corpus/token_response
find "$root/tests/fixtures/peer-caches" -name '*.json' -size -200k -exec cp {} corpus/cache_deserialize/ \;
cp "$root/msal.toml.example" corpus/msal_toml/example.toml
cp "$root/msal-config/reference.toml" corpus/msal_toml/reference.toml
cp "$root/examples/msal.toml" corpus/msal_toml/examples.toml
i=0
grep -v '^#' "$root/msal-config/tests/authorities.tsv" | cut -f1 | while IFS= read -r a; do
    i=$((i + 1))
    printf '%s' "$a" > "corpus/authority_parse/seed-$i"
done
# Two little-endian status bytes, then the body.
printf '\xc8\x00{"token_type":"Bearer","expires_in":"3599","ext_expires_in":3599.5,"refresh_in":1800,"access_token":"eyJ0","refresh_token":"rt","id_token":"x.y.z","client_info":"e30"}' > corpus/token_response/ok
printf '\xc8\x00{"access_token":"a","expires_on":"1700000000"}' > corpus/token_response/expires_on
printf '\x90\x01{"error":"invalid_grant","error_description":"AADSTS70000","error_codes":[70000],"suberror":"bad_token","claims":"{}"}' > corpus/token_response/error
printf '\xf6\x01<html>bad gateway</html>' > corpus/token_response/html

export CARGO_INCREMENTAL=0
for target in cache_deserialize token_response authority_parse msal_toml; do
    echo "== $target, $secs s"
    nice -n 10 cargo +nightly fuzz run -O "$target" -- -max_total_time="$secs" -print_final_stats=1 \
        2>&1 | tee "fuzz-$target.log" | grep -E 'stat::number_of_executed_units|Done|ERROR|SUMMARY|panicked' || true
done
