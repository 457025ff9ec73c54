"""sse_script.py: a scripted Server-Sent Events peer for the tail tests.

    python3 sse_script.py SCRIPT PORTFILE LOGFILE

Listens on 127.0.0.1 (a free port, written to PORTFILE once listening) and
answers the n-th GET with the n-th stream of SCRIPT (a JSON list of lists
of events, each [id or null, type, data]; an answer past the list is 204,
which stops an EventSource).  Each request's Last-Event-ID ("" when none)
is appended to LOGFILE, one line per request.  After its events a stream
stays open until the client goes away, so the client alone decides when a
connection ends.
"""
import http.server
import json
import os
import sys

script = json.load(open(sys.argv[1], encoding="utf-8"))
log = open(sys.argv[3], "a", encoding="utf-8")
count = 0


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def log_message(self, *args):
        pass

    def do_GET(self):
        global count
        n = count
        count += 1
        log.write(self.headers.get("Last-Event-ID", "") + "\n")
        log.flush()
        if n >= len(script):
            self.send_response(204)
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()
        for ev_id, ev_type, data in script[n]:
            text = "" if ev_id is None else "id: %s\n" % ev_id
            text += "event: %s\ndata: %s\n\n" % (ev_type, data)
            self.wfile.write(text.encode())
            self.wfile.flush()
        # The client sends nothing more: EOF here means it went away.
        try:
            self.rfile.read(1)
        except OSError:
            pass


srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
srv.daemon_threads = True
with open(sys.argv[2] + ".tmp", "w") as f:
    f.write("%d\n" % srv.server_address[1])
os.rename(sys.argv[2] + ".tmp", sys.argv[2])
srv.serve_forever()
