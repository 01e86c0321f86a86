#!/usr/bin/env bash
# Check `make install`: install the native build into a temporary prefix,
# compile a small program against it with pkg-config (shared and fully
# static, which needs Libs.private), run both, and check a DESTDIR install
# (files under DESTDIR, paths in ttrank.pc without it). Leaves nothing behind.
#   scripts/test-install.sh [make arguments, e.g. COMPILER=clang]
set -euo pipefail
cd "$(dirname "$0")/.."
unset MAKEFLAGS MFLAGS MAKELEVEL MAKEOVERRIDES
CC=${CC:-cc}
TMP=$(mktemp -d /tmp/ttrank-install.XXXXXX)
trap 'rm -rf "$TMP"' EXIT

step() { printf 'test-install: %s\n' "$*"; }

step "make install PREFIX=$TMP/usr"
make --no-print-directory -j"${JOBS:-2}" "$@" install PREFIX="$TMP/usr" >"$TMP/install.log" 2>&1 ||
    { cat "$TMP/install.log"; exit 1; }
(cd "$TMP/usr" && find . ! -type d | sort | while read -r f; do
    if [ -L "$f" ]; then echo "  $f -> $(readlink "$f")"; else echo "  $f"; fi
done)

lib=$TMP/usr/lib
# the version is declared once, in include/ttrank.h
ver=$(sed -n 's/^#define TTR_VERSION_STRING "\(.*\)"$/\1/p' include/ttrank.h)
real=libttrank.so.$ver
[ -f "$lib/libttrank.a" ] && [ -f "$lib/$real" ] || { step "libraries missing ($real)"; exit 1; }
[ "$(readlink "$lib/libttrank.so")" = "$real" ] &&
    [ "$(readlink "$lib/libttrank.so.0")" = "$real" ] || { step "bad .so symlinks"; exit 1; }
soname=$(readelf -d "$lib/$real" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
[ "$soname" = libttrank.so.0 ] || { step "SONAME is '$soname', want libttrank.so.0"; exit 1; }
step "SONAME $soname"
for h in include/*.h; do
    [ -f "$TMP/usr/include/$(basename "$h")" ] || { step "header $h not installed"; exit 1; }
done
# the library exports its API and nothing of the tool (simulator, scenarios, SVG)
exports=$(nm -D --defined-only "$lib/$real" | awk '$2 == "T" { print $3 }')
bad=$(printf '%s\n' "$exports" | grep -v '^ttr_' || true)
tool=$(printf '%s\n' "$exports" | grep -E '^ttr_(sim|rng|svg|scenario|planted)' || true)
[ -z "$bad$tool" ] || { step "libttrank.so exports: $bad $tool"; exit 1; }
step "libttrank.so exports $(printf '%s\n' "$exports" | wc -l) functions, all ttr_*, none of the tool's"
# the scalar references are leaves: no dispatched kernel, no composite
objs=$(ls build/"$(uname -m)"-gcc/src/ref_*.o 2>/dev/null || true)
if [ -n "$objs" ]; then
    calls=$(nm $objs | grep -E ' U ttr__(kernels_get|[a-z0-9_]+_composite)$' || true)
    [ -z "$calls" ] || { step "scalar references call into the dispatch table: $calls"; exit 1; }
    step "scalar references: leaves ($(echo $objs | wc -w) objects)"
fi

export PKG_CONFIG_PATH=$lib/pkgconfig
step "pkg-config --cflags --libs ttrank: $(pkg-config --cflags --libs ttrank)"
step "pkg-config --static --libs ttrank: $(pkg-config --static --libs ttrank)"
[ "$(pkg-config --modversion ttrank)" = "$ver" ] || { step "pkg-config version mismatch"; exit 1; }

cat >"$TMP/use.c" <<'C'
#include <stdio.h>
#include <ttr_kernels.h>

int main(void)
{
    float x[5] = {1, 2, 3, 4, 5}, y[5] = {5, 4, 3, 2, 1};
    float d = ttr_dot_f32(5, x, y);
    printf("ttrank via pkg-config: path %s, dot %g, %s\n",
           ttr_cpu_path_name(ttr_cpu_flags()), (double)d, ttr_strerror(TTR_OK));
    return d == 35.0f ? 0 : 1;
}
C
FLAGS="-std=c99 -Wall -Wextra -Werror -pedantic"
# shellcheck disable=SC2046,SC2086
$CC $FLAGS $(pkg-config --cflags ttrank) "$TMP/use.c" -o "$TMP/use-shared" $(pkg-config --libs ttrank)
readelf -d "$TMP/use-shared" | grep -q 'NEEDED.*\[libttrank.so.0\]' || { step "not linked to libttrank.so.0"; exit 1; }
step "shared: $(LD_LIBRARY_PATH=$lib "$TMP/use-shared")"
# shellcheck disable=SC2046,SC2086
$CC $FLAGS -static $(pkg-config --cflags ttrank) "$TMP/use.c" -o "$TMP/use-static" $(pkg-config --static --libs ttrank)
step "static: $("$TMP/use-static")"

# the examples of docs/ (docs/examples/*.c), as an app builds them, run
for ex in docs/examples/*.c; do
    # shellcheck disable=SC2046,SC2086
    $CC $FLAGS -static $(pkg-config --cflags ttrank) "$ex" -o "$TMP/example" \
        $(pkg-config --static --libs ttrank) || { step "$ex does not compile"; exit 1; }
    out=$("$TMP/example") || { step "$ex failed: $out"; exit 1; }
    step "$ex: $out"
done

step "make install PREFIX=/usr/local DESTDIR=$TMP/stage"
make --no-print-directory "$@" install PREFIX=/usr/local DESTDIR="$TMP/stage" >"$TMP/install2.log" 2>&1 ||
    { cat "$TMP/install2.log"; exit 1; }
pc=$TMP/stage/usr/local/lib/pkgconfig/ttrank.pc
[ -f "$pc" ] && [ -L "$TMP/stage/usr/local/lib/libttrank.so" ] || { step "DESTDIR layout wrong"; exit 1; }
grep -qx 'prefix=/usr/local' "$pc" && ! grep -q "$TMP" "$pc" || { step "ttrank.pc has DESTDIR in it"; exit 1; }
step "ok"
