#!/bin/sh
# 78_robust_wal_reset: SQLite's WAL-reset bug (sqlite.org/wal.html
# #walresetbug, 3.7.0 to 3.51.2; Debian 12 ships 3.40.1) needs two
# connections checkpointing at once while a third commits.  callsync's
# mitigation: only callsyncd checkpoints, from its one connection; the
# callsync tool (and producers, by contract) set wal_autocheckpoint=0.
#   a. doctor names the linked SQLite version and the mitigation;
#   b. a callsync write past the autocheckpoint threshold (1000 pages)
#      leaves every page in the WAL: the database file does not grow
#      (another connection is held open, so no close-time checkpoint);
#   c. callsyncd, the one checkpointer, then copies them into the file.
. "$(dirname "$0")/lib.sh"
t_setup
sim_start || exit 1
write_conf ""
CS="$BIN/callsync"
"$CS" --config "$T/callsync.conf" init >/dev/null 2>&1

# ---------------------------------------------------------------- (a)
libv=$(sqlite3 -batch "$DB" 'SELECT sqlite_version()')
"$CS" --config "$T/callsync.conf" doctor >"$T/doc" 2>&1
diag "$(grep -i sqlite "$T/doc")"
check "doctor names the SQLite library version ($libv)" grep -q "^[a-zA-Z ]*sqlite: library $libv" "$T/doc"
check "doctor states the mitigation in force" \
    grep -q "sqlite: .*only callsyncd checkpoints.*wal_autocheckpoint=0" "$T/doc"
case $libv in
3.40.*) check "3.40 is named as in the bug's range" grep -q "sqlite: library $libv.*WAL-reset bug" "$T/doc" ;;
esac
"$CS" --config "$T/callsync.conf" doctor --json >"$T/doc.json" 2>/dev/null
is "doctor --json: the sqlite check names the version" \
    "$(jq -r '.checks[] | select(.message | startswith("sqlite:")) | .message' "$T/doc.json" | grep -c "library $libv")" 1

# ---------------------------------------------------------------- (b)
# Another connection stays open (a producer, say), so that nothing is
# checkpointed when callsync closes: only an autocheckpoint could.
mkfifo "$T/hold"
sqlite3 -batch "$DB" <"$T/hold" >"$T/hold.out" 2>&1 &
PIDS="$PIDS $!"
exec 3>"$T/hold"
echo "PRAGMA wal_autocheckpoint=0; SELECT 'held', count(*) FROM outbox;" >&3
wait_for "the other connection is open" 10 grep -q held "$T/hold.out"
size() { stat -c %s "$1"; }
db0=$(size "$DB")
# 1500 records of 3 kB: about 1200 pages, past the 1000-page threshold.
pad=$(head -c 3000 /dev/zero | tr '\0' x)
i=0
while [ $i -lt 1500 ]; do
	i=$((i + 1))
	printf '{"type":"call","call_id":"w%d","caller":{"phone":"+1555%07d"},"summary":"%s"}\n' $i $i "$pad"
done >"$T/big.jsonl"
"$CS" --db "$DB" enqueue --workspace other "$T/big.jsonl" >/dev/null 2>&1
is "callsync enqueued 1500 records" "$(sql "SELECT count(*) FROM outbox")" 1500
wal1=$(size "$DB-wal")
db1=$(size "$DB")
diag "database file $db0 -> $db1 bytes, WAL $wal1 bytes"
check "the WAL holds them (over 4 MB: $wal1)" [ "$wal1" -gt 4000000 ]
is "callsync checkpointed nothing: the database file did not grow" "$db1" "$db0"

# ---------------------------------------------------------------- (c)
# callsyncd commits (its heartbeat) and, being the checkpointer, copies
# the WAL into the file.  Records of 'other' are not its to deliver.
timeout 60 "$BIN/callsyncd" --config "$T/callsync.conf" --drain 2>"$T/w.log"
rc=$?
check "callsyncd --drain ran (exit $rc: 0 or 3)" [ $rc -eq 0 -o $rc -eq 3 ]
db2=$(size "$DB")
diag "database file after callsyncd: $db2 bytes"
check "callsyncd checkpointed: the file holds the records ($db2 > 4 MB)" [ "$db2" -gt 4000000 ]
exec 3>&-
echo "1..$TAPN"
