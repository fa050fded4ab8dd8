#!/bin/sh
# run.sh: build and run the libFuzzer targets, speaking TAP.
#
#   sh tests/fuzz/run.sh short     10 s per target (make test)
#   sh tests/fuzz/run.sh long      300 s per target (make fuzz)
#
# Each target is tests/fuzz/fuzz_<name>.c, built with clang
# (-fsanitize=fuzzer,address,undefined) into build/fuzz/ together with the
# worker sources it lists below, and started on tests/fuzz/corpus/<name>/
# (read-only seeds; new inputs go to tests/fuzz/out/<name>/, ignored by
# git).  A crash leaves its input in build/fuzz/ and fails the target.
#
# To add a target: drop tests/fuzz/fuzz_<name>.c, seeds in
# tests/fuzz/corpus/<name>/, and one line in the table below.
#
# Environment: CLANG (default clang), FUZZ_SECONDS to override the time.
cd "$(dirname "$0")/../.." || exit 1

# name: worker sources (pkg-config packages after '|', default jansson)
targets() {
	cat <<'TARGETS'
record: worker/core/record.c worker/core/phone.c worker/core/bytes.c
phone: worker/core/phone.c
conf: worker/core/conf.c
response: worker/core/intercom.c worker/core/phone.c
TARGETS
}

case "${1:-short}" in
short)	secs=${FUZZ_SECONDS:-10} ;;
long)	secs=${FUZZ_SECONDS:-300} ;;
*)	echo "usage: $0 short|long" >&2; exit 2 ;;
esac

CLANG=${CLANG:-clang}
n=$(targets | grep -c .)
echo "1..$n"
if ! command -v "$CLANG" >/dev/null 2>&1; then
	echo "fuzz: *** $CLANG not installed: fuzz targets NOT run ***" >&2
	i=0
	targets | while IFS=: read -r name srcs; do
		i=$((i + 1))
		echo "ok $i - # SKIP clang not installed ($name)"
	done
	exit 0
fi

mkdir -p build/fuzz tests/fuzz/out
failed=0
i=0
# A here-document, not a pipe: the loop must update $failed.
while IFS=: read -r name rest; do
	[ -n "$name" ] || continue
	i=$((i + 1))
	srcs=${rest%%|*}
	pkgs=jansson
	case "$rest" in *'|'*) pkgs=${rest#*|} ;; esac
	bin=build/fuzz/fuzz_$name
	log=build/fuzz/fuzz_$name.log
	# shellcheck disable=SC2086
	if ! "$CLANG" -g -O1 -std=c11 -D_GNU_SOURCE -Iworker/core -Iworker/store -Iworker/net \
	    -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
	    $(pkg-config --cflags $pkgs) -o "$bin" \
	    "tests/fuzz/fuzz_$name.c" $srcs \
	    $(pkg-config --libs $pkgs) -lm >"$log" 2>&1; then
		echo "not ok $i - fuzz_$name: build failed"
		sed 's/^/# /' "$log" | head -n 20
		failed=$((failed + 1))
		continue
	fi
	mkdir -p "tests/fuzz/out/$name"
	seeds=tests/fuzz/corpus/$name
	[ -d "$seeds" ] || seeds=
	# shellcheck disable=SC2086
	"./$bin" -max_total_time="$secs" -print_final_stats=1 \
	    -artifact_prefix="build/fuzz/${name}-" -max_len=65536 \
	    "tests/fuzz/out/$name" $seeds >"$log" 2>&1
	rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" |
	    tail -n 1)
	if [ "$rc" -eq 0 ] && [ -n "$execs" ]; then
		echo "ok $i - fuzz_$name: $execs execs, no crash"
	else
		echo "not ok $i - fuzz_$name: exit $rc after ${execs:-?} execs (log $log)"
		grep -E 'ERROR|SUMMARY|Test unit written' "$log" |
		    head -n 10 | sed 's/^/# /'
		failed=$((failed + 1))
	fi
done <<EOF_TARGETS
$(targets)
EOF_TARGETS
[ "$failed" -eq 0 ]
