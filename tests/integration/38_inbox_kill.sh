#!/bin/sh
# 38_inbox_kill: the worker killed -9 again and again while Intercom (the
# simulator) delivers notifications, each twice, shuffled, retried with
# backoff while the worker is down.
#   a. every notification answered 200 before a kill is in the inbox after
#      the restart (the simulator's list of acknowledged ids, joined);
#   b. in the end every notification is stored once and every request
#      made one task: 0 lost, 0 duplicate.
. "$(dirname "$0")/lib.sh"
t_setup
if [ "$CALLSYNC_PROFILE" = soak ]; then N=5000; K=30; else N=1000; K=8; fi

sim_start --seed 38 || exit 1
"$BIN/callsync" --db "$DB" init >/dev/null 2>&1
printf 'kill-secret-38\n' >"$T/wh.secret"; chmod 600 "$T/wh.secret"
write_conf "webhook_secret_file = $T/wh.secret
callback_tag = callback"
WPORT=$(rport)
sed -i "s/^\[worker\]\$/[worker]\nwebhook_listen = 127.0.0.1:$WPORT/" "$T/callsync.conf"
CSD="$BIN/callsyncd --config $T/callsync.conf -d"

curl -sf -X POST -d "{\"url\":\"http://127.0.0.1:$WPORT/v1/intercom/webhook\",\"secret\":\"kill-secret-38\",\"copies\":2,\"shuffle\":true,\"max_attempts\":100000}" \
    "$SIM_CTL/_sim/webhooks" >/dev/null
curl -sf -m 60 -X POST -d "{\"n\":$N,\"tag\":\"callback\"}" "$SIM_CTL/_sim/webhook_burst" >/dev/null
pending() { curl -sf "$SIM_CTL/_sim/webhooks" | jq '.queued + .inflight'; }
# Kill cycles while deliveries are pending, at most 4 x K; K of them at
# least must land while the simulator still has copies to deliver.
kills=0; i=0; missing=0
while [ $i -lt $((4 * K)) ] && [ "$(pending)" != 0 ]; do
	i=$((i + 1))
	$CSD 2>>"$T/w.log" &
	wp=$!
	sleep "0.$(( (i * 37 % 30) + 10 ))"
	kill -9 $wp 2>/dev/null && kills=$((kills + 1))
	wait $wp 2>/dev/null
	curl -sf "$SIM_CTL/_sim/webhooks/acked" >"$T/acked.json"
	# (a) right after the kill: every acknowledged id is stored.
	jq -r 'keys[]' "$T/acked.json" >"$T/acked.txt"
	miss=$(printf '.timeout 5000\nCREATE TEMP TABLE a (id TEXT);\n.import %s a\nSELECT count(*) FROM a WHERE id NOT IN (SELECT notif_id FROM inbox);\n' "$T/acked.txt" | sqlite3 -batch "$DB")
	missing=$((missing + miss))
	diag "kill $i: $(wc -l <"$T/acked.txt") acknowledged, $miss of them missing, $(pending) copies still to deliver"
done
check "the worker was killed -9 while receiving ($kills times, at least $K)" [ "$kills" -ge "$K" ]
is "after every kill, every acknowledged notification was in the inbox" "$missing" 0
$CSD 2>>"$T/w.log" &
PIDS="$PIDS $!"
wait_for "the simulator delivered the rest" 300 sh -c "[ \"\$(curl -sf '$SIM_CTL/_sim/webhooks' | jq '.queued + .inflight')\" = 0 ]"
curl -sf "$SIM_CTL/_sim/webhooks" >"$T/wh.json"
diag "$(cat "$T/wh.json")"
M=$(jq .notifications "$T/wh.json")
is "every notification acknowledged in the end" "$(jq .acked_notifications "$T/wh.json")" "$M"
is "inbox: each stored once" "$(sql "SELECT count(*), count(DISTINCT notif_id) FROM inbox")" "$M|$M"
is "tasks: one per request (0 lost, 0 duplicate)" \
    "$(sql "SELECT count(*), count(DISTINCT conversation_id) FROM tasks")" "$N|$N"
is "integrity_check after $kills kills" "$(sql 'PRAGMA integrity_check')" ok
