#!/bin/sh
# Lost responses: the simulator applies a write and drops the connection
# unanswered (p_lost), or applies it and answers truncated JSON
# (p_malformed).  The worker must reconcile before writing again: zero
# duplicates in Intercom, nothing lost.
. "$(dirname "$0")/lib.sh"
t_setup
if [ "$CALLSYNC_PROFILE" = soak ]; then N=2000; DRAIN_S=600; else N=200; DRAIN_S=150; fi
ATTRS=last_call_at:date,last_call_outcome,last_call_escalated:boolean,last_call_nps:integer

phase() {	# phase NAME SIMFLAGS...
	name=$1; shift
	sim_start --seed 42 --search-lag 2 --attributes "$ATTRS" "$@" || exit 1
	write_conf "escalation_team = 2001
route = billing:team:2002
max_attempts = 100
search_lag = 3"
	# Lost answers are dropped connections, not timeouts: a short
	# request_timeout keeps the in-doubt window (timeout + settle_margin
	# + search_lag) short without changing what is tested.
	sed -i 's/^request_timeout = 5$/request_timeout = 2/' "$T/callsync.conf"
	"$BIN/callsync" --db "$DB" init >/dev/null 2>&1
	gen_calls $N $((N / 3)) "$name" >"$T/calls.jsonl"
	enqueue_sql "$T/calls.jsonl"
	is "$name: $N records enqueued" "$(sql 'SELECT count(*) FROM outbox')" "$N"
	t0=$(date +%s)
	drain_until_done 100 $DRAIN_S
	check "$name: drained (every run exit 0 or 3, then 0)" [ $? -eq 0 ]
	t1=$(date +%s)
	snap
	exactly_once_checks
	is "$name: nothing dead-lettered (faults are not the records' fault to die of)" "$(sql "SELECT count(*) FROM outbox WHERE state='dead'")" 0
	nconv=$(st '.conversations|length')
	ndup=$(uniq -d "$T/conv_markers" | wc -l)
	nrec=$(sql "SELECT count(*) FROM audit WHERE detail LIKE '%reconciled%'")
	fl=$(st .faults.lost); fm=$(st .faults.malformed)
	diag "$name: $N records, $(st .requests.total) requests, faults lost=$fl malformed=$fm; $nrec writes found by reconciliation; duplicates $ndup; $((t1 - t0)) s"
	echo "LOST phase=$name records=$N lost=$fl malformed=$fm reconciled=$nrec duplicates=$ndup conversations=$nconv seconds=$((t1 - t0))" >>"${TEST_LOGDIR:-/tmp}/figures.txt"
	check "$name: faults were injected" [ $((fl + fm)) -gt 0 ]
	diag "$name: drain runs: $runs"
	sim_stop
	rm -f "$DB" "$DB-wal" "$DB-shm" "$T/worker.log"
}
phase lost --p-lost 0.2
phase malformed --p-malformed 0.1
