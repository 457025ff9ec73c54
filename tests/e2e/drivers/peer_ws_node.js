// peer_ws_node.js: a WebSocket server rtctl did not write (npm `ws` 8),
// for the one-shot and binary tests of `rtctl connect`.
//
// Usage: node peer_ws_node.js
// Prints `listening PORT` (127.0.0.1, ephemeral), then serves until
// killed.  Every frame is echoed as it came (text or binary), but for
// the text "burst N": N text frames r1..rN instead; and "close C R":
// a close with code C and reason R.
'use strict';
const WebSocket = require('ws');

const wss = new WebSocket.Server({host: '127.0.0.1', port: 0}, () => {
    console.log('listening ' + wss.address().port);
});
wss.on('connection', (ws) => {
    ws.on('message', (data, isBinary) => {
        const s = isBinary ? '' : data.toString();
        let m;
        if ((m = /^burst (\d+)$/.exec(s)) !== null) {
            for (let i = 1; i <= Number(m[1]); i++)
                ws.send('r' + i);
        } else if ((m = /^close (\d+) ?(.*)$/.exec(s)) !== null) {
            ws.close(Number(m[1]), m[2]);
        } else {
            ws.send(data, {binary: isBinary});
        }
    });
});
