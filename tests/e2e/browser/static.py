"""Serve the files of this folder on 127.0.0.1, on a port the kernel picks.

Used by tests/e2e/t5100-serve-browser.sh to give the test page an origin of
its own (another port than `rtctl serve`).  The first line on stdout is
`PORT`, written once the socket listens, so the caller never races on ports.
`POST /result/NAME` (NAME of [a-z0-9-]) stores the request's body as
RESULT_DIR/NAME.json, RESULT_DIR being the first argument: that is how the
page hands back what it saw.  Requests are logged on stderr.  SIGTERM ends
it.
"""

import functools
import http.server
import os
import re
import sys

RESULT_DIR = None


class Handler(http.server.SimpleHTTPRequestHandler):
    def end_headers(self):
        self.send_header("Cache-Control", "no-store")
        super().end_headers()

    def do_POST(self):
        m = re.fullmatch(r"/result/([a-z0-9-]{1,32})", self.path)
        if m is None or RESULT_DIR is None:
            self.send_error(404)
            return
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n)
        # Written whole, then renamed: a reader never sees half of it.
        path = os.path.join(RESULT_DIR, m.group(1) + ".json")
        with open(path + ".tmp", "wb") as f:
            f.write(body)
        os.replace(path + ".tmp", path)
        self.send_response(204)
        self.end_headers()

    def log_message(self, fmt, *args):
        sys.stderr.write("static: " + (fmt % args) + "\n")
        sys.stderr.flush()


def main():
    global RESULT_DIR
    if len(sys.argv) > 1:
        RESULT_DIR = sys.argv[1]
    root = os.path.dirname(os.path.abspath(__file__))
    handler = functools.partial(Handler, directory=root)
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    srv.daemon_threads = True
    sys.stdout.write("%d\n" % srv.server_address[1])
    sys.stdout.flush()
    srv.serve_forever()


if __name__ == "__main__":
    main()
