#!/bin/sh
# Unpack the arm64 build of Criterion (and the arm64 libc and every library it
# needs at run time) into a private sysroot, without installing anything and
# without adding arm64 to dpkg's architectures (multiarch libcriterion-dev
# would remove the amd64 one). apt works on its own lists inside DEST, so the
# system's apt state is not touched.
#   scripts/setup-arm64-criterion.sh [DEST]   (default build/sysroot-arm64)
# Result: DEST/usr/include/criterion, DEST/usr/lib/aarch64-linux-gnu/libcriterion.so,
# DEST/lib/ld-linux-aarch64.so.1 ...; run tests with QEMU_LD_PREFIX=DEST.
# Skips everything when DEST is already complete. Needs network access to the
# Debian mirror (apt-get download); no root needed except for apt's lists.
set -eu
DEST=${1:-build/sysroot-arm64}
PKGS="libcriterion-dev libcriterion3 libboxfort-dev libc6 gcc-12-base libgcc-s1 libffi8
      libgit2-1.5 libnanomsg5 libhttp-parser2.9 libmbedcrypto7 libmbedtls14 libmbedx509-1
      libpcre2-8-0 libssh2-1 libssl3 zlib1g libgssapi-krb5-2 libk5crypto3 libkrb5-3
      libkrb5support0 libkeyutils1 libcom-err2"

complete() {
    [ -e "$DEST/.complete" ] && [ -e "$DEST/usr/include/criterion/criterion.h" ] &&
        [ -e "$DEST/usr/lib/aarch64-linux-gnu/libcriterion.so" ] &&
        [ -e "$DEST/lib/ld-linux-aarch64.so.1" ]
}
if complete; then
    echo "setup-arm64-criterion: $DEST is ready"
    exit 0
fi

start=$(date +%s)
rm -rf "$DEST"
mkdir -p "$DEST/debs" "$DEST/apt/lists/partial" "$DEST/apt/cache/archives/partial"
APT="-o APT::Architectures::=amd64 -o APT::Architectures::=arm64
     -o Dir::State::Lists=$(cd "$DEST" && pwd)/apt/lists
     -o Dir::Cache=$(cd "$DEST" && pwd)/apt/cache
     -o Debug::NoLocking=1"
# shellcheck disable=SC2086
apt-get $APT update -qq
args=
for p in $PKGS; do args="$args $p:arm64"; done
# shellcheck disable=SC2086
(cd "$DEST/debs" && apt-get $APT download $args) >"$DEST/download.log" 2>&1 || {
    cat "$DEST/download.log" >&2
    echo "setup-arm64-criterion: apt-get download failed" >&2
    exit 1
}
for d in "$DEST"/debs/*.deb; do dpkg -x "$d" "$DEST"; done
# Debian 12 is merged-/usr: the loader is at usr/lib; qemu looks in DEST/lib.
if [ ! -e "$DEST/lib/ld-linux-aarch64.so.1" ] && [ -e "$DEST/usr/lib/ld-linux-aarch64.so.1" ]; then
    mkdir -p "$DEST/lib"
    ln -sf ../usr/lib/ld-linux-aarch64.so.1 "$DEST/lib/ld-linux-aarch64.so.1"
fi
rm -rf "$DEST/debs" "$DEST/apt"
touch "$DEST/.complete"
if ! complete; then
    echo "setup-arm64-criterion: $DEST is incomplete after unpacking" >&2
    exit 1
fi
echo "setup-arm64-criterion: $DEST ready in $(( $(date +%s) - start )) s"
