#!/usr/bin/env bash
# Check the CMake build (CMakeLists.txt, docs/cmake.md) with the system's cmake:
#   host     configure (with the tool), build, install into a temporary prefix:
#            the installed files, SONAME and exports as `make install` has them,
#            and every library object compiled from the Makefile's source list
#            with the Makefile's flags (make itself prints them)
#   consumer tests/cmake/consumer, find_package(ttrank) against that prefix:
#            ttrank::ttrank (static), ttrank::ttrank_shared, and ttrank::ttrank
#            again under BUILD_SHARED_LIBS=ON (the shared library)
#   subdir   tests/cmake/subdir, add_subdirectory() of this tree: static, then
#            BUILD_SHARED_LIBS=ON
#   aarch64  the same cross (toolchains/aarch64-linux-gnu.cmake), the consumer
#   armv7    built against its install and run under qemu-user; its output
#            (but the CPU path) must be the host's (armv7: but the arena size,
#            which depends on the pointer size)
# Library build folders are build/cmake-{host,aarch64,armv7} (kept: a second
# run is incremental); the consumers' are rebuilt every time. Prints one line
# per check, then "N passed, N failed"; exit status 1 if anything failed.
#   JOBS=2   parallel compile jobs
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
ROOT=$PWD
# Not make's variables (from `make check`), nor a caller's compiler settings:
# cmake would take CC and CFLAGS from the environment.
unset MAKEFLAGS MFLAGS MAKELEVEL MAKEOVERRIDES CC CFLAGS LDFLAGS CMAKE_BUILD_TYPE \
    CMAKE_GENERATOR CMAKE_TOOLCHAIN_FILE CMAKE_PREFIX_PATH TTR_CPU_MASK QEMU_CPU
JOBS=${JOBS:-2}
TMP=$(mktemp -d /tmp/ttrank-cmake.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
T0=$(date +%s)
PASSED=0 FAILED=0

say() { printf 'test-cmake: %s\n' "$*"; }
ok() { PASSED=$((PASSED + 1)); say "ok   $*"; }
bad() { FAILED=$((FAILED + 1)); say "FAIL $*"; }
# step NAME CMD...: run CMD (a command or a function) with its output in
# $LOG; on failure show the end of it
NLOG=0
step() {
    local name=$1
    shift
    NLOG=$((NLOG + 1))
    LOG=$TMP/step$NLOG.log
    if "$@" >"$LOG" 2>&1; then
        ok "$name"
    else
        bad "$name"
        tail -n 40 "$LOG" | sed 's/^/    /'
        return 1
    fi
}
# the Makefile's value of a variable for a toolchain ("" = native); its
# stamps go to a temporary folder, not to build/
mkvar() {
    make -s --no-print-directory BUILD="$TMP/mk" ${1:+TOOLCHAIN=$1} \
        --eval 'ttr-print-%: ; @echo $($*)' "ttr-print-$2"
}
outfile() { printf '%s/out-%s\n' "$TMP" "$(printf '%s' "$1" | tr -c 'A-Za-z0-9' '_')"; }
needed() { readelf -d "$1" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | tr '\n' ' '; }
ver=$(sed -n 's/^#define TTR_VERSION_STRING "\(.*\)"$/\1/p' include/ttrank.h)

# check_flags BUILD_DIR MK_TOOLCHAIN: each library object of the build is
# compiled from the Makefile's LIB_SRCS + ARCH_SRCS (and NEON_FMA_SRCS a
# second time) with CFLAGS_BASE (but -O2 -g: the build type's) and the ISA
# flags and TTR_NEON_FMA of its pattern rule.
check_flags() {
    local dir=$1 tc=$2 base want line cmd src name kind flags f got=() errs=()
    base=$(mkvar "$tc" CFLAGS_BASE)
    # shellcheck disable=SC2046
    want=$({
        printf '%s\n' $(mkvar "$tc" LIB_SRCS) $(mkvar "$tc" ARCH_SRCS)
        for f in $(mkvar "$tc" NEON_FMA_SRCS); do echo "$f (fma)"; done
    } | sort)
    declare -A F
    for kind in avx2 avxvnni neon neonfma neondot; do F[$kind]=$(mkvar "$tc" "FLAGS_$kind"); done
    while IFS= read -r line; do
        cmd=${line#*\"command\": \"}
        cmd=${cmd%\",}
        src=${cmd##* -c }
        src=${src#"$ROOT"/}
        # only the library's objects (not the tool's)
        [[ $cmd == *" -o CMakeFiles/ttrank_obj_"* ]] || continue
        name=${src##*/}
        kind=
        case $name in
        *_avx2.c | *_avxvnni.c | *_neondot.c) kind=${name##*_} kind=${kind%.c} ;;
        *_neon.c) kind=neon ;;
        esac
        [[ $cmd == *"-DTTR_NEON_FMA=1"* ]] && kind=neonfma
        if [ "$kind" = neonfma ]; then got+=("$src (fma)"); else got+=("$src"); fi
        flags=" $cmd "
        for f in $base ${kind:+${F[$kind]}}; do
            case $f in -O2 | -g) continue ;; -I*) f=-I$ROOT/${f#-I} ;; esac
            [[ $flags == *" $f "* ]] || errs+=("$src: no $f")
        done
        case $kind in
        neon) [[ $flags == *" -DTTR_NEON_FMA=0 "* ]] || errs+=("$src: no -DTTR_NEON_FMA=0") ;;
        '') [[ ! $flags =~ \ -m(avx|fpu=neon|arch=armv8\.2) ]] || errs+=("$src: ISA flags on a baseline file") ;;
        esac
    done < <(grep '"command":' "$dir/compile_commands.json")
    if [ "$(printf '%s\n' "${got[@]}" | sort)" != "$want" ]; then
        errs+=("sources differ from the Makefile's (<: make only, >: cmake only):")
        errs+=("$(diff <(echo "$want") <(printf '%s\n' "${got[@]}" | sort) | grep '^[<>]')")
    fi
    if [ ${#errs[@]} -gt 0 ]; then
        printf '%s\n' "${errs[@]}"
        return 1
    fi
    echo "${#got[@]} objects"
}
# configure_build SOURCE BUILD_DIR [cmake arguments] [--install]
configure_build() {
    local src=$1 dir=$2 install=0
    shift 2
    if [ "${*: -1}" = --install ]; then install=1; set -- "${@:1:$#-1}"; fi
    cmake -S "$src" -B "$dir" "$@" && cmake --build "$dir" -j"$JOBS" &&
        { [ $install = 0 ] || cmake --install "$dir"; }
}

# build_lib NAME TOOLCHAIN_FILE MK_TOOLCHAIN [cmake arguments]: configure,
# build, install into $TMP/NAME, compare the flags with the Makefile's
build_lib() {
    local name=$1 tc=$2 mk=$3 dir=build/cmake-$1
    shift 3
    step "$name: configure + build + install ($dir)" configure_build . "$dir" \
        -DCMAKE_EXPORT_COMPILE_COMMANDS=ON -DCMAKE_INSTALL_PREFIX="$TMP/$name" \
        ${tc:+"-DCMAKE_TOOLCHAIN_FILE=$ROOT/$tc"} "$@" --install || return 1
    step "$name: sources and flags as the Makefile's" check_flags "$dir" "$mk" &&
        say "     $(tail -n 1 "$LOG")"
    return 0
}

# check_install PREFIX: what `make install` installs, plus the CMake package
check_install() {
    local p=$1 lib=$1/lib real=libttrank.so.$ver h f soname exports
    for h in include/*.h; do
        [ -f "$p/include/${h##*/}" ] || { echo "header ${h##*/} not installed"; return 1; }
    done
    [ "$(ls "$p/include" | wc -l)" = "$(ls include/*.h | wc -l)" ] || { echo "extra headers"; return 1; }
    for f in libttrank.a "$real" libttrank.so.0 libttrank.so pkgconfig/ttrank.pc \
        cmake/ttrank/ttrankConfig.cmake cmake/ttrank/ttrankConfigVersion.cmake \
        cmake/ttrank/ttrankTargets.cmake; do
        [ -e "$lib/$f" ] || { echo "lib/$f missing"; return 1; }
    done
    # CMake's chain is libttrank.so -> .so.0 -> .so.<version> (make's links both to the file)
    [ "$(readlink -f "$lib/libttrank.so")" = "$(readlink -f "$lib/$real")" ] &&
        [ "$(readlink "$lib/libttrank.so.0")" = "$real" ] || { echo "bad .so symlinks"; return 1; }
    soname=$(readelf -d "$lib/$real" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
    [ "$soname" = libttrank.so.0 ] || { echo "SONAME $soname"; return 1; }
    grep -qx "Version: $ver" "$lib/pkgconfig/ttrank.pc" &&
        grep -qx "prefix=$p" "$lib/pkgconfig/ttrank.pc" || { echo "bad ttrank.pc"; return 1; }
    # the API and nothing of the tool (simulator, scenarios, SVG), as scripts/test-install.sh
    exports=$(nm -D --defined-only "$lib/$real" | awk '$2 == "T" { print $3 }')
    f=$(printf '%s\n' "$exports" | grep -Ev '^ttr_' || true)
    f+=$(printf '%s\n' "$exports" | grep -E '^ttr_(sim|rng|svg|scenario|planted)' || true)
    [ -z "$f" ] || { echo "exports $f"; return 1; }
    echo "SONAME $soname, $(printf '%s\n' "$exports" | wc -l) exports, all ttr_*"
}

# run_consumer NAME RUN BIN WANT_NEEDED: run a consumer, check that it links
# libttrank.so.0 (WANT_NEEDED=1) or not, keep its output in $TMP/NAME.out
run_consumer() {
    local name=$1 run=$2 bin=$3 want=$4 libs out rc
    libs=$(needed "$bin")
    if [ "$want" = 1 ] && [[ $libs != *libttrank.so.0* ]]; then
        bad "$name: not linked to libttrank.so.0 ($libs)"
        return
    elif [ "$want" = 0 ] && [[ $libs == *libttrank* ]]; then
        bad "$name: linked to libttrank.so ($libs), not libttrank.a"
        return
    fi
    # shellcheck disable=SC2086
    out=$($run "$bin" 2>&1)
    rc=$?
    echo "$out" >"$(outfile "$name")"
    if [ $rc -eq 0 ] && grep -qx "version $ver (header $ver)" <<<"$out"; then
        ok "$name: $(echo "$out" | tr '\n' ';' | sed 's/;$//; s/;/; /g')"
    else
        bad "$name: exit status $rc"
        echo "$out" | sed 's/^/    /'
    fi
}
# same_output NAME A B DROP: the two outputs agree but on lines matching DROP
same_output() {
    [ -e "$(outfile "$2")" ] && [ -e "$(outfile "$3")" ] || return 0 # one did not run (counted)
    if diff <(grep -Ev "$4" "$(outfile "$2")") <(grep -Ev "$4" "$(outfile "$3")") >"$TMP/diff" 2>&1; then
        ok "$1"
    else
        bad "$1"
        sed 's/^/    /' "$TMP/diff"
    fi
}

# consumer NAME RUN [cmake -D...]: build tests/cmake/consumer, run both programs,
# then reconfigure with BUILD_SHARED_LIBS=ON: ttrank::ttrank is the shared one
consumer() {
    local name=$1 run=$2 dir=build/cmake-$1-consumer
    shift 2
    rm -rf "$dir"
    step "$name: consumer (find_package) configure + build" \
        configure_build tests/cmake/consumer "$dir" "$@" || return
    run_consumer "$name: ttrank::ttrank, static" "$run" "$dir/consumer" 0
    run_consumer "$name: ttrank::ttrank_shared" "$run" "$dir/consumer_shared" 1
    step "$name: consumer reconfigured with BUILD_SHARED_LIBS=ON" \
        configure_build tests/cmake/consumer "$dir" -DBUILD_SHARED_LIBS=ON &&
        run_consumer "$name: ttrank::ttrank, BUILD_SHARED_LIBS=ON" "$run" "$dir/consumer" 1
}

QEMU_A64="env QEMU_CPU=max QEMU_LD_PREFIX=/usr/aarch64-linux-gnu qemu-aarch64"
QEMU_ARM="env QEMU_CPU=max QEMU_LD_PREFIX=/usr/arm-linux-gnueabihf qemu-arm"

say "cmake $(cmake --version | sed -n 's/^cmake version //p'), JOBS=$JOBS"

# ---- host -----------------------------------------------------------------------
# (later checks of a build that failed are not run: its failure is counted once)
if build_lib host "" "" -DTTRANK_BUILD_TOOL=ON; then
    step "host: installed files" check_install "$TMP/host" && say "     $(tail -n 1 "$LOG")"
    step "host: installed tool runs" "$TMP/host/bin/ttrank" --version
    consumer host "" -DCMAKE_PREFIX_PATH="$TMP/host"
fi

# ---- add_subdirectory ---------------------------------------------------------------
dir=build/cmake-subdir
rm -rf "$dir"
if step "subdir: add_subdirectory configure + build" configure_build tests/cmake/subdir "$dir"; then
    run_consumer "subdir: ttrank::ttrank, static" "" "$dir/consumer" 0
    same_output "subdir: output as the installed package's" "host: ttrank::ttrank, static" \
            "subdir: ttrank::ttrank, static" '^$'
    step "subdir: reconfigured with BUILD_SHARED_LIBS=ON" \
        configure_build tests/cmake/subdir "$dir" -DBUILD_SHARED_LIBS=ON &&
        run_consumer "subdir: ttrank::ttrank, BUILD_SHARED_LIBS=ON" "" "$dir/consumer" 1
fi

# ---- cross builds -----------------------------------------------------------------
for cross in "aarch64;toolchains/aarch64-linux-gnu;$QEMU_A64;^path ;the path" \
             "armv7;toolchains/arm-linux-gnueabihf;$QEMU_ARM;^(path|arena) ;the path and arena size"; do
    IFS=';' read -r name tc run drop but <<<"$cross"
    build_lib "$name" "$tc.cmake" "$tc.mk" || continue
    # the toolchain file keeps package searches inside its roots: add the prefix to them
    consumer "$name" "$run" -DCMAKE_TOOLCHAIN_FILE="$ROOT/$tc.cmake" -DCMAKE_FIND_ROOT_PATH="$TMP/$name"
    same_output "$name: output as the host's (all but $but)" \
            "host: ttrank::ttrank, static" "$name: ttrank::ttrank, static" "$drop"
done

say "done in $(($(date +%s) - T0)) s"
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
