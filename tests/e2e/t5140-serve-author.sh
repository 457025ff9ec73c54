#!/bin/sh
# Author impersonation (issue 10, item 2): the server sets data.author to
# the sender, after removing every member a JSON reader could take for
# it: duplicates, escaped names ("auth\u006fr") and other cases
# ("Author"), over WebSocket and POST /publish.  A reader that keeps the
# last duplicate, one that decodes escapes, one that ignores case: each
# must see the sender.
. "$(dirname "$0")/lib.sh"

start_server

cat >attacks.py <<'EOF'
ATTACKS = [
    '{"content":"I am carol","author":"x","author":"carol"}',
    '{"content":"I am bob","auth\\u006fr":"bob"}',
    '{"content":"I am bob","\\u0061uthor":"bob","author":"eve"}',
    '{"content":"I am bob","Author":"bob"}',
    '{"content":"I am bob","AUTHOR":"bob","aUtHoR":"eve"}',
    '{"author":{"name":"bob"},"content":"I am bob"}',
]

def frame_of(data):
    return '{"type":"text","data":' + data + '}'

def pairs_hook(pairs):
    return pairs  # every member, duplicates included, names decoded

def check_author(raw, sender, what):
    """Every member of data whose name is author in any case is one, the
    sender's, whatever the reader's rule for duplicates."""
    obj = json.loads(raw, object_pairs_hook=pairs_hook)
    data = dict(obj)["data"]
    names = [(k, v) for k, v in data if k.lower() == "author"]
    check(names == [("author", sender)], f"{what}: data members named "
          f"author: {names!r} (raw {raw[:300]!r})")
EOF

ok_py "WebSocket: duplicate, escaped and differently cased author members are the sender's" <<'EOF'
exec(open("attacks.py").read())
async def main():
    w = await join("imp", user="mallory")
    r = await Raw.ws("/ws/imp?user=watcher", name="watcher")
    await r.expect_json({"type": "system", "data": {"event": "welcome"}})
    for i, data in enumerate(ATTACKS):
        await w.send_text(frame_of(data))
        await w.until({"type": "ack"}, skip=[{"type": "text"},
                                             {"type": "presence"}])
        while True:
            op, raw = await r.read_message()
            if json.loads(raw)["type"] == "text":
                break
        check_author(raw.decode(), "mallory", f"attack {i} {data}")
    # and in the history, as a late reader gets it
    h = await Raw.ws("/ws/imp?user=late&since=0", name="late")
    await h.expect_json({"type": "system", "data": {"event": "welcome"}})
    for i, data in enumerate(ATTACKS):
        op, raw = await h.read_message()
        check_author(raw.decode(), "mallory", f"replayed attack {i}")
EOF

ok_py "POST /publish: the same, the author is the publishing user" <<'EOF'
exec(open("attacks.py").read())
async def main():
    r = await Raw.ws("/ws/imp2?user=watcher", name="watcher")
    await r.expect_json({"type": "system", "data": {"event": "welcome"}})
    for i, data in enumerate(ATTACKS):
        resp = await http("POST", "/publish/imp2?user=mallory",
                          body=frame_of(data))
        check(resp.status == 202, f"attack {i}: {resp}")
        while True:
            op, raw = await r.read_message()
            if json.loads(raw)["type"] == "text":
                break
        check_author(raw.decode(), "mallory", f"published attack {i}")
    # a body cJSON cannot read is refused, not passed through
    resp = await http("POST", "/publish/imp2?user=mallory",
                      body=frame_of('{"content":"\\ud800","author":"bob"}'))
    check(resp.status in (202, 400), f"lone surrogate: {resp}")
    if resp.status == 202:
        op, raw = await r.read_message()
        check_author(raw.decode(), "mallory", "lone surrogate")
    else:
        check(match(resp.json(), error_body()),
              f"lone surrogate: {resp.body!r}")
EOF
expect_clean_stop
done_testing
