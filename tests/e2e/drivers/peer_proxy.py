"""peer_proxy.py: a small HTTP proxy, for the --proxy tests: CONNECT
tunnels (what libwebsockets sends, and curl for https://) and requests
in absolute form (curl for http://), relayed byte for byte.

Usage: peer_proxy.py LOG
Prints `listening PORT` (127.0.0.1, ephemeral).  Each request's first line
and its Proxy-Authorization and Authorization headers go to LOG as a
JSON line.
"""
import asyncio
import json
import sys
import urllib.parse

LOG = sys.argv[1]


async def pipe(r, w):
    try:
        while True:
            b = await r.read(65536)
            if not b:
                break
            w.write(b)
            await w.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        try:
            w.close()
        except Exception:
            pass


async def client(r, w):
    head = await r.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    method, target, version = lines[0].split(" ", 2)
    hdrs = {}
    for l in lines[1:]:
        if ":" in l:
            k, v = l.split(":", 1)
            hdrs[k.strip().lower()] = v.strip()
    with open(LOG, "a") as f:
        f.write(json.dumps({"line": lines[0],
                            "proxy_auth": hdrs.get("proxy-authorization"),
                            "auth": hdrs.get("authorization")}) + "\n")
    if method == "CONNECT":
        host, port = target.rsplit(":", 1)
        ur, uw = await asyncio.open_connection(host, int(port))
        w.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        await w.drain()
    else:
        u = urllib.parse.urlsplit(target)
        ur, uw = await asyncio.open_connection(u.hostname, u.port or 80)
        path = u.path or "/"
        if u.query:
            path += "?" + u.query
        rest = "\r\n".join(l for l in lines[1:]
                           if not l.lower().startswith("proxy-"))
        uw.write(("%s %s %s\r\n%s" % (method, path, version, rest))
                 .encode("latin-1"))
        await uw.drain()
    await asyncio.gather(pipe(r, uw), pipe(ur, w))


async def main():
    srv = await asyncio.start_server(client, "127.0.0.1", 0)
    print("listening %d" % srv.sockets[0].getsockname()[1], flush=True)
    await srv.serve_forever()


asyncio.run(main())
