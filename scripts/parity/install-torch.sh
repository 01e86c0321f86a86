#!/usr/bin/env bash
# Install what the PyTorch parity harness (make parity) needs on Debian 12:
# python3-torch and python3-numpy, for the system python (/usr/bin/python3).
# Idempotent: when both are installed it does nothing (no apt-get update).
# Never needed by the library, the tool or make check.
set -euo pipefail
PKGS=(python3-torch python3-numpy)
missing=()
for p in "${PKGS[@]}"; do
    st=$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null || true)
    case "$st" in ii*) ;; *) missing+=("$p") ;; esac
done
if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi
echo "install-torch: installing: ${missing[*]}"
SUDO=
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO=sudo
    else
        echo "install-torch: not root and no sudo; install these by hand: ${missing[*]}" >&2
        exit 1
    fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${PKGS[@]}" </dev/null
