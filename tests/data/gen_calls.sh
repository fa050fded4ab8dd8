# gen_calls.sh: the mix of call records the integration tests and the
# benchmarks drain (sourced by tests/integration/lib.sh and bench/lib.sh,
# so both measure the same thing).
#
# gen_calls N CALLERS [PREFIX]: N call records from CALLERS distinct
# callers (so lanes overlap), with tags, categories, an escalation now
# and then, and a long transcript every 10th record.
gen_calls() {
	awk -v n="$1" -v callers="$2" -v pfx="${3:-k}" 'BEGIN {
		long = "";
		for (i = 0; i < 400; i++) long = long "word" i " and some more text to fill ";
		for (i = 1; i <= n; i++) {
			c = (i * 7919) % callers;
			tr = (i % 10 == 0) ? long : "short talk " i;
			cat = (i % 3 == 0) ? "billing" : ((i % 3 == 1) ? "sales" : "support");
			esc = (i % 5 == 0) ? "true" : "false";
			em = (c % 4 == 0) ? sprintf(",\"email\":\"caller%d@example.com\"", c) : "";
			printf("{\"type\":\"call\",\"call_id\":\"%s%d\",\"caller\":{\"phone\":\"+1555%07d\"%s},\"summary\":\"Call %d about %s\",\"transcript\":\"%s\",\"category\":\"%s\",\"escalate\":%s,\"outcome\":\"done\",\"nps\":%d,\"tags\":[\"t%d\"]}\n",
			    pfx, i, c, em, i, cat, tr, cat, esc, i % 11, i % 4);
		}
	}'
}
