#!/bin/sh
# 84_ops_cli_edges: what issue 14 left open.
#   a. /metrics exports each registered worker's heartbeat age and the
#      number of stale workers (a killed worker's row, an old heartbeat);
#      promtool accepts it; the contrib rules alert on stale workers;
#   b. --json on doctor, enqueue, import, dlq replay|purge, prune and
#      audit verify: one JSON document on stdout, errors on stderr;
#   c. permission errors name the file, its owner and mode and who runs;
#   d. read-only commands work on a database the user cannot write
#      (file 0644 or 0444, directory read-only: no -wal/-shm possible);
#      write commands there fail with the permission line;
#   e. prune --older-than 0 is refused (exit 2);
#   f. JSON times: null, never 1970, for an unset time;
#   g. man/callsync.8, man/callsyncd.8 and --help name the same options;
#   h. make demo lists the files it leaves.
. "$(dirname "$0")/lib.sh"
t_setup
have() { command -v "$1" >/dev/null 2>&1; }
CS="$BIN/callsync"
CSD="$BIN/callsyncd"
# A document on stdout: python3 -m json.tool accepts it whole.
onejson() { python3 -m json.tool "$1" >/dev/null 2>&1; }

sim_start --attributes last_call_at:date,last_call_outcome,last_call_escalated:boolean,last_call_nps:integer,plan_interest,callback_requested || exit 1
write_conf
cs init >/dev/null 2>&1

# ---------------------------------------------------------------- (a)
listen_start "$T/callsync.conf" "$T/w.log"
check "a worker serves /metrics" [ $? -eq 0 ]
OWN=$(sql "SELECT owner FROM workers WHERE pid = $WPID")
metrics() { curl -sf -m 5 "$H/metrics" >"$T/m" 2>/dev/null; }
mval() { awk -v k="$1" '$1 == k { print $2 }' "$T/m"; }
wait_for "the worker's heartbeat age in /metrics" 10 sh -c "curl -sf -m 5 '$H/metrics' | grep -qF 'callsync_worker_heartbeat_age_seconds{owner=\"$OWN\"'"
metrics
age=$(grep -F "callsync_worker_heartbeat_age_seconds{owner=\"$OWN\"" "$T/m" | sed 's/.* //')
check "its own heartbeat age is fresh (${age:-none} s)" [ -n "$age" ] && [ "${age:-99}" -le 15 ]
is "no stale worker" "$(mval callsync_workers_stale)" 0
is "one live worker" "$(mval callsync_workers_live)" 1
# A row left by a killed worker (no lock file) and one whose heartbeat
# stopped 10 minutes ago.
sqlite3 -cmd ".timeout 10000" "$DB" "INSERT INTO workers (owner, pid, host, version, started_at, heartbeat_at, workspaces) VALUES ('ghost:4242:00000000deadbeef', 4242, 'ghost', '0.0.0', unixepoch() - 700, unixepoch() - 600, 'acme')"
stale_one() { metrics && [ "$(mval callsync_workers_stale)" = 1 ]; }
wait_for "/metrics to count the stale worker" 10 stale_one
is "the killed worker counts as stale" "$(mval callsync_workers_stale)" 1
gage=$(mval 'callsync_worker_heartbeat_age_seconds{owner="ghost:4242:00000000deadbeef",host="ghost"}')
check "its heartbeat age is ~600 s (${gage:-none})" [ -n "$gage" ] && [ "${gage:-0}" -ge 600 ] && [ "${gage:-0}" -le 700 ]
if have promtool; then
	promtool check metrics <"$T/m" >"$T/pc.out" 2>&1
	is "promtool check metrics: no problem" "$?" 0
	sed 's/^/# /' "$T/pc.out" | head -5
	promtool check rules contrib/prometheus/callsync.rules.yml >"$T/pr.out" 2>&1
	is "promtool check rules" "$?" 0
else
	ok "# SKIP promtool absent (Debian package prometheus)"
	ok "# SKIP promtool absent"
fi
check "the rules alert on a stale worker" grep -q 'expr: callsync_workers_stale > 0' contrib/prometheus/callsync.rules.yml
kill -TERM $WPID; wait $WPID
sql "DELETE FROM workers"

# ---------------------------------------------------------------- (b)
printf '{"type":"call","call_id":"j1","caller":{"phone":"+15550001001"},"summary":"one"}\n{"type":"call","call_id":"j2","caller":{"phone":"+15550001002"},"summary":"two"}\n' >"$T/j.jsonl"
cs enqueue --json "$T/j.jsonl" >"$T/enq.json" 2>"$T/enq.err"
is "enqueue --json: exit 0" "$?" 0
check "enqueue --json: one JSON document" onejson "$T/enq.json"
is "enqueue --json: counts" "$(jq -c '[.new, .exists, .differs, .errors]' "$T/enq.json")" "[2,0,0,0]"
is "enqueue --json: per record" "$(jq -c '[.records[] | [.workspace, .key, .result]]' "$T/enq.json")" '[["acme","j1","new"],["acme","j2","new"]]'
printf '{"type":"call","call_id":"j1","caller":{"phone":"+15550001001"},"summary":"CHANGED"}\nnot json\n' >"$T/j2.jsonl"
cs enqueue --json "$T/j2.jsonl" >"$T/enq2.json" 2>"$T/enq2.err"
is "enqueue --json with a differing record and a bad line: exit 1" "$?" 1
check "... still one JSON document" onejson "$T/enq2.json"
is "... counts" "$(jq -c '[.new, .exists, .differs, .errors]' "$T/enq2.json")" "[0,0,1,1]"
check "... the error on stderr names the line" grep -q 'line 2: invalid JSON' "$T/enq2.err"

cs export >"$T/bundle.jsonl" 2>/dev/null
"$CS" --db "$T/other.db" init >/dev/null 2>&1
"$CS" --db "$T/other.db" import --json "$T/bundle.jsonl" >"$T/imp.json" 2>"$T/imp.err"
is "import --json: exit 0" "$?" 0
check "import --json: one JSON document" onejson "$T/imp.json"
is "import --json: counts" "$(jq -c '[.records, .new, .existing]' "$T/imp.json")" "[2,2,0]"
is "import --json: per record" "$(jq -c '[.imported[] | .result] | unique' "$T/imp.json")" '["new"]'
printf 'garbage\n' >"$T/bad.jsonl"
"$CS" --db "$T/other.db" import --json "$T/bad.jsonl" >"$T/imp2.json" 2>"$T/imp2.err"
is "import --json of a damaged bundle: exit 1" "$?" 1
is "... nothing on stdout" "$(wc -c <"$T/imp2.json")" 0
check "... the reason on stderr" grep -q 'nothing imported' "$T/imp2.err"

# Two dead letters to replay and purge.
sql "UPDATE outbox SET state='dead' WHERE record_key IN ('j1','j2'); INSERT INTO dead_letter (outbox_id, reason, class, message, dead_at) SELECT id, 'http_422', 'permanent', 'test', unixepoch() FROM outbox WHERE record_key IN ('j1','j2')"
cs dlq replay --json --dry-run --key j1 >"$T/rp0.json" 2>"$T/rp0.err"
is "dlq replay --json --dry-run: exit 0" "$?" 0
check "... one JSON document" onejson "$T/rp0.json"
is "... says what it would do" "$(jq -c '[.dry_run, .done, [.records[] | [.key, .result]]]' "$T/rp0.json")" '[true,1,[["j1","would_replay"]]]'
is "... nothing changed" "$(sql "SELECT state FROM outbox WHERE record_key='j1'")" dead
cs dlq replay --json --key j1 >"$T/rp.json" 2>"$T/rp.err"
is "dlq replay --json: exit 0" "$?" 0
check "... one JSON document" onejson "$T/rp.json"
is "... replayed j1" "$(jq -c '[.action, .dry_run, .done, .skipped, [.records[] | [.workspace, .key, .result]]]' "$T/rp.json")" '["replay",false,1,0,[["acme","j1","replayed"]]]'
is "... j1 is pending" "$(sql "SELECT state FROM outbox WHERE record_key='j1'")" pending
cs dlq purge --json --key j2 >"$T/pg.json" 2>"$T/pg.err"
is "dlq purge --json: exit 0" "$?" 0
check "... one JSON document" onejson "$T/pg.json"
is "... purged j2" "$(jq -c '[.action, .done, [.records[] | [.key, .result]]]' "$T/pg.json")" '["purge",1,[["j2","purged"]]]'
cs dlq purge --json >"$T/pg2.json" 2>"$T/pg2.err"
is "dlq purge --json without a selection: exit 2" "$?" 2
is "... nothing on stdout" "$(wc -c <"$T/pg2.json")" 0

cs prune --json --dry-run --older-than 1d >"$T/pr0.json" 2>"$T/pr0.err"
is "prune --json --dry-run: exit 0" "$?" 0
check "... one JSON document" onejson "$T/pr0.json"
is "... counts" "$(jq -c '[.dry_run, .records, .audit_rows]' "$T/pr0.json")" '[true,0,0]'
cs prune --json --older-than 1d >"$T/pr.json" 2>"$T/pr.err"
is "prune --json: exit 0" "$?" 0
check "... one JSON document" onejson "$T/pr.json"
is "... counts" "$(jq -c '[.dry_run, .records, .audit_rows]' "$T/pr.json")" '[false,0,0]'

cs audit verify --json >"$T/av.json" 2>"$T/av.err"
is "audit verify --json: exit 0" "$?" 0
check "... one JSON document" onejson "$T/av.json"
nrows=$(sql "SELECT count(*) FROM audit")
is "... intact, every row" "$(jq -c '[.intact, .rows, .first_bad_id]' "$T/av.json")" "[true,$nrows,null]"
sqlite3 "$DB" ".backup $T/tamper.db"
sqlite3 "$T/tamper.db" "UPDATE audit SET http_status = 299 WHERE id = (SELECT min(id) FROM audit)"
first=$(sqlite3 "$T/tamper.db" "SELECT min(id) FROM audit")
"$CS" --db "$T/tamper.db" audit verify --json >"$T/av2.json" 2>"$T/av2.err"
is "audit verify --json on an altered log: exit 1" "$?" 1
check "... one JSON document" onejson "$T/av2.json"
is "... names the first altered row" "$(jq -c '[.intact, .first_bad_id]' "$T/av2.json")" "[false,$first]"

cs doctor --json >"$T/doc.json" 2>"$T/doc.err"
drc=$?
check "doctor --json: one JSON document" onejson "$T/doc.json"
is "doctor --json: exit and .ok agree" "$(jq -c '.ok' "$T/doc.json")" "$([ $drc = 0 ] && echo true || echo false)"
check "doctor --json: each check has a result and a message" \
    sh -c "[ \"\$(jq '[.checks[] | select((.result == \"ok\" or .result == \"warn\" or .result == \"fail\") and (.message | type) == \"string\")] | length' '$T/doc.json')\" -eq \"\$(jq '.checks | length' '$T/doc.json')\" ] && [ \"\$(jq '.checks | length' '$T/doc.json')\" -ge 5 ]"
check "doctor --json: the token check passed" sh -c "jq -r '.checks[] | select(.result == \"ok\") | .message' '$T/doc.json' | grep -q '^acme: token valid'"
is "doctor --json: failures count the fail checks" "$(jq -c '[.failures == ([.checks[] | select(.result == "fail")] | length)]' "$T/doc.json")" "[true]"

# ---------------------------------------------------------------- (c, d)
if id nobody >/dev/null 2>&1 && have setpriv && [ "$(id -u)" = 0 ]; then
	AS="setpriv --reuid=nobody --regid=nogroup --clear-groups"
	NUID=$(id -u nobody)
	chmod 755 "$T"
	mkdir "$T/ro"
	sqlite3 "$DB" "PRAGMA wal_checkpoint(TRUNCATE)" >/dev/null
	cp "$DB" "$T/ro/outbox.db"
	# c: not even readable.
	chmod 600 "$T/ro/outbox.db"
	$AS "$CS" --db "$T/ro/outbox.db" ls >"$T/c1.out" 2>"$T/c1.err"
	is "unreadable database: exit 1" "$?" 1
	is "... one line naming file, owner, mode and user" "$(cat "$T/c1.err")" \
	    "callsync: cannot open $T/ro/outbox.db for reading: owner root (uid 0) mode 0600; running as uid $NUID (nobody)"
	# d: readable, not writable; the directory is not writable either.
	chmod 644 "$T/ro/outbox.db"
	chmod 555 "$T/ro"
	for c in "status" "status --json" "ls" "ls --json" "show j1" "show --json j1" \
	    "audit" "audit --json" "audit verify" "export" "contacts ls" "dlq ls" \
	    "dlq show j1"; do
		# shellcheck disable=SC2086
		$AS "$CS" --db "$T/ro/outbox.db" $c >"$T/d.out" 2>"$T/d.err"
		r=$?
		[ "$c" = "dlq show j1" ] && { is "read-only db: callsync $c: exit 1 (j1 is not dead)" "$r" 1; continue; }
		is "read-only db: callsync $c: exit 0" "$r" 0
		[ $r = 0 ] || sed 's/^/# /' "$T/d.err" | head -3
	done
	$AS "$CS" --db "$T/ro/outbox.db" ls --json >"$T/d.ls" 2>/dev/null
	is "read-only db: ls --json lists the records (j1; j2 was purged)" "$(jq -r -s 'map(.key) | join(",")' "$T/d.ls")" j1
	check "read-only db: no -wal or -shm was created" sh -c "! ls '$T/ro' | grep -q -- '-wal\|-shm'"
	sed "s|^database = .*|database = $T/ro/outbox.db|" "$T/callsync.conf" >"$T/ro.conf"
	chmod 644 "$T/ro.conf" "$T/acme.token"
	$AS "$CS" --config "$T/ro.conf" doctor --json >"$T/d.doc" 2>"$T/d.doc.err"
	check "read-only db: doctor (no --fix) opens the database" sh -c "jq -r '.checks[] | select(.result == \"ok\") | .message' '$T/d.doc' | grep -q 'opens'"
	check "read-only db: doctor: integrity_check ok" sh -c "jq -r '.checks[] | select(.result == \"ok\") | .message' '$T/d.doc' | grep -q 'integrity_check ok'"
	chmod 600 "$T/acme.token"
	want="callsync: cannot open $T/ro/outbox.db for writing: owner root (uid 0) mode 0644; running as uid $NUID (nobody)"
	$AS "$CS" --db "$T/ro/outbox.db" enqueue "$T/j.jsonl" >/dev/null 2>"$T/w1.err"
	is "read-only db: enqueue: exit 1" "$?" 1
	check "... the permission line ($(head -1 "$T/w1.err"))" grep -qxF "$want" "$T/w1.err"
	$AS "$CS" --db "$T/ro/outbox.db" prune --older-than 30d >/dev/null 2>"$T/w2.err"
	is "read-only db: prune: exit 1" "$?" 1
	check "... the permission line" grep -qxF "$want" "$T/w2.err"
	$AS "$CS" --db "$T/ro/outbox.db" dlq purge --all >/dev/null 2>"$T/w3.err"
	is "read-only db: dlq purge: exit 1" "$?" 1
	check "... the permission line" grep -qxF "$want" "$T/w3.err"
	chmod 444 "$T/ro/outbox.db"
	$AS "$CS" --db "$T/ro/outbox.db" ls >/dev/null 2>&1
	is "mode 0444: ls works" "$?" 0
	# The read-only URI escapes what SQLite would read as URI syntax.
	odd="$T/r o#%3F?x"
	mkdir "$odd"; cp "$T/ro/outbox.db" "$odd/outbox.db"; chmod 444 "$odd/outbox.db"; chmod 555 "$odd"
	$AS "$CS" --db "$odd/outbox.db" ls --json >"$T/odd.ls" 2>"$T/odd.err"
	is "read-only db under a path with ' ', '#', '%' and '?': ls works" "$?" 0
	is "... and lists j1" "$(jq -r .key "$T/odd.ls")" j1
	$AS "$CS" --db "$T/ro/outbox.db" import "$T/bundle.jsonl" >/dev/null 2>"$T/w4.err"
	is "mode 0444: import: exit 1" "$?" 1
	check "... the permission line names mode 0444" grep -qF "for writing: owner root (uid 0) mode 0444; running as uid $NUID (nobody)" "$T/w4.err"
	# A writable file in a directory where no -wal/-shm can be made.
	chmod 666 "$T/ro/outbox.db"
	$AS "$CS" --db "$T/ro/outbox.db" enqueue "$T/j.jsonl" >/dev/null 2>"$T/w5.err"
	is "writable file, read-only directory: enqueue: exit 1" "$?" 1
	check "... names the directory, its owner and mode ($(head -1 "$T/w5.err"))" \
	    grep -qF "cannot create $T/ro/outbox.db-wal: directory $T/ro: owner root (uid 0) mode 0555; running as uid $NUID (nobody)" "$T/w5.err"
	chmod 755 "$T/ro"
else
	for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32; do
		ok "# SKIP not root, or no nobody user / setpriv"
	done
fi

# ---------------------------------------------------------------- (e)
for d in 0 0s 0d; do
	cs prune --older-than $d >"$T/e.out" 2>"$T/e.err"
	is "prune --older-than $d: exit 2" "$?" 2
	check "... says why ($(head -1 "$T/e.err"))" grep -q "older-than $d: .*would delete every" "$T/e.err"
done
is "prune --older-than 0 deleted nothing" "$(sql "SELECT count(*) FROM outbox")" 1

# ---------------------------------------------------------------- (f)
printf '{"type":"call","call_id":"t1","caller":{"phone":"+15550001003"},"summary":"t"}\n' | cs enqueue - >/dev/null 2>&1
cs ls --json >"$T/f.ls"
is "ls --json: next_at of a record due at once is null" "$(jq -r 'select(.key=="t1") | .next_at' "$T/f.ls")" null
is "ls --json: delivered_at of an undelivered record is null" "$(jq -r 'select(.key=="t1") | .delivered_at' "$T/f.ls")" null
cs show --json t1 >"$T/f.show"
cs status --json >"$T/f.st"
sql "UPDATE outbox SET state='dead' WHERE record_key='t1'; INSERT INTO dead_letter (outbox_id, reason, class, message, dead_at) SELECT id, 'http_422', 'permanent', 'test', unixepoch() FROM outbox WHERE record_key='t1'"
cs dlq ls --json >"$T/f.dlq"
cs dlq show --json t1 >"$T/f.dlqs"
for f in f.ls f.show f.st f.dlq f.dlqs; do
	check "$f: no 1970 time" sh -c "! grep -q '1970-01-01' '$T/$f'"
done

# ---------------------------------------------------------------- (g)
# Every option of a command's --help is in its man page entry, and every
# option the entry's heading names is in --help.
opts() { grep -o -- '--[a-z][a-z-]*\|\(^\|[ [|]\)-[a-zA-Z]\>' | sed 's/^[ [|]//' | grep -v -- '^--help$' | sort -u; }
manopts() { grep -o 'Fl -[a-z][a-z-]*\|Fl [a-zA-Z]\>' | sed 's/^Fl /-/; s/^--*/-/; s/^-\(..\)/--\1/' | grep -v -- '^--help$' | sort -u; }
# the man entry of command $1: from ".It Cm $1" up to the next .It Cm / .El
man_entry() { awk -v c=".It Cm $1" 'index($0, c) == 1 && (length($0) == length(c) || substr($0, length(c) + 1, 1) == " ") { on = 1; print; next } on && /^\.It Cm |^\.El/ { exit } on { print }' man/callsync.8; }
man_head() { man_entry "$1" | head -1; }
for c in init migrate enqueue status ls show "dlq ls" "dlq show" "dlq replay" \
    "dlq purge" "dlq edit" "records move" "records cancel" audit \
    "audit verify" export import prune \
    "contacts ls" "contacts show" "contacts resolve" "contacts merges" doctor \
    forget-worker context; do
	# shellcheck disable=SC2086
	"$CS" $c --help 2>/dev/null | opts >"$T/h.opts"
	man_entry "$c" | manopts >"$T/m.opts"
	man_head "$c" | manopts >"$T/mh.opts"
	miss=$(comm -23 "$T/h.opts" "$T/m.opts" | tr '\n' ' ')
	extra=$(comm -13 "$T/h.opts" "$T/mh.opts" | tr '\n' ' ')
	is "callsync $c: every --help option is in callsync(8)" "$miss" ""
	is "callsync $c: every option of its callsync(8) heading is in --help" "$extra" ""
done
"$CS" --help | sed '/^commands:/,$d' | opts >"$T/h.opts"
sed -n '/^\.Sh SYNOPSIS/,/^\.Sh DESCRIPTION/p' man/callsync.8 | manopts >"$T/m.opts"
is "callsync --help and the SYNOPSIS of callsync(8) agree" "$(comm -3 "$T/h.opts" "$T/m.opts" | tr -d '\t' | tr '\n' ' ')" ""
"$CSD" --help 2>&1 | opts >"$T/h.opts"
sed -n '/^\.Sh SYNOPSIS/,/^\.Sh DESCRIPTION/p' man/callsyncd.8 | manopts >"$T/m.opts"
sed -n '/^\.Sh DESCRIPTION/,/^\.Sh /p' man/callsyncd.8 | grep '^\.It Fl' | manopts >>"$T/m.opts"
sort -u -o "$T/m.opts" "$T/m.opts"
is "callsyncd --help and callsyncd(8) name the same options" "$(comm -3 "$T/h.opts" "$T/m.opts" | tr -d '\t' | tr '\n' ' ')" ""
check "export --handoff is in callsync(8)" sh -c "man_entry() { awk -v c='.It Cm export' 'index(\$0, c) == 1 { print }' man/callsync.8; }; man_entry | grep -q 'Fl -handoff'"
check "audit --json is in callsync(8)" sh -c "grep '^\.It Cm audit ' man/callsync.8 | grep -q 'Fl -json'"

# ---------------------------------------------------------------- (h)
if [ -z "${CALLSYNC_SANITIZED:-}" ]; then
	(cd "$ROOT" && CALLSYNC_BIN=$BIN sh tests/demo.sh) >"$T/demo.out" 2>&1
	is "make demo (tests/demo.sh): exit 0" "$?" 0
	tail -n 20 "$T/demo.out" >"$T/demo.tail"
	n=0
	for f in outbox.db callsync.conf acme.token sim.log; do
		grep -q "^  $ROOT/demo/$f" "$T/demo.tail" && n=$((n + 1))
	done
	is "demo: its last lines list the files it leaves (outbox.db, callsync.conf, acme.token, sim.log)" "$n" 4
	check "demo: says how to remove them" grep -q "rm -rf $ROOT/demo" "$T/demo.tail"
	check "demo: every path it lists exists" sh -c "for p in \$(sed -n 's|^  \\($ROOT/demo/[^ ]*\\).*|\\1|p' '$T/demo.tail'); do [ -e \"\$p\" ] || exit 1; done"
	rm -rf "$ROOT/demo"
else
	ok "# SKIP demo: not under sanitizers"; ok "# SKIP"; ok "# SKIP"; ok "# SKIP"
fi
echo "1..$TAPN"
