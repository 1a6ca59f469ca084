"""A Python service writing app tokens into a cache file shared with other processes.

Uses msal-extensions' PersistedTokenCache over a FilePersistence, as the MSAL Python
documentation recommends for a cache shared across processes, and gets COUNT app tokens
(one per resource `api://TAG-I`) from the authority, one after the other.

usage: cache_writer.py CACHE_FILE AUTHORITY CLIENT_ID SECRET TAG COUNT
Prints one JSON line: {"written": N, "lock_errors": E} (a lock that msal-extensions gave up
waiting for is retried, and counted).
"""
import json
import sys

import msal
import msal_extensions


def main():
    cache_file, authority, client_id, secret, tag, count = sys.argv[1:]
    cache = msal_extensions.PersistedTokenCache(msal_extensions.FilePersistence(cache_file))
    app = msal.ConfidentialClientApplication(
        client_id,
        client_credential=secret,
        authority=authority,
        token_cache=cache,
        instance_discovery=False,
    )
    written = 0
    lock_errors = 0
    for i in range(int(count)):
        scope = "api://{}-{}/.default".format(tag, i)
        for _ in range(20):
            try:
                result = app.acquire_token_for_client([scope])
                break
            except msal_extensions.LockError:
                lock_errors += 1
        else:
            raise SystemExit("gave up on the lock for " + scope)
        if "access_token" not in result:
            raise SystemExit("no token for {}: {}".format(scope, result))
        written += 1
    print(json.dumps({"written": written, "lock_errors": lock_errors}))


if __name__ == "__main__":
    main()
