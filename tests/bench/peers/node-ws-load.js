// node-ws-load.js: a minimal Node `ws` load generator, the peer that
// tests/bench/loadgen.sh compares `rtctl load` with.
//
// What a developer would write in an afternoon: SUBS WebSocket subscribers
// join /ws/ROOM, then one publisher sends RATE text messages per second
// (the rtctl protocol's {"type":"text","data":{"content":...}}, the same
// content as rtctl load's) for DURATION seconds; each subscriber counts the
// messages it receives.  No latency histogram, no loss tracking: the
// cheapest generator that still reads every delivery.
//
// Usage: node node-ws-load.js URL ROOM SUBS RATE DURATION
//   URL like ws://127.0.0.1:8080; RATE 0 opens the connections and holds
//   them idle for DURATION.
// Prints "connected" once every subscriber has its welcome, then at the
// end one JSON line: {"delivered":N,"rss_before":B,"rss_idle":B}.
'use strict';

const WebSocket = require('ws');

const [url, room, subs, rate, duration] = [
  process.argv[2], process.argv[3], Number(process.argv[4]),
  Number(process.argv[5]), Number(process.argv[6]),
];
let delivered = 0;
let welcomed = 0;
const rssBefore = process.memoryUsage().rss;
let rssIdle = 0;
const conns = [];

function open(path, onWelcome, onText) {
  const ws = new WebSocket(url + path, { perMessageDeflate: false });
  ws.on('message', (data, isBinary) => {
    if (isBinary) return;
    const s = data.toString();
    if (s.startsWith('{"type":"text"')) {
      if (s.includes('"content":"rtl1 ')) onText();
    } else if (s.includes('"event":"welcome"')) {
      onWelcome(ws);
    }
  });
  ws.on('error', (e) => { console.error('node-ws-load:', e.message); });
  conns.push(ws);
  return ws;
}

function publish(pub) {
  let seq = 0;
  const t0 = Date.now();
  const pad = 'x'.repeat(40);
  const timer = setInterval(() => {
    const due = Math.floor((Date.now() - t0) * rate / 1000);
    while (seq < due) {
      seq++;
      pub.send(JSON.stringify({
        type: 'text', id: String(seq),
        data: { content: `rtl1 0:${seq}:${(Date.now() - t0) * 1000} ${pad}` },
      }));
    }
  }, 1);
  setTimeout(() => {
    clearInterval(timer);
    setTimeout(finish, 2000); // the last deliveries
  }, duration * 1000);
}

function finish() {
  console.log(JSON.stringify({ delivered, rss_before: rssBefore,
                               rss_idle: rssIdle }));
  for (const ws of conns) ws.terminate();
  process.exit(0);
}

for (let i = 0; i < subs; i++) {
  let seen = false;
  open(`/ws/${room}?user=nodegen-${i}`, () => {
    if (seen) return;
    seen = true;
    if (++welcomed < subs) return;
    global.gc && global.gc();
    rssIdle = process.memoryUsage().rss;
    console.log('connected');
    if (rate > 0) {
      let started = false;
      open(`/ws/${room}?user=nodegen-pub`, (pub) => {
        if (!started) { started = true; publish(pub); }
      }, () => {});
    } else {
      setTimeout(finish, duration * 1000);
    }
  }, () => { delivered++; });
}
