#!/bin/sh
# 67_layers: worker/ is a house of layers (issue 21 item 6,
# docs/architecture.md).  Lowest first: core, store, net, runtime, job,
# api, daemon; tools/ beside the daemon.
#   a. `make layers` links every layer against the libraries below it
#      alone: a name only a higher layer defines is an undefined reference;
#   b. no file of worker/ includes the header of a higher layer (the build
#      compiles each layer with the include paths of the layers below it);
#   c. no circle: the files of worker/, tied by the names each uses from
#      another's object, sort into an order (tsort finds no loop);
#   d. the figures: files and lines per layer, as TAP comments;
#   e. one owner for the runtime's state: no file outside worker/runtime/
#      assigns to a field of struct rt or struct wsrt (`x->f = `, `+=`,
#      `++`, `--`), moves a job into or out of their queues (TAILQ_INSERT/
#      REMOVE) or counts into a workspace's stats (stats_*(&ws->st...)):
#      it asks the runtime (rt.h, wsrt.h) to;
#   f. the runtime's state is private: the fields of struct rt and struct
#      wsrt are in worker/runtime/'s own headers (*_impl.h), which no file
#      outside worker/runtime/*.c includes (nor a public header of
#      runtime/, which would hand them on), nor unlocks by defining
#      CALLSYNC_RUNTIME_PRIVATE, nor defines the structs elsewhere; a
#      unit test may include them, white-box: listed.
#      Above runtime/ the structs are incomplete types, so a field read
#      there is a compile error as well.
. "$(dirname "$0")/lib.sh"
t_setup

LAYERS="core store net runtime job api daemon"
rank() {
	r=1
	for l in $LAYERS; do
		[ "$l" = "$1" ] && { echo $r; return; }
		r=$((r + 1))
	done
	echo 0
}

# ---------------------------------------------------------------- (a)
if make -s layers >"$T/layers.log" 2>&1; then
	ok "make layers: every layer links against the layers below it alone"
else
	not_ok "make layers: every layer links against the layers below it alone"
	grep -E "undefined reference|^layer|Error" "$T/layers.log" |
	    sed 's/^/# /' | head -40
fi

# ---------------------------------------------------------------- (b)
: >"$T/up-includes"
for f in worker/*/*.c worker/*/*.h; do
	fl=$(basename "$(dirname "$f")")
	fr=$(rank "$fl")
	sed -n 's/^#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$f" |
	while read -r h; do
		hp=$(ls worker/*/"$h" 2>/dev/null | head -1)
		[ -n "$hp" ] || continue
		hl=$(basename "$(dirname "$hp")")
		[ "$(rank "$hl")" -gt "$fr" ] && echo "$f includes $hp"
	done >>"$T/up-includes"
done
if [ -s "$T/up-includes" ]; then
	not_ok "no file includes a header of a higher layer"
	sed 's/^/# /' "$T/up-includes"
else
	ok "no file includes a header of a higher layer"
fi

# ---------------------------------------------------------------- (c)
# Arrows from the objects make built: A -> B when A uses a global name
# B defines.  tsort prints "input contains a loop" with its members.
O=${O:-build}
# The objects of today's sources (a moved file leaves its old object).
objs=""
for c in worker/*/*.c; do
	[ -f "$O/${c%.c}.o" ] && objs="$objs $O/${c%.c}.o"
done
if [ -n "$objs" ]; then
	for o in $objs; do
		n=$(basename "$(dirname "$o")")/$(basename "$o" .o)
		nm --defined-only -g "$o" |
		    awk -v f="$n" '$2 ~ /[TDBRC]/ { print $3, f }'
	done | sort >"$T/defs"
	for o in $objs; do
		n=$(basename "$(dirname "$o")")/$(basename "$o" .o)
		nm -u "$o" | awk -v f="$n" '{ print $2, f }'
	done | sort >"$T/uses"
	join "$T/uses" "$T/defs" | awk '$2 != $3 { print $2, $3 }' |
	    sort -u >"$T/edges"
	diag "$(wc -l <"$T/edges") file-to-file arrows in worker/"
	# A file's own pair keeps it in tsort's input without an arrow.
	{ cat "$T/edges"; awk '{ print $1, $1; print $2, $2 }' "$T/edges"; } |
	    tsort >/dev/null 2>"$T/loops" || true
	if grep -q "loop" "$T/loops"; then
		not_ok "no circle among the files of worker/"
		sed 's/^/# /' "$T/loops" | head -40
	else
		ok "no circle among the files of worker/"
	fi
else
	not_ok "objects of worker/ found in $O/ (run make first)"
fi

# ---------------------------------------------------------------- (d)
for l in $LAYERS; do
	n=$(ls worker/"$l"/*.c 2>/dev/null | wc -l)
	lines=$(cat worker/"$l"/*.[ch] 2>/dev/null | wc -l)
	diag "layer $l: $n .c files, $lines lines"
done

# ---------------------------------------------------------------- (e)
# begin own-check (run alone on an old tree: see the commit message)
# The fields, from the struct bodies of rt_impl.h and wsrt_impl.h: each member
# declaration's names (a comma list too), comments and arrays stripped.
fields_of() {
	sed -n "/^struct $2 {/,/^};/p" "$1" | sed '1d;$d' |
	    sed 's,/\*.*\*/,,; s,/\*.*,,; s,^[[:space:]]*\*.*,,' |
	    grep ';' | sed 's/;.*//' |
	    sed -E 's/^[[:space:]]*((struct|enum|const)[[:space:]]+)?[A-Za-z_][A-Za-z0-9_]*[[:space:]]+//' |
	    tr ',' '\n' | sed -E 's/[*[:space:]]//g; s/\[.*//' | grep -v '^$'
}
# The names given to a struct rt or struct wsrt (pointer or embedded) in
# the files named: variables, parameters, members.
names_of() {
	cat "$@" | grep -oE 'struct[[:space:]]+(rt|wsrt)[[:space:]*]+[A-Za-z_][A-Za-z0-9_]*[[:space:]]*[;,)=]' |
	    sed -E 's/[[:space:]]*[;,)=]$//; s/.*[*[:space:]]//' | sort -u |
	    paste -sd'|' -
}
F=$({ fields_of worker/runtime/rt_impl.h rt; fields_of worker/runtime/wsrt_impl.h wsrt; } |
    sort -u | paste -sd'|' -)
G=$(names_of worker/*/*.[ch])	# as members: reached through ->name
SUF='(\.[A-Za-z_][A-Za-z0-9_]*|\[[^]]*\])*'
SET='[[:space:]]*(([-+*/%|&^]|<<|>>)?=[^=]|\+\+|--)'
: >"$T/owners"
if [ -z "$F" ] || [ -z "$G" ]; then
	echo "no fields or names found in worker/runtime/*_impl.h" >"$T/owners"
fi
for f in worker/*/*.c worker/*/*.h; do
	case $f in worker/runtime/*) continue ;; esac
	L=$(names_of "$f")		# this file's own variables
	# x->f (x one of L), y->x->f, y.x[i]->f (x one of G)
	R="((^|[^A-Za-z0-9_>.])(${L:-@})|(->|\.)($G)(\[[^]]*\])?)"
	grep -nE "$R(->|\.)($F)\b$SUF$SET|(\+\+|--)[[:space:]]*[A-Za-z0-9_>.-]*$R(->|\.)($F)\b|TAILQ_(INSERT|REMOVE|CONCAT|INIT)[A-Z_]*(\(&?[A-Za-z0-9_>.-]*)?$R(->|\.)($F)\b|stats_[a-z_]+(\(&?[A-Za-z0-9_>.-]*)?$R(->|\.)st\b" \
	    "$f" | sed "s|^|$f:|" >>"$T/owners"
done
n=$(grep -c . "$T/owners")
if [ "$n" -eq 0 ]; then
	ok "the runtime's state is written in worker/runtime/ alone"
else
	not_ok "the runtime's state is written in worker/runtime/ alone ($n places)"
	cut -d: -f1 "$T/owners" | sort | uniq -c | sed 's/^/# /'
	sed 's/^/# /' "$T/owners" | head -80
fi
# end own-check

# ---------------------------------------------------------------- (f)
P=$(cd worker/runtime && ls *_impl.h 2>/dev/null | paste -sd'|' -)
: >"$T/private"
: >"$T/whitebox"
if [ -z "$P" ]; then
	echo "no private header (worker/runtime/*_impl.h) found" >"$T/private"
else
	for f in worker/*/*.c worker/*/*.h tools/*.[ch] sim/*.[ch] bench/*.c \
	    tests/unit/*.[ch]; do
		[ -f "$f" ] || continue
		case $f in worker/runtime/*.c|worker/runtime/*_impl.h) continue ;; esac
		# an include of one, the unlocking define, or the body
		grep -nE "^[[:space:]]*#[[:space:]]*include[[:space:]]*[\"<]([^\">]*/)?($P)[\">]|^[[:space:]]*#[[:space:]]*define[[:space:]]+CALLSYNC_RUNTIME_PRIVATE\b|^struct[[:space:]]+(rt|wsrt)[[:space:]]*\{" \
		    "$f" | sed "s|^|$f:|" >"$T/hits"
		case $f in
		tests/unit/*) cat "$T/hits" >>"$T/whitebox" ;;
		*) cat "$T/hits" >>"$T/private" ;;
		esac
	done
fi
n=$(grep -c . "$T/private")
if [ "$n" -eq 0 ]; then
	ok "struct rt and struct wsrt are private to worker/runtime/ (${P:-none})"
else
	not_ok "struct rt and struct wsrt are private to worker/runtime/ ($n places)"
	sed 's/^/# /' "$T/private" | head -40
fi
if [ -s "$T/whitebox" ]; then
	diag "white-box unit tests: $(cut -d: -f1 "$T/whitebox" | sort -u | paste -sd' ' -)"
fi

t_cleanup
echo "1..$TAPN"
