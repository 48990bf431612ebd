#!/usr/bin/env bash
# Debian's Chromium for the browser tests (a test tool's own browser download cannot work
# here). Quiet and quick when it is already installed.
set -euo pipefail
if command -v chromium > /dev/null 2>&1; then
    exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo -n"
fi
echo "setup-browser: installing chromium with apt" >&2
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends chromium > /dev/null
