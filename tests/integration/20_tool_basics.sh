#!/bin/sh
# 20_tool_basics: callsync init/migrate, enqueue (file, JSON Lines, stdin,
# idempotence, differing payload, bad input), status, ls, show, --help of
# every command, usage errors.
. "$(dirname "$0")/lib.sh"
t_setup
CS="$BIN/callsync"

latest=$(ls migrations/[0-9]*.sql | tail -n 1 | sed 's|.*/0*||; s|_.*||')
out=$("$CS" --db "$DB" init); rc=$?
is "init exits 0" "$rc" 0
case "$out" in *"schema version $latest"*) ok "init prints the schema version";;
*) not_ok "init prints the schema version"; diag "$out";; esac
is "database file is mode 0600" "$(stat -c %a "$DB")" 600
"$CS" --db "$DB" migrate >/dev/null; is "migrate on a current db exits 0" "$?" 0
"$CS" --db "$T/none.db" migrate 2>"$T/err" >/dev/null
is "migrate of a missing db exits 1" "$?" 1

# A database at version 1 (as the first release left it, with a record)
# is migrated forward in place, its rows kept.
{ cat migrations/0001_init.sql
  echo "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL DEFAULT (unixepoch()));"
  echo "INSERT INTO schema_migrations (version, name) VALUES (1, '0001_init');"
  echo "INSERT INTO outbox (workspace, record_key, payload) VALUES ('acme', 'old-1', '{\"type\":\"call\"}');"
  echo "PRAGMA user_version = 1;"; } | sqlite3 "$T/v1.db"
"$CS" --db "$T/v1.db" migrate >/dev/null 2>&1
is "migrate from version 1 exits 0" "$?" 0
is "migrated to the latest version" "$(sqlite3 "$T/v1.db" 'PRAGMA user_version')" "$latest"
is "every migration recorded" "$(sqlite3 "$T/v1.db" 'SELECT count(*) FROM schema_migrations')" "$(ls migrations/[0-9]*.sql | wc -l)"
is "rows kept across the migration" "$(sqlite3 "$T/v1.db" "SELECT record_key FROM outbox")" old-1
is "claim index created" "$(sqlite3 "$T/v1.db" "SELECT count(*) FROM sqlite_master WHERE name='outbox_open'")" 1

cp "$DB" "$T/new.db"
sqlite3 "$T/new.db" 'PRAGMA user_version = 999'
"$CS" --db "$T/new.db" migrate >/dev/null 2>"$T/err"; rc=$?
is "a database newer than the binary is refused" "$rc" 1
check "refusal says why" grep -q "newer than this callsync" "$T/err"

# A single pretty-printed object.
cat >"$T/one.json" <<'J'
{
  "type": "call",
  "call_id": "call-1",
  "workspace": "acme",
  "caller": { "phone": "+15551234567" },
  "summary": "asked about pricing"
}
J
out=$("$CS" --db "$DB" enqueue "$T/one.json" 2>"$T/err"); rc=$?
is "enqueue of one object exits 0" "$rc" 0
is "enqueue reports new" "$out" "new acme/call-1"
check "summary on stderr" grep -q "enqueued 1 new, 0 existing, 0 differ, 0 errors" "$T/err"

out=$("$CS" --db "$DB" enqueue "$T/one.json" 2>/dev/null); rc=$?
is "same record again exits 0" "$rc" 0
is "same record again reports exists" "$out" "exists acme/call-1 (same payload)"
is "still one row" "$(sql "SELECT count(*) FROM outbox")" 1

# Same key, other payload: first kept, exit 1.
printf '{"type":"call","call_id":"call-1","workspace":"acme","caller":{"phone":"+15550000000"},"summary":"other"}\n' >"$T/diff.json"
out=$("$CS" --db "$DB" enqueue "$T/diff.json" 2>/dev/null); rc=$?
is "differing payload exits 1" "$rc" 1
case "$out" in "differs acme/call-1: payload differs"*) ok "differs reported";;
*) not_ok "differs reported"; diag "$out";; esac
is "first payload kept" "$(sql "SELECT json_extract(payload, '\$.summary') FROM outbox WHERE record_key = 'call-1'")" "asked about pricing"

# JSON Lines with a broken line, a keyless record and an invalid record.
cat >"$T/many.jsonl" <<'J'
{"type":"call","call_id":"call-2","caller":{"phone":"+15551112222"},"summary":"a"}
{"type":"call","call_id":"call-3", broken
{"type":"note","body":"no key here","conversation_id":"1"}
{"type":"call","call_id":"call-4","caller":{"phone":"12"},"summary":"bad phone"}

{"type":"note","key":"note-1","conversation_id":"123","body":"hello"}
J
out=$("$CS" --db "$DB" enqueue --workspace beta "$T/many.jsonl" 2>"$T/err"); rc=$?
is "JSON Lines with errors exits 1" "$rc" 1
check "invalid JSON line is named" grep -q "many.jsonl: line 2: invalid JSON" "$T/err"
check "missing key is named" grep -q "line 3: no key" "$T/err"
check "invalid record warned, still enqueued" grep -q "warning: beta/call-4: caller.phone" "$T/err"
check "summary counts" grep -q "enqueued 3 new, 0 existing, 0 differ, 2 errors" "$T/err"
is "valid lines enqueued in --workspace" "$(sql "SELECT group_concat(record_key, ' ') FROM (SELECT record_key FROM outbox WHERE workspace = 'beta' ORDER BY id)")" "call-2 call-4 note-1"

# stdin.
printf '{"type":"note","key":"n-stdin","conversation_id":"9","body":"x"}\n' |
    "$CS" --db "$DB" enqueue - >"$T/out" 2>/dev/null
is "enqueue from stdin" "$(cat "$T/out")" "new default/n-stdin"

# Over 1 MiB.
awk 'BEGIN { printf "{\"type\":\"note\",\"key\":\"big\",\"conversation_id\":\"1\",\"body\":\""; for (i = 0; i < 1100000; i++) printf "x"; print "\"}" }' >"$T/big.json"
"$CS" --db "$DB" enqueue "$T/big.json" >/dev/null 2>"$T/err"; rc=$?
is "payload over 1 MiB exits 1" "$rc" 1
check "size refusal says why" grep -q "over the 1 MiB limit" "$T/err"
is "big record not stored" "$(sql "SELECT count(*) FROM outbox WHERE record_key = 'big'")" 0

# Status: counts match the rows.
sql "UPDATE outbox SET state = 'done', delivered_at = unixepoch() WHERE record_key = 'call-2'"
sql "UPDATE outbox SET state = 'dead' WHERE record_key = 'call-4'"
"$CS" --db "$DB" status --json >"$T/status" ; rc=$?
is "status --json exits 0" "$rc" 0
is "status: one line per workspace" "$(wc -l <"$T/status" | tr -d ' ')" 3
is "status beta counts" "$(jq -c 'select(.workspace == "beta") | [.pending, .inflight, .done, .dead]' "$T/status")" "[1,0,1,1]"
is "status acme pending" "$(jq -r 'select(.workspace == "acme") | .pending' "$T/status")" \
    "$(sql "SELECT count(*) FROM outbox WHERE workspace = 'acme' AND state = 'pending'")"
"$CS" --db "$DB" status >"$T/status.txt"; rc=$?
is "status text exits 0" "$rc" 0
check "status text lists beta" grep -q "^beta " "$T/status.txt"

# ls and show.
is "ls --json newest first" "$("$CS" --db "$DB" ls --json | jq -r .key | head -1)" "n-stdin"
is "ls --state dead" "$("$CS" --db "$DB" ls --state dead --json | jq -r .key)" "call-4"
is "ls --limit" "$("$CS" --db "$DB" ls --limit 2 --json | wc -l | tr -d ' ')" 2
"$CS" --db "$DB" ls --state bogus >/dev/null 2>&1
is "ls --state bogus is a usage error" "$?" 2
sql "INSERT INTO journal (outbox_id, step, intercom_id) SELECT id, 'contact', '6500abc' FROM outbox WHERE record_key = 'call-1'"
"$CS" --db "$DB" show call-1 --json >"$T/show"; rc=$?
is "show exits 0" "$rc" 0
is "show has payload" "$(jq -r .payload.summary "$T/show")" "asked about pricing"
is "show has journal with intercom id" "$(jq -r '.journal[0].intercom_id' "$T/show")" "6500abc"
is "show has marker" "$(jq -r '.marker | startswith("cs")' "$T/show")" true
"$CS" --db "$DB" show call-1 | grep -q "6500abc"
is "show text has the intercom id" "$?" 0
"$CS" --db "$DB" show nope >/dev/null 2>&1
is "show of a missing key exits 1" "$?" 1

# --help everywhere, usage errors.
for c in init migrate enqueue status ls show export import prune doctor audit \
    "audit verify" dlq "dlq ls" "dlq show" "dlq replay" "dlq purge" "dlq edit" \
    contacts "contacts ls" "contacts show" "contacts resolve" "contacts merges"; do
	# shellcheck disable=SC2086
	"$CS" $c --help >"$T/help" 2>&1; rc=$?
	if [ "$rc" = 0 ] && grep -q "^usage: callsync" "$T/help"; then ok "$c --help"
	else not_ok "$c --help"; diag "rc $rc"; fi
done
"$CS" --help >/dev/null; is "callsync --help exits 0" "$?" 0
"$CS" --version >/dev/null; is "callsync --version exits 0" "$?" 0
"$CS" --db "$DB" frobnicate >/dev/null 2>&1; is "unknown command exits 2" "$?" 2
"$CS" >/dev/null 2>&1; is "no command exits 2" "$?" 2
"$CS" --db "$DB" ls --bogus >/dev/null 2>&1; is "unknown option exits 2" "$?" 2
"$CS" --db "$DB" enqueue >/dev/null 2>&1; is "enqueue without FILE exits 2" "$?" 2
"$CS" --db "$DB" dlq replay >/dev/null 2>&1; is "dlq without subcommand arguments exits 2" "$?" 2
echo "1..$TAPN"
