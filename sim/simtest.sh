# simtest.sh: helpers for intercom-sim's own tests (tests/integration/1x_sim_*),
# sourced after tests/integration/lib.sh.  Every call leaves the answer
# body in $T/body and the headers in $T/hdr and prints the HTTP status.
#
#   api METHOD PATH [curl args...]    authenticated API call, prints status
#   body JQ-FILTER                    jq -r on the last body
#   hdr NAME                          a header of the last answer
#   ctl METHOD PATH [JSON]            /_sim/* call on the control port
#   wait_for "desc" JQ-EXPR           poll /_sim/state until EXPR is true

api() {
	_m=$1; _p=$2; shift 2
	# Extra headers first: the simulator reads the first of a name.
	curl -s -o "$T/body" -D "$T/hdr" -w '%{http_code}' -X "$_m" "$@" \
	    -H "Authorization: Bearer $SIM_TOKEN" -H 'Intercom-Version: 2.16' \
	    -H 'Accept: application/json' -H 'Content-Type: application/json' \
	    "$SIM_URL$_p"
}
body() { jq -r "$1" "$T/body" 2>/dev/null; }
hdr() { grep -i "^$1:" "$T/hdr" | tr -d '\r' | sed 's/^[^:]*: *//'; }
ctl() {
	if [ -n "${3:-}" ]; then
		curl -s -o "$T/body" -w '%{http_code}' -X "$1" \
		    -H 'Content-Type: application/json' -d "$3" "$SIM_CTL$2"
	else
		curl -s -o "$T/body" -w '%{http_code}' -X "$1" "$SIM_CTL$2"
	fi
}
# Polls with a bound (10 s): never a blind sleep.
wait_for() {
	_i=0
	while [ $_i -lt 200 ]; do
		if sim_state | jq -e "$2" >/dev/null 2>&1; then
			ok "$1"; return 0
		fi
		_i=$((_i + 1)); sleep 0.05
	done
	not_ok "$1"; return 1
}
