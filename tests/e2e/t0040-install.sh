#!/bin/sh
# `cmake --install` puts rtctl, librtctl (shared and static), the public
# headers, rtctl.pc, the CMake package and the man pages where a user
# expects them; a program built only from what was installed, with
# pkg-config or with find_package(rtctl), links and works, and needs no
# dependency of the library's at link time (issue 9: they are PRIVATE); and
# the library builds alone, without the command, readline or the tests.
. "$(dirname "$0")/lib.sh"

: "${RT_BUILDDIR:?RT_BUILDDIR must name the build directory}"
prefix="$T/prefix"
cmake --install "$RT_BUILDDIR" --prefix "$prefix" >install.log 2>&1 ||
    { cat install.log >&2; fail "cmake --install failed"; }

libdir=$(find "$prefix" -name 'librtctl.so' | head -n 1)
[ -n "$libdir" ] || fail "no librtctl.so installed"
libdir=$(dirname "$libdir")
for f in "$prefix/bin/rtctl" "$libdir/librtctl.a" \
    "$prefix/include/rtctl.h" "$prefix/include/rt/sse_parser.h" \
    "$prefix/include/rt/version.h" "$prefix/include/rt/ws_client.h" \
    "$libdir/pkgconfig/rtctl.pc" "$libdir/cmake/rtctl/rtctlConfig.cmake" \
    "$libdir/cmake/rtctl/rtctlConfigVersion.cmake" \
    "$prefix/share/bash-completion/completions/rtctl"; do
    [ -e "$f" ] || fail "missing after install: $f"
done
if command -v scdoc >/dev/null 2>&1; then
    for f in man1/rtctl.1 man1/rtctl-tail.1 man1/rtctl-token.1 \
        man7/rtctl-protocol.7; do
        [ -f "$prefix/share/man/$f" ] || fail "man page not installed: $f"
    done
fi
ok "files installed in the usual places"

"$prefix/bin/rtctl" --version >out || fail "installed rtctl does not run"
ok "installed rtctl runs"

cat >use.c <<'PROG'
#include <stdio.h>
#include <string.h>
#include <rtctl.h>

static int on_event(const rt_sse_event *ev, void *ud)
{
    (void)ud;
    printf("%.*s|%.*s|%.*s\n", (int)ev->type_len, ev->type,
           (int)ev->id_len, ev->id, (int)ev->data_len, ev->data);
    return 0;
}

int main(void)
{
    static const char in[] = "id: 1\nevent: hello\ndata: world\n\n";
    rt_sse_parser *p;

    if (rt_sse_parser_new(&p, NULL, on_event, NULL, NULL) != RT_OK)
        return 1;
    if (rt_sse_parser_feed(p, in, strlen(in)) != RT_OK)
        return 1;
    rt_sse_parser_free(p);
    printf("%s %s\n", RT_VERSION_STRING, rt_strerror(RT_EPROTO));
    return 0;
}
PROG
export PKG_CONFIG_PATH="$libdir/pkgconfig"
"${CC:-cc}" ${RT_E2E_CFLAGS:-} -o use use.c $(pkg-config --cflags --libs rtctl) 2>cc.err ||
    { cat cc.err >&2; fail "a program using <rtctl.h> does not build"; }
LD_LIBRARY_PATH="$libdir" ./use >out || fail "the program failed"
check_grep '^hello\|1\|world$' out
check_grep '^[0-9]+\.[0-9]+\.[0-9]+ protocol error$' out
ok "a program builds with pkg-config rtctl and runs against the shared library"

"${CC:-cc}" ${RT_E2E_CFLAGS:-} -o use-static use.c -I"$prefix/include" "$libdir/librtctl.a" \
    $(pkg-config --libs libcjson libcrypto) 2>cc.err ||
    { cat cc.err >&2; fail "static link failed"; }
./use-static >out || fail "the static program failed"
check_grep '^hello\|1\|world$' out
ok "the static library links"

# The shared library carries its dependencies: a program that uses only
# librtctl's API needs only librtctl.
pkg-config --libs rtctl | sed 's/^-L[^ ]* //; s/ *$//' >libs
check_file libs "-lrtctl"
readelf -d use >dyn || fail "readelf -d use"
check_grep 'NEEDED.*librtctl\.so' dyn
if grep -Eq 'NEEDED.*(libwebsockets|libcurl|libuv|libcjson|libssl)' dyn; then
    cat dyn >&2
    fail "a program using librtctl links the library's dependencies itself"
fi
ok "the shared library's dependencies stay private"

mkdir consumer
cat >consumer/CMakeLists.txt <<'CM'
cmake_minimum_required(VERSION 3.18)
project(use C)
find_package(rtctl 0.1 CONFIG REQUIRED)
add_executable(use ../use.c)
target_link_libraries(use PRIVATE rtctl::rtctl)
add_executable(use_static ../use.c)
target_link_libraries(use_static PRIVATE rtctl::rtctl_static)
CM
cmake -S consumer -B consumer/build -DCMAKE_PREFIX_PATH="$prefix" \
    -DCMAKE_C_COMPILER="${CC:-cc}" -DCMAKE_C_FLAGS="${RT_E2E_CFLAGS:-}" \
    -DCMAKE_EXE_LINKER_FLAGS="${RT_E2E_CFLAGS:-}" >cm.log 2>&1 &&
    cmake --build consumer/build >>cm.log 2>&1 ||
    { cat cm.log >&2; fail "a CMake project with find_package(rtctl) does not build"; }
for prog in use use_static; do
    LD_LIBRARY_PATH="$libdir" "consumer/build/$prog" >out ||
        fail "consumer/build/$prog failed"
    check_grep '^hello\|1\|world$' out
done
ok "find_package(rtctl): rtctl::rtctl and rtctl::rtctl_static link and run"

# A packager's build of the library alone: no rtctl, no readline, no
# cmocka; it configures and builds the library and nothing else.
cmake -S "$RT_SRCDIR" -B libonly -DRTCTL_BUILD_CLI=OFF -DBUILD_TESTING=OFF \
    -DCMAKE_C_COMPILER="${CC:-cc}" -DCMAKE_C_FLAGS="${RT_E2E_CFLAGS:-}" \
    -DCMAKE_SHARED_LINKER_FLAGS="${RT_E2E_CFLAGS:-}" \
    -DCMAKE_EXE_LINKER_FLAGS="${RT_E2E_CFLAGS:-}" >lib.log 2>&1 &&
    cmake --build libonly --target rt >>lib.log 2>&1 ||
    { cat lib.log >&2; fail "the library alone does not build"; }
[ -e libonly/librtctl.so ] || fail "no librtctl.so in the library-only build"
if grep -Eq '^(READLINE|CMOCKA)_' libonly/CMakeCache.txt; then
    fail "the library-only build looked for readline or cmocka"
fi
[ ! -e libonly/rtctl ] || fail "the library-only build built rtctl"
ok "-DRTCTL_BUILD_CLI=OFF -DBUILD_TESTING=OFF builds the library alone"

done_testing
