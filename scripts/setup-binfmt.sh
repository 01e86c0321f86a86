#!/bin/sh
# Register qemu-user for aarch64 and arm ELF binaries with binfmt_misc, so that
# a process running under qemu can exec() another ARM binary. Needed by the
# real Criterion under qemu: it re-executes the test binary for every test.
# Idempotent; needs root. This is kernel state: machines without systemd (CI
# here) lose it at reboot and nothing loads /usr/lib/binfmt.d, so `make check`
# runs this every time. Exits non-zero if aarch64 can't be registered.
set -eu
BM=/proc/sys/fs/binfmt_misc
if [ ! -e "$BM/register" ]; then
    mount -t binfmt_misc binfmt_misc "$BM" 2>/dev/null || {
        echo "setup-binfmt: cannot mount binfmt_misc at $BM (not root, or not allowed here)" >&2
        exit 1
    }
fi
[ "$(cat "$BM/status" 2>/dev/null)" = enabled ] || echo 1 > "$BM/status"
for a in aarch64 arm; do
    conf=/usr/lib/binfmt.d/qemu-$a.conf
    if [ ! -e "$BM/qemu-$a" ]; then
        if [ ! -r "$conf" ]; then
            echo "setup-binfmt: $conf missing (install qemu-user-binfmt)" >&2
            exit 1
        fi
        cat "$conf" > "$BM/register"
    fi
    head -n 1 "$BM/qemu-$a" | grep -qx enabled || echo 1 > "$BM/qemu-$a"
done
echo "setup-binfmt: qemu-aarch64 and qemu-arm registered ($(sed -n 's/^interpreter //p' "$BM/qemu-aarch64"))"
