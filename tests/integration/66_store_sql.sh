#!/bin/sh
# 66_store_sql: one store (issue 21 item 3).  All SQL lives in the store
# layer: callsync's commands and the daemon's layers above worker/store/
# hold no SQL of their own; every statement they run is an entry of the
# store (worker/store/store.c, enum store_q) or a function of the module
# that owns the table (outbox.c, audit.c, taskdb.c, ...).
#   a. no string literal in tools/*.c or in worker/*/*.c outside
#      worker/store/ is SQL (SELECT, INSERT, UPDATE, DELETE, CREATE,
#      PRAGMA, BEGIN, ...), except the allow-list below, each entry with
#      its reason;
#   b. every entry of enum store_q is run by something outside the store
#      (no dead statement), and each has its text in store.c;
#   c. no db_prep/db_exec/sqlite3_prepare/sqlite3_exec call outside
#      worker/store/, and the figure: SQL statements per file in worker/ and tools/, as TAP
#      comments (prepare calls, and literals that open a statement, the
#      allow-list left out).
. "$(dirname "$0")/lib.sh"

# file|literal (grep -E, whole literal with its quotes)|reason
ALLOW='tools/cmd_sandbox.c|"DELETE"|an HTTP method: sandbox cleanup deletes its test objects through the API
tools/cmd_sandbox.c|"DELETE %s: %s "|a message about that HTTP DELETE
worker/job/job.c|"DELETE"|an HTTP method: a DELETE (a tag taken off) answers with no body'

# The C string literals of file $1, comments and char literals ('"')
# removed, one a line.
literals() {
	awk '
	{ line = $0; out = "" }
	{
		while (line != "") {
			if (incomment) {
				i = index(line, "*/")
				if (i == 0) { line = ""; break }
				line = substr(line, i + 2); incomment = 0
				continue
			}
			if (match(line, /"([^"\\]|\\.)*"|\047([^\047\\]|\\.)\047|\/\*|\/\//) == 0) break
			tok = substr(line, RSTART, RLENGTH)
			if (tok == "//") break
			if (substr(tok, 1, 1) == "\047") {	# a char literal
				line = substr(line, RSTART + RLENGTH)
				continue
			}
			if (tok == "/*") {
				line = substr(line, RSTART + 2); incomment = 1
				continue
			}
			print tok
			line = substr(line, RSTART + RLENGTH)
		}
	}' "$1"
}
# SQL: a keyword that opens a statement, or a clause no prose has.
SQLRE='^"[[:space:]]*(SELECT|INSERT|UPDATE|DELETE|CREATE|DROP|ALTER|PRAGMA|BEGIN|COMMIT|ROLLBACK|SAVEPOINT|RELEASE|WITH|REPLACE|VACUUM)([[:space:]"(]|$)|(INSERT (OR [A-Z]+ )?INTO|DELETE FROM|SELECT .* FROM|UPDATE [a-z_]+ SET|ORDER BY|GROUP BY)'

# ---------------------------------------------------------------- (a)
# Every C file but the store's: the commands and the layers above it.
OUTSIDE=$(ls tools/*.c worker/*/*.c | grep -v '^worker/store/')
for f in $OUTSIDE; do
	literals "$f" | grep -E "$SQLRE" | while IFS= read -r lit; do
		allowed=no
		while IFS='|' read -r af are reason; do
			[ "$af" = "$f" ] || continue
			if printf '%s\n' "$lit" | grep -Eqx -- "$are"; then
				allowed=yes
			fi
		done <<EOF
$ALLOW
EOF
		[ "$allowed" = yes ] || printf '%s: %s\n' "$f" "$lit"
	done
done >"$T/sql-in-tools" 2>&1 || true
if [ -s "$T/sql-in-tools" ]; then
	not_ok "no SQL text outside worker/store/ (move it to the store module that owns the table)"
	sed 's/^/# /' "$T/sql-in-tools"
	diag "$(wc -l <"$T/sql-in-tools") literal(s)"
else
	ok "no SQL text in tools/ or worker/ outside worker/store/ (allow-list aside)"
fi
# The allow-list is not stale: each entry still matches a literal.
stale=""
while IFS='|' read -r af are reason; do
	[ -n "$af" ] || continue
	literals "$af" | grep -Eqx -- "$are" || stale="$stale $af:$are"
done <<EOF
$ALLOW
EOF
is "every allow-list entry still matches a literal" "$stale" ""

# ---------------------------------------------------------------- (b)
if [ -f worker/store/store.h ]; then
	names=$(sed -n 's/^[[:space:]]*\(SQ_[A-Z0-9_]*\),.*/\1/p' worker/store/store.h)
	unused="" notext=""
	for n in $names; do
		grep -qw "$n" tools/*.c $(ls worker/*/*.c | grep -v "^worker/store/store\.c$") ||
		    unused="$unused $n"
		grep -q "^[[:space:]]*\[$n\] =" worker/store/store.c || notext="$notext $n"
	done
	diag "$(echo $names | wc -w) statements in enum store_q"
	is "every store statement is run outside the store" "$unused" ""
	is "every store statement has its text in store.c" "$notext" ""
else
	not_ok "worker/store/store.h exists"
fi

# ---------------------------------------------------------------- (c)
# prepare calls: db_prep, db_exec, sqlite3_prepare*, sqlite3_exec,
# store_prep, store_exec; SQL literals: those (a) finds.
total=0 outside=0 preps=""
for f in worker/*/*.c tools/*.c; do
	calls=$(grep -cE '(db_prep|db_exec|sqlite3_prepare[_a-z0-9]*|sqlite3_exec)\(' "$f")
	printf '%s\n' "$ALLOW" | awk -F'|' -v f="$f" '$1 == f { print $2 }' \
	    >"$T/allowed"
	echo '^$' >>"$T/allowed"
	lits=$(literals "$f" | grep -E "^\"[[:space:]]*(SELECT|INSERT|UPDATE|DELETE|CREATE|PRAGMA|BEGIN|COMMIT|ROLLBACK|WITH|REPLACE)[[:space:]\"(]" |
	    grep -cvxE -f "$T/allowed")
	[ "$calls$lits" = 00 ] && continue
	diag "$f: $calls prepare/exec calls, $lits SQL literals"
	total=$((total + lits))
	case $f in
	worker/store/*) ;;
	*)	outside=$((outside + lits))
		[ "$calls" = 0 ] || preps="$preps $f";;
	esac
done
# Above the store, a statement is run only through the store's own
# functions (store_prep, taskdb_*, ...): no db_prep, db_exec or
# sqlite3_prepare/exec of one's own.
is "no prepare or exec call outside worker/store/" "$preps" ""
diag "SQL literals: $total in all, $outside outside worker/store/"
echo "1..$TAPN"
