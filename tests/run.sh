#!/bin/sh
# run.sh: the whole test suite.  Every test program speaks TAP ("ok N - ...",
# "not ok N - ..."); this runner counts the lines of all of them and ends with
#   N passed, N failed
# A program that exits non-zero without reporting a failure counts as one
# failure, and a run that executes no test at all fails.
#
# Programs run TEST_JOBS at a time (default: the number of CPUs, at least
# 2).  Most integration tests spend their time waiting on the simulator's
# latency and the worker's timers, not on a CPU, so two at a time halves
# the wall time even on a 2-core box; every test has its own directory and
# its own ports, and waits on conditions with deadlines, never on fixed
# sleeps, so a loaded machine makes them slower, not wrong.  The longest
# programs start first (HEAVY below) so that the pool ends together.
# TEST_JOBS=1 gives the old serial run.
#
# Environment: CALLSYNC_BIN (default bin), CALLSYNC_PROFILE (fast|soak),
# CALLSYNC_SANITIZED=1 under ASan (skips valgrind, which cannot run it),
# TESTS="pattern" to run only matching programs, TEST_JOBS=N.
cd "$(dirname "$0")/.." || exit 1
BIN=${CALLSYNC_BIN:-bin}
export CALLSYNC_PROFILE=${CALLSYNC_PROFILE:-fast}
LOGDIR=${TEST_LOGDIR:-$(mktemp -d /tmp/callsync-tests.XXXXXX)}
export TEST_LOGDIR=$LOGDIR

# --one NAME SBIN SANITIZED CMD...: run one program (a pool worker).
# Writes "passed failed seconds" to $LOGDIR/NAME.res and prints one line.
if [ "${1:-}" = "--one" ]; then
	name=$2 sbin=$3 san=$4; shift 4
	[ "$san" = "-" ] && san=""
	CALLSYNC_BIN=$sbin CALLSYNC_SANITIZED=$san
	export CALLSYNC_BIN CALLSYNC_SANITIZED
	base=$(echo "$name" | tr '/' '_')
	log="$LOGDIR/$base.log"
	start=$(date +%s)
	CMOCKA_MESSAGE_OUTPUT=TAP "$@" >"$log" 2>&1 </dev/null
	rc=$?
	p=$(grep -c '^ok ' "$log")
	f=$(grep -c '^not ok ' "$log")
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		f=1
		echo "not ok - $name exited with status $rc" >>"$log"
	fi
	secs=$(( $(date +%s) - start ))
	echo "$p $f $secs" >"$LOGDIR/$base.res"
	printf '%-40s %4d passed %3d failed  (%ss)\n' "$name" "$p" "$f" "$secs"
	exit 0
fi

# The slowest programs, longest first (seconds on a 2-core VM, plain/ASan).
HEAVY="integration/40_ integration/48_ integration/53_ integration/46_
integration/42_ integration/80_ops_http integration/55_ integration/54_
integration/92_ integration/72_ integration/71_ integration/43_ integration/63_
integration/86_ integration/64_"

JOBS=$LOGDIR/jobs
: >"$JOBS"
# add NAME SBIN SANITIZED CMD...: queue a program when TESTS matches it.
add() {
	case "$1" in *${TESTS:-}*) ;; *) return ;; esac
	echo "$*" >>"$JOBS"
}

# suite BIN LABEL: unit and integration programs against the binaries in BIN.
suite() {
	sbin=$1; label=$2
	san=${CALLSYNC_SANITIZED:--}
	[ -n "$label" ] && san=1
	for t in "$sbin"/tests/t_*; do
		[ -x "$t" ] || continue
		add "${label}unit/$(basename "$t")" "$sbin" "$san" "$t"
	done
	for t in tests/integration/[0-9]*.sh; do
		[ -f "$t" ] || continue
		# Under ASan, skip what cannot or need not run twice: valgrind
		# (it cannot run sanitized binaries) and the Prism contract test
		# (it checks the simulator's answers, not memory).
		if [ -n "$label" ]; then
			case "$t" in *valgrind*|*contract*) continue ;; esac
		fi
		add "${label}integration/$(basename "$t" .sh)" "$sbin" "$san" sh "$t"
	done
}

suite "$BIN" ""
if [ -f tests/fuzz/run.sh ]; then
	add "fuzz/short" "$BIN" - sh tests/fuzz/run.sh short
fi
# make test also runs the whole suite again on the ASan+UBSan build.
missing_asan=0
if [ "${1:-}" = "--with-asan" ]; then
	if [ -x bin-asan/callsyncd ]; then
		suite bin-asan "asan/"
	else
		missing_asan=1
	fi
fi

# Heavy programs first (the ASan ones before the plain ones: they are
# slower), then the rest in their usual order.
{
	for h in $HEAVY; do grep "^asan/$h" "$JOBS"; done
	for h in $HEAVY; do grep "^$h" "$JOBS"; done
	cat "$JOBS"
} | awk '!seen[$0]++' >"$JOBS.ordered"

n=${TEST_JOBS:-$(nproc 2>/dev/null || echo 2)}
[ -z "${TEST_JOBS:-}" ] && [ "$n" -lt 2 ] && n=2
xargs -P "$n" -L 1 sh tests/run.sh --one <"$JOBS.ordered"

# Sum up, in the queue's original order.
passed=0 failed=0 failures=""
while read -r name _; do
	base=$(echo "$name" | tr '/' '_')
	if [ -f "$LOGDIR/$base.res" ]; then
		read -r p f _ <"$LOGDIR/$base.res"
	else
		p=0 f=1
		echo "not ok - $name did not run" >>"$LOGDIR/$base.log"
	fi
	passed=$((passed + p))
	failed=$((failed + f))
	if [ "$f" -gt 0 ]; then
		failures="$failures $name"
		echo "--- $name:"
		grep -E '^not ok|^#' "$LOGDIR/$base.log" | head -n 40 | sed 's/^/    /'
	fi
done <"$JOBS"
if [ "$missing_asan" -eq 1 ]; then
	failed=$((failed + 1))
	echo "not ok - bin-asan missing: run make asan-build"
fi

echo "logs: $LOGDIR"
[ -n "$failures" ] && echo "failing:$failures"
if [ $((passed + failed)) -eq 0 ]; then
	echo "no test ran"
	failed=1
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
