"""MSAL Python as a cache peer of the Rust library.

Reads a serialized cache, asks for a token the way a Python service would, prints what
happened as one JSON line, and writes the (possibly updated) cache back.

usage: cache_peer.py CACHE_FILE AUTHORITY CLIENT_ID SECRET MODE SCOPE...
MODE: app    -> acquire_token_for_client(scopes), with fmi_path and forwarded_client_claims
                from the environment variables MSAL_TEST_FMI_PATH and
                MSAL_TEST_FORWARDED_CLIENT_CLAIMS when set
      user   -> get_accounts() then acquire_token_silent(scopes, account) with the first
                account (refreshing with the cached refresh token when no access token fits)
      obo    -> acquire_token_on_behalf_of(assertion, scopes), the assertion taken from the
                environment variable MSAL_TEST_USER_ASSERTION
"""
import os
import json
import sys

import msal


def main():
    cache_file, authority, client_id, secret, mode, *scopes = sys.argv[1:]
    cache = msal.SerializableTokenCache()
    with open(cache_file, encoding="utf-8") as f:
        cache.deserialize(f.read())
    app = msal.ConfidentialClientApplication(
        client_id,
        client_credential=secret,
        authority=authority,
        token_cache=cache,
        instance_discovery=False,
    )
    out = {"mode": mode}
    if mode == "app":
        result = app.acquire_token_for_client(
            scopes,
            fmi_path=os.environ.get("MSAL_TEST_FMI_PATH"),
            forwarded_client_claims=os.environ.get("MSAL_TEST_FORWARDED_CLIENT_CLAIMS"),
        )
    elif mode == "obo":
        result = app.acquire_token_on_behalf_of(os.environ["MSAL_TEST_USER_ASSERTION"], scopes)
    else:
        accounts = app.get_accounts()
        out["accounts"] = [a.get("username") for a in accounts]
        out["home_account_ids"] = [a.get("home_account_id") for a in accounts]
        result = app.acquire_token_silent(scopes, account=accounts[0]) if accounts else None
    result = result or {}
    out["token_source"] = result.get("token_source")
    out["access_token"] = result.get("access_token")
    out["error"] = result.get("error")
    out["error_description"] = result.get("error_description")
    with open(cache_file, "w", encoding="utf-8") as f:
        f.write(cache.serialize())
    print(json.dumps(out))


if __name__ == "__main__":
    main()
