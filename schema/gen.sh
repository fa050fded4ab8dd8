#!/bin/sh
# gen.sh: write schema/schema.sql (to standard output) from the migrations
# and schema/notes.txt; `make schema` runs it into the file, and unit test
# t_schema_sql fails while the committed file differs from what it writes.
#
# The migrations are applied, in order and as callsyncd applies them (each
# in one transaction, foreign keys on), to a scratch database; the file is
# then the schema they leave, table by table in the order they were made,
# each with its indexes and triggers: the CREATE statements as SQLite keeps
# them (with the comments inside a CREATE TABLE), the notes' prose before
# each table, column, index and trigger, and the bookkeeping that lets
# callsyncd accept a database made from the file.  Needs sqlite3, awk, sed.
set -eu
cd "$(dirname "$0")/.."
tmp=$(mktemp -d "${TMPDIR:-/tmp}/callsync-schema.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
db=$tmp/schema.db
US=$(printf '\037')	# between the columns of a row
RS=$(printf '\036')	# between rows: CREATE statements span lines

# As db_apply (worker/store/db.c) applies each: in one transaction with
# its row in schema_migrations and user_version.
migrations=$(ls migrations/[0-9]*.sql | LC_ALL=C sort)
for f in $migrations; do
	name=$(basename "$f" .sql)
	v=$(echo "$name" | sed 's/_.*//; s/^0*//')
	{ echo "PRAGMA foreign_keys = ON; BEGIN IMMEDIATE;"; cat "$f"; echo
	  echo "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER" \
	      "PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL" \
	      "DEFAULT (unixepoch()));"
	  echo "INSERT INTO schema_migrations (version, name)" \
	      "VALUES ($v, '$name');"
	  echo "PRAGMA user_version = $v; COMMIT;"; } |
	    sqlite3 -batch -bail "$db" >/dev/null ||
	    { echo "gen.sh: $f does not apply" >&2; exit 1; }
done
version=$(basename "$(echo "$migrations" | tail -n 1)" | sed 's/_.*//; s/^0*//')

# Each migration: version, name and the first sentence of its comment.
history() {
	for f in $migrations; do
		awk -v f="$(basename "$f" .sql)" '
		!/^--/ { exit }
		{ sub(/^-- ?/, ""); s = s (s == "" ? "" : " ") $0 }
		s ~ /\.( |$)/ { exit }
		END {
			sub(/^[^:]*: */, "", s); sub(/\. .*/, ".", s)
			v = f; sub(/_.*/, "", v); sub(/^0*/, "", v)
			printf "%s\037%s\037%s\036", v, f, s
		}' "$f"
	done
}

# The objects in the order of the output: each table (by creation), then
# its indexes and triggers; the columns of a table, in order.
sqlite3 -batch -noheader -separator "$US" -newline "$RS" "$db" "
    SELECT o.type, o.name, o.sql,
        CASE o.type WHEN 'table' THEN (SELECT group_concat(c.name, ' ')
            FROM (SELECT name FROM pragma_table_info(o.name) ORDER BY cid) c)
        END
    FROM sqlite_master o JOIN sqlite_master t
        ON t.type = 'table' AND t.name = o.tbl_name
    WHERE o.sql IS NOT NULL AND o.tbl_name <> 'schema_migrations'
    ORDER BY t.rowid, o.type <> 'table', o.rowid" >"$tmp/objects"
history >"$tmp/history"
sqlite3 -batch -noheader "$db" "SELECT sql FROM sqlite_master
    WHERE name = 'schema_migrations'" >"$tmp/bookkeeping"

awk -v version="$version" -v US="$US" -v notes=schema/notes.txt \
    -v objects="$tmp/objects" -v history="$tmp/history" \
    -v bookkeeping="$tmp/bookkeeping" '
function comment(key, indent,	i) {
	if (!(key in nlines))
		return
	used[key] = 1
	for (i = 1; i <= nlines[key]; i++)
		print indent (note[key, i] == "" ? "--" : "-- " note[key, i])
}
# s as comment lines of at most 76 columns, continued under its text.
function wrap(s,	out, line, w, n, i) {
	n = split(s, w, " ")
	line = "--   " w[1]
	for (i = 2; i <= n; i++) {
		if (length(line) + 1 + length(w[i]) > 76) {
			out = out line "\n"
			line = "--       " w[i]
		} else
			line = line " " w[i]
	}
	return out line
}
# Where in s (its code, not its comment) an unplaced column follows ", ".
function appended(s,	code, c, i, p, best) {
	code = s
	if ((c = index(s, "--")) > 0)
		code = substr(s, 1, c - 1)
	best = 0
	for (i = 1; i <= ncols; i++) {
		if (placed[i])
			continue
		if ((p = index(code, ", " cols[i] " ")) == 0)
			p = index(code, ", " cols[i] ",")
		if (p > 0 && (best == 0 || p < best))
			best = p
	}
	return best
}
# Line s of the CREATE of table t, after the note of the column it
# defines; the note stands for the comment of the migration at the end of the
# line (that one stays in migrations/).
function emit(t, s, last,	i) {
	for (i = 1; i <= ncols; i++)
		if (!placed[i] && s ~ ("^[ \t]*" cols[i] "([ \t,]|$)")) {
			placed[i] = 1
			if ((t "." cols[i]) in nlines)
				sub(/[ \t]+--.*$/, "", s)
			comment(t "." cols[i], "\t")
		}
	print s (last ? ";" : "")
}
function bar() {
	print "-- ======================================================================"
}
# The notes: "@KEY" and its lines.
FILENAME == notes {
	if (/^#/)
		next
	if (/^@/) {
		key = substr($0, 2)
		if (key in nlines) {
			print "gen.sh: schema/notes.txt: @" key " twice" >"/dev/stderr"
			bad = 1
		}
		nlines[key] = 0
		keys[++nkeys] = key
		next
	}
	if (key == "")
		next
	note[key, ++nlines[key]] = $0
	next
}
FILENAME == objects && FNR == 1 {
	print "-- schema.sql: the callsync outbox database, complete and commented."
	print "--"
	print "-- This is the contract for producers (voice agents) and for anyone reading"
	print "-- the database.  It is generated by schema/gen.sh (make schema) from"
	print "-- migrations/NNNN_*.sql, which are what callsyncd and `callsync init`"
	print "-- actually apply, and from the prose of schema/notes.txt: edit those,"
	print "-- never this file (unit test t_schema_sql fails while it differs)."
	print "-- Current schema version: " version " (PRAGMA user_version)."
	print "--"
	comment("intro", "")
}
FILENAME == objects {
	split($0, f, US)
	type = f[1]; name = f[2]; sql = f[3]
	sub(/^\n/, "", type)		# the newline after the last row
	if (type == "table") {
		if (!(name in nlines)) {
			print "gen.sh: schema/notes.txt has no @" name \
			    " (every table needs a note)" >"/dev/stderr"
			bad = 1
		}
		print ""
		comment(name, "")
		ncols = split(f[4], cols, " ")
		for (i = 1; i <= ncols; i++)
			placed[i] = 0
		# A column ALTER TABLE added stands on the line SQLite
		# appended it to (", name TYPE"): it gets a line of its own.
		n = split(sql, lines, "\n")
		for (l = 1; l <= n; l++) {
			rest = lines[l]
			while ((p = appended(rest)) > 0) {
				emit(name, substr(rest, 1, p), 0)
				rest = "\t" substr(rest, p + 2)
			}
			emit(name, rest, l == n)
		}
		for (i = 1; i <= ncols; i++)
			known[name "." cols[i]] = 1
		known[name] = 1
		next
	}
	comment(name, "")
	known[name] = 1
	print sql ";"
	next
}
FILENAME == history {
	split($0, f, US)
	sub(/^\n/, "", f[1])
	if (f[1] == "")
		next
	hist[++nhist] = wrap(f[2] ": " f[3])
	migr[nhist] = sprintf("INSERT INTO schema_migrations (version, name) " \
	    "VALUES (%d, \047%s\047);", f[1], f[2])
	next
}
FILENAME == bookkeeping { bk = bk $0 "\n"; next }
END {
	for (i = 1; i <= nkeys; i++)
		if (keys[i] != "intro" && !(keys[i] in known)) {
			print "gen.sh: schema/notes.txt: @" keys[i] ": no such " \
			    "table, column, index or trigger" >"/dev/stderr"
			bad = 1
		}
	if (bad)
		exit 1
	print ""
	bar()
	print "-- Bookkeeping of the migrations (kept by callsyncd and callsync init)"
	bar()
	print "-- One row per applied migration; PRAGMA user_version holds the newest."
	print "-- A database newer than a binary is refused by it.  The migrations, each"
	print "-- a file of migrations/ that says why:"
	for (i = 1; i <= nhist; i++)
		print hist[i]
	sub(/\n$/, "", bk)
	sub(/^CREATE TABLE /, "CREATE TABLE IF NOT EXISTS ", bk)
	sub(/ \(/, " (\n\t", bk)
	gsub(/, /, ",\n\t", bk)
	sub(/\)$/, "\n);", bk)
	print bk
	for (i = 1; i <= nhist; i++)
		print migr[i]
	print "PRAGMA user_version = " version ";"
}
' schema/notes.txt RS="$RS" "$tmp/objects" "$tmp/history" RS='\n' \
    "$tmp/bookkeeping"
