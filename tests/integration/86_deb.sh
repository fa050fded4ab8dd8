#!/bin/sh
# 86_deb: `make deb` builds a Debian package that installs, starts nothing
# it should not, and purges clean.  It installs into the real system, so
# it needs root and a machine with no callsync of its own: otherwise it
# is skipped loudly.
#   a. make deb builds callsync_V_ARCH.deb and callsync-dbgsym with
#      debhelper; lintian (pedantic, info) has nothing to say beyond the
#      overrides in contrib/debian/callsync.lintian-overrides;
#   b. dpkg -i: binaries stripped, their debug files in -dbgsym (same
#      build id), man pages, units, sysusers, docs, alert rules and
#      dashboard; /etc/callsync/callsync.conf a conffile, root:callsync
#      0640 in a root:callsync 0750 directory (the unit's
#      ConfigurationDirectoryMode): the service user reads it and cannot
#      change it; the callsync user exists;
#   c. nothing started: callsyncd not enabled, no callsyncd of the
#      package running; the audit and prune timers enabled; every unit
#      passes systemd-analyze verify; the timers' commands run as the
#      service user succeed;
#   d. dpkg --purge: binaries, units, conffile, /etc/callsync, the
#      statoverrides and the timer links gone; an outbox is kept, and
#      said so.
. "$(dirname "$0")/lib.sh"
t_setup
skip_all() {
	echo "ok 1 - # SKIP $*"
	echo "86_deb: SKIPPED: $*" >&2
	echo "1..1"
	exit 0
}
[ -n "${CALLSYNC_SANITIZED:-}" ] && skip_all "the package is built once, by the plain run"
[ "$(id -u)" = 0 ] || skip_all "not root: the package is not installed"
for c in dpkg-buildpackage dh lintian fakeroot dpkg-statoverride; do
	command -v $c >/dev/null 2>&1 ||
	    skip_all "$c missing (apt-get install debhelper dpkg-dev lintian fakeroot)"
done
dpkg-query -W -f='${Status}' callsync 2>/dev/null | grep -q 'installed' &&
    skip_all "a callsync package is installed on this machine: not touched"
for d in /etc/callsync /var/lib/callsync; do
	[ -e $d ] && skip_all "$d exists on this machine: not touched"
done
had_user=no
getent passwd callsync >/dev/null && had_user=yes

# dpkg ARGS: dpkg, waiting (bounded) while another dpkg or apt holds the lock.
dpkg_w() {
	n=0
	while :; do
		dpkg "$@" >"$T/dpkg.out" 2>&1 && { cat "$T/dpkg.out"; return 0; }
		grep -q 'lock' "$T/dpkg.out" || { cat "$T/dpkg.out"; return 1; }
		n=$((n + 1))
		[ $n -gt 90 ] && { diag "dpkg lock still held after 180 s"; cat "$T/dpkg.out"; return 1; }
		sleep 2
	done
}
cleanup_system() {
	dpkg-query -W callsync >/dev/null 2>&1 && dpkg_w --purge callsync callsync-dbgsym >/dev/null
	rm -rf /var/lib/callsync
	[ $had_user = no ] && getent passwd callsync >/dev/null && userdel callsync 2>/dev/null
	getent group callsync >/dev/null && [ $had_user = no ] && groupdel callsync 2>/dev/null
	t_cleanup
}
trap cleanup_system EXIT INT TERM

# ---------------------------------------------------------------- (a)
V=$(sed -n 's/^#define CALLSYNC_VERSION[[:space:]]*"\(.*\)"/\1/p' worker/core/version.h)
A=$(dpkg --print-architecture)
rm -f dist/callsync_*.deb dist/callsync-dbgsym_*.deb dist/callsync_*.changes
start=$(date +%s)
make -s deb LINTIAN=0 >"$T/deb.out" 2>&1
rc=$?
diag "make deb: $(( $(date +%s) - start )) s"
is "make deb exits 0" "$rc" 0
[ $rc = 0 ] || sed 's/^/# /' "$T/deb.out" | tail -20
DEB=dist/callsync_${V}_$A.deb
DBG=dist/callsync-dbgsym_${V}_$A.deb
check "$DEB built" test -s "$DEB"
check "$DBG built (debug symbols apart)" test -s "$DBG"
[ -s "$DEB" ] || exit 1
lintian -I --pedantic --allow-root "dist/callsync_${V}_$A.changes" >"$T/lintian.out" 2>&1
is "lintian (pedantic, info) exits 0" "$?" 0
is "lintian has nothing to say" "$(grep -v 'running with root' "$T/lintian.out")" ""
dpkg -c "$DEB" | awk '{print $1, $2, $6}' >"$T/contents"
diag "package files: $(grep -c '^-' "$T/contents")"

# ---------------------------------------------------------------- (b)
dpkg_w -i "$DEB" "$DBG" >"$T/install.out" 2>&1
rc=$?
is "dpkg -i exits 0" "$rc" 0
[ $rc = 0 ] || { sed 's/^/# /' "$T/install.out"; exit 1; }
check "dpkg says installed" sh -c "dpkg-query -W -f='\${Status}' callsync | grep -q 'install ok installed'"
for f in /usr/sbin/callsyncd /usr/bin/callsync \
    /usr/share/man/man8/callsyncd.8.gz /usr/share/man/man8/callsync.8.gz \
    /usr/share/man/man5/callsync.conf.5.gz \
    /lib/systemd/system/callsyncd.service \
    /lib/systemd/system/callsync-audit-verify.service \
    /lib/systemd/system/callsync-audit-verify.timer \
    /lib/systemd/system/callsync-prune.service \
    /lib/systemd/system/callsync-prune.timer \
    /usr/lib/sysusers.d/callsync.conf \
    /usr/share/doc/callsync/operations.md.gz \
    /usr/share/doc/callsync/callsync.rules.yml \
    /usr/share/doc/callsync/callsync.json \
    /usr/share/callsync/schema.sql \
    /usr/share/bash-completion/completions/callsync; do
	check "installed: $f" test -s "$f"
done
check "no simulator in the package" test ! -e /usr/bin/intercom-sim
for b in /usr/sbin/callsyncd /usr/bin/callsync; do
	is "$b stripped (no .debug_info, no .symtab)" \
	    "$(readelf -S "$b" | grep -c -e '\.debug_info' -e '\.symtab')" 0
	id=$(readelf -n "$b" | sed -n 's/.*Build ID: \([0-9a-f]*\).*/\1/p')
	dbg=/usr/lib/debug/.build-id/$(echo "$id" | cut -c1-2)/$(echo "$id" | cut -c3-).debug
	check "$b: debug symbols in callsync-dbgsym ($dbg)" sh -c \
	    "test -n '$id' && readelf -S '$dbg' 2>/dev/null | grep -q '\.debug_info'"
done
man -l /usr/share/man/man8/callsync.8.gz >/dev/null 2>&1
is "man page renders" "$?" 0
is "callsync.conf is a conffile" \
    "$(dpkg-query -W -f='${Conffiles}' callsync | awk '{print $1}' | grep -v '^$')" \
    /etc/callsync/callsync.conf
check "the callsync user exists (sysusers)" sh -c "getent passwd callsync >/dev/null"
is "callsync's shell" "$(getent passwd callsync | cut -d: -f7)" /usr/sbin/nologin
is "/etc/callsync root:callsync 750" "$(stat -c '%U:%G %a' /etc/callsync)" "root:callsync 750"
is "callsync.conf root:callsync 640" "$(stat -c '%U:%G %a' /etc/callsync/callsync.conf)" "root:callsync 640"
cdm=$(sed -n 's/^ConfigurationDirectoryMode=0*//p' /lib/systemd/system/callsyncd.service)
is "ConfigurationDirectoryMode matches /etc/callsync" "$cdm" "$(stat -c %a /etc/callsync)"
runuser -u callsync -- cat /etc/callsync/callsync.conf >/dev/null 2>&1
is "the service user reads its configuration" "$?" 0
runuser -u callsync -- sh -c ': >>/etc/callsync/callsync.conf' 2>/dev/null
check "the service user cannot change it" test $? -ne 0
is "/var/lib/callsync callsync:callsync 750" "$(stat -c '%U:%G %a' /var/lib/callsync)" "callsync:callsync 750"
is "the statoverrides are registered" \
    "$(dpkg-statoverride --list | grep -c ' /etc/callsync')" 2

# ---------------------------------------------------------------- (c)
wants=/etc/systemd/system/multi-user.target.wants/callsyncd.service
check "callsyncd not enabled ($wants absent)" test ! -e "$wants"
for t in callsync-audit-verify callsync-prune; do
	check "$t.timer enabled" test -L /etc/systemd/system/timers.target.wants/$t.timer
done
running=0
for p in /proc/[0-9]*; do
	[ "$(readlink "$p/exe" 2>/dev/null)" = /usr/sbin/callsyncd ] && running=$((running + 1))
done
is "no callsyncd of the package running" "$running" 0
if [ -d /run/systemd/system ]; then
	is "systemctl: callsyncd inactive" "$(systemctl is-active callsyncd)" inactive
	is "systemctl: callsyncd disabled" "$(systemctl is-enabled callsyncd)" disabled
else
	diag "no running systemd here: unit states checked through their links only"
fi
systemd-analyze verify --man=no /lib/systemd/system/callsyncd.service \
    /lib/systemd/system/callsync-*.service /lib/systemd/system/callsync-*.timer \
    >"$T/verify.out" 2>&1
is "systemd-analyze verify of the installed units" "$?" 0
is "systemd-analyze verify has nothing to say" "$(cat "$T/verify.out")" ""
# The timers' commands, as their units run them.
runuser -u callsync -- /usr/bin/callsync --db /var/lib/callsync/outbox.db init >"$T/init.out" 2>&1
is "callsync init as the service user" "$?" 0
for u in callsync-audit-verify callsync-prune; do
	cmd=$(sed -n 's/^ExecStart=//p' /lib/systemd/system/$u.service |
	    sed 's/\${CALLSYNC_RETENTION}/90d/')
	# The shipped configuration names the example workspaces' token
	# files; the tool does not need them.
	runuser -u callsync -- $cmd >"$T/$u.out" 2>&1
	rc=$?
	is "$u's command as callsync exits 0 ($(head -c 60 "$T/$u.out"))" "$rc" 0
done

# ---------------------------------------------------------------- (d)
dpkg_w --purge callsync callsync-dbgsym >"$T/purge.out" 2>&1
is "dpkg --purge exits 0" "$?" 0
is "dpkg forgets the package" "$(dpkg-query -W -f='${Status}' callsync 2>/dev/null | grep -c installed)" 0
for f in /usr/sbin/callsyncd /usr/bin/callsync /lib/systemd/system/callsyncd.service \
    /lib/systemd/system/callsync-prune.timer /usr/lib/sysusers.d/callsync.conf \
    /usr/share/doc/callsync /etc/callsync/callsync.conf /etc/callsync \
    /etc/systemd/system/timers.target.wants/callsync-prune.timer \
    /etc/systemd/system/timers.target.wants/callsync-audit-verify.timer \
    /usr/lib/debug/.build-id/$(echo "$id" | cut -c1-2)/$(echo "$id" | cut -c3-).debug; do
	check "gone after purge: $f" test ! -e "$f"
done
is "statoverrides removed" "$(dpkg-statoverride --list | grep -c ' /etc/callsync')" 0
check "the outbox is kept" test -s /var/lib/callsync/outbox.db
check "purge says the outbox is kept" grep -q 'outbox.db kept' "$T/purge.out"
echo "1..$TAPN"
