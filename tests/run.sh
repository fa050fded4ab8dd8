#!/bin/sh
# run.sh: the whole test suite.  Every test program speaks TAP ("ok N - ...",
# "not ok N - ..."); this runner counts the lines of all of them and ends with
#   N passed, N failed
# A program that exits non-zero without reporting a failure counts as one
# failure, and a run that executes no test at all fails.
#
# Environment: CALLSYNC_BIN (default bin), CALLSYNC_PROFILE (fast|soak),
# CALLSYNC_SANITIZED=1 under ASan (skips valgrind, which cannot run it),
# TESTS="pattern" to run only matching programs.
cd "$(dirname "$0")/.." || exit 1
BIN=${CALLSYNC_BIN:-bin}
export CALLSYNC_BIN=$BIN CALLSYNC_PROFILE=${CALLSYNC_PROFILE:-fast}
LOGDIR=${TEST_LOGDIR:-$(mktemp -d /tmp/callsync-tests.XXXXXX)}
export TEST_LOGDIR=$LOGDIR
passed=0
failed=0
failures=""

run_one() {
	name=$1; shift
	case "$name" in *${TESTS:-}*) ;; *) return ;; esac
	log="$LOGDIR/$(echo "$name" | tr '/' '_').log"
	start=$(date +%s)
	CMOCKA_MESSAGE_OUTPUT=TAP "$@" >"$log" 2>&1
	rc=$?
	p=$(grep -c '^ok ' "$log")
	f=$(grep -c '^not ok ' "$log")
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		f=1
		echo "not ok - $name exited with status $rc" >>"$log"
	fi
	passed=$((passed + p))
	failed=$((failed + f))
	[ "$f" -gt 0 ] && failures="$failures $name"
	printf '%-40s %4d passed %3d failed  (%ss)\n' "$name" "$p" "$f" \
	    "$(( $(date +%s) - start ))"
	if [ "$f" -gt 0 ]; then
		grep -E '^not ok|^#' "$log" | head -n 40 | sed 's/^/    /'
	fi
}

# suite BIN LABEL: unit and integration programs against the binaries in BIN.
suite() {
	sbin=$1; label=$2
	CALLSYNC_BIN=$sbin
	[ -n "$label" ] && CALLSYNC_SANITIZED=1
	export CALLSYNC_BIN CALLSYNC_SANITIZED
	for t in "$sbin"/tests/t_*; do
		[ -x "$t" ] || continue
		run_one "${label}unit/$(basename "$t")" "$t"
	done
	for t in tests/integration/[0-9]*.sh; do
		[ -f "$t" ] || continue
		# Under ASan, skip what cannot or need not run twice: valgrind
		# (it cannot run sanitized binaries) and the Prism contract test
		# (it checks the simulator's answers, not memory).
		if [ -n "$label" ]; then
			case "$t" in *valgrind*|*contract*) continue ;; esac
		fi
		run_one "${label}integration/$(basename "$t" .sh)" sh "$t"
	done
}

CALLSYNC_SANITIZED=${CALLSYNC_SANITIZED:-}
suite "$BIN" ""
if [ -f tests/fuzz/run.sh ]; then
	run_one "fuzz/short" sh tests/fuzz/run.sh short
fi
# make test also runs the whole suite again on the ASan+UBSan build.
if [ "${1:-}" = "--with-asan" ]; then
	if [ -x bin-asan/callsyncd ]; then
		suite bin-asan "asan/"
	else
		failed=$((failed + 1))
		echo "not ok - bin-asan missing: run make asan-build"
	fi
fi

echo "logs: $LOGDIR"
[ -n "$failures" ] && echo "failing:$failures"
if [ $((passed + failed)) -eq 0 ]; then
	echo "no test ran"
	failed=1
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
