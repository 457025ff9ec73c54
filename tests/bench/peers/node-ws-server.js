// node-ws-server.js: the Node `ws` peer of tests/bench/fanout.sh.
//
// A room broadcast server that does about what `rtctl serve` does for a
// text message (PROTOCOL.md section 3), so that the figures compare like
// with like: GET /ws/{room} upgrades; on a text frame it parses the JSON,
// gives it the room's next seq, encodes the broadcast once (one Buffer)
// and sends it to every connection of the room, the sender included, then
// acks the sender.  A welcome frame on connect.  No history, presence,
// auth or limits.
//
// Usage: node node-ws-server.js [PORT]   (0, the default, picks a port)
// Prints "listening on http://127.0.0.1:PORT" first, as rtctl serve does.
// Needs the `ws` package (NODE_PATH or a node_modules beside the caller).
'use strict';

const http = require('http');
const { WebSocketServer } = require('ws');

const port = Number(process.argv[2] || 0);
const rooms = new Map();

const server = http.createServer((req, res) => {
  if (req.url === '/health') {
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end('{"status":"ok"}');
    return;
  }
  res.writeHead(404);
  res.end();
});

const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });

server.on('upgrade', (req, socket, head) => {
  const m = /^\/ws\/([A-Za-z0-9._-]{1,64})(\?|$)/.exec(req.url);
  if (!m) {
    socket.end('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n');
    return;
  }
  wss.handleUpgrade(req, socket, head, (ws) => {
    const name = m[1];
    let room = rooms.get(name);
    if (!room) {
      room = { seq: 0, members: new Set() };
      rooms.set(name, room);
    }
    room.members.add(ws);
    ws.send(JSON.stringify({
      type: 'system', room: name,
      data: { event: 'welcome', user: 'anon', epoch: 'node', seq: room.seq },
    }));
    ws.on('message', (data, isBinary) => {
      if (isBinary) return;
      let msg;
      try {
        msg = JSON.parse(data);
      } catch (e) {
        ws.send('{"type":"error","data":{"code":"bad_json","message":"bad JSON"}}');
        return;
      }
      if (!msg || msg.type !== 'text' || !msg.data) return;
      const seq = ++room.seq;
      const out = { type: 'text', room: name, seq, data: msg.data,
                    timestamp: Date.now() / 1000 };
      if (msg.id !== undefined) out.id = msg.id;
      const buf = Buffer.from(JSON.stringify(out));
      for (const peer of room.members) {
        if (peer.readyState === 1) peer.send(buf, { binary: false });
      }
      ws.send(JSON.stringify({ type: 'ack', id: msg.id === undefined ? null : msg.id,
                               data: { status: 'delivered', seq } }));
    });
    ws.on('close', () => room.members.delete(ws));
    ws.on('error', () => {});
  });
});

server.listen(port, '127.0.0.1', () => {
  console.log(`listening on http://127.0.0.1:${server.address().port}`);
});

for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => process.exit(0));
}
