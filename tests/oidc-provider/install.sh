#!/usr/bin/env bash
# Installs the pinned oidc-provider (package-lock.json) for tests/integration/oidc_provider.rs.
# Idempotent: runs `npm ci` only when node_modules is missing or was installed from
# another package-lock.json. Fails loudly when node or npm is missing.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"

for tool in node npm; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "install.sh: \`$tool\` is not on PATH; the oidc-provider interop test needs Node.js (>= 20) and npm" >&2
    exit 1
  fi
done

if [ ! -f package-lock.json ]; then
  echo "install.sh: $here/package-lock.json is missing" >&2
  exit 1
fi

stamp="node_modules/.msal-install-stamp"
want="$(sha256sum package-lock.json | cut -d' ' -f1) node=$(node --version)"

if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -f node_modules/oidc-provider/package.json ]; then
  exit 0
fi

echo "install.sh: installing oidc-provider in $here (npm ci)" >&2
npm ci --no-audit --no-fund --loglevel=error >&2
node -e 'import("oidc-provider").then(() => {}, (e) => { console.error(e); process.exit(1); })'
printf '%s\n' "$want" > "$stamp"
