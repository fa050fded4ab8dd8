#!/bin/sh
# 77_robust_unserved_alert: records nobody serves can alert (issue 20,
# item 9).  A producer writes workspace 'Acme' for the configured 'acme',
# another a name with a quote and a backslash, and 22 more names.
#   a. /healthz: status "degraded" (200) with an unserved_records problem
#      per workspace (records, oldest age, a "did you mean acme" hint) for
#      the 20 with most records and one for the rest, valid JSON whatever
#      the name; 503 once such a record is older than health_max_age;
#   b. /metrics: callsync_records_unserved{workspace=...} with the label
#      escaped, at most 20 series plus "(other)" for the rest,
#      callsync_unserved_workspaces; promtool check metrics passes;
#   c. contrib's rules pass promtool check rules, and promtool test rules
#      shows CallsyncRecordsUnserved firing on such a series;
#   d. callsync records move --workspace Acme --to acme (dry run first)
#      moves them, audited; the worker delivers them; records cancel
#      dead-letters pending records (reason cancelled), audited; a move
#      to an unconfigured workspace, of a record with journal steps, or
#      onto an existing key is refused; afterwards /healthz is ok.
. "$(dirname "$0")/lib.sh"
t_setup
have() { command -v "$1" >/dev/null 2>&1; }
sim_start || exit 1
write_conf ""
CS="$BIN/callsync --config $T/callsync.conf"
$CS init >/dev/null 2>&1
listen_start "$T/callsync.conf" "$T/w.log" || exit 1
code() { curl -s -m 5 -o "$T/body" -w '%{http_code}' "$@"; }

gen_calls 3 3 ua >"$T/acme.jsonl"
enqueue_sql "$T/acme.jsonl" Acme
printf '{"type":"call","call_id":"w1","caller":{"phone":"+15557770001"},"summary":"s"}\n{"type":"call","call_id":"w2","caller":{"phone":"+15557770002"},"summary":"s"}\n' >"$T/weird.jsonl"
enqueue_sql "$T/weird.jsonl" 'we"ird\ws'
i=0
while [ $i -lt 22 ]; do
	i=$((i + 1))
	n=$(printf 'x%02d' $i)
	printf '{"type":"call","call_id":"k%s","caller":{"phone":"+1555888%04d"},"summary":"s"}\n' $n $i >"$T/x.jsonl"
	enqueue_sql "$T/x.jsonl" $n
done
is "27 records for 24 unknown workspaces" "$(sql "SELECT count(*) || '/' || count(DISTINCT workspace) FROM outbox")" "27/24"

# ---------------------------------------------------------------- (a)
hz_unserved() { code "$H/healthz" >/dev/null && grep -q unserved_records "$T/body"; }
wait_for "/healthz to name the unserved records" 10 hz_unserved
is "/healthz: 200 while the records are young" "$(code "$H/healthz")" 200
diag "$(head -c 600 "$T/body")"
check "/healthz is valid JSON" sh -c "jq -e . '$T/body' >/dev/null"
is "/healthz status degraded" "$(jq -r .status "$T/body")" degraded
is "/healthz: Acme's problem with its count" \
    "$(jq -c '.problems[] | select(.problem == "unserved_records" and .workspace == "Acme") | .records' "$T/body")" 3
check "the detail suggests acme" sh -c "jq -r '.problems[] | select(.workspace == \"Acme\") | .detail' '$T/body' | grep -q 'did you mean acme'"
is "/healthz: the odd name comes back intact" \
    "$(jq -r '.problems[] | select(.problem == "unserved_records") | .workspace' "$T/body" | grep -c '^we"ird\\ws$')" 1
is "/healthz: 20 named workspaces, then one problem for the rest" \
    "$(jq '[.problems[] | select(.problem == "unserved_records")] | length' "$T/body")" 21
is "/healthz: the rest are 4 workspaces with 4 records" \
    "$(jq -c '.problems[] | select(.problem == "unserved_records" and .workspace == null) | [.workspaces, .records]' "$T/body")" "[4,4]"

# ---------------------------------------------------------------- (b)
mval() { awk -v m="$1" '$1 == m { print $2 }' "$T/body"; }
is "GET /metrics: 200" "$(code "$H/metrics")" 200
cp "$T/body" "$T/metrics"
grep '^callsync_records_unserved\|^callsync_unserved' "$T/metrics" | head -4 | sed 's/^/# /'
is "callsync_records_unserved{workspace=\"Acme\"} 3" "$(mval 'callsync_records_unserved{workspace="Acme"}')" 3
is "the label is escaped" "$(grep -c '^callsync_records_unserved{workspace="we\\"ird\\\\ws"} 2$' "$T/metrics")" 1
is "20 series plus (other)" "$(grep -c '^callsync_records_unserved{' "$T/metrics")" 21
is "(other) sums the 4 smallest" "$(mval 'callsync_records_unserved{workspace="(other)"}')" 4
is "callsync_unserved_workspaces 24" "$(mval callsync_unserved_workspaces)" 24
check "no series for the served workspace" sh -c "! grep -q 'callsync_records_unserved{workspace=\"acme\"}' '$T/metrics'"
if have promtool; then
	promtool check metrics <"$T/metrics" >"$T/pc.out" 2>&1
	is "promtool check metrics passes" "$?" 0
	sed 's/^/# /' "$T/pc.out" | head -5
else
	ok "# SKIP promtool absent (Debian package prometheus)"
fi

# ---------------------------------------------------------------- (c)
RULES=contrib/prometheus/callsync.rules.yml
check "the rules have CallsyncRecordsUnserved" grep -q 'alert: CallsyncRecordsUnserved' "$RULES"
if have promtool; then
	promtool check rules "$RULES" >"$T/pr.out" 2>&1
	is "promtool check rules passes" "$?" 0
	cp "$RULES" "$T/rules.yml"
	cat >"$T/rules_test.yml" <<'EOF'
rule_files:
  - rules.yml
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      - series: 'callsync_records_unserved{job="callsync",instance="site1",workspace="Acme"}'
        values: '3x20'
    alert_rule_test:
      - eval_time: 15m
        alertname: CallsyncRecordsUnserved
        exp_alerts:
          - exp_labels:
              severity: warning
              job: callsync
              instance: site1
              workspace: Acme
            exp_annotations:
              summary: "callsync: 3 records for workspace Acme, which no running worker serves"
              description: "On site1 records wait for a workspace no callsyncd is configured for (a producer's typo?). callsync status names them; move them with callsync records move --workspace Acme --to NAME, or cancel them with callsync records cancel."
EOF
	(cd "$T" && promtool test rules rules_test.yml) >"$T/pt.out" 2>&1
	is "promtool test rules: the alert fires after 10 min" "$?" 0
	sed 's/^/# /' "$T/pt.out" | head -20
else
	ok "# SKIP promtool absent"; ok "# SKIP promtool absent"
fi

# ---------------------------------------------------------------- (a, age)
sqlw "UPDATE outbox SET enqueued_at = unixepoch() - 3600 WHERE workspace = 'x01'"
hz_fail() { [ "$(code "$H/healthz")" = 503 ]; }
wait_for "/healthz 503 for an hour-old unserved record" 5 hz_fail
is "/healthz 503 once one is older than health_max_age" "$(code "$H/healthz")" 503
is "status fail" "$(jq -r .status "$T/body")" fail

# ---------------------------------------------------------------- (d)
$CS records move --workspace Acme --to acme --dry-run >"$T/dry" 2>&1
is "move --dry-run exits 0" "$?" 0
is "dry run lists 3 records" "$(grep -c '^would move Acme/' "$T/dry")" 3
is "dry run changes nothing" "$(sql "SELECT count(*) FROM outbox WHERE workspace = 'Acme'")" 3
$CS records move --workspace Acme --to nosuch >"$T/out" 2>&1
is "move to a workspace the configuration lacks: exit 1" "$?" 1
check "it names the configured ones" grep -q 'nosuch.*not in.*acme' "$T/out"
$CS records move --workspace Acme --to acme --note "producer typo" >"$T/out" 2>&1
is "move exits 0" "$?" 0
is "three records moved" "$(sql "SELECT count(*) FROM outbox WHERE workspace = 'acme'")" 3
is "one operator audit row each, from and to" \
    "$(sql "SELECT count(*) FROM audit WHERE kind = 'operator' AND workspace = 'acme' AND json_extract(detail, '\$.action') = 'records_move' AND json_extract(detail, '\$.from') = 'Acme' AND json_extract(detail, '\$.reason') = 'producer typo'")" 3
delivered() { [ "$(sql "SELECT count(*) FROM outbox WHERE workspace = 'acme' AND state = 'done'")" -eq 3 ]; }
wait_for "the worker to deliver the moved records" 30 delivered
check "the worker delivers them" [ $? -eq 0 ]
is "three conversations" "$(sim_state | jq '.conversations | length')" 3

sqlw "INSERT INTO journal (outbox_id, step, intercom_id) SELECT id, 'contact', '99' FROM outbox WHERE workspace = 'x02'"
"$BIN/callsync" --db "$DB" records move --workspace x02 --to x03 >"$T/out" 2>&1
is "a record with journal steps is not moved: exit 1" "$?" 1
check "it says why" grep -q 'x02/kx02.*steps' "$T/out"
sqlw "DELETE FROM journal WHERE step = 'contact' AND intercom_id = '99'"
sqlw "INSERT INTO outbox (workspace, record_key, payload) VALUES ('x04', 'kx05', '{}')"
"$BIN/callsync" --db "$DB" records move --workspace x05 --to x04 >"$T/out" 2>&1
is "a key the target has already: exit 1" "$?" 1
check "it says so" grep -q 'x05/kx05.*x04 has' "$T/out"
is "nothing moved" "$(sql "SELECT count(*) FROM outbox WHERE workspace = 'x05'")" 1

$CS records cancel --workspace 'we"ird\ws' w1 >"$T/out" 2>&1
is "cancel KEY exits 0" "$?" 0
is "w1 is a dead letter, reason cancelled" \
    "$(sql "SELECT o.state || ',' || d.reason FROM outbox o JOIN dead_letter d ON d.outbox_id = o.id WHERE o.record_key = 'w1'")" "dead,cancelled"
$CS records cancel --all --workspace 'we"ird\ws' >/dev/null 2>&1
$CS records cancel --all --workspace x04 >/dev/null 2>&1
for n in $(sql "SELECT DISTINCT workspace FROM outbox WHERE workspace LIKE 'x%' AND state = 'pending'"); do
	$CS records cancel --all --workspace "$n" >/dev/null 2>&1 || diag "cancel $n failed"
done
is "nothing pending anywhere" "$(sql "SELECT count(*) FROM outbox WHERE state = 'pending'")" 0
is "cancels audited, one row per record" \
    "$(sql "SELECT count(*) FROM audit WHERE kind = 'operator' AND json_extract(detail, '\$.action') = 'records_cancel'")" 25
"$BIN/callsync" --db "$DB" audit verify >/dev/null 2>&1
is "audit verifies" "$?" 0
hz_ok() { [ "$(code "$H/healthz")" = 200 ] && [ "$(jq -r .status "$T/body")" = ok ]; }
wait_for "/healthz ok again" 5 hz_ok
check "/healthz ok once nothing is unserved" [ $? -eq 0 ]
code "$H/metrics" >/dev/null
is "no unserved series left" "$(grep -c '^callsync_records_unserved{' "$T/body")" 0
is "callsync_unserved_workspaces 0" "$(mval callsync_unserved_workspaces)" 0
echo "1..$TAPN"
