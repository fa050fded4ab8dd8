#!/bin/sh
# 11_sim_faults.sh: intercom-sim's fault layer: lost answers apply the
# write, resets and 5xx do not, stalls hold until the client gives up,
# malformed bodies, revoked tokens, the API port down (refuse and stall)
# and back, latency, seed reproducibility, faults never on /_sim/*,
# --dump on SIGTERM.
. "$(dirname "$0")/lib.sh"
. "$ROOT/sim/simtest.sh"
t_setup
sim_start --dump "$T/dump.json" || { not_ok "sim_start"; exit 1; }

# rc METHOD PATH [curl args]: curl's exit status (the answer is ignored)
rc() {
	_m=$1; _p=$2; shift 2
	curl -s -o "$T/body" -X "$_m" "$@" -H "Authorization: Bearer $SIM_TOKEN" \
	    -H 'Content-Type: application/json' "$SIM_URL$_p"
	echo $?
}
ncontacts() { sim_state | jq '.contacts|length'; }

check "--help lists usage" sh -c "'$BIN/intercom-sim' --help | grep -q '^usage: intercom-sim'"
check "--help lists every flag" sh -c "for f in attributes bind control-port control-port-file dump jitter latency p-5xx p-lost p-malformed p-reset p-stall port port-file rate-limit search-lag seed token token-file token-revoked; do '$BIN/intercom-sim' --help | grep -q -- \"--\$f \" || exit 1; done"

# lost: applied, no answer
is "control p_lost" "$(ctl POST /_sim/control '{"p_lost":1}')" 200
is "control answers settings" "$(body '.p_lost')" 1
is "lost answer: curl gets nothing" "$(rc POST /contacts -d '{"role":"lead","email":"lost@x.test"}')" 52
is "lost write was applied" "$(sim_state | jq -r '.contacts[0].email')" "lost@x.test"
is "GET is never lost" "$(api GET /me)" 200
is "lost logged with status 0" "$(sim_state | jq -c '[.faults.lost,(.requests.log[0]|.status,.fault)]')" '[1,0,"lost"]'
is "lost in by_endpoint as 0" "$(sim_state | jq '.requests.by_endpoint["POST /contacts"]["0"]')" 1

# reset: RST, nothing applied
ctl POST /_sim/control '{"p_lost":0,"p_reset":1}' >/dev/null
is "reset: connection reset" "$(rc POST /contacts -d '{"role":"lead","email":"reset@x.test"}')" 56
is "reset applied nothing" "$(ncontacts)" 1
is "reset also on GET" "$(rc GET /me)" 56
is "/_sim never faulted" "$(curl -s -o /dev/null -w '%{http_code}' "$SIM_URL/_sim/state")" 200
is "reset counted" "$(sim_state | jq .faults.reset)" 2

# 5xx: nothing applied
ctl POST /_sim/control '{"p_reset":0,"p_5xx":1}' >/dev/null
code=$(api POST /contacts -d '{"role":"lead","email":"5xx@x.test"}')
check "5xx status ($code)" [ "$code" = 500 -o "$code" = 502 -o "$code" = 503 ]
is "5xx body is an error list" "$(body .type)" error.list
is "5xx applied nothing" "$(ncontacts)" 1
is "5xx counted" "$(sim_state | jq '.faults["5xx"]')" 1

# malformed: applied, 200 with broken JSON
ctl POST /_sim/control '{"p_5xx":0,"p_malformed":1}' >/dev/null
is "malformed: 200" "$(api POST /contacts -d '{"role":"lead","email":"mal@x.test"}')" 200
check "malformed body is not JSON" sh -c "! jq . '$T/body' >/dev/null 2>&1"
is "malformed write applied" "$(ncontacts)" 2
is "errors are not mangled" "$(api GET /contacts/0123456789abcdef01234567)/$(body '.errors[0].code')" 404/not_found
is "malformed counted once" "$(sim_state | jq .faults.malformed)" 1

# stall: held until the client gives up, nothing applied
ctl POST /_sim/control '{"p_malformed":0,"p_stall":1}' >/dev/null
is "stall: client times out" "$(rc POST /contacts --max-time 1 -d '{"role":"lead","email":"stall@x.test"}')" 28
is "stall applied nothing" "$(ncontacts)" 2
is "stall logged" "$(sim_state | jq -c '[.faults.stall,(.requests.log[-1]|.status,.fault)]')" '[1,0,"stall"]'
ctl POST /_sim/control '{"p_stall":0}' >/dev/null
is "healthy after a stall" "$(api GET /me)" 200

# token revoked
ctl POST /_sim/control '{"token_revoked":true}' >/dev/null
is "revoked token 401" "$(api GET /me)" 401
is "revoked code" "$(body '.errors[0].code')" unauthorized
ctl POST /_sim/control '{"token_revoked":false}' >/dev/null

# forbidden_paths: exact paths answer 403 forbidden (a token without the
# scope they need), others as usual
is "control forbidden_paths" "$(ctl POST /_sim/control '{"forbidden_paths":"/teams,/admins"}')/$(body .forbidden_paths)" "200//teams,/admins"
is "forbidden path 403" "$(api GET /teams)" 403
is "403 code forbidden" "$(body '.type+" "+.errors[0].code')" "error.list forbidden"
is "the other listed path 403" "$(api GET /admins)" 403
is "a longer path is not forbidden" "$(api GET /teams/2001)" 200
is "other paths answer" "$(api GET /me)" 200
is "forbidden_paths must be a path" "$(ctl POST /_sim/control '{"forbidden_paths":"teams"}')" 400
ctl POST /_sim/control '{"forbidden_paths":null}' >/dev/null
is "null clears it" "$(api GET /teams)" 200
is "token back" "$(api GET /me)" 200

# down: refuse, then back on the same port
is "down refuse" "$(ctl POST /_sim/control '{"down":"refuse"}')/$(body .down)" "200/refuse"
is "API refuses connections" "$(rc GET /me)" 7
is "control listener stays" "$(ctl GET /_sim/state)" 200
ctl POST /_sim/control '{"down":null}' >/dev/null
is "API back on the same port" "$(api GET /me)" 200
# down: stall
ctl POST /_sim/control '{"down":"stall"}' >/dev/null
is "down stall: client times out" "$(rc GET /me --max-time 1)" 28
ctl POST /_sim/control '{"down":null}' >/dev/null
is "API answers again" "$(api GET /me)" 200
ctl POST /_sim/control '{"down":"refuse"}' >/dev/null
ctl POST /_sim/control '{"down":"stall"}' >/dev/null
is "refuse then stall re-listens" "$(rc GET /me --max-time 1)" 28
ctl POST /_sim/control '{"down":null}' >/dev/null

# latency: a lower bound only
ctl POST /_sim/control '{"latency_ms":300,"jitter_ms":50}' >/dev/null
t=$(curl -s -o /dev/null -w '%{time_total}' -H "Authorization: Bearer $SIM_TOKEN" "$SIM_URL/me")
check "latency delays the answer (${t}s)" awk "BEGIN { exit !($t >= 0.3) }"
is "latency + lost still applies" "$(ctl POST /_sim/control '{"p_lost":1}'; rc POST /tags -d '{"name":"late"}')" "20052"
is "late write applied" "$(sim_state | jq -r '.tags[0].name')" late
ctl POST /_sim/control '{"latency_ms":0,"jitter_ms":0,"p_lost":0}' >/dev/null
is "bad control value 400" "$(ctl POST /_sim/control '{"p_lost":2}')" 400
is "probabilities over 1 400" "$(ctl POST /_sim/control '{"p_lost":0.6,"p_reset":0.6}')" 400

# seed: the same request sequence meets the same faults
run_seq() {
	ctl POST /_sim/reset >/dev/null
	ctl POST /_sim/control '{"p_5xx":0.25,"p_reset":0.15,"p_lost":0.15,"p_malformed":0.1}' >/dev/null
	i=0
	while [ $i -lt 30 ]; do
		curl -s -o /dev/null -X POST -H "Authorization: Bearer $SIM_TOKEN" \
		    -d "{\"name\":\"t$i\"}" "$SIM_URL/tags"
		i=$((i + 1))
	done
	sim_state | jq -c '[.requests.log[]|[.seq,.status,.fault]]'
	ctl POST /_sim/control '{"p_5xx":0,"p_reset":0,"p_lost":0,"p_malformed":0}' >/dev/null
}
A=$(run_seq)
B=$(run_seq)
is "reset replays the same faults" "$A" "$B"
check "the sequence has faults of several kinds" [ "$(echo "$A" | jq '[.[][2]]|unique|length')" -ge 4 ]
sim_stop
sim_start --seed 1 || exit 1
C=$(run_seq)
is "same seed, new process, same faults" "$A" "$C"
sim_stop
sim_start --seed 2 || exit 1
D=$(run_seq)
check "another seed differs" [ "$A" != "$D" ]
sim_stop

# --dump on SIGTERM: clean exit, the state in the file
sim_start --dump "$T/dump.json" || exit 1
api POST /tags -d '{"name":"dumped"}' >/dev/null
kill -TERM "$SIM_PID"
wait "$SIM_PID"
is "SIGTERM exits 0" "$?" 0
is "dump has the state" "$(jq -c '[.tags[0].name,.requests.total,(keys|length)]' "$T/dump.json")" '["dumped",1,10]'
