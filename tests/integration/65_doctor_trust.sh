#!/bin/sh
# 65_doctor_trust: `callsync doctor` trusts exactly what the daemon
# trusts (issue 21): ca_file is instead of the system's CAs, not besides.
# stunnel terminates TLS in front of the simulator (tests/data/tls.sh);
# in a private mount namespace (unshare -m) /etc/ssl/certs is replaced by
# a "system store" that trusts the simulator's CA.
#   1. ca_file = the server's CA: doctor's GET /me succeeds;
#   2. ca_file = another CA while the system store trusts the server:
#      doctor fails on the certificate, as the worker does (59_tls);
#   3. no ca_file, the system store trusts the server: doctor succeeds
#      (the system's bundle is what an unset ca_file means).
. "$(dirname "$0")/lib.sh"
. "$ROOT/tests/data/tls.sh"
if ! tls_have; then
	echo "ok 1 - # SKIP stunnel absent"
	exit 0
fi
t_setup
CS="$BIN/callsync"
tls_certs "$T" || exit 1
sim_start --attributes plan_interest,callback_requested:boolean,last_call_outcome || { not_ok "simulator started"; exit 1; }
tls_start "$T" "$SIM_PORT" || exit 1
SIM_URL=$TLS_URL

# The system store of the namespace: the simulator's CA as a hashed
# directory entry (CAPATH) and as the bundle file (CAINFO's default).
mkdir "$T/sys"
cp "$T/ca.pem" "$T/sys/callsync-test-ca.pem"
cp "$T/ca.pem" "$T/sys/ca-certificates.crt"
openssl rehash "$T/sys" 2>/dev/null || c_rehash "$T/sys" >/dev/null 2>&1
# doctor_in: callsync doctor with the namespace's system store (or, when
# unshare cannot, the real one: case 2 and 3 are then skipped).
NS=0
unshare -m sh -c "mount --bind '$T/sys' /etc/ssl/certs" 2>/dev/null && NS=1
doctor_in() {
	if [ "$NS" = 1 ]; then
		unshare -m sh -c "mount --bind '$T/sys' /etc/ssl/certs &&
		    exec '$CS' --config '$T/callsync.conf' doctor" >"$T/out" 2>&1
	else
		"$CS" --config "$T/callsync.conf" doctor >"$T/out" 2>&1
	fi
}

write_conf "ca_file = $T/ca.pem"
"$CS" --config "$T/callsync.conf" init >/dev/null 2>&1
doctor_in
check "1. ca_file is the server's CA: token valid over TLS" \
    grep -q "^ok   acme: token valid" "$T/out"
sed 's/^/# /' "$T/out" | head -5

if [ "$NS" != 1 ]; then
	echo "ok $((TAPN + 1)) - # SKIP unshare -m refused: no private system store"
	echo "ok $((TAPN + 2)) - # SKIP unshare -m refused: no private system store"
	exit 0
fi
write_conf "ca_file = $T/other-ca.pem"
doctor_in
check "2. ca_file is another CA, the system trusts the server: doctor fails" \
    sh -c "! grep -q '^ok   acme: token valid' '$T/out'"
check "2. ... on the certificate" grep -qi "^FAIL acme: .*certificate" "$T/out"
sed 's/^/# /' "$T/out" | grep -i acme | head -3

write_conf
doctor_in
check "3. no ca_file, the system trusts the server: token valid" \
    grep -q "^ok   acme: token valid" "$T/out"
