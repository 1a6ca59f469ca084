"""MSAL Python's ManagedIdentityClient as a cache peer of the Rust library.

usage: mi_cache_peer.py CACHE_FILE IDENTITY RESOURCE
IDENTITY: "system" ({"ManagedIdentityIdType": "SystemAssigned"}) or "client_id:<id>".
The IMDS host comes from AZURE_POD_IDENTITY_AUTHORITY_HOST (the test authority on loopback).
Prints one JSON line (token_source, access_token, error) and writes the cache back.
"""
import json
import sys

import msal
import requests


def main():
    cache_file, identity, resource = sys.argv[1:]
    cache = msal.SerializableTokenCache()
    with open(cache_file, encoding="utf-8") as f:
        text = f.read()
    if text.strip():
        cache.deserialize(text)
    if identity == "system":
        mi = {"ManagedIdentityIdType": "SystemAssigned"}
    else:
        mi = msal.UserAssignedManagedIdentity(client_id=identity.split(":", 1)[1])
    client = msal.ManagedIdentityClient(mi, http_client=requests.Session(), token_cache=cache)
    result = client.acquire_token_for_client(resource=resource)
    out = {
        "token_source": result.get("token_source"),
        "access_token": result.get("access_token"),
        "error": result.get("error"),
    }
    with open(cache_file, "w", encoding="utf-8") as f:
        f.write(cache.serialize())
    print(json.dumps(out))


if __name__ == "__main__":
    main()
