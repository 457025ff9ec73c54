"""run.py: run the Python check program given on standard input.

Usage (see `py` in tests/e2e/lib.sh):  run.py [ARGS...] <program
The program sees everything of rtws.py (from rtws import *) and ARGS in
ARGS; it defines `async def main()`, which is run with a time limit.  A
failed check prints `FAIL: ...` to stderr and exits 1.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import rtws  # noqa: E402

src = sys.stdin.read()
ns = {"__name__": "__check__"}
exec("from rtws import *", ns)
exec(compile(src, os.environ.get("RT_E2E_WHAT", "<check>"), "exec"), ns)
if "main" not in ns:
    print("FAIL: the check program defines no main()", file=sys.stderr)
    sys.exit(1)
rtws.run(ns["main"])
