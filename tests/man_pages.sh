#!/bin/sh
# The man pages the build writes from the --help texts (scripts/gen-man.sh,
# CMake target man): one for bourse, for every command `bourse --help`
# lists and every subcommand a command's help lists; each renders with
# neither groff's nor man's warnings, has NAME and SYNOPSIS, and names
# every flag its command's --help names (a help text the converter
# misread would drop some).
# usage: man_pages.sh BOURSE SOURCE_DIR
set -u
bourse=$1
src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() {
	fail=$((fail + 1))
	echo "FAIL: $*"
}

# Written afresh here, from this binary: the test does not depend on the
# build having run the man target.
if ! sh "$src/scripts/gen-man.sh" "$bourse" "$tmp/man" 2>"$tmp/gen.err"; then
	bad "gen-man.sh failed: $(cat "$tmp/gen.err")"
	echo "man_pages: $pass passed, $fail failed"
	exit 1
fi

# The commands of a help text's "commands:" list.
commands() {
	awk '/^commands:/ { f = 1; next } f && /^[^ ]/ { f = 0 }
	     f && /^  [a-z]/ { print $1 }'
}
# The long flags a help text names on its option lines.
flags() {
	grep -E '^ +-' | grep -oE -- '--[a-z0-9][a-z0-9-]*' | sort -u
}

# check_page PAGE ARGS...: PAGE.1 documents `bourse ARGS... --help`.
check_page() {
	page=$1
	shift
	f=$tmp/man/$page.1
	if [ ! -f "$f" ]; then
		bad "no man page $page.1"
		return
	fi
	ok
	w=$(groff -ww -man -z "$f" 2>&1)
	if [ -n "$w" ]; then bad "$page.1: groff: $w"; else ok; fi
	w=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l "$f" 2>&1 >/dev/null)
	if [ -n "$w" ]; then bad "$page.1: man: $w"; else ok; fi
	LC_ALL=C.UTF-8 MANWIDTH=250 man -l "$f" 2>/dev/null | col -bx >"$tmp/page.txt"
	for s in NAME SYNOPSIS; do
		if grep -q "^$s\$" "$tmp/page.txt"; then ok; else bad "$page.1: no $s"; fi
	done
	if grep -Eq "^ +$page - [a-z]" "$tmp/page.txt"; then ok; else
		bad "$page.1: NAME line is not '$page - description'"
	fi
	"$bourse" "$@" --help | flags >"$tmp/want"
	grep -oE -- '--[a-z0-9][a-z0-9-]*' "$tmp/page.txt" | sort -u >"$tmp/got"
	missing=$(comm -23 "$tmp/want" "$tmp/got" | tr '\n' ' ')
	if [ -n "$missing" ]; then bad "$page.1 lacks $missing"; else ok; fi
}

check_page bourse
cmds=$("$bourse" --help | commands)
[ -n "$cmds" ] || bad "no commands in bourse --help"
for c in $cmds; do
	check_page "bourse-$c" "$c"
	for s in $("$bourse" "$c" --help | commands); do
		"$bourse" "$c" "$s" --help >/dev/null 2>&1 || continue
		check_page "bourse-$c-$s" "$c" "$s"
	done
done
# bourse recs has subcommands today: their pages are there.
for s in list show approve reject cancel stats; do
	if [ -f "$tmp/man/bourse-recs-$s.1" ]; then ok; else bad "no bourse-recs-$s.1"; fi
done
# bourse(1)'s SEE ALSO names every command's page
see=$(LC_ALL=C.UTF-8 MANWIDTH=1000 man -l "$tmp/man/bourse.1" | col -bx |
	grep -oE 'bourse-[a-z-]+\(1\)' | wc -l)
want=$(printf '%s\n' "$cmds" | wc -l)
if [ "$see" -eq "$want" ]; then ok; else
	bad "bourse.1 names $see pages in SEE ALSO, want $want"
fi

# A help text's odd corners, converted: a term and its description
# separated by one space, a description starting with '...' (roff would
# read '.' as a request), backslashes.
cat >"$tmp/odd.txt" <<'EOF'
usage: bourse odd [--x N]

Odd help \ text.
.starts with a dot

  --reason TEXT why (one space)
  --rec-drift F      ... or once
  -h, --help         this help
EOF
awk -v page=bourse-odd -v cmdline="bourse odd" -v summary="odd one" \
	-v seealso=bourse -v version=0 -v date=2026-01-01 \
	-f "$src/scripts/help2roff.awk" <"$tmp/odd.txt" >"$tmp/odd.1"
w=$(groff -ww -man -z "$tmp/odd.1" 2>&1)
if [ -z "$w" ]; then ok; else bad "odd.1: groff: $w"; fi
LC_ALL=C.UTF-8 MANWIDTH=100 man -l "$tmp/odd.1" 2>/dev/null | col -bx >"$tmp/odd.txt"
if grep -q '^       --reason TEXT$' "$tmp/odd.txt"; then ok; else bad "odd: --reason TEXT is not the term"; fi
if grep -q '^ *why (one space)$' "$tmp/odd.txt"; then ok; else bad "odd: 'why' is not the description"; fi
if grep -q '\.\.\. or once' "$tmp/odd.txt"; then ok; else bad "odd: '... or once' lost"; fi
if grep -q '\.starts with a dot' "$tmp/odd.txt"; then ok; else bad "odd: '.starts' lost"; fi
if grep -q 'Odd help \\ text' "$tmp/odd.txt"; then ok; else bad "odd: backslash lost"; fi

echo "man_pages: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
