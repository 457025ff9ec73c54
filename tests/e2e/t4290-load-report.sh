#!/bin/sh
# The reports of rtctl load beyond the summary: the time series, the
# --report-html page (rendered by headless Chromium, checked for its
# structure), --workers (processes that share one plan and merge their
# histograms), `rtctl report merge` (merging two reports equals merging
# the runs' histograms: counts and percentiles recomputed here from the
# buckets), --start-at, the closed model of the protocol (--in-flight),
# and Ctrl-C with workers.
. "$(dirname "$0")/lib.sh"

CHROMIUM=${RT_CHROMIUM:-chromium}

# jget FILE PATH...: one value of a JSON report.
jget() {
    python3 - "$@" <<'PY'
import json, sys
v = json.load(open(sys.argv[1]))
for k in sys.argv[2:]:
    v = v[k]
print(json.dumps(v))
PY
}

start_server --max-user-connections 0

# --- one run: its series and its page
EXPECT_TIMEOUT=60 expect_code 0 "$RTCTL" load "$WSBASE" -c 30 -r 40/s -d 2s \
    --interval 500ms --user load --room-prefix a --report-json a.json \
    --report-html a.html -q
python3 - <<'PY' || fail "a.json: the time series does not add up"
import json
r = json.load(open("a.json"))
s = r["series"]
assert r["config"]["interval_ms"] == 500, r["config"]
assert len(s) >= 4, s
assert [p["t_ms"] for p in s] == [500 * (i + 1) for i in range(len(s))], s
assert sum(p["sent"] for p in s) == r["messages"]["sent"], s
assert sum(p["delivered"] for p in s) == r["messages"]["delivered"], s
assert sum(p["latency_us"]["count"] for p in s) == r["messages"]["delivered"]
assert max(p["connections"] for p in s) == 31, s
PY
ok "the JSON report's time series: every interval, summing to the totals"

if command -v "$CHROMIUM" >/dev/null 2>&1; then
    mkdir profile
    timeout -k 3 "$(scaled 60)" "$CHROMIUM" --headless --no-sandbox \
        --disable-gpu --no-first-run --disable-background-networking \
        --disable-component-update --disable-sync --user-data-dir="$T/profile" \
        --dump-dom "file://$T/a.html" >dom.html 2>chromium.err ||
        { tail -n 20 chromium.err >&2; fail "chromium could not render a.html"; }
    python3 - a.json dom.html a.html <<'PY' || fail "the page's structure"
import json, sys
from html.parser import HTMLParser
rep = json.load(open(sys.argv[1]))
class P(HTMLParser):
    def __init__(self):
        super().__init__()
        self.plots, self.cur, self.bad = {}, None, []
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag in ("script", "link", "img", "iframe", "object") or \
                "src" in a or "href" in a:
            self.bad.append(tag)
        if tag == "svg" and "plot" in a.get("class", "").split():
            self.cur = a["id"]
            self.plots[self.cur] = {}
        if tag == "polyline" and self.cur is not None:
            pts = a.get("points", "").split()
            assert all(len(p.split(",")) == 2 for p in pts), pts
            self.plots[self.cur][a["data-series"]] = len(pts)
    def handle_endtag(self, tag):
        if tag == "svg":
            self.cur = None
p = P()
p.feed(open(sys.argv[2]).read())
assert not p.bad, f"external references or scripts: {p.bad}"
n = len(rep["series"])
with_lat = sum(1 for s in rep["series"] if s["latency_us"]["count"] > 0)
want = {"plot-latency": {k: with_lat for k in ("p50", "p90", "p99", "max")},
        "plot-throughput": {"sent": n, "received": n},
        "plot-connections": {"open": n}}
assert p.plots == want, f"plots {p.plots}, expected {want}"
src = open(sys.argv[3]).read()
assert "http://" not in src.replace('xmlns="http://www.w3.org/2000/svg"', "")
PY
    ok "--report-html: Chromium renders three SVG plots with every series, nothing external"
else
    echo "# skip the Chromium check: no chromium (tests/deps.sh installs it)"
fi

# --- --workers: two processes, one room each
EXPECT_TIMEOUT=60 expect_code 0 "$RTCTL" load "$WSBASE" -c 40 --rooms 2 \
    --publishers 2 -r 40/s -d 2s --workers 2 --user load --room-prefix w \
    --interval 500ms --report-json w.json --report-html w.html
python3 - <<'PY' || fail "w.json: the merged report of two workers"
import json
r = json.load(open("w.json"))
c = r["config"]
assert (c["workers"], c["subscribers"], c["publishers"], c["rooms"],
        c["rate"]) == (2, 40, 2, 2, 40), c
m = r["messages"]
assert m["acked"] > 0 and m["lost"] == 0 and m["duplicated"] == 0, m
# each room's 20 subscribers receive every message of its publisher
assert m["delivered"] == 20 * m["acked"], m
assert r["latency_us"]["count"] == m["delivered"], r["latency_us"]
assert r["transports"]["ws"]["opened"] == 40, r["transports"]
PY
check_grep '2 processes merged' out
check_grep '^w1 \[' err
check_grep '^w2 \[' err
ok "--workers 2: one report of both processes, every delivery counted"

expect_code 2 "$RTCTL" load "$WSBASE" --workers 3 --rooms 2
check_grep "needs --rooms 3" err
ok "--workers beyond the rooms: a usage error (exit 2)"

# --- rtctl report merge equals the merge of the histograms
EXPECT_TIMEOUT=60 expect_code 0 "$RTCTL" report merge a.json w.json \
    --report-json m.json --html m.html --threshold 'lost==0'
check_grep '^    ok +lost==0 \(0\)$' out
python3 - a.json w.json m.json <<'PY' || fail "the merge is not the merge of the histograms"
import json, math, sys
a, b, m = (json.load(open(f)) for f in sys.argv[1:4])

def buckets(h):
    """The sparse rt_hist JSON: pairs of (gap, count)."""
    out, i, first = {}, 0, True
    c = h["c"]
    for k in range(0, len(c), 2):
        i = c[k] if first else i + c[k] + 1
        first = False
        out[i] = c[k + 1]
    return out

class Layout:
    """rt_hist's index arithmetic (HdrHistogram's), for lo and sig."""
    def __init__(self, h):
        single = 2 * 10 ** h["sig"]
        sub_mag = max(single - 1, 1).bit_length()
        self.half = max(sub_mag, 1) - 1
        self.unit = h["lo"].bit_length() - 1
        self.sub_count = 1 << (self.half + 1)
        self.sub_half = self.sub_count // 2
        self.sub_mask = (self.sub_count - 1) << self.unit
    def value_at(self, i):
        b = (i >> self.half) - 1
        sub = (i & (self.sub_half - 1)) + self.sub_half
        if b < 0:
            sub -= self.sub_half
            b = 0
        return sub << (b + self.unit)
    def highest_eq(self, v):
        b = (v | self.sub_mask).bit_length() - self.unit - (self.half + 1)
        sub = v >> (b + self.unit)
        adj = b + 1 if sub >= self.sub_count else b
        return (sub << (b + self.unit)) + (1 << (self.unit + adj)) - 1

def percentile(lay, bk, total, p):
    x = p / 100.0 * total
    x -= x * 4 * 2.220446049250313e-16
    want = total if p >= 100 else 1 if x <= 1 else math.ceil(x)
    cum = 0
    for i in sorted(bk):
        cum += bk[i]
        if cum >= want:
            return lay.highest_eq(lay.value_at(i))

def check(path, ha, hb, hm):
    ba, bb, bm = buckets(ha["histogram"]), buckets(hb["histogram"]), \
        buckets(hm["histogram"])
    want = dict(ba)
    for i, n in bb.items():
        want[i] = want.get(i, 0) + n
    assert bm == want, f"{path}: merged buckets differ"
    total = sum(want.values())
    assert hm["count"] == total == ha["count"] + hb["count"], path
    if total == 0:
        return
    lay = Layout(hm["histogram"])
    for p in (50, 90, 99, 99.9):
        got = hm["p%g" % p]
        exp = percentile(lay, want, total, p)
        assert got == exp, f"{path} p{p}: report {got}, buckets {exp}"
    assert hm["max"] == max(ha["max"], hb["max"]), path
    assert hm["min"] == min(ha["min"], hb["min"]), path

check("latency_us", a["latency_us"], b["latency_us"], m["latency_us"])
check("connect_time_us", a["connect_time_us"], b["connect_time_us"],
      m["connect_time_us"])
check("transports.ws.latency_us", a["transports"]["ws"]["latency_us"],
      b["transports"]["ws"]["latency_us"], m["transports"]["ws"]["latency_us"])
for k in ("sent", "acked", "delivered", "lost", "duplicated"):
    assert m["messages"][k] == a["messages"][k] + b["messages"][k], k
assert m["config"]["workers"] == 3 and m["config"]["subscribers"] == 70
# the series merge interval by interval, on the same t_ms
sa = {p["t_ms"]: p for p in a["series"]}
sb = {p["t_ms"]: p for p in b["series"]}
sm = {p["t_ms"]: p for p in m["series"]}
assert set(sm) == set(sa) | set(sb), (sorted(sm), sorted(sa), sorted(sb))
for t, p in sm.items():
    for k in ("sent", "delivered", "connections"):
        want = sa.get(t, {}).get(k, 0) + sb.get(t, {}).get(k, 0)
        assert p[k] == want, f"series t={t} {k}: {p[k]}, expected {want}"
    want = sum(s[t]["latency_us"]["count"] for s in (sa, sb) if t in s)
    assert p["latency_us"]["count"] == want, t
PY
ok "rtctl report merge: buckets, counts and percentiles equal the merged histograms"

expect_code 2 "$RTCTL" report merge a.json missing.json
check_grep "cannot read 'missing.json'" err
echo '{"version":1}' >bad.json
expect_code 2 "$RTCTL" report merge a.json bad.json
check_grep "'bad.json': missing or bad member" err
expect_code 2 "$RTCTL" report combine a.json
ok "rtctl report: unreadable or foreign reports and unknown actions are usage errors (exit 2)"

# --- --start-at: nothing connects before the time
start=$(($(date +%s) + 2))
EXPECT_TIMEOUT=60 expect_code 0 "$RTCTL" load "$WSBASE" -c 5 -r 10/s -d 1s \
    --user load --start-at "@$start" -q
[ "$(date +%s)" -ge $((start + 1)) ] || fail "--start-at @$start: done too early"
expect_code 2 "$RTCTL" load "$WSBASE" --start-at @1000000000
check_grep "has passed" err
expect_code 2 "$RTCTL" load "$WSBASE" --start-at 'next tuesday'
ok "--start-at: starts at the time given; a time passed or unreadable: exit 2"

# --- the closed model of the protocol: at most N unacknowledged per
# publisher.  Through a proxy holding every chunk 100 ms each way, an
# ack takes about 200 ms at least (180 ms, allowing for the proxy's
# millisecond timers), so 2 s allow at most 2 x 12 messages with two in
# flight (a bound that only a broken window can pass, not a timing).
SPORT=$PORT
start_proxy --latency 100ms
EXPECT_TIMEOUT=60 expect_code 0 "$RTCTL" load "ws://127.0.0.1:$PPORT" -c 10 \
    -r 0 --in-flight 2 -d 2s --user load --room-prefix f --report-json f.json -q
sent=$(jget f.json messages sent)
[ "$sent" -gt 0 ] && [ "$sent" -le 24 ] ||
    fail "--in-flight 2: $sent sent in 2s at 200 ms an ack"
[ "$(jget f.json messages acked)" = "$sent" ] || fail "--in-flight 2: not all acked"
[ "$(jget f.json messages delivered)" = $((sent * 10)) ] ||
    fail "--in-flight 2: delivered $(jget f.json messages delivered), expected $((sent * 10))"
ok "--in-flight 2 -r 0: at most two unacknowledged ($sent in 2s), each delivered to all"

# --- Ctrl-C with workers: the parent passes it on, the report is merged
"$RTCTL" load "$WSBASE" -c 20 --rooms 2 --publishers 2 -r 20/s -d 10m \
    --interval 100ms --workers 2 --user load --room-prefix i \
    --report-json i.json >out 2>err &
pid=$!
SERVER_PIDS="$SERVER_PIDS $pid"
wait_until 30 "both workers publishing" sh -c \
    "grep -q '^w1 .* run ' err && grep -q '^w2 .* run ' err"
kill -INT "$pid"
gone() { ! alive "$pid"; }
wait_until 30 "rtctl load --workers 2 exiting after SIGINT" gone
wait "$pid"
rc=$?
[ "$rc" = 130 ] || fail "exit $rc after SIGINT, expected 130"
check_grep '^rtctl load .* \(interrupted\)$' out
python3 - <<'PY' || fail "i.json is not the merged report of an interrupted run"
import json
r = json.load(open("i.json"))
assert r["interrupted"] is True and r["config"]["workers"] == 2, r["config"]
assert r["messages"]["sent"] > 0 and r["latency_us"]["count"] > 0
PY
ok "SIGINT with --workers 2: exit 130, the merged report written"

done_testing
