#!/bin/sh
# Install the Debian packages that building and testing rtctl needs and this
# machine lacks.  Prints what it installs; does nothing when all are there.
# Uses sudo only when not root.
set -eu

# chromium: headless, for tests/e2e/t5100-serve-browser.sh; tmux drives
# the terminal of rtctl chat in tests/e2e/t1710-chat-tty.sh; nginx is the
# reverse proxy in front of rtctl serve in tests/e2e/t1220-tail-foreign.sh
# (nodejs and npm, for the npm peers of tests/e2e/peers.sh, come from
# wherever the machine has them).  redis-server: the tests of
# `rtctl serve --redis` (tests/e2e/t6xxx) start a private one each, on a
# free loopback port (lib.sh start_redis).  The clang version is the Makefile's
# (CLANG_VERSION), for the sanitizer build, the fuzzers (libclang-rt) and
# the format check (clang-format).  No test installs anything: what they
# need is here.
v=${CLANG_VERSION:-14}
pkgs="build-essential cmake pkg-config
      libcjson-dev libcmocka-dev libssl-dev libuv1-dev libwebsockets-dev
      libcurl4-openssl-dev libreadline-dev libhiredis-dev zlib1g-dev
      clang-$v libclang-rt-$v-dev clang-format-$v scdoc mandoc
      python3 python3-websockets curl openssl procps
      chromium tmux nginx redis-server"

missing=
for p in $pkgs; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
        grep -q 'install ok installed'; then
        missing="$missing $p"
    fi
done

if [ -z "$missing" ]; then
    echo "deps: all build and test packages are installed"
    exit 0
fi

echo "deps: installing:$missing"
if [ "$(id -u)" -eq 0 ]; then
    sudo=
elif command -v sudo >/dev/null 2>&1; then
    sudo=sudo
else
    echo "deps: not root and no sudo; install these by hand:$missing" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
# A fresh machine may have empty package lists; refresh only on a miss.
# shellcheck disable=SC2086
$sudo apt-get install -y --no-install-recommends $missing ||
    { $sudo apt-get update && $sudo apt-get install -y --no-install-recommends $missing; }
