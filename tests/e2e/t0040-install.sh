#!/bin/sh
# `cmake --install` puts rtctl, librtctl (shared and static), the public
# headers, rtctl.pc and the man pages where a user expects them, and a
# program built only from what was installed (pkg-config) links and works.
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
    "$libdir/pkgconfig/rtctl.pc" \
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

done_testing
