#!/bin/sh
# accept() out of file descriptors (issue 10, item 5), written as the
# attack: under a small `ulimit -n`, more connections than descriptors.
# The server stops accepting for a moment instead of spinning, says so
# once (not once per attempt: 228,608 lines in 1.5 s before), counts it in
# /metrics, and takes connections again once descriptors free up.
. "$(dirname "$0")/lib.sh"

# The server alone runs under the limit.
ulimit_serve() {
    nserver=$((nserver + 1))
    SERVER_OUT=$T/server$nserver.out
    SERVER_ERR=$T/server$nserver.err
    : >"$SERVER_OUT"
    (ulimit -n 48 && exec "$RTCTL" serve --port 0 "$@") \
        >"$SERVER_OUT" 2>"$SERVER_ERR" &
    SERVER_PID=$!
    SERVER_PIDS="$SERVER_PIDS $SERVER_PID"
    wait_until 20 "the server's listening line" grep -q listening "$SERVER_OUT"
    PORT=$(sed -n '1s/.*://p' "$SERVER_OUT")
    export SERVER_PID PORT SERVER_ERR
}
ulimit_serve

ok_py "100 connections against ulimit -n 48: one report, no spin, /health again once they close" <<'EOF'
async def main():
    err = os.environ["SERVER_ERR"]
    hogs = []
    for i in range(100):
        hogs.append(await Raw.connect(f"hog{i}"))  # the backlog takes them
    def reported():
        with open(err) as f:
            return sum(1 for ln in f if "cannot accept connections" in ln)
    async def out_of_fds():
        return reported() >= 1
    await poll_until(out_of_fds, "the server reports it cannot accept")
    # the attack goes on for a second, every hog still connected (the
    # length of the attack, not a wait for the server)
    await asyncio.sleep(1)
    with open(err) as f:
        text = f.read()
    lines = text.count("\n")
    check(reported() <= 2 and lines < 20, f"{lines} log lines while out "
          f"of descriptors: {text[-500:]!r}")
    for r in hogs:
        r.close()
    async def health():
        try:
            r = await http("GET", "/health", timeout=2)
        except Fail:
            return False
        return r.status == 200
    await poll_until(health, "/health once the connections are gone",
                     timeout=WAIT_BASE * 2)
    m = await metrics()
    check(m.sum("rtctl_accept_paused_total") >= 1,
          f"rtctl_accept_paused_total {m.sum('rtctl_accept_paused_total')}")
EOF
expect_clean_stop
done_testing
