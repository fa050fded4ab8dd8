#!/bin/sh
# A site that must use an HTTP proxy (issue 20 item 2), through a real one
# (Debian's tinyproxy, logging every request it relays):
#   1. [workspace] proxy = http://HOST:PORT, plain HTTP to the simulator:
#      every request the simulator gets went through the proxy.
#   2. https_proxy from the environment, HTTPS (stunnel in front of the
#      simulator) through CONNECT; no_proxy takes a host out again.
#   3. A proxy that wants credentials (407 to CONNECT): the workspace
#      pauses on configuration with one line naming the proxy (never the
#      token, never a password), /healthz says it, nothing is charged or
#      dead-lettered; credentials in proxy = and SIGHUP resume it.
. "$(dirname "$0")/lib.sh"
. "$ROOT/tests/data/tls.sh"
if ! command -v tinyproxy >/dev/null 2>&1 || ! tls_have; then
	echo "ok 1 - # SKIP tinyproxy or stunnel absent"
	echo "96_proxy: SKIPPED: tinyproxy (Debian tinyproxy) or stunnel4 absent" >&2
	exit 0
fi
t_setup
sql_is() { [ "$(sql "$1")" = "$2" ]; }
PROXY_PW=pr0xy-pa55-word

# proxy_start NAME [directives]: tinyproxy on a free loopback port, its
# log in $T/NAME.log; sets PP (its port).  Retried when the port is taken.
proxy_start() {
	pn=$1; shift
	ptries=0
	while [ $ptries -lt 10 ]; do
		ptries=$((ptries + 1))
		PP=$(rport)
		cat >"$T/$pn.conf" <<EOF
Port $PP
Listen 127.0.0.1
Timeout 30
LogFile "$T/$pn.log"
LogLevel Connect
MaxClients 100
Allow 127.0.0.1
$*
EOF
		: >"$T/$pn.log"
		tinyproxy -d -c "$T/$pn.conf" >"$T/$pn.out" 2>&1 &
		ppid=$!
		i=0
		while [ $i -lt 50 ] && kill -0 $ppid 2>/dev/null; do
			if tls_listening "$PP"; then
				PIDS="$PIDS $ppid"
				return 0
			fi
			i=$((i + 1)); sleep 0.1
		done
		kill $ppid 2>/dev/null; wait $ppid 2>/dev/null
	done
	echo "# tinyproxy did not start:"; sed 's/^/# /' "$T/$pn.out" "$T/$pn.log" | tail -5
	return 1
}
# relayed NAME PATTERN: requests the proxy relayed matching PATTERN.
relayed() { grep -c "Request (file descriptor [0-9]*): $2" "$T/$1.log"; }
sim_total() { sim_state | jq '.requests.total'; }
todo() { sql "SELECT count(*) FROM outbox WHERE state<>'done'"; }

tls_certs "$T" || exit 1
sim_start --seed 96 --latency 10 --attributes last_call_at:date,last_call_outcome,last_call_escalated:boolean,last_call_nps:integer || exit 1
PLAIN_URL=$SIM_URL
tls_start "$T" "$SIM_PORT" || exit 1
proxy_start open || exit 1
OPEN=$PP
"$BIN/callsync" --db "$DB" init >/dev/null 2>&1

# ===== 1. proxy = in the workspace, plain HTTP ============================
write_conf "proxy = http://127.0.0.1:$OPEN"
"$BIN/callsyncd" --config "$T/callsync.conf" --check >/dev/null 2>&1
is "proxy = http://HOST:PORT is a valid setting" "$?" 0
gen_calls 10 5 px >"$T/a.jsonl"
enqueue_sql "$T/a.jsonl"
timeout 60 "$BIN/callsyncd" --config "$T/callsync.conf" --drain 2>"$T/w1.log"
is "proxy key: --drain delivers everything" "$?" 0
is "proxy key: every record delivered" "$(todo)" 0
n_sim=$(sim_total)
n_px=$(relayed open "[A-Z]* http://127.0.0.1:$SIM_PORT/")
check "proxy key: the proxy relayed requests ($n_px)" [ "$n_px" -gt 10 ]
is "proxy key: every request the simulator got came through the proxy" "$n_px" "$n_sim"
check "proxy key: the proxy relayed GET /me and POST /conversations" sh -c \
    "grep -q 'GET http://127.0.0.1:$SIM_PORT/me ' '$T/open.log' && grep -q 'POST http://127.0.0.1:$SIM_PORT/conversations ' '$T/open.log'"

# ===== 2. https_proxy from the environment, HTTPS through CONNECT =========
SIM_URL=$TLS_URL
write_conf "ca_file = $T/ca.pem"
gen_calls 10 5 env >"$T/b.jsonl"
enqueue_sql "$T/b.jsonl"
c0=$(relayed open "CONNECT 127.0.0.1:$TLS_PORT ")
https_proxy=http://127.0.0.1:$OPEN timeout 60 "$BIN/callsyncd" \
    --config "$T/callsync.conf" --drain 2>"$T/w2.log"
is "https_proxy: --drain delivers everything" "$?" 0
is "https_proxy: every record delivered" "$(todo)" 0
c1=$(relayed open "CONNECT 127.0.0.1:$TLS_PORT ")
check "https_proxy: the worker tunnelled through the proxy ($((c1 - c0)) CONNECTs)" [ "$c1" -gt "$c0" ]
gen_calls 5 5 nop >"$T/c.jsonl"
enqueue_sql "$T/c.jsonl"
HTTPS_PROXY=http://127.0.0.1:$OPEN no_proxy=127.0.0.1 timeout 60 \
    "$BIN/callsyncd" --config "$T/callsync.conf" --drain 2>"$T/w3.log"
is "no_proxy: --drain delivers everything" "$?" 0
is "no_proxy: every record delivered" "$(todo)" 0
is "no_proxy: no CONNECT for a host in no_proxy" "$(relayed open "CONNECT 127.0.0.1:$TLS_PORT ")" "$c1"

# ===== 3. a proxy that wants credentials: a configuration pause ===========
proxy_start auth "BasicAuth callsync $PROXY_PW" || exit 1
AUTH=$PP
write_conf "ca_file = $T/ca.pem
proxy = http://127.0.0.1:$AUTH
config_recheck = 2s"
gen_calls 8 4 pa >"$T/d.jsonl"
enqueue_sql "$T/d.jsonl"
n_sim0=$(sim_total)
listen_start "$T/callsync.conf" "$T/w4.log" || exit 1
wait_for "the pause line" 20 grep -q "PAUSED: the proxy" "$T/w4.log"
check "407: the workspace pauses" [ $? -eq 0 ]
check "407: the line names the proxy and the 407" \
    grep -q "acme: PAUSED: the proxy http://127.0.0.1:$AUTH answered HTTP 407 (Proxy Authentication Required)" "$T/w4.log"
curl -s "$H/healthz" >"$T/hz.json"
is "407: /healthz answers 503" "$(curl -s -o /dev/null -w '%{http_code}' "$H/healthz")" 503
check "407: /healthz names the proxy" grep -q "proxy http://127.0.0.1:$AUTH answered HTTP 407" "$T/hz.json"
# A few re-checks (every 2 s): still one line, nothing charged.
wait_for "two re-checks at the proxy" 20 sh -c "[ \$(grep -c 'CONNECT 127.0.0.1:$TLS_PORT ' '$T/auth.log') -ge 3 ]"
is "407: one line however often the proxy refuses" "$(grep -c 'PAUSED: the proxy' "$T/w4.log")" 1
is "407: no record dead-lettered" "$(sql "SELECT count(*) FROM outbox WHERE state='dead'")" 0
is "407: no attempt charged" "$(sql "SELECT coalesce(sum(attempts),0) FROM outbox WHERE record_key LIKE 'pa%'")" 0
is "407: nothing reached the simulator" "$(sim_total)" "$n_sim0"
# Credentials in the proxy URL (the file must then be 0600), and SIGHUP.
sed -i "s|^proxy = .*|proxy = http://callsync:$PROXY_PW@127.0.0.1:$AUTH|" "$T/callsync.conf"
kill -HUP $WPID
wait_for "delivered after SIGHUP" 60 sql_is "SELECT count(*) FROM outbox WHERE state<>'done'" 0
check "407: credentials and SIGHUP resume the workspace; all delivered" [ $? -eq 0 ]
check "407: the resume is logged" grep -q "the proxy lets requests through again; resuming" "$T/w4.log"
kill -TERM $WPID; wait $WPID
is "worker exits 0" "$?" 0
cat "$T"/w*.log >"$T/all.log"
check "no log line carries the proxy password" sh -c "! grep -q '$PROXY_PW' '$T/all.log'"
check "no log line carries the token" sh -c "! grep -q '$SIM_TOKEN' '$T/all.log'"
is "no record dead-lettered in all" "$(sql "SELECT count(*) FROM outbox WHERE state='dead'")" 0
snap
exactly_once_checks
# A password in proxy = needs the file to be 0600, like an inline token.
chmod 644 "$T/callsync.conf"
"$BIN/callsyncd" --config "$T/callsync.conf" --check >"$T/chk.out" 2>&1
is "a proxy password in a world-readable file is refused" "$?" 1
check "...naming the key, without the password" sh -c "grep -q 'proxy' '$T/chk.out' && ! grep -q '$PROXY_PW' '$T/chk.out'"
diag "relayed: $n_px plain requests; $((c1 - c0)) CONNECTs; pause: $(grep 'PAUSED: the proxy' "$T/w4.log" | sed 's/^<[0-9]>//')"
