"""peer_ws.py: a WebSocket server rtctl did not write (python3-websockets),
for the tests of `rtctl connect` against foreign servers.

Usage: peer_ws.py LOG [CERT KEY CLIENT_CA]
With CERT and KEY it serves wss://, and with CLIENT_CA it requires a
client certificate that CLIENT_CA signed.  Prints `listening PORT` once it listens on 127.0.0.1 (an ephemeral port),
then serves until killed.  Each request's path and headers, exactly as
received (duplicates kept), go to LOG as one JSON object a line.

Paths:
  /echo            echo every frame, text or binary
  /ping            send a ping "srv-ping \x00\xff" at once; when its pong
                   comes back with that payload, send the text frame
                   "pong srv-ping", then echo
  /close?code=C&reason=R   close at once with C and R
  /hop/N?code=S    answer HTTP S (default 302) with Location /hop/N-1;
                   /hop/0 redirects to /echo
  /sub             echo; the subprotocols offered are x and chat
"""
import asyncio
import http
import json
import ssl
import sys
import urllib.parse

import websockets

LOG = sys.argv[1]


def record(path, headers):
    with open(LOG, "a", encoding="utf-8") as f:
        f.write(json.dumps({"path": path,
                            "headers": list(headers.raw_items())}) + "\n")


async def process_request(path, headers):
    record(path, headers)
    u = urllib.parse.urlsplit(path)
    q = urllib.parse.parse_qs(u.query)
    if u.path.startswith("/hop/"):
        n = int(u.path[5:])
        code = int(q.get("code", ["302"])[0])
        to = "/echo" if n == 0 else "/hop/%d?code=%d" % (n - 1, code)
        return (http.HTTPStatus(code), [("Location", to)], b"")
    return None


async def handler(ws, path):
    u = urllib.parse.urlsplit(path)
    q = urllib.parse.parse_qs(u.query)
    if u.path == "/close":
        await ws.close(int(q.get("code", ["1000"])[0]),
                       q.get("reason", [""])[0])
        return
    if u.path == "/ping":
        # The waiter resolves only on a pong that echoes this payload.
        pong = await ws.ping(b"srv-ping \x00\xff")
        await asyncio.wait_for(pong, 120)
        await ws.send("pong srv-ping")
    try:
        async for m in ws:
            await ws.send(m)
    except websockets.ConnectionClosed:
        pass


def select_subprotocol(client, server):
    for p in client:
        if p in server:
            return p
    return None


async def main():
    tls = None
    if len(sys.argv) > 3:
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.load_cert_chain(sys.argv[2], sys.argv[3])
        if len(sys.argv) > 4:
            tls.verify_mode = ssl.CERT_REQUIRED
            tls.load_verify_locations(sys.argv[4])
    async with websockets.serve(handler, "127.0.0.1", 0, ssl=tls,
                                process_request=process_request,
                                subprotocols=["x", "chat"],
                                ping_interval=None) as srv:
        port = srv.sockets[0].getsockname()[1]
        print("listening %d" % port, flush=True)
        await asyncio.Future()


asyncio.run(main())
