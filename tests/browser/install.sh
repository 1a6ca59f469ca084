#!/usr/bin/env bash
# Installs the pinned playwright-core (package-lock.json) that drives Debian's Chromium in
# tests/integration/web_app_browser.rs. No browser is downloaded: the test uses /usr/bin/chromium
# (Debian package `chromium`, installed by scripts/setup.sh). Idempotent: runs `npm ci` only
# when node_modules is missing or was installed from another package-lock.json.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"

for tool in node npm; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "install.sh: \`$tool\` is not on PATH; the browser test needs Node.js (>= 20) and npm" >&2
    exit 1
  fi
done

stamp="node_modules/.msal-install-stamp"
want="$(sha256sum package-lock.json | cut -d' ' -f1) node=$(node --version)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -f node_modules/playwright-core/package.json ]; then
  exit 0
fi

echo "install.sh: installing playwright-core in $here (npm ci)" >&2
# PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD: playwright-core downloads nothing, but be explicit.
PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error >&2
node -e 'import("playwright-core").then(() => {}, (e) => { console.error(e); process.exit(1); })'
printf '%s\n' "$want" > "$stamp"
