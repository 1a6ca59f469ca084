#!/usr/bin/env bash
# Installs what the tests need, idempotently. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then SUDO="sudo"; fi

need_apt=()
dpkg -s libssl-dev >/dev/null 2>&1 || need_apt+=(libssl-dev)
dpkg -s pkg-config >/dev/null 2>&1 || need_apt+=(pkg-config)
command -v redis-server >/dev/null 2>&1 || need_apt+=(redis-server)
# Headless Chromium for the web_app browser test (tests/integration/web_app_browser.rs).
[ -x /usr/bin/chromium ] || need_apt+=(chromium)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "== apt-get install ${need_apt[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}"
fi
# The Debian package starts a system redis on :6379; tests start their own on free ports.

if [ -f tests/python/requirements.txt ]; then
  if [ ! -x .venv/bin/python ] || ! .venv/bin/python -c "import msal, msal_extensions" >/dev/null 2>&1; then
    echo "== python venv with MSAL Python and msal-extensions"
    python3 -m venv .venv
    .venv/bin/pip install -q -r tests/python/requirements.txt
  fi
fi

if [ -f tests/oidc-provider/install.sh ]; then
  echo "== oidc-provider (npm)"
  bash tests/oidc-provider/install.sh
fi

if [ -f tests/browser/install.sh ]; then
  echo "== playwright-core (npm) for the browser test"
  bash tests/browser/install.sh
fi
