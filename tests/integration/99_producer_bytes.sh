#!/bin/sh
# Producer bytes (issue 20 item 5).  Payloads that SQLite's json_valid
# accepts at the producer SQL but jansson would refuse: a "\u0000" escape,
# raw invalid UTF-8 (0xff, an overlong form, a truncated sequence, an
# encoded surrogate), a lone surrogate escape, a raw NUL after the JSON
# text, a BLOB payload.  Each is delivered: the NUL dropped, every invalid
# sequence replaced by U+FFFD (what the simulator received shows it), and
# a journal note (step text_repair) says what was done.  JSON that is
# still wrong for the record (a duplicate member name, a number out of
# range) dead-letters as invalid_json with our own one-line message,
# never a library's wording.
. "$(dirname "$0")/lib.sh"
t_setup
sql_is() { [ "$(sql "$1")" = "$2" ]; }
sim_start --seed 99 || exit 1
write_conf ""
"$BIN/callsync" --db "$DB" init >/dev/null 2>&1

# ins KEY SQL-EXPRESSION: the producer SQL of CONTRACT.md section 1.
ins() {
	printf ".timeout 5000\nINSERT INTO outbox (workspace, record_key, payload) VALUES ('acme', '%s', %s) ON CONFLICT (workspace, record_key) DO NOTHING;\n" "$1" "$2" |
	    sqlite3 -batch "$DB" 2>"$T/ins.err"
}
# hexof TEXT: TEXT as hex digits (for X'..'; \xNN in TEXT are printf's).
hexof() { printf "$1" | od -An -tx1 | tr -d ' \n'; }
call() { printf '{"type":"call","caller":{"phone":"+1555099%04d"},%s}' "$1" "$2"; }

ins b-nul "'$(call 1 '"summary":"before\u0000after","transcript":"t\u0000t"')'"
is "b-nul: a \\u0000 escape is accepted at insert" "$?" 0
ins b-ff "CAST(X'$(hexof "$(call 2 '"summary":"s","transcript":"caf\377 ole"')")' AS TEXT)"
is "b-ff: raw 0xff is accepted at insert" "$?" 0
ins b-overlong "CAST(X'$(hexof "$(call 3 '"summary":"s","transcript":[{"speaker":"agent","text":"slash \300\257 here"}]')")' AS TEXT)"
is "b-overlong: an overlong form is accepted at insert" "$?" 0
ins b-trunc "CAST(X'$(hexof "$(call 4 '"summary":"euro \342\202","transcript":"x"')")' AS TEXT)"
is "b-trunc: a truncated sequence is accepted at insert" "$?" 0
ins b-surr "CAST(X'$(hexof "$(call 5 '"summary":"s","transcript":"half \355\240\200 pair"')")' AS TEXT)"
is "b-surr: an encoded surrogate is accepted at insert" "$?" 0
ins b-lone "'$(call 6 '"summary":"lone \ud800 escape"')'"
is "b-lone: a lone surrogate escape is accepted at insert" "$?" 0
ins b-rawnul "'$(call 7 '"summary":"raw nul after the text"')' || char(0) || 'junk'"
is "b-rawnul: a raw NUL after the JSON text is accepted at insert" "$?" 0
ins b-blob "X'$(hexof "$(call 8 '"summary":"blob \377 payload"')")'"
is "b-blob: a BLOB payload is accepted at insert" "$?" 0
is "b-blob: stored as a blob" "$(sql "SELECT typeof(payload) FROM outbox WHERE record_key='b-blob'")" blob
ins b-name "CAST(X'$(hexof "$(printf '{"type":"call","caller":{"phone":"+15550990009","name":"Jos\351"},"summary":"latin-1 name"}')")' AS TEXT)"
is "b-name: a Latin-1 name is accepted at insert" "$?" 0
# A raw NUL inside a string never gets in: the CHECK constraint sees the
# text up to the NUL.
ins b-nulin "'$(call 10 '"summary":"x')' || char(0) || 'y\"}'"
check "a raw NUL inside a string is refused at insert (CHECK)" grep -q CHECK "$T/ins.err"
# Still wrong for the record after repair.
ins j-dup "'$(call 11 '"summary":"one","summary":"two"')'"
ins j-big "'$(call 12 '"summary":"s","nps":123456789012345678901234567890')'"
ins j-real "'$(call 13 '"summary":"s","duration_s":1e400')'"
ins j-dupfix "CAST(X'$(hexof "$(call 14 '"summary":"s","x\377":1,"x\376":2')")' AS TEXT)"
is "j-*: four payloads json_valid accepts" "$(sql "SELECT count(*) FROM outbox WHERE record_key LIKE 'j-%'")" 4

# callsync enqueue takes what the producer SQL takes.
printf '{"type":"call","call_id":"b-cli","caller":{"phone":"+15550990015"},"summary":"cli \\u0000 caf\351"}\n' >"$T/cli.jsonl"
"$BIN/callsync" --config "$T/callsync.conf" enqueue "$T/cli.jsonl" >"$T/cli.out" 2>"$T/cli.err"
is "b-cli: callsync enqueue accepts \\u0000 and a Latin-1 byte (exit 0)" "$?" 0
check "b-cli: it says what the worker will repair" grep -q 'b-cli: 1 NUL character (\\u0000) dropped, 1 invalid UTF-8 sequence replaced with U+FFFD (summary)' "$T/cli.err"
timeout 120 "$BIN/callsyncd" --config "$T/callsync.conf" --drain 2>"$T/worker.log"
is "--drain exits 0" "$?" 0
for k in b-nul b-ff b-overlong b-trunc b-surr b-lone b-rawnul b-blob b-name b-cli; do
	is "$k: delivered" "$(sql "SELECT state || coalesce(' ' || (SELECT reason || ': ' || message FROM dead_letter d WHERE d.outbox_id = o.id), '') FROM outbox o WHERE record_key='$k'")" done
done
snap
FFFD=$(printf '\357\277\275')
conv() { st -r --arg k "$1" '.conversations[] | select(.body | contains("ref " + $k + " ")) | .body'; }
has() { conv "$1" | grep -qF -- "$2"; }
check "b-nul: summary delivered without the NUL" has b-nul beforeafter
check "b-nul: transcript delivered without the NUL" has b-nul tt
is "no conversation body holds a NUL" "$(st "[.conversations[].body | explode | select(index([0]) != null)] | length")" 0
check "b-ff: 0xff shown as U+FFFD" has b-ff "caf$FFFD ole"
check "b-overlong: the overlong pair shown as U+FFFD" has b-overlong "slash $FFFD$FFFD here"
check "b-trunc: the truncated sequence shown as U+FFFD" has b-trunc "euro $FFFD"
check "b-surr: the encoded surrogate shown as U+FFFD" has b-surr "half $FFFD$FFFD$FFFD pair"
check "b-lone: the lone surrogate shown as U+FFFD" has b-lone "lone $FFFD escape"
check "b-blob: delivered from a BLOB, 0xff shown as U+FFFD" has b-blob "blob $FFFD payload"
check "b-cli: delivered repaired" has b-cli "cli  caf$FFFD"
is "b-name: the contact's name has U+FFFD for the Latin-1 byte" "$(st -r '.contacts[] | select(.phone == "+15550990009") | .name')" "Jos$FFFD"
check "every body is valid UTF-8" sh -c "jq -r '.conversations[].body' '$T/state.json' | iconv -f UTF-8 -t UTF-8 >/dev/null"

note() { sql "SELECT json_extract(detail, '\$.warning') FROM journal j JOIN outbox o ON o.id=j.outbox_id WHERE o.record_key='$1' AND step='text_repair'"; }
is "b-nul: journal note" "$(note b-nul)" "2 NUL characters (\\u0000) dropped (summary, transcript)"
is "b-ff: journal note" "$(note b-ff)" "1 invalid UTF-8 sequence replaced with U+FFFD (transcript)"
is "b-overlong: journal note" "$(note b-overlong)" "2 invalid UTF-8 sequences replaced with U+FFFD (transcript)"
is "b-lone: journal note" "$(note b-lone)" "1 lone surrogate escape replaced with U+FFFD (summary)"
is "b-name: journal note names the field" "$(note b-name)" "1 invalid UTF-8 sequence replaced with U+FFFD (caller)"
is "b-rawnul: nothing repaired, no note" "$(note b-rawnul)" ""
for k in b-nul b-ff b-overlong b-trunc b-surr b-lone b-blob b-name; do
	[ -n "$(note $k)" ] || not_ok "$k: no text_repair note"
done
check "the note is committed before the first write (contact step)" [ "$(sql "SELECT min(j.rowid) FROM journal j JOIN outbox o ON o.id=j.outbox_id WHERE o.record_key='b-ff' AND step='text_repair'")" -lt "$(sql "SELECT min(j.rowid) FROM journal j JOIN outbox o ON o.id=j.outbox_id WHERE o.record_key='b-ff' AND step='contact'")" ]
check "callsync ls shows the note as a warning" sh -c "'$BIN/callsync' --db '$DB' ls --json | jq -r 'select(.key==\"b-ff\") | .warning' | grep -q 'U+FFFD'"
check "the log says it at warning level" grep -q 'b-ff: 1 invalid UTF-8 sequence replaced with U+FFFD' "$T/worker.log"

reason() { sql "SELECT reason FROM dead_letter d JOIN outbox o ON o.id=d.outbox_id WHERE o.record_key='$1'"; }
msg() { sql "SELECT message FROM dead_letter d JOIN outbox o ON o.id=d.outbox_id WHERE o.record_key='$1'"; }
for k in j-dup j-big j-real j-dupfix; do
	is "$k: dead-lettered invalid_json" "$(reason $k)" invalid_json
done
is "j-dup: our message" "$(msg j-dup)" "payload: duplicate member name (line 1, column 74)"
is "j-big: our message" "$(msg j-big)" "payload: a number out of range (line 1, column 99)"
is "j-real: our message" "$(msg j-real)" "payload: a number out of range (line 1, column 81)"
check "j-dupfix: duplicate after repair, our message" sh -c "sqlite3 '$DB' \"SELECT message FROM dead_letter d JOIN outbox o ON o.id=d.outbox_id WHERE o.record_key='j-dupfix'\" | grep -q '^payload: duplicate member name'"
# jansson's own phrases (load.c), none of which may reach a dead letter.
JANSSON='duplicate object key|near |premature end of input|JSON_ALLOW_NUL|too big integer|real number overflow|end of file expected|invalid unicode|maximum parsing depth|unexpected token|invalid token|string or .}. expected|.\[. or .\{. expected|invalid escape|control character 0x|unable to decode'
is "no dead-letter message uses jansson's wording" "$(sql "SELECT message FROM dead_letter" | grep -ciE "$JANSSON")" 0
check "dead-letter messages are one printable line" sql_is "SELECT count(*) FROM dead_letter WHERE message GLOB '*[^ -~]*' OR message = ''" 0
echo "BYTES delivered=$(sql "SELECT count(*) FROM outbox WHERE record_key LIKE 'b-%' AND state='done'")/10 notes=$(sql "SELECT count(*) FROM journal WHERE step='text_repair'")" >>"${TEST_LOGDIR:-/tmp}/figures.txt"
