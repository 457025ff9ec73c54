// peer_sse.js: an SSE server rtctl did not write (Node's http), for the
// tail tests against foreign servers and the `eventsource` reference.
//
// Usage: node peer_sse.js LOG [STREAM]
// Prints `listening PORT` (127.0.0.1, ephemeral), then serves until
// killed.  Each request goes to LOG as a JSON line: {"path", "client",
// "last_event_id", "at" (ms), "prev_end" (ms the previous response of
// that client ended, or null)}.
//
// Paths:
//   /stream?c=NAME   the parts of STREAM (split at lines "::cut"), one
//                    per connection of client NAME, each response ending
//                    after its part; once all are served, 204
//   /type?ct=TYPE    200 with Content-Type TYPE and one event "x"
//   /hop/N?code=S    HTTP S (default 302), Location /hop/N-1; /hop/0
//                    redirects to /type?ct=text/event-stream
//   /silent          200 text/event-stream, then nothing
'use strict';
const fs = require('fs');
const http = require('http');

const log = process.argv[2];
const parts = process.argv[3]
    ? fs.readFileSync(process.argv[3], 'latin1').split('::cut\n')
    : [];
const served = {};
const ended = {};

const srv = http.createServer((req, res) => {
    const u = new URL(req.url, 'http://x');
    const client = u.searchParams.get('c') || '';
    fs.appendFileSync(log, JSON.stringify({
        path: u.pathname,
        client: client,
        last_event_id: req.headers['last-event-id'] === undefined
            ? null : req.headers['last-event-id'],
        at: Date.now(),
        prev_end: ended[client] === undefined ? null : ended[client],
    }) + '\n');
    if (u.pathname === '/stream') {
        const n = served[client] || 0;
        served[client] = n + 1;
        if (n >= parts.length || parts[n] === '') {
            res.writeHead(204);
            res.end();
            return;
        }
        res.writeHead(200, {'Content-Type': 'text/event-stream',
                            'Cache-Control': 'no-cache'});
        // Taken before the end is written, so that no client can have
        // seen the end sooner: 'finish' could run late on a loaded
        // machine, after the client had already counted its retry from
        // the end it saw, and make a correct reconnection look early.
        ended[client] = Date.now();
        res.end(Buffer.from(parts[n], 'latin1'));
        return;
    }
    if (u.pathname === '/type') {
        res.writeHead(200, {'Content-Type': u.searchParams.get('ct')});
        res.end('data: x\n\n');
        return;
    }
    if (u.pathname.startsWith('/hop/')) {
        const n = parseInt(u.pathname.slice(5), 10);
        const code = parseInt(u.searchParams.get('code') || '302', 10);
        res.writeHead(code, {
            Location: n === 0 ? '/type?ct=text/event-stream'
                              : '/hop/' + (n - 1) + '?code=' + code,
        });
        res.end();
        return;
    }
    if (u.pathname === '/silent') {
        res.writeHead(200, {'Content-Type': 'text/event-stream'});
        res.flushHeaders();
        return;
    }
    res.writeHead(404);
    res.end();
});
srv.listen(0, '127.0.0.1', () => {
    console.log('listening ' + srv.address().port);
});
