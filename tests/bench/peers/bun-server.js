// bun-server.js: the Bun (uWebSockets pub/sub) peer of tests/bench/fanout.sh.
//
// The same room broadcast as node-ws-server.js, written the way Bun's
// documentation shows pub/sub: every connection of /ws/{room} subscribes to
// the room's topic, and a text message is parsed, given the room's next
// seq, encoded once and handed to server.publish (which reaches every
// subscriber, the sender included), then acked to the sender.
//
// Usage: bun bun-server.js [PORT]   (0, the default, picks a port)
// Prints "listening on http://127.0.0.1:PORT" first, as rtctl serve does.

const port = Number(process.argv[2] || 0);
const rooms = new Map();

const server = Bun.serve({
  hostname: '127.0.0.1',
  port,
  fetch(req, srv) {
    const url = new URL(req.url);
    if (url.pathname === '/health') return Response.json({ status: 'ok' });
    const m = /^\/ws\/([A-Za-z0-9._-]{1,64})$/.exec(url.pathname);
    if (!m) return new Response('not found', { status: 404 });
    if (srv.upgrade(req, { data: { room: m[1] } })) return undefined;
    return new Response('upgrade required', { status: 426 });
  },
  websocket: {
    perMessageDeflate: false,
    open(ws) {
      const name = ws.data.room;
      let room = rooms.get(name);
      if (!room) {
        room = { seq: 0 };
        rooms.set(name, room);
      }
      ws.subscribe(name);
      ws.send(JSON.stringify({
        type: 'system', room: name,
        data: { event: 'welcome', user: 'anon', epoch: 'bun', seq: room.seq },
      }));
    },
    message(ws, data) {
      if (typeof data !== 'string') return;
      let msg;
      try {
        msg = JSON.parse(data);
      } catch (e) {
        ws.send('{"type":"error","data":{"code":"bad_json","message":"bad JSON"}}');
        return;
      }
      if (!msg || msg.type !== 'text' || !msg.data) return;
      const name = ws.data.room;
      const room = rooms.get(name);
      const seq = ++room.seq;
      const out = { type: 'text', room: name, seq, data: msg.data,
                    timestamp: Date.now() / 1000 };
      if (msg.id !== undefined) out.id = msg.id;
      server.publish(name, JSON.stringify(out));
      ws.send(JSON.stringify({ type: 'ack', id: msg.id === undefined ? null : msg.id,
                               data: { status: 'delivered', seq } }));
    },
  },
});

console.log(`listening on http://127.0.0.1:${server.port}`);

for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => process.exit(0));
}
