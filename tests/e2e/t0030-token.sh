#!/bin/sh
# rtctl token: minting and verifying HS256 tokens, and every reason a token
# is refused, each with exit 1 and a message that says why.
. "$(dirname "$0")/lib.sh"

now=1800000000
expect_code 0 "$RTCTL" token --secret s3cret --sub alice --ttl 1h \
    --rooms general,ops --now $now
tok=$(cat out)
check_grep '^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$' out
ok "mint prints one compact JWT"

expect_code 0 "$RTCTL" token --verify --secret s3cret --now $((now + 60)) "$tok"
check_grep '^sub: +alice$' out
check_grep '^rooms: +general, ops$' out
check_grep '^exp: +2027-01-15T0[0-9]:00:00Z \(in 59m 0s\)$' out
ok "verify prints the claims"

expect_code 0 "$RTCTL" token --verify --json --secret s3cret --now $now "$tok"
check_file out '{"valid":true,"claims":{"sub":"alice","iat":1800000000,"exp":1800003600,"rooms":["general","ops"]}}'
ok "verify --json prints the payload exactly"

expect_code 1 "$RTCTL" token --verify --secret wrong --now $now "$tok"
check_grep 'invalid token: .*signature' err
ok "another secret: exit 1, says signature"

expect_code 1 "$RTCTL" token --verify --secret s3cret --now $((now + 3600)) "$tok"
check_grep 'invalid token: .*expired' err
ok "expired at exp exactly"

expect_code 1 "$RTCTL" token --verify --json --secret s3cret --now $((now + 7200)) "$tok"
check_grep '^\{"valid":false,"error":".*expired.*"\}$' out
ok "verify --json says why"

payload=$(printf '%s' "$tok" | cut -d. -f2)
tampered=$(printf '%s' "$tok" | sed "s/\.${payload}\./.${payload}x./")
expect_code 1 "$RTCTL" token --verify --secret s3cret --now $now "$tampered"
check_grep 'invalid token' err
ok "a tampered payload is refused"

# {"alg":"none","typ":"JWT"} . {"sub":"mallory","exp":9999999999} .
none='eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiJtYWxsb3J5IiwiZXhwIjo5OTk5OTk5OTk5fQ.'
expect_code 1 "$RTCTL" token --verify --secret s3cret --now $now "$none"
check_grep 'none' err
ok "alg none is refused and named"

expect_code 1 "$RTCTL" token --verify --secret s3cret --now $now not-a-token
check_grep 'invalid token' err
ok "garbage is refused"

RTCTL_AUTH_SECRET=s3cret expect_code 0 "$RTCTL" token --sub bob --now $now
tok2=$(cat out)
RTCTL_AUTH_SECRET=s3cret expect_code 0 "$RTCTL" token --verify --now $now "$tok2"
check_grep '^rooms: +all' out
ok "RTCTL_AUTH_SECRET is the default secret; no rooms claim means all"

expect_code 2 "$RTCTL" token --sub bob
check_grep 'no secret' err
expect_code 2 "$RTCTL" token --secret s --sub 'bad name'
check_grep "'bad name' is not a user name" err
expect_code 2 "$RTCTL" token --secret s --sub a --rooms 'ok,no/slash'
check_grep "'no/slash' is not a room name" err
expect_code 2 "$RTCTL" token --secret s
check_grep 'needs --sub' err
expect_code 2 "$RTCTL" token --secret s --verify
check_grep 'needs a TOKEN' err
expect_code 2 "$RTCTL" token --secret s --sub a --ttl 5x
check_grep "'5x' is not a duration" err
ok "usage errors exit 2 and name the problem"

done_testing
