#!/bin/sh
# Security: the token never leaks (logs, tool output, database files, audit,
# attempt and dead-letter rows, even on a 401); readable token/config files
# and plain http to a remote host are refused; TLS verification cannot be
# turned off; public replies need opt-in; SQL is always bound.
. "$(dirname "$0")/lib.sh"
t_setup
sql_is() { [ "$(sql "$1")" = "$2" ]; }
sim_start --seed 48 --p-5xx 0.1 --attributes last_call_at:date,last_call_outcome,last_call_escalated:boolean,last_call_nps:integer || exit 1
write_conf "search_lag = 3
audit_bodies = true"
"$BIN/callsync" --db "$DB" init >/dev/null 2>&1
gen_calls 20 7 sec >"$T/calls.jsonl"
enqueue_sql "$T/calls.jsonl"
# Until drained (exit 0): a run exits 3 while 5xx'd records wait out
# their retry time; the next run starts when a lane head is due.
dl_end=$(($(date +%s) + 120))
while [ "$(date +%s)" -lt $dl_end ]; do
	"$BIN/callsyncd" --config "$T/callsync.conf" --drain -v -v 2>>"$T/w.log" && break
	wait_for "a lane head to be due" 30 lane_head_due || break
done
is "records delivered" "$(sql "SELECT count(*) FROM outbox WHERE state='done'")" 20
# a 401 in the middle: revoke, then drain (paused)
sim_ctl '{"token_revoked":true, "p_5xx":0}'
echo '{"type":"call","call_id":"sec-401","caller":{"phone":"+15550480001"},"summary":"during revoked token"}' >"$T/r.jsonl"
enqueue_sql "$T/r.jsonl"
timeout 20 "$BIN/callsyncd" --config "$T/callsync.conf" --drain -v -v 2>>"$T/w.log"
is "401: drain exits 3" "$?" 3
# a public reply without opt-in
seq0=$(sim_state | jq '[.requests.log[].seq]|max')
printf '{"type":"reply","key":"sec-reply","conversation_id":"%s","body":"hello"}\n' \
    "$(sql "SELECT intercom_id FROM journal WHERE step='conversation' LIMIT 1")" >"$T/rp.jsonl"
enqueue_sql "$T/rp.jsonl"
sim_ctl '{"token_revoked":false}'
"$BIN/callsyncd" --config "$T/callsync.conf" --drain -v -v 2>>"$T/w.log"
is "public reply without opt-in: public_reply_disabled" "$(sql "SELECT reason FROM dead_letter d JOIN outbox o ON o.id=d.outbox_id WHERE record_key='sec-reply'")" public_reply_disabled
snap
is "public reply: no request to the simulator's reply endpoint" "$(st --argjson s "$seq0" '[.requests.log[]|select(.seq > $s and (.path|test("/reply$")))]|length')" 0
check "worker log is non-trivial (-v -v)" [ "$(wc -l <"$T/w.log")" -gt 50 ]
check "token not in worker log" sh -c "! grep -aqF '$SIM_TOKEN' '$T/w.log'"
: >"$T/tool.out"
for c in status "status --json" ls "ls --json" "show sec1" "show --json sec1" "dlq ls" "dlq ls --json --all" "dlq show sec-reply" audit "audit --format json" "audit --format csv" "audit verify" "contacts ls" export doctor; do
	"$BIN/callsync" --config "$T/callsync.conf" $c >>"$T/tool.out" 2>&1
done
"$BIN/callsync" -v --config "$T/callsync.conf" doctor >>"$T/tool.out" 2>&1
check "tool output is non-trivial" [ "$(wc -l <"$T/tool.out")" -gt 20 ]
check "token not in any callsync output" sh -c "! grep -aqF '$SIM_TOKEN' '$T/tool.out'"
sqlite3 "$DB" "PRAGMA wal_checkpoint(PASSIVE)" >/dev/null
check "token not in outbox.db / -wal / -shm" sh -c "! grep -aqF '$SIM_TOKEN' '$DB' '$DB-wal' '$DB-shm' 2>/dev/null"
is "token not in audit rows" "$(sql "SELECT count(*) FROM audit WHERE instr(coalesce(body,'')||coalesce(detail,'')||coalesce(path,''), '$SIM_TOKEN') > 0")" 0
is "token not in attempt_log rows" "$(sql "SELECT count(*) FROM attempt_log WHERE instr(coalesce(message,'')||coalesce(response,''), '$SIM_TOKEN') > 0")" 0
is "token not in dead_letter rows" "$(sql "SELECT count(*) FROM dead_letter WHERE instr(coalesce(message,'')||coalesce(response,'')||coalesce(note,''), '$SIM_TOKEN') > 0")" 0
is "token not in workspace_state" "$(sql "SELECT count(*) FROM workspace_state WHERE instr(coalesce(pause_reason,''), '$SIM_TOKEN') > 0")" 0
check "a 401 was recorded somewhere (attempt_log or log)" sh -c "grep -q 401 '$T/w.log'"
check "database files are mode 0600" sh -c "[ \"\$(stat -c %a '$DB')\" = 600 ]"

# token file readable by others: refused, message names the file, not the token
chmod 644 "$T/acme.token"
"$BIN/callsyncd" --config "$T/callsync.conf" --drain 2>"$T/perm.err"
is "token file mode 644: callsyncd exits 1" "$?" 1
check "message names the token file" grep -qF "$T/acme.token" "$T/perm.err"
check "message does not contain the token" sh -c "! grep -qF '$SIM_TOKEN' '$T/perm.err'"
chmod 600 "$T/acme.token"
chmod 644 "$T/callsync.conf"
"$BIN/callsyncd" --config "$T/callsync.conf" --check >"$T/cperm.out" 2>&1
rc=$?
if grep -q '^token *=' "$T/callsync.conf"; then is "config with inline token readable by others refused" "$rc" 1; else diag "config mode 644 without inline token: --check exit $rc"; fi
chmod 600 "$T/callsync.conf"
# inline token in a world-readable config: refused
sed "s|^token_file = .*|token = $SIM_TOKEN|" "$T/callsync.conf" >"$T/inline.conf"; chmod 644 "$T/inline.conf"
"$BIN/callsyncd" --config "$T/inline.conf" --check >"$T/inline.out" 2>&1
is "config holding a token, readable by others: refused (exit 1)" "$?" 1
check "... and the message does not contain the token" sh -c "! grep -qF '$SIM_TOKEN' '$T/inline.out'"
# plain http to a non-loopback host
sed "s|^api_base = .*|api_base = http://example.com|" "$T/callsync.conf" >"$T/http.conf"; chmod 600 "$T/http.conf"
"$BIN/callsyncd" --config "$T/http.conf" --check >"$T/http.out" 2>&1
is "api_base = http://example.com refused at config load" "$?" 1
check "... naming the key" grep -q api_base "$T/http.out"
# TLS verification: no way to turn it off
check "no CURLOPT_SSL_VERIFYPEER/VERIFYHOST set to 0 in worker/ tools/" sh -c "! grep -rnE 'CURLOPT_SSL_VERIFY(PEER|HOST)[^;]*,[[:space:]]*0' worker tools"
check "no config key disables TLS verification" sh -c "! grep -rniE '\"(insecure|tls_verify|verify_peer|ssl_verify|no_verify)' worker/core/conf.c"
check "no -k/--insecure in curl calls of the tools" sh -c "! grep -rnE 'CURLOPT_PROXY_SSL_VERIFY[A-Z]*[^;]*, *0' worker tools"
# SQL: every statement prepared with bound values.  List every call that
# takes SQL text and flag any whose SQL is not a literal.
grep -rnE '(sqlite3_exec|db_exec|sqlite3_prepare(_v2|_v3)?|db_prep)\(' worker tools --include=*.c >"$T/sqlcalls"
diag "SQL call sites: $(wc -l <"$T/sqlcalls")"
# A call is fine when its SQL argument is a string literal (possibly a
# concatenation of literals and macros such as OB_COLS) or the PRAGMA
# user_version in db.c.  Flag calls whose SQL argument is a variable.
awk -F: '{ line=$0; sub(/^[^:]*:[0-9]+:/, "", line);
	if (line ~ /(db_prep|db_exec|sqlite3_exec|sqlite3_prepare(_v2|_v3)?)\([^,]*, *"/) next;
	if (line ~ /^[ \t]*(static|int|sqlite3_stmt|\*)/) next;   # definitions
	if (line ~ /^[a-z_]+\(/) next;                            # definition line
	print $0 }' "$T/sqlcalls" >"$T/sqlvar"
while read -r l; do diag "non-literal SQL: $l"; done <"$T/sqlvar"
# the variable SQL must not come from snprintf/asprintf of data
nbuilt=0
while IFS=: read -r file ln rest; do
	var=$(echo "$rest" | sed -nE 's/.*(db_prep|db_exec|sqlite3_exec|sqlite3_prepare(_v2|_v3)?)\([^,]*, *([A-Za-z_][A-Za-z_0-9>.-]*).*/\3/p')
	[ -z "$var" ] && continue
	if sed -n "1,${ln}p" "$file" | grep -qE "(snprintf|asprintf|sprintf|strcat)\( *&?$var\b"; then
		case $(sed -n "1,${ln}p" "$file" | grep -E "(snprintf|asprintf|sprintf)\( *&?$var\b" | tail -1) in
		*user_version*) ;;
		*) nbuilt=$((nbuilt + 1)); diag "SQL built by printf: $file:$ln ($var)" ;;
		esac
	fi
done <"$T/sqlvar"
is "no SQL text built with snprintf/asprintf from data (PRAGMA user_version excepted)" "$nbuilt" 0
