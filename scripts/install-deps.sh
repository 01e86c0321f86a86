#!/usr/bin/env bash
# Install what `make check` needs on Debian 12 (bookworm). Idempotent: when
# every package is already installed it does nothing (no apt-get update), so
# repeated runs are fast. Needs root (or sudo) only when something is missing.
#   scripts/install-deps.sh          install what is missing
#   scripts/install-deps.sh --build  only what a native build needs (make run)
#   scripts/install-deps.sh --torch  what make parity and make fixtures need besides a
#                                    build: Debian's PyTorch, numpy and onnx for
#                                    /usr/bin/python3 (never needed by the library, the
#                                    tool or make check)
#   scripts/install-deps.sh --list   print the package list
set -euo pipefail

# libc6-dev-*-cross and qemu-user-binfmt are only Recommends of the cross gcc
# and of qemu-user: listed so that --no-install-recommends can't drop them.
# qemu-user-static is NOT wanted (it conflicts with qemu-user-binfmt).
# valgrind: make valgrind (memcheck); gcov, for make coverage, comes with gcc.
# cmake: the CMake build beside the Makefile (scripts/test-cmake.sh).
# libclang-rt-14-dev (libFuzzer and clang's ASan/UBSan runtimes, for the fuzz
# targets) is only a Recommends of clang's libclang-common-14-dev.
PKGS=(make gcc libc6-dev clang libclang-rt-14-dev pkg-config libcriterion-dev
      gcc-aarch64-linux-gnu libc6-dev-arm64-cross
      gcc-arm-linux-gnueabihf libc6-dev-armhf-cross
      qemu-user qemu-user-binfmt valgrind cmake)

if [ "${1:-}" = --build ]; then
    PKGS=(make gcc libc6-dev)
fi
if [ "${1:-}" = --torch ]; then
    PKGS=(python3-torch python3-numpy python3-onnx)
fi
if [ "${1:-}" = --list ]; then
    printf '%s\n' "${PKGS[@]}"
    exit 0
fi

missing=()
for p in "${PKGS[@]}"; do
    st=$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null || true)
    case "$st" in ii*) ;; *) missing+=("$p") ;; esac
done
if [ ${#missing[@]} -eq 0 ]; then
    echo "install-deps: all ${#PKGS[@]} packages present, apt skipped"
    exit 0
fi

echo "install-deps: installing: ${missing[*]}"
SUDO=
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO=sudo
    else
        echo "install-deps: not root and no sudo; install these by hand: ${missing[*]}" >&2
        exit 1
    fi
fi
export DEBIAN_FRONTEND=noninteractive
start=$(date +%s)
$SUDO apt-get update -qq
# Install the whole list so versions stay consistent with each other.
$SUDO apt-get install -y -qq --no-install-recommends "${PKGS[@]}" </dev/null
echo "install-deps: done in $(( $(date +%s) - start )) s"
