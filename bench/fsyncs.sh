#!/bin/sh
# bench/fsyncs.sh: fsync + fdatasync calls per delivered record (issue 15,
# item 1).  A fresh simulator (FSYNC_SIM flags, default --latency 150
# --rate-limit 10000), FSYNC_N records (FSYNC_CALLERS callers), and
# `callsyncd --drain` with the default configuration under
#   strace -f -c -e trace=fsync,fdatasync
# Prints "records delivered fsyncs per_record".
#
#   sh bench/fsyncs.sh
#   CALLSYNC_BIN=/tmp/old-bin sh bench/fsyncs.sh     (another build)
cd "$(dirname "$0")/.." || exit 1
ROOT=$(pwd)
. bench/lib.sh
N=${FSYNC_N:-300}
CALLERS=${FSYNC_CALLERS:-100}
command -v strace >/dev/null || { echo "fsyncs: strace is missing (apt-get install -y strace)" >&2; exit 1; }
b_setup
sim_start fs ${FSYNC_SIM:---latency 150 --rate-limit 10000} || exit 1
write_conf "$T/c.conf" "$T/o.db"
"$BIN/callsync" --db "$T/o.db" init >/dev/null 2>&1
gen_calls "$N" "$CALLERS" f >"$T/recs.jsonl"
"$BIN/callsync" --db "$T/o.db" enqueue --workspace acme "$T/recs.jsonl" >/dev/null 2>&1
timeout 600 strace -f -c -o "$T/strace.txt" -e trace=fsync,fdatasync \
    "$BIN/callsyncd" --config "$T/c.conf" --drain 2>"$T/worker.log"
sim_stop
done_n=$(dbq "$T/o.db" "SELECT count(*) FROM outbox WHERE state = 'done'")
calls=$(awk '$NF == "fsync" || $NF == "fdatasync" { s += $4 } END { print s + 0 }' "$T/strace.txt")
echo "$N $done_n $calls $(calc '%.2f' "$calls / ($done_n > 0 ? $done_n : 1)")"
