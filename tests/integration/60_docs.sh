#!/bin/sh
# 60_docs: the documentation says what the code does.
#   a. schema/schema.sql builds the same database as the migrations
#      (callsync init): tables, columns, constraints, indexes, version;
#   b. each man page passes mandoc -T lint -W warning and renders;
#   c. every option of callsyncd --help is in callsyncd.8 (and its SYNOPSIS
#      is the usage line), every command of callsync --help in callsync.8;
#   d. every key of worker/core/conf.c's table is in callsync.conf.example and
#      callsync.conf.5, with the same default;
#   e. callsync.conf.example passes callsyncd -n (token files supplied);
#   f. schema/record.schema.json is JSON and lists the three record types.
. "$(dirname "$0")/lib.sh"
t_setup
CS="$BIN/callsync"
CSD="$BIN/callsyncd"
MANS="man/callsyncd.8 man/callsync.8 man/callsync.conf.5"
have() { command -v "$1" >/dev/null 2>&1; }

# ---------------------------------------------------------------- (a)
# desc: the user tables and what defines them, one line each, sorted.
desc() {
	sqlite3 -batch -noheader -separator '|' "$1" "
	    SELECT m.name, p.cid, p.name, p.type, p.\"notnull\",
	        coalesce(p.dflt_value, 'NULL'), p.pk
	    FROM sqlite_master m, pragma_table_info(m.name) p
	    WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%'
	        AND m.name <> 'schema_migrations'
	    ORDER BY m.name, p.cid" 
}
indexes() {
	sqlite3 -batch -noheader -separator '|' "$1" "
	    SELECT m.tbl_name, m.name, i.seqno, coalesce(i.name, '<expr>'),
	        i.\"desc\", i.key
	    FROM sqlite_master m, pragma_index_xinfo(m.name) i
	    WHERE m.type = 'index' AND m.tbl_name <> 'schema_migrations'
	    ORDER BY m.tbl_name, m.name, i.seqno"
}
# The stored CREATE statements without comments and blanks: catches a
# CHECK, DEFAULT, REFERENCES or partial-index WHERE that differs.
# One statement per line.
ddl() {
	sqlite3 -batch -noheader "$1" "
	    SELECT sql || char(10) || '@@' FROM sqlite_master
	    WHERE sql IS NOT NULL AND tbl_name <> 'schema_migrations'
	    ORDER BY type, name" |
	    awk '/^@@$/ { print s; s = ""; next }
	        { sub(/--.*$/, ""); gsub(/[ \t]/, ""); s = s $0 }'
}

if sqlite3 -batch "$T/from-schema.db" <schema/schema.sql 2>"$T/schema.err"
then ok "schema/schema.sql executes into an empty database"
else not_ok "schema/schema.sql executes into an empty database"
	sed 's/^/# /' "$T/schema.err"; fi
"$CS" --db "$T/from-init.db" init >/dev/null 2>"$T/init.err"
is "callsync init creates a database" "$?" 0
desc "$T/from-schema.db" >"$T/schema.cols"
desc "$T/from-init.db" >"$T/init.cols"
check "the migrated database has tables" test -s "$T/init.cols"
tables=$(cut -d'|' -f1 "$T/init.cols" | sort -u | tr '\n' ' ')
diag "tables: $tables"
for tb in $(cut -d'|' -f1 "$T/init.cols" "$T/schema.cols" | sort -u); do
	is "table $tb: same columns (name, type, not null, default, key)" \
	    "$(grep "^$tb|" "$T/schema.cols")" "$(grep "^$tb|" "$T/init.cols")"
done
is "same indexes and index columns" \
    "$(indexes "$T/from-schema.db")" "$(indexes "$T/from-init.db")"
ddl "$T/from-schema.db" >"$T/schema.ddl"
ddl "$T/from-init.db" >"$T/init.ddl"
if [ -s "$T/init.ddl" ] && cmp -s "$T/schema.ddl" "$T/init.ddl"; then
	ok "same CREATE statements, comments and blanks aside"
else
	not_ok "same CREATE statements, comments and blanks aside"
	diff "$T/schema.ddl" "$T/init.ddl" | sed 's/^/# /'
fi
is "same schema version (user_version)" \
    "$(sqlite3 "$T/from-schema.db" 'PRAGMA user_version')" \
    "$(sqlite3 "$T/from-init.db" 'PRAGMA user_version')"
"$CS" --db "$T/from-schema.db" migrate >/dev/null 2>&1
is "callsync accepts a database built from schema.sql" "$?" 0
check "schema.sql shows the producer INSERT" \
    grep -q 'ON CONFLICT (workspace, record_key) DO NOTHING' schema/schema.sql

# ---------------------------------------------------------------- (b)
for m in $MANS; do
	check "$m exists" test -s "$m"
done
if have mandoc; then
	for m in $MANS; do
		if mandoc -T lint -W warning "$m" >"$T/lint" 2>&1; then
			ok "mandoc -T lint -W warning $m"
		else
			not_ok "mandoc -T lint -W warning $m"
			sed 's/^/# /' "$T/lint"
		fi
	done
else
	for m in $MANS; do
		TAPN=$((TAPN + 1))
		echo "ok $TAPN - # SKIP mandoc not installed (lint of $m)"
	done
fi
# render FILE: plain text of a man page, or nothing.
render() {
	if have mandoc; then mandoc -T ascii "$1" 2>/dev/null | col -b
	elif have man; then MANWIDTH=80 man -l "$1" 2>/dev/null | col -b
	fi
}
if have mandoc || have man; then
	for m in $MANS; do
		render "$m" >"$T/rendered"
		check "$m renders with NAME, SYNOPSIS and SEE ALSO" sh -c \
		    "grep -q '^NAME' '$T/rendered' && grep -q '^SYNOPSIS' '$T/rendered' && grep -q '^SEE ALSO' '$T/rendered'"
	done
else
	TAPN=$((TAPN + 1))
	echo "ok $TAPN - # SKIP neither mandoc nor man installed (rendering)"
fi

# ---------------------------------------------------------------- (c)
"$CSD" --help >"$T/d.help" 2>&1
is "callsyncd --help exits 0" "$?" 0
usage=$(sed -n 's/^usage: //p' "$T/d.help" | head -n 1)
if have mandoc || have man; then
	syn=$(render man/callsyncd.8 | awk '/^SYNOPSIS/ { on = 1; next }
	    on && /^[A-Z]/ { exit } on' | tr -s ' \n' '  ' |
	    sed 's/^ *//; s/ *$//')
	is "callsyncd.8 SYNOPSIS is the usage line of --help" "$syn" "$usage"
fi
# Options: "-x" and "--long" from the option lines of --help.
opts=$(sed -n 's/^  *\(-.*\)/\1/p' "$T/d.help" |
    grep -o -- '--\?[a-z][a-z-]*' | sort -u)
check "callsyncd --help lists options" test -n "$opts"
for o in $opts; do
	f=${o#-}
	check "callsyncd.8 documents $o" \
	    grep -q -- "^\.It .*Fl $f\( \|\$\)" man/callsyncd.8
done

"$CS" --help >"$T/c.help" 2>&1
is "callsync --help exits 0" "$?" 0
# Commands and sub-commands: the lower-case words after "callsync" on the
# command lines, e.g. "dlq ls", "audit verify", "contacts resolve".
awk '$1 == "callsync" && $2 ~ /^[a-z]+$/ {
	print $2
	for (i = 3; i <= NF; i++) {
		w = $i
		if (w == "|") continue
		if (w ~ /^\[[a-z]+\]$/ && w != "[options]") {
			gsub(/[][]/, "", w); print $2 " " w; continue }
		if (w !~ /^[a-z]+$/) break
		print $2 " " w
	}
}' "$T/c.help" | sort -u >"$T/cmds"
check "callsync --help lists commands" test -s "$T/cmds"
while read -r c; do
	check "callsync.8 documents '$c'" grep -q "^\.It Cm $c\( \|\$\)" man/callsync.8
done <"$T/cmds"
for o in $(sed -n '/^usage:/,/^$/p' "$T/c.help" | grep -o -- '--\?[a-z][a-z-]*' | sort -u); do
	check "callsync.8 SYNOPSIS has $o" grep -q -- "Fl ${o#-}\( \|\$\)" man/callsync.8
done

# ---------------------------------------------------------------- (d)
# The key table: { SECT_X, "name", CT_TYPE, "default" | NULL, ...
sed -n 's/^[[:space:]]*{ SECT_\([A-Z]*\), "\([a-z_]*\)", CT_[A-Z_]*, \(NULL\|"[^"]*"\),.*/\1 \2 \3/p' \
    worker/core/conf.c >"$T/keys"
n=$(wc -l <"$T/keys")
check "found the key table in worker/core/conf.c ($n keys)" test "$n" -ge 20
# item KEY: the text of KEY's entry in callsync.conf.5 (up to the next .It).
item() {
	awk -v k="$1" '/^\.It / { on = ($0 ~ ("Ic " k " ") || $0 ~ ("Ic " k "$")) }
	    on' man/callsync.conf.5
}
while read -r sect key def; do
	check "callsync.conf.example has $key" \
	    grep -q "^;\?$key =" callsync.conf.example
	check "callsync.conf.5 has $key" test -n "$(item "$key")"
	case $def in
	NULL) ;;
	'""')
		check "callsync.conf.5: $key defaults to none/empty" sh -c \
		    "printf '%s' \"\$1\" | grep -qi 'none\|empty'" sh "$(item "$key")"
		;;
	*)
		d=$(printf '%s' "$def" | tr -d '"')
		got=$(sed -n "s/^;\?$key = *//p" callsync.conf.example | head -n 1)
		is "callsync.conf.example: $key = $d (the default)" "$got" "$d"
		check "callsync.conf.5: $key default $d" sh -c \
		    "printf '%s' \"\$1\" | grep -i 'default' >/dev/null &&
		     printf '%s' \"\$1\" | grep -F -- \"\$2\" >/dev/null" sh \
		    "$(item "$key")" "$d"
		;;
	esac
done <"$T/keys"

# ---------------------------------------------------------------- (e)
# The example with its token files present (mode 0600) passes -n.
sed "s#/etc/callsync/#$T/#g; s#/var/lib/callsync/#$T/#g" \
    callsync.conf.example >"$T/example.conf"
for w in acme globex; do
	printf 'example-token-%s\n' "$w" >"$T/$w.token"
	chmod 600 "$T/$w.token"
done
out=$(env -u CALLSYNC_TOKEN_ACME -u CALLSYNC_TOKEN_GLOBEX \
    "$CSD" -n --config "$T/example.conf" 2>&1); rc=$?
is "callsyncd -n accepts callsync.conf.example" "$rc" 0
is "callsyncd -n prints configuration OK" "$out" "configuration OK"
check "callsyncd -n did not create the database" test ! -e "$T/outbox.db"

# ---------------------------------------------------------------- (f)
if have jq; then
	check "schema/record.schema.json is valid JSON" \
	    sh -c 'jq -e . schema/record.schema.json >/dev/null'
	is "record.schema.json: type enum is call, note, reply" \
	    "$(jq -c '.properties.type.enum | sort' schema/record.schema.json)" \
	    '["call","note","reply"]'
	is "record.schema.json defines the three types" \
	    "$(jq -c '."$defs" | [has("call"), has("note"), has("reply")]' schema/record.schema.json)" \
	    '[true,true,true]'
else
	TAPN=$((TAPN + 1))
	echo "ok $TAPN - # SKIP jq not installed (record.schema.json)"
fi

# ---------------------------------------------------------------- misc
check "docs/operations.md exists" test -s docs/operations.md
# The code's comments cite docs/contract.md; it must say what the reference
# (../shared/CONTRACT.md) says, past its two-line header.
if [ -f ../shared/CONTRACT.md ]; then
	tail -n +3 docs/contract.md >"$T/contract.copy" 2>/dev/null || : >"$T/contract.copy"
	check "docs/contract.md is ../shared/CONTRACT.md" cmp -s ../shared/CONTRACT.md "$T/contract.copy"
else
	TAPN=$((TAPN + 1))
	echo "ok $TAPN - # SKIP ../shared/CONTRACT.md absent: docs/contract.md not compared"
fi
for f in $MANS; do
	check "$f names no missing page" sh -c \
	    "! grep -o 'Xr [a-z.]* [0-9]' '$f' | grep -v -e 'callsync 8' \
	        -e 'callsyncd 8' -e 'callsync.conf 5' -e 'syslog 3' -q"
done
echo "1..$TAPN"
