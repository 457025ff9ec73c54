#!/bin/sh
# rtctl serve /metrics: Prometheus text format 0.0.4 with HELP and TYPE,
# counters that move with the traffic (messages, connections by transport,
# resumes, auth failures) and no room or user names in any label.
. "$(dirname "$0")/lib.sh"

start_server --history 3

ok_py "text format 0.0.4: Content-Type, HELP and TYPE for every family, counters end in _total" <<'EOF'
async def main():
    r = await http("GET", "/metrics")
    check(r.status == 200, f"/metrics: {r}")
    ct = r.header("content-type", "")
    check(ct.startswith("text/plain") and "version=0.0.4" in ct,
          f"Content-Type {ct!r}, expected text/plain; version=0.0.4")
    m = Metrics(r.body.decode("utf-8"))
    check(len(m.types) >= 5, f"only {len(m.types)} metric families: "
          f"{sorted(m.types)}")
    for fam, typ in m.types.items():
        check(re.fullmatch(r"[a-zA-Z_:][a-zA-Z0-9_:]*", fam), f"name {fam!r}")
        if typ == "counter":
            check(fam.endswith("_total"), f"counter {fam} does not end in _total")
    for name, labels, v in m.samples:
        check(v >= 0, f"{name}{labels} is negative: {v}")
EOF

ok_py "counters move: messages received and delivered, connections by transport, resumes" <<'EOF'
async def main():
    m0 = await metrics()
    a = await join("secretroom42", user="zed-unique-user")
    epoch = a.welcome["data"]["epoch"]
    b = await join("secretroom42", user="yves-unique-user")
    s = await SSE.open("/events/secretroom42?user=xavier-unique-user")
    await s.expect(event="system")
    await a.expect({"type": "presence", "data": {"event": "join"}})
    for i in range(3):
        await a.say(f"m{i}")
    for i in range(3):
        await b.until({"type": "text", "seq": i + 1}, skip=[{"type": "presence"}])
        await s.expect(event="text")
    r = await http("GET", "/poll/secretroom42?since=0")
    check(r.status == 200, f"poll: {r}")
    m1 = await metrics()
    d = metrics_delta(m0, m1)
    def grew(name_re, at_least, **labels):
        got = m1.sum(name_re, **labels) - m0.sum(name_re, **labels)
        check(got >= at_least, f"samples /{name_re}/ {labels or ''} went up by "
              f"{got:g}, expected at least {at_least}; increases: {d}")
    grew(r"messages_received", 3)
    grew(r"(messages_(delivered|sent))", 9)
    # connections by transport: a gauge or counter labelled transport
    conn = m1.find(r"connection", transport=r".+")
    transports = {l["transport"] for _, l, _ in conn}
    check(any(re.search(r"ws|websocket", t, re.I) for t in transports) and
          any(re.search(r"sse|event", t, re.I) for t in transports) and
          any(re.search(r"poll", t, re.I) for t in transports),
          f"connections by transport: {transports} (samples {conn})")
    ws_now = sum(v for n, l, v in conn if re.search(r"ws|websocket",
                 l["transport"], re.I) and m1.types.get(m1.family(n)) == "gauge")
    check(ws_now >= 2, f"the WebSocket connection gauge says {ws_now} with two "
          f"open: {conn}")
    # resumes: one recovered, one not (history 3 holds 1..3; add 4 and 5)
    await a.say("m3")
    await a.say("m4")
    mr0 = await metrics()
    c = await join("secretroom42", user="w", since=3, epoch=epoch)
    await c.until({"type": "system", "data": {"event": "resumed",
                                              "recovered": True}})
    mr1 = await metrics()
    dr1 = {k: v for k, v in metrics_delta(mr0, mr1).items() if "resum" in k[0]}
    check(dr1, "no sample named *resum* went up after a recovered resume")
    e = await join("secretroom42", user="v", since=0, epoch=epoch)
    await e.until({"type": "system", "data": {"event": "resumed",
                                              "recovered": False}})
    mr2 = await metrics()
    dr2 = {k: v for k, v in metrics_delta(mr1, mr2).items() if "resum" in k[0]}
    check(dr2, "no sample named *resum* went up after an unrecovered resume")
    check(set(dr1) != set(dr2), "recovered and unrecovered resumes move the "
          f"same samples: {dr1} / {dr2}")
    save("text", mr2.text)
EOF

ok_py "no room or user names in any label" <<'EOF'
async def main():
    m = await metrics()
    for text in (m.text, load("text")):
        for secret in ("secretroom42", "zed-unique-user", "yves-unique-user",
                       "xavier-unique-user"):
            check(secret not in text, f"/metrics names {secret!r}: "
                  + "; ".join(l for l in text.splitlines() if secret in l))
    for name, labels, v in m.samples:
        for k in labels:
            check(k not in ("room", "user", "channel", "sub", "id", "conn"),
                  f"{name} has the unbounded label {k}")
EOF
expect_clean_stop

start_server --auth-secret metrics-secret
ok_py "auth failures are counted (WebSocket and HTTP)" <<'EOF'
async def main():
    m0 = await metrics()
    ws = await ws_connect("/ws/x?token=bad", name="bad token")
    await ws.expect_close(1008)
    r = await http("GET", "/poll/x?timeout=0")
    check(r.status == 401, f"{r}")
    m1 = await metrics()
    d = {k: v for k, v in metrics_delta(m0, m1).items()
         if re.search(r"auth|unauthori", k[0] + str(k[1]), re.I)}
    check(sum(d.values()) >= 2, "auth failure samples went up by "
          f"{sum(d.values()):g}, expected 2: {metrics_delta(m0, m1)}")
EOF
expect_clean_stop
ok "the server exits 0 on SIGTERM"
done_testing
