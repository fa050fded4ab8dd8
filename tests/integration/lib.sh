# lib.sh: shared helpers for integration tests (POSIX sh, sourced).
# Each test prints TAP lines; tests/run.sh counts them.
#
#   . tests/integration/lib.sh
#   t_setup                      # temp dir $T, $DB, traps cleanup
#   sim_start [sim flags...]     # starts bin/intercom-sim, sets $SIM_URL, $SIM_PORT
#   check "desc" test-expr...    # ok/not ok
#   is "desc" "$got" "$want"     # equality, shows both on failure
#   sql "SELECT ..."             # sqlite3 against $DB, prints result
#   sim_state                    # GET /_sim/state (JSON) to stdout
#   write_conf [extra ws lines]  # $T/callsync.conf for workspace "acme" -> sim
cd "$(dirname "$0")/../.." || exit 1
BIN=${CALLSYNC_BIN:-bin}
ROOT=$(pwd)
TAPN=0
SIM_TOKEN=${SIM_TOKEN:-sim-secret-token-0123456789}

ok()     { TAPN=$((TAPN + 1)); echo "ok $TAPN - $*"; }
not_ok() { TAPN=$((TAPN + 1)); echo "not ok $TAPN - $*"; }
diag()   { echo "# $*"; }
check() {
	desc=$1; shift
	if "$@"; then ok "$desc"; else not_ok "$desc"; fi
}
is() {
	if [ "$2" = "$3" ]; then ok "$1"
	else not_ok "$1"; diag "got:  '$2'"; diag "want: '$3'"; fi
}

t_setup() {
	T=$(mktemp -d /tmp/callsync-it.XXXXXX)
	DB=$T/outbox.db
	PIDS=""
	trap t_cleanup EXIT INT TERM
}
t_cleanup() {
	for p in $PIDS; do kill "$p" 2>/dev/null; done
	for p in $PIDS; do wait "$p" 2>/dev/null; done
	if [ -n "${KEEP:-}" ]; then echo "# kept $T"; else rm -rf "$T"; fi
}

sql() { sqlite3 -batch -noheader "$DB" "$@"; }
# sqlw: a write beside a running worker waits for its lock (plain sqlite3
# has no busy timeout: a write met by a group commit fails "database is
# locked", as test 77's INSERT once did under load).
sqlw() { sqlite3 -batch -noheader "$DB" ".timeout 10000" "$@"; }

# sim_start [flags]: start the simulator on a free port (it writes the
# port it bound to --port-file).  Waits for the file without sleeping
# blindly: polls with a bound.
sim_start() {
	rm -f "$T/sim.port" "$T/sim.cport"
	"$BIN/intercom-sim" --port 0 --port-file "$T/sim.port" \
	    --control-port 0 --control-port-file "$T/sim.cport" \
	    --token "$SIM_TOKEN" "$@" >"$T/sim.log" 2>&1 &
	SIM_PID=$!
	PIDS="$PIDS $SIM_PID"
	i=0
	while [ ! -s "$T/sim.port" ] || [ ! -s "$T/sim.cport" ]; do
		i=$((i + 1))
		if [ $i -gt 200 ] || ! kill -0 $SIM_PID 2>/dev/null; then
			echo "# intercom-sim did not start:"; sed 's/^/# /' "$T/sim.log"
			return 1
		fi
		sleep 0.05
	done
	SIM_PORT=$(cat "$T/sim.port")
	SIM_URL="http://127.0.0.1:$SIM_PORT"
	SIM_CTL="http://127.0.0.1:$(cat "$T/sim.cport")"
}
sim_stop() { kill "$SIM_PID" 2>/dev/null; wait "$SIM_PID" 2>/dev/null; }
# The control listener stays up while the API port is "down".
sim_state() { curl -sf "$SIM_CTL/_sim/state"; }
# sim_ctl JSON: change faults at run time, e.g. sim_ctl '{"p_lost":0.2}'.
sim_ctl() { curl -sf -X POST -H 'Content-Type: application/json' -d "$1" "$SIM_CTL/_sim/control" >/dev/null; }

write_conf() {
	printf '%s\n' "$SIM_TOKEN" >"$T/acme.token"
	chmod 600 "$T/acme.token"
	cat >"$T/callsync.conf" <<CONF
[worker]
database = $DB
lease = 30
retry_base_ms = 500
retry_max = 5s
poll_interval_ms = 50

[workspace acme]
api_base = $SIM_URL
token_file = $T/acme.token
intercom_version = 2.16
admin_id = 1001
default_region = US
default_tags = voice-ai
allowed_attributes = plan_interest, callback_requested
request_timeout = 5
settle_margin = 1
connect_timeout = 2
$*
CONF
	chmod 600 "$T/callsync.conf"
}
# sim_contact JSON: a contact made through the simulator's back door (no
# search lag); prints its id.  sim_merge FROM INTO: merge in Intercom.
sim_contact() {
	curl -sf -X POST -H 'Content-Type: application/json' -d "$1" \
	    "$SIM_CTL/_sim/contacts" | jq -r .id
}
sim_merge() {
	curl -sf -X POST -H 'Content-Type: application/json' \
	    -d "{\"from\":\"$1\",\"into\":\"$2\"}" "$SIM_CTL/_sim/merge" >/dev/null
}

# snap: save /_sim/state to $T/state.json; st ARGS: jq ARGS over it.
# (Not echo "$S": dash's echo expands backslashes inside JSON strings.)
snap() { sim_state >"$T/state.json"; }
st() { jq "$@" "$T/state.json"; }

# enqueue_sql FILE [WS]: insert JSON Lines with the producer SQL of
# docs/contract.md (one autocommit INSERT per record, as an agent does).
enqueue_sql() {
	jq -rc --arg ws "${2:-acme}" '"INSERT INTO outbox (workspace, record_key, payload) VALUES (\u0027\($ws)\u0027, \u0027\((.key // .call_id)|gsub("\u0027";"\u0027\u0027"))\u0027, \u0027\(tojson|gsub("\u0027";"\u0027\u0027"))\u0027) ON CONFLICT (workspace, record_key) DO NOTHING;"' "$1" |
	    { echo ".timeout 10000"; cat; } | sqlite3 -batch "$DB"
}

# gen_calls N CALLERS [PREFIX]: see tests/data/gen_calls.sh.
. "$ROOT/tests/data/gen_calls.sh"

# wait_for DESC SECONDS CMD...: poll CMD every 0.1 s until it succeeds,
# at most SECONDS; a bounded wait for an observable state, not a sleep.
wait_for() {
	desc=$1; secs=$2; shift 2
	i=0
	while ! "$@" 2>/dev/null; do
		i=$((i + 1))
		if [ $i -gt $((secs * 10)) ]; then
			diag "timed out after ${secs}s waiting for: $desc"
			return 1
		fi
		sleep 0.1
	done
	return 0
}

# listen_start CONF LOG [callsyncd flags]: run callsyncd -d on CONF with
# [worker] listen on a random free loopback port (retried, bounded, when
# the port is taken: the worker exits 1 "cannot listen"), until /livez
# answers.  Sets PORT, H (http://127.0.0.1:PORT) and WPID; 1 on failure.
# Below the kernel's ephemeral range (32768+), so an outgoing connection of a
# parallel test cannot hold the port we pick.
rport() { echo $((10000 + $(od -An -N2 -tu2 /dev/urandom) % 22000)); }
listen_start() {
	ls_conf=$1; ls_log=$2; shift 2
	ls_tries=0
	while [ $ls_tries -lt 10 ]; do
		ls_tries=$((ls_tries + 1))
		PORT=$(rport)
		H="http://127.0.0.1:$PORT"
		sed -i "/^listen = /d; s/^\[worker\]\$/[worker]\nlisten = 127.0.0.1:$PORT/" "$ls_conf"
		"$BIN/callsyncd" --config "$ls_conf" -d "$@" 2>>"$ls_log" &
		WPID=$!
		i=0
		while [ $i -lt 100 ] && kill -0 $WPID 2>/dev/null; do
			curl -sf -m 2 "$H/livez" >/dev/null && { PIDS="$PIDS $WPID"; return 0; }
			i=$((i + 1)); sleep 0.1
		done
		kill $WPID 2>/dev/null; wait $WPID 2>/dev/null
		grep -q "cannot listen" "$ls_log" || break
	done
	diag "worker did not serve /livez:"; sed 's/^/# /' "$ls_log" | tail -5
	return 1
}

# drain_until_done MAXRUNS [MAXSECONDS]: run callsyncd --drain until it
# exits 0, at most MAXRUNS runs and MAXSECONDS (default 600) in all.  Each
# run is bounded: a worker that loops fails the test instead of hanging
# it.  Between runs, wait until a record a worker could claim (the first
# open record of its lane) is due.
lane_head_due() {
	[ "$(sql "SELECT count(*) FROM outbox WHERE state IN ('pending','inflight')")" -eq 0 ] ||
	[ "$(sql "SELECT count(*) FROM outbox o WHERE o.state='pending' AND o.next_at <= unixepoch() AND NOT EXISTS (SELECT 1 FROM outbox p WHERE p.workspace=o.workspace AND p.lane=o.lane AND p.id<o.id AND p.state IN ('pending','inflight'))")" -gt 0 ]
}
drain_until_done() {
	runs=0; dl_end=$(($(date +%s) + ${2:-600}))
	while [ $runs -lt "$1" ] && [ "$(date +%s)" -lt $dl_end ]; do
		runs=$((runs + 1))
		timeout 120 "$BIN/callsyncd" --config "$T/callsync.conf" --drain \
		    2>>"$T/worker.log"
		rc=$?
		[ $rc -eq 0 ] && return 0
		[ $rc -ne 3 ] && { diag "callsyncd --drain exited $rc"; return 1; }
		wait_for "a lane head to be due" 30 lane_head_due || return 1
	done
	diag "still not drained after $runs runs"
	return 1
}

# exactly_once_checks: from /_sim/state (snap first) and SQLite, assert
# that no record's effect exists twice and none is lost.
exactly_once_checks() {
	ndone=$(sql "SELECT count(*) FROM outbox WHERE state='done'")
	ndead=$(sql "SELECT count(*) FROM outbox WHERE state='dead'")
	nall=$(sql "SELECT count(*) FROM outbox")
	is "every record delivered or dead-lettered ($ndone done, $ndead dead)" "$((ndone + ndead))" "$nall"
	# One conversation per delivered call (without conversation_id).
	sql "SELECT marker FROM outbox WHERE state='done'" | sort >"$T/markers"
	st -r '.conversations[].body' | grep -o 'cs[0-9a-f]\{16\}' | sort >"$T/conv_markers"
	is "no duplicate conversation (each marker opens one conversation)" "$(uniq -d "$T/conv_markers" | wc -l)" 0
	is "no lost conversation (every delivered record has one)" "$(comm -23 "$T/markers" "$T/conv_markers" | wc -l)" 0
	st -r '.conversations[].parts[] | select(.part_type=="note" or .part_type=="comment") | .body' | grep -o 'cs[0-9a-f]\{16\}n[0-9]*' | sort >"$T/note_markers"
	is "no duplicate note" "$(uniq -d "$T/note_markers" | wc -l)" 0
	is "no duplicate tag application" "$(st '[.conversations[].tags[] | select(.applications > 1)] | length')" 0
	is "no duplicate assignment" "$(st '[.conversations[] | [.parts[] | select(.part_type=="assignment")] | select(length > 1)] | length')" 0
	ncallers=$(sql "SELECT count(DISTINCT lane) FROM outbox WHERE lane LIKE 'p:%' AND state='done'")
	is "no duplicate contact (one per caller)" "$(st '[.contacts[] | select(.merged_into == null)] | length')" "$ncallers"
	is "audit rows for conversations match the simulator" "$(sql "SELECT count(DISTINCT object_id) FROM audit WHERE step='conversation'")" "$(st '.conversations | length')"
	"$BIN/callsync" --db "$DB" audit verify >/dev/null 2>&1
	is "audit chain verifies" "$?" 0
}

# rport: a random port (10000-31999); listen_start retries a taken one.
# live: the worker at $H answers /livez.
live() { curl -sf -m 2 "$H/livez" >/dev/null; }

# kill_cycles KILLS LOG CMD...: the crash tests' loop.  Runs CMD (a
# worker with -d; it must exec the worker, so that $! is the worker
# itself) in the background again and again and SIGKILLs it at a moment
# from 50 to 550 ms, until KILLS runs ended by the kill or by the
# worker's own crash hook; more records are enqueued whenever the outbox
# runs dry.  Sets kills and hooks.  The point is when to kill, not to
# wait for anything: every assertion is made on state afterwards.
kill_cycles() {
	kc_n=$1 kc_log=$2; shift 2
	kills=0; hooks=0; kc_batch=1
	while [ $((kills + hooks)) -lt "$kc_n" ]; do
		if [ "$(sql "SELECT count(*) FROM outbox WHERE state IN ('pending','inflight')")" -eq 0 ]; then
			kc_batch=$((kc_batch + 1))
			gen_calls 100 40 "b${kc_batch}k" >"$T/more.jsonl"
			enqueue_sql "$T/more.jsonl"
		fi
		"$@" 2>>"$kc_log" &
		kc_pid=$!
		sleep "0.$(( (kills * 37 % 50) + 5 ))"
		if kill -9 $kc_pid 2>/dev/null; then kills=$((kills + 1)); else hooks=$((hooks + 1)); fi
		wait $kc_pid 2>/dev/null
	done
}

# cs ARGS: the operator tool on this test's configuration.
cs() { "$BIN/callsync" --config "$T/callsync.conf" "$@"; }
# journal_contact KEY: the contact id of the record's contact step.
journal_contact() {
	sql "SELECT intercom_id FROM journal j JOIN outbox o ON o.id = j.outbox_id WHERE o.record_key = '$1' AND j.step = 'contact'"
}
# conv_contact KEY: contact ids (comma-joined) of the conversation the
# record opened, as the simulator has them (snap first).
conv_contact() {
	cv=$(sql "SELECT intercom_id FROM journal j JOIN outbox o ON o.id = j.outbox_id WHERE o.record_key = '$1' AND j.step = 'conversation'")
	st -r --arg id "$cv" '[.conversations[] | select(.id == $id) | .contact_ids[]] | join(",")'
}

# prism_install NAME: Prism 5.14.2 from npm into a cache outside the
# repository, and the patched 2.16 description from ../shared; sets SPEC
# and PRISM.  Without the description or npm, test NAME is skipped
# loudly (one TAP skip line, a line on stderr) and the script exits 0.
prism_install() {
	SPEC=$ROOT/../shared/intercom-openapi/api.intercom.io.prism.yaml
	PRISM_DIR=${XDG_CACHE_HOME:-$HOME/.cache}/callsync-prism
	PRISM=$PRISM_DIR/node_modules/.bin/prism
	[ -f "$SPEC" ] || prism_skip "$1" "../shared/intercom-openapi absent: contract test not run"
	if [ ! -x "$PRISM" ]; then
		command -v npm >/dev/null 2>&1 ||
		    prism_skip "$1" "npm missing: contract test not run"
		mkdir -p "$PRISM_DIR"
		npm install --silent --prefix "$PRISM_DIR" \
		    @stoplight/prism-cli@5.14.2 >"$PRISM_DIR/install.log" 2>&1 ||
		    prism_skip "$1" "npm install of prism failed: see $PRISM_DIR/install.log"
	fi
}
prism_skip() {
	echo "ok 1 - # SKIP $2"
	echo "$1: SKIPPED: $2" >&2
	exit 0
}
