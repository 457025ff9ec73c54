#!/bin/sh
# The tree is formatted as .clang-format says (STYLE.md 2.9): every C file
# of cli/, lib/, server-stub/ and tests/ unchanged by clang-format.  Needs
# the clang-format of the Makefile's CLANG_VERSION (tests/deps.sh installs
# it): another version formats differently, so without it this is a skip
# (exit 77) that says why, never a pass.
set -u
src=${1:?usage: format-check.sh SOURCE_DIR}
v=${CLANG_VERSION:-14}
cf=$(command -v "clang-format-$v" 2>/dev/null)
if [ -z "$cf" ]; then
    echo "# skip: clang-format-$v is not installed (tests/deps.sh installs it)"
    exit 77
fi
cd "$src" || exit 1
bad=0
for f in $(find cli lib server-stub tests -name '*.[ch]' | sort); do
    if ! "$cf" --style=file "$f" | cmp -s "$f" -; then
        echo "not formatted: $f (clang-format-$v -i $f)"
        bad=$((bad + 1))
    fi
done
if [ "$bad" -gt 0 ]; then
    echo "$bad files are not formatted as .clang-format says"
    exit 1
fi
echo "every C file is formatted"
