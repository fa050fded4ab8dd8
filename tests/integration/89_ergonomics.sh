#!/bin/sh
# 89_ergonomics: everyday tools.
#   a. bash completion (contrib/bash-completion/callsync): commands,
#      subcommands, options read from --help, workspaces from the config;
#   b. make install puts it in COMPLETIONSDIR; make uninstall removes every
#      file make install put there;
#   c. dlq replay --dry-run --json: one document, each record with its
#      plan ({action, step, detail}); nothing changes;
#   d. status --json: each workspace lists the workers serving it;
#   e. dlq edit without --payload opens $EDITOR: a fixed payload is saved
#      (history, audit row); invalid JSON, an invalid record or a failing
#      editor change nothing (exit 1, the edit kept in a named file); an
#      unchanged payload saves nothing (exit 0).
. "$(dirname "$0")/lib.sh"
t_setup
have() { command -v "$1" >/dev/null 2>&1; }

# ---------------------------------------------------------------- (a)
if have bash; then
	SIM_URL=http://127.0.0.1:9
	write_conf
	comp() {
		bash -c '. contrib/bash-completion/callsync
		COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMPREPLY=()
		_callsync; echo "${COMPREPLY[*]}"' sh "$@"
	}
	is "callsync d<TAB>" "$(comp "$BIN/callsync" d)" "dlq doctor"
	is "callsync dlq r<TAB>" "$(comp "$BIN/callsync" dlq r)" "replay"
	is "callsync dlq replay --d<TAB>" "$(comp "$BIN/callsync" dlq replay --d)" "--dry-run"
	is "callsync status --<TAB>" "$(comp "$BIN/callsync" status --)" "--json --workers --help"
	is "callsync top --<TAB>" "$(comp "$BIN/callsync" top --)" "--interval --once --help"
	is "--workspace <TAB> from the config" "$(comp "$BIN/callsync" --config "$T/callsync.conf" ls --workspace '')" "acme"
	is "callsync audit v<TAB>" "$(comp "$BIN/callsync" audit v)" "verify"
	is "ls --state <TAB>" "$(comp "$BIN/callsync" ls --state '')" "pending inflight done dead all"
else
	TAPN=$((TAPN + 1)); echo "ok $TAPN - # SKIP bash not installed: completion not checked"
fi

# ---------------------------------------------------------------- (b)
make -s install DESTDIR="$T/root" PREFIX=/usr >"$T/inst.out" 2>&1
is "make install exits 0" "$?" 0
check "completion installed" test -s "$T/root/usr/share/bash-completion/completions/callsync"
n=$(find "$T/root" -type f | wc -l)
make -s uninstall DESTDIR="$T/root" PREFIX=/usr >"$T/uninst.out" 2>&1
is "make uninstall exits 0" "$?" 0
is "make uninstall leaves none of the $n files" "$(find "$T/root" -type f | wc -l)" 0

# ---------------------------------------------------------------- (c)
rm -f "$DB"
cs init >/dev/null 2>&1
sql "INSERT INTO outbox (workspace, record_key, payload, state) VALUES
 ('acme', 'k1', '{\"type\":\"call\",\"call_id\":\"k1\",\"caller\":{\"phone\":\"+15551230001\"},\"summary\":\"a\",\"tags\":[\"x\"]}', 'dead'),
 ('acme', 'k2', '{\"type\":\"call\",\"call_id\":\"k2\",\"caller\":{\"phone\":\"12\"},\"summary\":\"b\"}', 'dead');
INSERT INTO dead_letter (outbox_id, reason, class, message) SELECT id, 'http_422', 'permanent', 'm' FROM outbox;
INSERT INTO journal (outbox_id, step, intercom_id) SELECT id, 'contact', 'c123' FROM outbox WHERE record_key = 'k1';"
cs dlq replay --dry-run --json --all >"$T/dry.json" 2>"$T/dry.err"
is "dlq replay --dry-run --json exits 0" "$?" 0
is "one JSON document" "$(jq -s length "$T/dry.json")" 1
is "dry_run true, 2 would_replay" "$(jq -c '[.dry_run, ([.records[] | select(.result == "would_replay")] | length)]' "$T/dry.json")" "[true,2]"
is "k1's plan: contact done (c123)" "$(jq -r '.records[] | select(.key == "k1") | .plan[] | select(.action == "done") | "\(.step) \(.detail)"' "$T/dry.json")" "contact c123"
check "k1's plan: conversation to do" sh -c "jq -e '.records[] | select(.key == \"k1\") | .plan | any(.action == \"to_do\" and .step == \"conversation\")' '$T/dry.json' >/dev/null"
is "k1's plan: where the writes go" "$(jq -r '.records[] | select(.key == "k1") | .plan[] | select(.action == "writes_go_to") | .detail' "$T/dry.json")" "contact c123 (journal: resolved before, kept)"
check "k2's plan: invalid payload" sh -c "jq -e '.records[] | select(.key == \"k2\") | .plan | any(.action == \"invalid_payload\")' '$T/dry.json' >/dev/null"
is "nothing changed" "$(sql "SELECT count(*) FROM outbox WHERE state = 'dead'")" 2

# ---------------------------------------------------------------- (d)
sim_start || exit 1
write_conf
listen_start "$T/callsync.conf" "$T/worker.log" || exit 1
wait_for "heartbeat row" 10 sh -c "[ \$(sqlite3 '$DB' 'SELECT count(*) FROM workers') -ge 1 ]"
cs status --json >"$T/status.json" 2>&1
is "status --json: acme's workers: one, live" "$(jq -r 'select(.workspace == "acme") | [.workers[].state] | join(",")' "$T/status.json")" live
is "status --json: the worker's pid" "$(jq -r 'select(.workspace == "acme") | .workers[0].pid' "$T/status.json")" "$WPID"
kill -TERM $WPID; wait $WPID 2>/dev/null

# ---------------------------------------------------------------- (e)
hist() { sql "SELECT count(*) FROM payload_history h JOIN outbox o ON o.id = h.outbox_id WHERE o.record_key = 'k2'"; }
payload() { sql "SELECT payload FROM outbox WHERE record_key = 'k2'"; }
before=$(payload)
# An editor that fixes the phone (the file arrives pretty-printed).
cat >"$T/ed-fix.sh" <<'ED'
#!/bin/sh
grep -q '"phone": "12"' "$1" || exit 9
sed -i 's/"phone": "12"/"phone": "+15551230002"/' "$1"
ED
printf '#!/bin/sh\necho "{ not json" >"$1"\n' >"$T/ed-bad.sh"
printf '#!/bin/sh\nsed -i "s/+15551230002/99/" "$1"\n' >"$T/ed-badrec.sh"
printf '#!/bin/sh\nexit 4\n' >"$T/ed-fail.sh"
chmod +x "$T"/ed-*.sh
TMPDIR=$T EDITOR=$T/ed-bad.sh cs dlq edit k2 >"$T/e1.out" 2>&1 </dev/null
is "invalid JSON: exit 1" "$?" 1
check "invalid JSON: says so with the line" grep -q 'k2: line 1: invalid JSON' "$T/e1.out"
check "invalid JSON: the edit is kept in a named file" sh -c "f=\$(sed -n 's/.*your edit is kept in \([^ ]*\).*/\1/p' '$T/e1.out' | head -1); test -n \"\$f\" && grep -q 'not json' \"\$f\""
is "invalid JSON: payload unchanged" "$(payload)" "$before"
EDITOR=$T/ed-fail.sh cs dlq edit k2 >"$T/e2.out" 2>&1 </dev/null
is "editor fails: exit 1" "$?" 1
check "editor fails: says so" grep -q 'exited 4: nothing changed' "$T/e2.out"
EDITOR=true cs dlq edit k2 >"$T/e3.out" 2>&1 </dev/null
is "unchanged: exit 0" "$?" 0
check "unchanged: nothing saved" grep -q 'payload unchanged: nothing saved' "$T/e3.out"
is "unchanged: no history row" "$(hist)" 0
EDITOR=$T/ed-fix.sh cs dlq edit --note "phone typo" k2 >"$T/e4.out" 2>&1 </dev/null
is "fixed: exit 0" "$?" 0
is "fixed: the new phone saved (compact)" "$(payload | jq -r .caller.phone)" "+15551230002"
is "fixed: the old payload in the history" "$(hist)" 1
is "fixed: an audit row" "$(sql "SELECT count(*) FROM audit WHERE kind = 'operator' AND record_key = 'k2' AND detail LIKE '%dlq_edit%'")" 1
check "fixed: still dead until replayed" sh -c "[ \"\$(sqlite3 '$DB' \"SELECT state FROM outbox WHERE record_key='k2'\")\" = dead ]"
VISUAL=$T/ed-badrec.sh EDITOR=$T/ed-fail.sh cs dlq edit k2 >"$T/e5.out" 2>&1 </dev/null
is "invalid record (VISUAL wins): exit 1" "$?" 1
check "invalid record: the worker would dead-letter it" grep -q 'would dead-letter it again' "$T/e5.out"
is "invalid record: payload unchanged" "$(payload | jq -r .caller.phone)" "+15551230002"
echo "1..$TAPN"
