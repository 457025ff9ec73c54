// es_client.js: the npm `eventsource` package (2.x) as the reference
// EventSource: print every event it dispatches as a JSON line
// {"event","id","data"}, as `rtctl tail --json` does; exit 0 once it
// stops for good (a 204, any other final answer).
//
// Usage: node es_client.js URL
'use strict';
const EventSource = require('eventsource');

const es = new EventSource(process.argv[2]);
// Every event type, not only those with a listener.
es.listeners = () => [true];
es.emit = (type, ev) => {
    if (type === 'open')
        return;
    if (type === 'error') {
        if (es.readyState === EventSource.CLOSED)
            process.exit(0);
        return;
    }
    process.stdout.write(JSON.stringify({
        event: type, id: ev.lastEventId, data: ev.data}) + '\n');
};
