"""The scenarios of bench/compare.rs, run through MSAL Python.

usage: msal_python.py MODE AUTHORITY CLIENT_ID SECRET WORKDIR
MODE: first-app -> construct the first app of this process, then its first token
      suite     -> the in-process rows (raw POST, further apps, hits, (de)serialization)
      cold      -> 1,000 concurrent cold callers (threads) on one app
      rss       -> resident memory holding the 100k-tenant cache after a hit
Prints one JSON line. The CA of the authority comes from REQUESTS_CA_BUNDLE.
"""
import json
import os
import statistics
import sys
import threading
import time

SCOPE = ["https://graph.microsoft.com/.default"]
HIT_REPS = 5000
APP_REPS = 30


def ms(ns):
    return ns / 1e6


def us(ns):
    return ns / 1e3


def main():
    mode, authority, client_id, secret, workdir = sys.argv[1:6]
    start = time.perf_counter_ns()
    import msal  # noqa: E402  (imported inside: the import is not part of any row)

    def app(cache=None):
        return msal.ConfidentialClientApplication(
            client_id,
            client_credential=secret,
            authority=authority,
            token_cache=cache,
            instance_discovery=False,
        )

    def token(a):
        r = a.acquire_token_for_client(SCOPE)
        if "access_token" not in r:
            raise SystemExit("MSAL Python: %s" % r.get("error_description"))
        return r

    def hits(a, reps=HIT_REPS):
        t = []
        for _ in range(reps):
            s = time.perf_counter_ns()
            token(a)
            t.append(us(time.perf_counter_ns() - s))
        return statistics.median(t)

    out = {}
    if mode == "first-app":
        s = time.perf_counter_ns()
        a = app()
        constructed = time.perf_counter_ns()
        token(a)
        done = time.perf_counter_ns()
        out = {"construct_ms": ms(constructed - s), "first_token_ms": ms(done - s)}
    elif mode == "suite":
        import requests

        session = requests.Session()
        endpoint = authority + "/oauth2/v2.0/token"
        form = {
            "grant_type": "client_credentials",
            "client_id": client_id,
            "client_secret": secret,
            "scope": SCOPE[0],
        }
        t = []
        for i in range(APP_REPS + 3):
            s = time.perf_counter_ns()
            session.post(endpoint, data=form).content
            if i >= 3:
                t.append(ms(time.perf_counter_ns() - s))
        out["raw_post_warm_ms"] = statistics.median(t)

        token(app())
        construct, further = [], []
        for _ in range(APP_REPS):
            s = time.perf_counter_ns()
            a = app()
            construct.append(ms(time.perf_counter_ns() - s))
            token(a)
            further.append(ms(time.perf_counter_ns() - s))
        out["construct_further_ms"] = statistics.median(construct)
        out["further_token_ms"] = statistics.median(further)

        a = app()
        token(a)
        out["hit_memory_us"] = hits(a)
        big = msal.SerializableTokenCache()
        with open(os.path.join(workdir, "cache-100k.json"), encoding="utf-8") as f:
            big.deserialize(f.read())
        a = app(big)
        token(a)
        out["hit_memory_100k_us"] = hits(a, 200)
        del a, big

        with open(os.path.join(workdir, "cache-10k.json"), encoding="utf-8") as f:
            text = f.read()
        de, ser = [], []
        for _ in range(15):
            c = msal.SerializableTokenCache()
            s = time.perf_counter_ns()
            c.deserialize(text)
            de.append(ms(time.perf_counter_ns() - s))
            c.has_state_changed = True
            s = time.perf_counter_ns()
            c.serialize()
            ser.append(ms(time.perf_counter_ns() - s))
        out["deserialize_10k_ms"] = statistics.median(de)
        out["serialize_10k_ms"] = statistics.median(ser)

        from msal_extensions import FilePersistence, PersistedTokenCache

        path = os.path.join(workdir, "file-cache-python.json")
        a = app(PersistedTokenCache(FilePersistence(path)))
        token(a)
        out["hit_file_us"] = hits(a, 2000)
    elif mode == "cold":
        a = app()
        barrier = threading.Barrier(1000)
        errors = []

        def caller():
            barrier.wait()
            try:
                token(a)
            except BaseException as e:  # noqa: BLE001 (reported below)
                errors.append(e)

        threads = [threading.Thread(target=caller) for _ in range(1000)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        out = {"errors": len(errors)}
    elif mode == "rss":
        cache = msal.SerializableTokenCache()
        with open(os.path.join(workdir, "cache-100k.json"), encoding="utf-8") as f:
            cache.deserialize(f.read())
        a = app(cache)
        token(a)
        with open("/proc/self/status", encoding="ascii") as f:
            kb = next(int(l.split()[1]) for l in f if l.startswith("VmRSS:"))
        out = {"rss_mib": kb / 1024}
    else:
        raise SystemExit("unknown mode " + mode)
    out["wall_ms"] = ms(time.perf_counter_ns() - start)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
