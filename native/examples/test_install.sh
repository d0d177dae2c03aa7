#!/usr/bin/env bash
# test_install.sh - install libcrunch into a fresh prefix and build a real
# program against it every way a user would.
#
# Usage: test_install.sh [BUILD_DIR [SOURCE_DIR [CONFIG]]]
#   BUILD_DIR   a configured and built crunch build tree; empty or absent:
#               configure and build one in a temporary directory first
#   SOURCE_DIR  the crunch source tree (default: two levels above this script)
#   CONFIG      build configuration for multi-config generators (optional)
#
# Steps, one PASS/FAIL line each:
#   install     cmake --install into a staging prefix, then move the whole
#               tree elsewhere: both the CMake package and crunch.pc must be
#               relocatable
#   layout      header, libraries, SONAME, package files are where expected
#   find_package  native/examples built with -DCMAKE_PREFIX_PATH (shared and
#               static targets), both programs run, the shared one also with
#               CRUNCH_DISABLE=avx512 and =avx512,avx2
#   pkgconfig_shared  cc example.c $(pkg-config --cflags --libs crunch)
#   pkgconfig_static  the same with --static and libcrunch.a
#   exports     libcrunch.so exports exactly the crunch_* API of crunch.h
#
# Exits 0 when all pass, 1 on any failure, 77 (ctest: skipped) when a
# prerequisite (cmake, pkg-config, a C compiler, nm) is missing.
set -euo pipefail

script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
build_dir=${1:-}
source_dir=${2:-$(cd "$script_dir/../.." && pwd)}
config=${3:-}

skip() {
    echo "install_consumers: SKIP: $*"
    exit 77
}

for tool in cmake pkg-config nm; do
    command -v "$tool" >/dev/null 2>&1 || skip "$tool not found"
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/crunch-install.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

config_args=()
if [ -n "$config" ]; then
    config_args=(--config "$config")
fi

if [ -z "$build_dir" ]; then
    echo "== configure and build crunch in $tmp/build"
    cmake -S "$source_dir" -B "$tmp/build" -DCRUNCH_BUILD_TESTS=OFF >"$tmp/build.log" 2>&1 &&
        cmake --build "$tmp/build" "${config_args[@]}" -j2 >>"$tmp/build.log" 2>&1 || {
        cat "$tmp/build.log"
        echo "install_consumers: building crunch failed"
        exit 1
    }
    build_dir=$tmp/build
fi
build_dir=$(cd "$build_dir" && pwd)

# Build consumers with the compiler (and so the sanitizer runtimes) the
# library was built with.
cc=$(sed -n 's/^CMAKE_C_COMPILER:[A-Z]*=//p' "$build_dir/CMakeCache.txt" 2>/dev/null || true)
cc=${cc:-${CC:-cc}}
command -v "$cc" >/dev/null 2>&1 || skip "C compiler $cc not found"

# What the example must print: sum((i*7) % 97 for i in range(1000000)),
# computed here independently of the example's own check.
want_modsum=$(awk 'BEGIN { s = 0; for (i = 0; i < 1000000; i++) s += (i * 7) % 97; printf "%d", s }')

passed=0
failed=0

# run_step NAME FUNCTION: run FUNCTION in a subshell with errexit on (an
# `if` or `||` around it would silently switch errexit off) and count it.
run_step() {
    local name=$1 rc
    echo "== $name"
    set +e
    (
        set -e
        "$2"
    )
    rc=$?
    set -e
    if [ "$rc" -eq 0 ]; then
        echo "PASS: $name"
        passed=$((passed + 1))
    else
        echo "FAIL: $name (exit $rc)"
        failed=$((failed + 1))
    fi
}

# check_output PROGRAM: run it, show its output, require exit 0 and the
# independently computed modsum line.
check_output() {
    local out rc=0
    out=$("$@" 2>&1) || rc=$?
    printf '%s\n' "$out" | sed 's/^/    /'
    if [ "$rc" -ne 0 ]; then
        echo "$1 exited with status $rc"
        return 1
    fi
    if ! grep -qx "modsum(7, 1000000) = $want_modsum" <<<"$out"; then
        echo "expected the line: modsum(7, 1000000) = $want_modsum"
        return 1
    fi
}

stage=$tmp/stage
prefix=$tmp/relocated/prefix

step_install() {
    cmake --install "$build_dir" --prefix "$stage" "${config_args[@]}" >"$tmp/install.log" ||
        { cat "$tmp/install.log"; return 1; }
    sed 's/^/    /' "$tmp/install.log"
    # Move the installed tree: nothing in it may remember where it was put.
    mkdir -p "$(dirname "$prefix")"
    mv "$stage" "$prefix"
    echo "    moved $stage -> $prefix"
}

# Filled in by step_layout; the libdir depends on GNUInstallDirs' choice.
libdir=
step_layout() {
    local pc
    pc=$(find "$prefix" -name crunch.pc -path '*/pkgconfig/*' | head -n 1)
    [ -n "$pc" ] || { echo "crunch.pc not installed"; return 1; }
    local ld
    ld=$(dirname "$(dirname "$pc")")
    local f
    for f in "$prefix/include/crunch.h" "$ld/libcrunch.a" "$ld/libcrunch.so" \
        "$ld/libcrunch.so.0" "$ld/cmake/crunch/crunchConfig.cmake" \
        "$ld/cmake/crunch/crunchConfigVersion.cmake" "$ld/cmake/crunch/crunchTargets.cmake"; do
        [ -e "$f" ] || { echo "missing: $f"; return 1; }
        echo "    found ${f#"$prefix"/}"
    done
    if command -v readelf >/dev/null 2>&1; then
        local soname
        soname=$(readelf -d "$ld/libcrunch.so" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
        echo "    SONAME $soname"
        [ "$soname" = libcrunch.so.0 ] || { echo "want SONAME libcrunch.so.0"; return 1; }
    fi
    if grep -q "$stage" "$pc" "$ld"/cmake/crunch/*.cmake; then
        echo "installed files mention the staging prefix: not relocatable"
        return 1
    fi
}

step_find_package() {
    cmake -S "$source_dir/native/examples" -B "$tmp/example-cmake" \
        -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_C_COMPILER="$cc" >"$tmp/example.log" 2>&1 &&
        cmake --build "$tmp/example-cmake" -j2 >>"$tmp/example.log" 2>&1 ||
        { cat "$tmp/example.log"; return 1; }
    local exe_dir=$tmp/example-cmake
    [ -x "$exe_dir/example" ] || exe_dir=$(dirname "$(find "$tmp/example-cmake" -name example -type f -perm -u+x | head -n 1)")
    echo "    crunch::crunch (shared, found through its build RPATH):"
    check_output "$exe_dir/example"
    echo "    crunch::crunch_static:"
    check_output "$exe_dir/example_static"
    # The installed library must also be right on its narrower SIMD paths
    # (no-ops on a CPU that lacks the wider ones).
    local off
    for off in avx512 avx512,avx2; do
        echo "    crunch::crunch with CRUNCH_DISABLE=$off:"
        CRUNCH_DISABLE=$off check_output "$exe_dir/example"
    done
}

pc() {
    PKG_CONFIG_PATH="$libdir/pkgconfig" pkg-config "$@"
}

step_pkgconfig_shared() {
    local flags
    flags=$(pc --cflags --libs crunch)
    echo "    $cc example.c $flags"
    # shellcheck disable=SC2086 # pkg-config output is a list of words
    "$cc" -o "$tmp/example-pc" "$source_dir/native/examples/example.c" $flags
    LD_LIBRARY_PATH="$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" check_output "$tmp/example-pc"
}

step_pkgconfig_static() {
    local cflags libs
    cflags=$(pc --static --cflags crunch)
    libs=$(pc --static --libs crunch)
    # Both libcrunch.a and .so sit in libdir: ask the linker for the archive.
    libs=${libs/-lcrunch/-Wl,-Bstatic -lcrunch -Wl,-Bdynamic}
    echo "    $cc example.c $cflags $libs"
    # shellcheck disable=SC2086
    "$cc" -o "$tmp/example-static" "$source_dir/native/examples/example.c" $cflags $libs
    if command -v readelf >/dev/null 2>&1 && readelf -d "$tmp/example-static" | grep -q 'NEEDED.*libcrunch'; then
        echo "static example still needs libcrunch.so"
        return 1
    fi
    check_output "$tmp/example-static"
}

step_exports() {
    local so=$libdir/libcrunch.so
    # Defined, global dynamic symbols: nm prints lower-case types for local
    # ones; U/w/v (undefined) are dropped by --defined-only.
    local exported
    exported=$(nm -D --defined-only "$so" | awk '$2 ~ /^[A-Z]$/ { print $3 }' | sed 's/@.*//' | sort -u)
    echo "    exported: $(echo $exported)"
    local stray
    stray=$(printf '%s\n' "$exported" | grep -v '^crunch_[a-z0-9]' || true)
    if [ -n "$stray" ]; then
        echo "exported symbols outside the crunch_* API:"
        printf '    %s\n' $stray
        return 1
    fi
    # And every function crunch.h declares is really there.
    local api missing=
    api=$(grep '^CRUNCH_API' "$prefix/include/crunch.h" | grep -o 'crunch_[a-z0-9_]*(' | tr -d '(' | sort -u)
    local f
    for f in $api; do
        grep -qx "$f" <<<"$exported" || missing="$missing $f"
    done
    if [ -n "$missing" ]; then
        echo "declared in crunch.h but not exported:$missing"
        return 1
    fi
    echo "    all $(echo "$api" | wc -l) functions of crunch.h exported, nothing else"
}

run_step install step_install
if [ "$failed" -ne 0 ]; then
    echo "install_consumers: 0 passed, 1 failed (nothing installed, later steps skipped)"
    exit 1
fi
run_step layout step_layout
libdir=$(dirname "$(dirname "$(find "$prefix" -name crunch.pc -path '*/pkgconfig/*' | head -n 1)")")
run_step find_package step_find_package
run_step pkgconfig_shared step_pkgconfig_shared
run_step pkgconfig_static step_pkgconfig_static
run_step exports step_exports

echo "install_consumers: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
