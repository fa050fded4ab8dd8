#!/bin/sh
# The bad-input corpus (tests/data/records, NNN_<reason>-<what>.json) fed
# to the worker through the producer SQL, with a good record after each:
# the worker never crashes, each bad record is dead-lettered with exactly
# its reason, each ok one and every neighbour is delivered.  Then hostile
# server answers (30% truncated JSON).
. "$(dirname "$0")/lib.sh"
t_setup
CORPUS=${CALLSYNC_RECORDS:-tests/data/records}
if [ "$CALLSYNC_PROFILE" = soak ]; then NM=300; else NM=40; fi
sql_is() { [ "$(sql "$1")" = "$2" ]; }
CRASH=0
sim_start --seed 46 --attributes last_call_at:date,last_call_outcome,last_call_escalated:boolean,last_call_nps:integer,plan_interest,callback_requested:boolean || exit 1
# As tests/unit/t_record.c assumes: region US, these two attributes, no
# public replies.
write_conf "allow_public_replies = false"
"$BIN/callsync" --db "$DB" init >/dev/null 2>&1
echo '{"type":"call","call_id":"seed-1","caller":{"phone":"+15550460000"},"summary":"seed conversation"}' >"$T/seed.jsonl"
enqueue_sql "$T/seed.jsonl"
"$BIN/callsyncd" --config "$T/callsync.conf" --drain 2>>"$T/worker.log"
CONV=$(sql "SELECT intercom_id FROM journal j JOIN outbox o ON o.id=j.outbox_id WHERE o.record_key='seed-1' AND step='conversation'")
check "seed conversation exists" [ -n "$CONV" ]

: >"$T/expect"; n=0; nrefused=0; nbadrefused=0
for f in "$CORPUS"/[0-9]*_*.json; do
	b=$(basename "$f" .json); num=${b%%_*}; rest=${b#*_}
	case $rest in ok_*) want=ok ;; *) want=${rest%%-*} ;; esac
	# Through SQL the row's record_key names the record (docs/contract.md
	# section 1): a payload without key or call_id is fine there.
	case $rest in *no_key_no_call_id|*note_no_key|*note_call_id_not_key)
		want=ok ;; esac
	src=$f
	# ok_repaired_*: bytes jq would rewrite or refuse (invalid UTF-8, a
	# lone surrogate, \u0000; worker/core/bytes.h repairs them): edited as
	# text, so the raw bytes reach the outbox.
	raw=
	case $rest in ok_repaired_*)
		raw=1
		LC_ALL=C sed -e "s/\"call_id\":\"a\"/\"call_id\":\"f-$num\"/" \
		    -e "s/\"key\":\"k\"/\"key\":\"f-$num\"/" \
		    -e "s/\"conversation_id\":\"1\"/\"conversation_id\":\"$CONV\"/" \
		    -e "s/+15551234567/+1555048${num}0/" "$f" >"$T/raw_$num.json"
		src=$T/raw_$num.json ;;
	esac
	if [ $want = ok ] && [ -z "$raw" ]; then
		# Make ok records deliverable against the simulator: notes go to
		# the seed conversation (keeping the id's JSON type), an explicit
		# contact_id that the simulator does not know is dropped, an
		# assignment goes to a team the simulator has.
		jq -c --arg c "$CONV" 'if has("conversation_id") then .conversation_id = (if (.conversation_id|type)=="number" then ($c|tonumber) else $c end) else . end | del(.caller.contact_id?) | if has("assign") then .assign = {"team_id":"2001"} else . end' "$f" >"$T/ok_$num.json"
		src=$T/ok_$num.json
	fi
	# A payload key (or call_id) must agree with the row's record_key:
	# a well-formed one is renamed f-NNN; a broken one keeps its reason.
	if [ $want != invalid_json ] && [ -z "$raw" ] && jq -e --arg k "f-$num" 'type == "object" and (((.key|type) == "string" and (.key|length) > 0 and (.key|length) <= 200 and (.key|test("[[:cntrl:]]")|not)) or (.key == null and (.call_id|type) == "string" and (.call_id|length) > 0 and (.call_id|length) <= 200 and (.call_id|test("[[:cntrl:]]")|not)))' "$src" >/dev/null 2>&1 &&
	    ! grep -q 'duplicate_key' <<EOF_DUP
$b
EOF_DUP
	then
		jq -c --arg k "f-$num" 'if (.key|type) == "string" then .key = $k else .call_id = $k end' "$src" >"$T/keyed_$num.json"
		src=$T/keyed_$num.json
	fi
	printf ".timeout 5000\nINSERT INTO outbox (workspace, record_key, payload) VALUES ('acme', 'f-%s', CAST(readfile('%s') AS TEXT)) ON CONFLICT (workspace, record_key) DO NOTHING;\n" "$num" "$src" |
	    sqlite3 -batch "$DB" >/dev/null 2>"$T/ins.err"
	ins=$?
	if [ $ins -ne 0 ]; then
		nrefused=$((nrefused + 1))
		[ $want != invalid_json ] && { nbadrefused=$((nbadrefused + 1)); diag "refused at insert but valid JSON: $b: $(head -c 200 "$T/ins.err")"; }
		echo "$num $want refused" >>"$T/expect"
	else
		echo "$num $want inserted" >>"$T/expect"
	fi
	n=$((n + 1))
	printf '{"type":"call","call_id":"g-%s","caller":{"phone":"+15550470%s"},"summary":"good neighbour of %s"}\n' "$num" "$num" "$num" >"$T/g.jsonl"
	enqueue_sql "$T/g.jsonl"
done
check "corpus has at least 60 files ($n)" [ $n -ge 60 ]
is "every valid-JSON corpus payload accepted at insert" "$nbadrefused" 0
ninv=$(grep -c ' invalid_json ' "$T/expect")
nref=$(grep -c ' invalid_json refused' "$T/expect")
diag "invalid_json corpus files: $ninv; refused by the CHECK constraint: $nref; accepted by SQLite's json_valid: $((ninv - nref))"
grep ' invalid_json inserted' "$T/expect" | while read -r num w s; do diag "  json_valid accepted $(basename "$CORPUS"/${num}_*.json)"; done
check "broken JSON refused at insert, or dead-lettered invalid_json (checked below)" true

t0=$(date +%s)
drain_until_done 30 120
check "drained" [ $? -eq 0 ]
is "the worker never crashed (every run exit 0 or 3)" "$CRASH" 0
bad=0; okbad=0
while read -r num want how; do
	[ "$how" = refused ] && continue
	got_state=$(sql "SELECT state FROM outbox WHERE record_key='f-$num'")
	got=$(sql "SELECT reason FROM dead_letter d JOIN outbox o ON o.id=d.outbox_id WHERE o.record_key='f-$num'")
	if [ "$want" = ok ]; then
		[ "$got_state" = done ] || { okbad=$((okbad + 1)); diag "f-$num (ok) is $got_state: $got $(sql "SELECT message FROM dead_letter d JOIN outbox o ON o.id=d.outbox_id WHERE o.record_key='f-$num'")"; }
	else
		[ "$got_state" = dead ] && [ "$got" = "$want" ] || { bad=$((bad + 1)); diag "f-$num want $want, got $got_state/$got: $(sql "SELECT message FROM dead_letter d JOIN outbox o ON o.id=d.outbox_id WHERE o.record_key='f-$num'")"; }
	fi
done <"$T/expect"
is "each bad record dead-lettered with exactly its reason" "$bad" 0
is "each ok record delivered" "$okbad" 0
is "each ok_repaired record has its text_repair note" "$(sql "SELECT count(*) FROM journal j JOIN outbox o ON o.id=j.outbox_id WHERE j.step='text_repair' AND o.record_key IN ($(ls "$CORPUS" | sed -n 's/^\([0-9]*\)_ok_repaired_.*/'"'"'f-\1'"'"'/p' | paste -sd,))")" "$(ls "$CORPUS" | grep -c '^[0-9]*_ok_repaired_')"
is "every good neighbour delivered" "$(sql "SELECT count(*) FROM outbox WHERE record_key LIKE 'g-%' AND state='done'")" "$n"
is "bad records dead before any write: no journal rows" "$(sql "SELECT count(*) FROM journal j JOIN outbox o ON o.id=j.outbox_id JOIN dead_letter d ON d.outbox_id=o.id WHERE d.class='invalid'")" 0
check "dead-letter messages are one printable line" sql_is "SELECT count(*) FROM dead_letter WHERE message GLOB '*[^ -~]*' OR message = ''" 0
check "dlq ls --json lists them all" sh -c "[ \$('$BIN/callsync' --db '$DB' dlq ls --json --all 2>/dev/null | wc -l) -eq $(sql "SELECT count(*) FROM dead_letter") ]"
t1=$(date +%s)

# hostile answers: 30% truncated JSON after applying
sim_stop
DB=$T/mal.db
sim_start --seed 47 --p-malformed 0.3 --attributes last_call_at:date,last_call_outcome,last_call_escalated:boolean,last_call_nps:integer || exit 1
write_conf "max_attempts = 100
search_lag = 3"
# Answers come in well under 2 s (late ones at 1.5 s): a short timeout
# keeps each in-doubt window (timeout + settle_margin + search_lag) short.
sed -i 's/^request_timeout = 5$/request_timeout = 2/' "$T/callsync.conf"
"$BIN/callsync" --db "$DB" init >/dev/null 2>&1
gen_calls $NM $((NM / 3)) mal >"$T/mal.jsonl"
enqueue_sql "$T/mal.jsonl"
CRASH=0
drain_until_done 60 120
check "malformed 0.3: drained" [ $? -eq 0 ]
is "malformed 0.3: worker never crashed" "$CRASH" 0
snap
exactly_once_checks
t2=$(date +%s)
diag "bad input: $n corpus files ($nref refused at insert), $((t1 - t0)) s; malformed phase: $NM records, $(st .faults.malformed) truncated answers, $((t2 - t1)) s"
echo "BADINPUT corpus=$n refused_at_insert=$nref json_valid_accepted_invalid=$((ninv - nref)) wrong_reason=$bad ok_not_delivered=$okbad malformed_faults=$(st .faults.malformed)" >>"${TEST_LOGDIR:-/tmp}/figures.txt"
