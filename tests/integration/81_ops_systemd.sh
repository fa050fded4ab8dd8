#!/bin/sh
# 81_ops_systemd: the shipped unit and the worker's sd_notify protocol.
#   a. systemd-analyze verify accepts contrib/callsyncd.service (paths
#      pointed at the built binary), with nothing to say;
#   b. systemd-analyze security --offline=true scores it below 3.0 ("OK");
#   c. callsyncd with NOTIFY_SOCKET sends READY=1 after start, WATCHDOG=1
#      at half WATCHDOG_USEC, STOPPING=1 on SIGTERM; no WATCHDOG=1 without
#      WATCHDOG_USEC;
#   d. make install puts the unit in UNITDIR with ExecStart at SBINDIR;
#   e. callsyncd -n (ExecReload's check) fails on a bad file, exit 1.
. "$(dirname "$0")/lib.sh"
t_setup
UNIT=contrib/callsyncd.service
have() { command -v "$1" >/dev/null 2>&1; }
skip() { TAPN=$((TAPN + 1)); echo "ok $TAPN - # SKIP $*"; }

# ---------------------------------------------------------------- (a)
check "$UNIT exists" test -s "$UNIT"
if have systemd-analyze; then
	mkdir -p "$T/unit"
	sed "s#/usr/sbin/callsyncd#$ROOT/$BIN/callsyncd#g" "$UNIT" \
	    >"$T/unit/callsyncd.service"
	systemd-analyze verify --man=no "$T/unit/callsyncd.service" \
	    >"$T/verify.out" 2>&1
	rc=$?
	is "systemd-analyze verify exits 0" "$rc" 0
	is "systemd-analyze verify has nothing to say" "$(cat "$T/verify.out")" ""
	for k in Type=notify WatchdogSec= 'ExecReload=.*callsyncd -n' \
	    'ExecReload=.*kill -HUP \$MAINPID' StateDirectory=callsync \
	    ConfigurationDirectory=callsync ProtectSystem=strict \
	    NoNewPrivileges=yes 'CapabilityBoundingSet=$' \
	    'RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6' \
	    SystemCallFilter=@system-service MemoryDenyWriteExecute=yes; do
		check "unit sets $k" grep -q "^$k" "$UNIT"
	done
	# ---------------------------------------------------------- (b)
	systemd-analyze security --offline=true "$UNIT" >"$T/sec.out" 2>&1
	score=$(sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\) .*/\1/p' "$T/sec.out")
	diag "systemd-analyze security --offline=true: exposure $score ($(sed -n 's/.*Overall exposure level for [^:]*: [0-9.]* \([A-Z]*\).*/\1/p' "$T/sec.out"))"
	check "an exposure score was printed" test -n "$score"
	check "exposure score $score < 3.0" awk -v s="${score:-99}" 'BEGIN { exit !(s < 3.0) }'
else
	skip "systemd-analyze not installed (Debian package systemd): unit not verified"
	skip "systemd-analyze not installed: unit not scored"
fi

# ---------------------------------------------------------------- (c)
if have python3; then
	sim_start || exit 1
	write_conf
	"$BIN/callsync" --config "$T/callsync.conf" init >/dev/null 2>&1
	# listen SOCK OUT: each datagram, newlines as '|', one line in OUT.
	listen() {
		python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
open(sys.argv[3], "w").close()
with open(sys.argv[2], "a") as f:
    while True:
        d = s.recv(65536)
        f.write(d.decode().replace("\n", "|") + "\n")
        f.flush()
' "$1" "$2" "$1.up" &
		LPID=$!
		PIDS="$PIDS $LPID"
		wait_for "notify listener" 10 test -e "$1.up"
	}
	listen "$T/n1.sock" "$T/n1.out"
	NOTIFY_SOCKET=$T/n1.sock WATCHDOG_USEC=400000 \
	    "$BIN/callsyncd" --config "$T/callsync.conf" 2>"$T/w1.log" &
	W=$!
	PIDS="$PIDS $W"
	wait_for "READY=1" 10 grep -q 'READY=1' "$T/n1.out"
	check "READY=1 sent" grep -q '^READY=1' "$T/n1.out"
	wait_for "WATCHDOG=1 x3" 10 sh -c "[ \$(grep -c '^WATCHDOG=1' '$T/n1.out') -ge 3 ]"
	check "WATCHDOG=1 sent every WATCHDOG_USEC/2 ($(grep -c '^WATCHDOG=1' "$T/n1.out") so far)" \
	    sh -c "[ \$(grep -c '^WATCHDOG=1' '$T/n1.out') -ge 3 ]"
	is "no STOPPING=1 before SIGTERM" "$(grep -c 'STOPPING=1' "$T/n1.out")" 0
	kill -TERM $W
	wait $W
	is "worker exits 0 on SIGTERM" "$?" 0
	check "STOPPING=1 sent after SIGTERM" grep -q '^STOPPING=1' "$T/n1.out"
	is "READY=1 came first" "$(head -n 1 "$T/n1.out" | cut -d'|' -f1)" READY=1
	diag "notifications: $(sort "$T/n1.out" | uniq -c | tr -s ' \n' ' ')"
	kill $LPID 2>/dev/null

	listen "$T/n2.sock" "$T/n2.out"
	NOTIFY_SOCKET=$T/n2.sock "$BIN/callsyncd" --config "$T/callsync.conf" \
	    2>"$T/w2.log" &
	W=$!
	PIDS="$PIDS $W"
	wait_for "READY=1" 10 grep -q 'READY=1' "$T/n2.out"
	sleep 1
	kill -TERM $W
	wait $W
	wait_for "STOPPING=1" 5 grep -q 'STOPPING=1' "$T/n2.out"
	is "no WATCHDOG=1 without WATCHDOG_USEC" "$(grep -c WATCHDOG "$T/n2.out")" 0
	check "READY=1 and STOPPING=1 again" sh -c "grep -q '^READY=1' '$T/n2.out' && grep -q '^STOPPING=1' '$T/n2.out'"
	kill $LPID 2>/dev/null
	is "no token in the worker logs" "$(cat "$T"/w?.log | grep -c "$SIM_TOKEN")" 0
else
	skip "python3 not installed: sd_notify protocol not checked"
fi

# ---------------------------------------------------------------- (d)
make -s install DESTDIR="$T/root" PREFIX=/opt/cs >"$T/install.out" 2>&1
is "make install exits 0" "$?" 0
check "unit installed in /opt/cs/lib/systemd/system" \
    test -s "$T/root/opt/cs/lib/systemd/system/callsyncd.service"
check "installed unit runs /opt/cs/sbin/callsyncd" \
    grep -q '^ExecStart=/opt/cs/sbin/callsyncd ' "$T/root/opt/cs/lib/systemd/system/callsyncd.service"
is "no /usr/sbin left in the installed unit" \
    "$(grep -c '/usr/sbin/' "$T/root/opt/cs/lib/systemd/system/callsyncd.service")" 0
check "sysusers.d entry installed" test -s "$T/root/opt/cs/lib/sysusers.d/callsync.conf"

# ---------------------------------------------------------------- (e)
printf '[worker]\nfrobnicate = 1\n' >"$T/bad.conf"
"$BIN/callsyncd" -n --config "$T/bad.conf" >/dev/null 2>&1
is "callsyncd -n on a bad file exits 1 (the reload is refused)" "$?" 1
echo "1..$TAPN"
