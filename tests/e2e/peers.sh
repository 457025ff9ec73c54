# tests/e2e/peers.sh: foreign peers for the connect and tail scripts
# (t16xx, t12xx), sourced after lib.sh.  Servers rtctl did not write:
# python3-websockets (Debian), Node's `ws` and `eventsource` (npm,
# installed into the build tree, never the repo) and nginx (Debian).

RT_BUILDDIR=${RT_BUILDDIR:-$(dirname "$RTCTL")}

# _peer_wait NAME PID FILE: wait (20 s) for FILE's first line
# `listening PORT`; set PEER_PORT.
_peer_wait() {
    _pw_end=$(($(now_ms) + $(scaled 20) * 1000))
    while [ "$(wc -l <"$3" 2>/dev/null || echo 0)" -lt 1 ]; do
        alive "$2" || { cat "$3" "$3.err" >&2; fail "$1 exited before listening"; }
        [ "$(now_ms)" -lt "$_pw_end" ] || fail "$1 did not listen within 20s"
        sleep 0.05
    done
    PEER_PORT=$(sed -n '1s/^listening //p' "$3")
    case $PEER_PORT in
    '' | *[!0-9]*) fail "$1 printed '$(head -n 1 "$3")'" ;;
    esac
}

# start_peer_ws LOG [CERT KEY [CLIENT_CA]]: drivers/peer_ws.py on
# 127.0.0.1 (wss:// with CERT and KEY); sets PEER_PORT and PEER_WS
# (ws://127.0.0.1:PORT, or wss://).  LOG gets each request's headers.
npeer=0
start_peer_ws() {
    npeer=$((npeer + 1))
    : >"$1"
    "$RT_PY" "$RT_DRIVERS/peer_ws.py" "$@" >"peer$npeer.out" \
        2>"peer$npeer.out.err" &
    SERVER_PIDS="$SERVER_PIDS $!"
    _peer_wait peer_ws.py $! "peer$npeer.out"
    PEER_WS=ws://127.0.0.1:$PEER_PORT
    [ $# -ge 3 ] && PEER_WS=wss://127.0.0.1:$PEER_PORT
    return 0
}

# need_npm: install the npm peers (ws, eventsource) once into
# $RT_BUILDDIR/tests/npm; exit 77 (skip) when npm cannot.  Sets NODE_PATH.
RT_NPM=$RT_BUILDDIR/tests/npm
need_npm() {
    command -v node >/dev/null 2>&1 || { echo "skip: no node"; exit 77; }
    if [ ! -f "$RT_NPM/node_modules/eventsource/package.json" ] ||
        [ ! -f "$RT_NPM/node_modules/ws/package.json" ]; then
        command -v npm >/dev/null 2>&1 || { echo "skip: no npm"; exit 77; }
        mkdir -p "$RT_NPM" || exit 77
        # One install at a time: ctest -j may run two scripts at once.
        (
            flock 9
            [ -f "$RT_NPM/node_modules/eventsource/package.json" ] &&
                [ -f "$RT_NPM/node_modules/ws/package.json" ] && exit 0
            timeout 120 npm install --prefix "$RT_NPM" --no-audit --no-fund \
                --no-save eventsource@2.0.2 ws@8 >"$RT_NPM/install.log" 2>&1
        ) 9>"$RT_NPM/.lock" || {
            echo "skip: npm could not install ws and eventsource"
            exit 77
        }
    fi
    NODE_PATH=$RT_NPM/node_modules
    export NODE_PATH
}

# start_peer_node SCRIPT ARGS...: run a Node peer from drivers/; sets
# PEER_PORT.
start_peer_node() {
    npeer=$((npeer + 1))
    _sn_script=$1
    shift
    node "$RT_DRIVERS/$_sn_script" "$@" >"peer$npeer.out" \
        2>"peer$npeer.out.err" &
    SERVER_PIDS="$SERVER_PIDS $!"
    _peer_wait "$_sn_script" $! "peer$npeer.out"
}

# start_nginx UPSTREAM_PORT: Debian's nginx with its stock settings (the
# http block of /etc/nginx/nginx.conf) and a site that is nothing but
# proxy_pass to 127.0.0.1:UPSTREAM_PORT, plus, for WebSocket paths, the
# three lines of nginx's own WebSocket proxying recipe.  Sets NGINX_PORT
# and NGINX_BASE.  Exit 77 when nginx is not installed.
start_nginx() {
    command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] ||
        { echo "skip: no nginx (tests/deps.sh installs it)"; exit 77; }
    _ng=$(command -v nginx || echo /usr/sbin/nginx)
    mkdir -p "$T/nginx/logs" "$T/nginx/tmp"
    _ng_user=
    [ "$(id -u)" -eq 0 ] && _ng_user='user root;'
    for _ng_try in 1 2 3 4 5; do
        NGINX_PORT=$("$RT_PY" -c 'import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
        cat >"$T/nginx/nginx.conf" <<NGX
$_ng_user
worker_processes 1;
daemon off;
pid $T/nginx/nginx.pid;
error_log $T/nginx/logs/error.log;
events { worker_connections 64; }
http {
    sendfile on;
    tcp_nopush on;
    types_hash_max_size 2048;
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log $T/nginx/logs/access.log;
    gzip on;
    client_body_temp_path $T/nginx/tmp/body;
    proxy_temp_path $T/nginx/tmp/proxy;
    fastcgi_temp_path $T/nginx/tmp/fcgi;
    uwsgi_temp_path $T/nginx/tmp/uwsgi;
    scgi_temp_path $T/nginx/tmp/scgi;
    server {
        listen 127.0.0.1:$NGINX_PORT;
        location / {
            proxy_pass http://127.0.0.1:$1;
        }
        location ~ ^/(ws/|echo) {
            proxy_pass http://127.0.0.1:$1;
            proxy_http_version 1.1;
            proxy_set_header Upgrade \$http_upgrade;
            proxy_set_header Connection "upgrade";
        }
    }
}
NGX
        "$_ng" -p "$T/nginx" -c "$T/nginx/nginx.conf" \
            >"$T/nginx/out" 2>&1 &
        _ng_pid=$!
        SERVER_PIDS="$SERVER_PIDS $_ng_pid"
        _ng_end=$(($(now_ms) + $(scaled 20) * 1000))
        while alive "$_ng_pid" && [ "$(now_ms)" -lt "$_ng_end" ]; do
            if curl -s -o /dev/null "http://127.0.0.1:$NGINX_PORT/health"; then
                NGINX_BASE=http://127.0.0.1:$NGINX_PORT
                return 0
            fi
            sleep 0.05
        done
        # The port was taken meanwhile: another one.
        kill -TERM "$_ng_pid" 2>/dev/null
    done
    cat "$T/nginx/out" "$T/nginx/logs/error.log" >&2
    fail "nginx did not start"
}

# start_peer_proxy LOG: drivers/peer_proxy.py, an HTTP proxy (CONNECT and
# absolute-form requests); sets PEER_PORT and PROXY_URL.
start_peer_proxy() {
    npeer=$((npeer + 1))
    : >"$1"
    "$RT_PY" "$RT_DRIVERS/peer_proxy.py" "$1" >"peer$npeer.out" \
        2>"peer$npeer.out.err" &
    SERVER_PIDS="$SERVER_PIDS $!"
    _peer_wait peer_proxy.py $! "peer$npeer.out"
    PROXY_URL=http://127.0.0.1:$PEER_PORT
}
