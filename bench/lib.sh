# bench/lib.sh: helpers for bench/run.sh (POSIX sh, sourced).
#
#   b_setup                   temp dir $T (mktemp), cleanup trap
#   sim_start NAME [flags]    bin/intercom-sim on ephemeral ports; sets
#                             SIM_URL, SIM_CTL, SIM_PID
#   sim_stop                  stop it
#   write_conf FILE DB [ws lines...]  a config for workspace "acme" -> sim
#   gen_calls N CALLERS PFX   N call records (JSON Lines) on stdout
#   bulk_backlog DB N PFX     N records in one INSERT ... SELECT transaction
#   median v1 v2 ...          median of numbers
#   now_ms                    wall clock, unix ms
BIN=${CALLSYNC_BIN:-bin}
SIM_TOKEN=bench-token-0123456789abcdef
SIM_ATTRS=last_call_at:date,last_call_outcome,last_call_escalated:boolean,last_call_nps:integer

b_setup() {
	T=$(mktemp -d "${TMPDIR:-/tmp}/callsync-bench.XXXXXX")
	PIDS=""
	trap b_cleanup EXIT
	trap 'exit 130' INT TERM
}
b_cleanup() {
	for p in $PIDS; do kill "$p" 2>/dev/null; done
	for p in $PIDS; do wait "$p" 2>/dev/null; done
	if [ -n "${KEEP:-}" ]; then echo "bench: kept $T" >&2; else rm -rf "$T"; fi
}

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

now_ms() { date +%s%3N; }

# sim_start NAME [flags]: waits (bounded) for the port files.
sim_start() {
	SIM_DIR=$T/$1; shift
	mkdir -p "$SIM_DIR"
	rm -f "$SIM_DIR/sim.port" "$SIM_DIR/sim.cport"
	"$BIN/intercom-sim" --port 0 --port-file "$SIM_DIR/sim.port" \
	    --control-port 0 --control-port-file "$SIM_DIR/sim.cport" \
	    --token "$SIM_TOKEN" --attributes "$SIM_ATTRS" "$@" \
	    >"$SIM_DIR/sim.log" 2>&1 &
	SIM_PID=$!
	PIDS="$PIDS $SIM_PID"
	_i=0
	while [ ! -s "$SIM_DIR/sim.port" ] || [ ! -s "$SIM_DIR/sim.cport" ]; do
		_i=$((_i + 1))
		if [ $_i -gt 200 ] || ! kill -0 "$SIM_PID" 2>/dev/null; then
			echo "bench: intercom-sim did not start:" >&2
			cat "$SIM_DIR/sim.log" >&2
			return 1
		fi
		sleep 0.05
	done
	SIM_URL="http://127.0.0.1:$(cat "$SIM_DIR/sim.port")"
	SIM_CTL="http://127.0.0.1:$(cat "$SIM_DIR/sim.cport")"
}
sim_stop() { kill "$SIM_PID" 2>/dev/null; wait "$SIM_PID" 2>/dev/null; }
sim_state() { curl -sf "$SIM_CTL/_sim/state"; }
sim_ctl() { curl -sf -X POST -H 'Content-Type: application/json' -d "$1" "$SIM_CTL/_sim/control" >/dev/null; }
# sim_total: requests the simulator answered so far.
sim_total() { sim_state | jq '.requests.total'; }
# sim_429: 429 answers so far (all endpoints).
sim_429() { sim_state | jq '[.requests.by_endpoint[] | .["429"] // 0] | add // 0'; }

# write_conf FILE DB [extra workspace lines]
write_conf() {
	_f=$1 _db=$2; shift 2
	printf '%s\n' "$SIM_TOKEN" >"$_f.token"
	chmod 600 "$_f.token"
	cat >"$_f" <<CONF
[worker]
database = $_db
lease = 120

[workspace acme]
api_base = $SIM_URL
token_file = $_f.token
intercom_version = 2.16
admin_id = 1001
default_region = US
default_tags = voice-ai
route = billing:team:2002
escalation_team = 2001
$*
CONF
	chmod 600 "$_f"
}

# gen_calls N CALLERS PFX: the record mix of the integration tests
# (tests/data/gen_calls.sh): callers repeat (lanes overlap), 3 tags per
# call (default, own, category), an escalation or a routed category now
# and then, a transcript over max_body (16 KiB: continued in a second
# note) every 10th record.
. "$ROOT/tests/data/gen_calls.sh"

# bulk_backlog DB N PFX: N short call records (distinct callers, 3 tags)
# in one transaction, through the producer's table and constraints.
bulk_backlog() {
	sqlite3 -batch "$1" >/dev/null <<SQL
.timeout 10000
PRAGMA journal_mode=WAL;
BEGIN;
WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < $2)
INSERT INTO outbox (workspace, record_key, payload)
SELECT 'acme', '$3' || i, json_object('type', 'call', 'call_id', '$3' || i,
    'caller', json_object('phone', printf('+1666%07d', i)),
    'summary', 'Backlog call ' || i, 'transcript', 'short talk ' || i,
    'category', CASE i % 3 WHEN 0 THEN 'billing' WHEN 1 THEN 'sales' ELSE 'support' END,
    'escalate', json(CASE WHEN i % 5 = 0 THEN 'true' ELSE 'false' END),
    'outcome', 'done', 'nps', i % 11, 'tags', json_array('t' || (i % 4)))
FROM s WHERE true
ON CONFLICT (workspace, record_key) DO NOTHING;
COMMIT;
SQL
}

median() {
	printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END {
		if (NR == 0) { print "n/a"; exit }
		if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# fmt EXPR: evaluate an awk expression, print with the given format.
calc() { awk "BEGIN { printf \"$1\", $2 }"; }

dbq() { sqlite3 -batch -noheader "$1" ".timeout 10000" "$2"; }
# bench_var KEY VALUE: a figure of a section script, logged and, with
# BENCH_VARS set (bench/run.sh), appended to that file in run.sh's
# format (KEY<TAB>VALUE, newlines inside a value as \001).
bench_var() {
	[ -n "${BENCH_VARS:-}" ] &&
	    printf '%s\t%s\n' "$1" "$(printf '%s' "$2" | tr '\n' '\001')" >>"$BENCH_VARS"
	log "$1 = $2"
}

# wait_until SECS CMD...: poll CMD every 0.1 s, at most SECS seconds.
wait_until() {
	_s=$1; shift
	_i=0
	while ! "$@" 2>/dev/null; do
		_i=$((_i + 1))
		[ $_i -gt $((_s * 10)) ] && return 1
		sleep 0.1
	done
}

# watch_done DB TARGET STALL_S MAX_S: poll the outbox (0.2 s) until
# TARGET records are done or dead, or the count did not move for STALL_S
# seconds, or MAX_S passed.  Sets W_DONE (done+dead), W_LAST (ms when the
# count last moved), W_FIRST (ms it first moved), W_STALLED (1 when it
# stopped short of TARGET).  A stall is how the worker's lost wake-up
# shows (BENCHMARKS.md, findings): queued requests are never sent.  Only
# SQLite is polled: /_sim/state is megabytes and would load the CPU.
watch_done() {
	_db=$1 _tg=$2 _st=$3 _mx=$4
	_t0=$(now_ms); W_LAST=$_t0; W_FIRST=""; W_STALLED=0
	_pd=$(dbq "$_db" "SELECT count(*) FROM outbox WHERE state IN ('done', 'dead')")
	while :; do
		sleep 0.2
		W_DONE=$(dbq "$_db" "SELECT count(*) FROM outbox WHERE state IN ('done', 'dead')")
		_now=$(now_ms)
		if [ "$W_DONE" != "$_pd" ]; then
			W_LAST=$_now; _pd=$W_DONE
			[ -z "$W_FIRST" ] && W_FIRST=$_now
		fi
		[ "$W_DONE" -ge "$_tg" ] && return 0
		if [ $((_now - W_LAST)) -gt $((_st * 1000)) ] ||
		    [ $((_now - _t0)) -gt $((_mx * 1000)) ]; then
			W_STALLED=1
			return 1
		fi
	done
}
