#!/bin/sh
# gen-man.sh BOURSE OUTDIR: the man pages of every command, written from
# the binary's own --help texts, so a page can never say other than
# --help does. OUTDIR gets bourse.1, bourse-CMD.1 for each command that
# `bourse --help` lists, and bourse-CMD-SUB.1 for each subcommand a
# command's help lists under "commands:" (bourse recs list). Run at build
# time (CMakeLists.txt, target man); scripts/help2roff.awk turns one help
# text into roff. SOURCE_DATE_EPOCH, when set (dpkg-buildpackage sets it
# from debian/changelog), dates the pages, for reproducible builds.
set -eu

if [ $# -ne 2 ]; then
	echo "usage: gen-man.sh BOURSE OUTDIR" >&2
	exit 2
fi
bin=$1
out=$2
awkf=$(dirname "$0")/help2roff.awk

version=$("$bin" --version | awk '{ print $NF }')
if [ -n "${SOURCE_DATE_EPOCH:-}" ]; then
	date=$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%d)
else
	date=$(date -u +%Y-%m-%d)
fi

# The items of a help text's "commands:" list: NAME<TAB>DESCRIPTION.
commands() {
	awk '/^commands:/ { f = 1; next }
	     f && /^[^ ]/ { f = 0 }
	     f && /^  [a-z]/ {
		name = $1
		d = $0
		sub(/^  [^ ]+ */, "", d)
		printf "%s\t%s\n", name, d
	     }'
}

# The first clause of a help text's first paragraph after the usage
# block, lower-cased: "List recommendations, newest first." gives the
# NAME line "list recommendations, newest first".
first_clause() {
	awk 'BEGIN { u = 1 }
	     u { if ($0 == "") u = 0; next }
	     /^[^ ]/ { p = p (p == "" ? "" : " ") $0; next }
	     p != "" { exit }
	     END {
		if (match(p, /[.:;]( |$)/))
			p = substr(p, 1, RSTART - 1)
		print tolower(substr(p, 1, 1)) substr(p, 2)
	     }'
}

page() { # page "command line" summary seealso < help
	awk -v page="$1" -v cmdline="$2" -v summary="$3" -v seealso="$4" \
	    -v version="$version" -v date="$date" -f "$awkf" >"$out/$1.1.tmp"
	mv "$out/$1.1.tmp" "$out/$1.1"
}

mkdir -p "$out"
rm -f "$out"/*.1

top=$("$bin" --help)
cmds=$(printf '%s\n' "$top" | commands | cut -f1)
if [ -z "$cmds" ]; then
	echo "gen-man.sh: no commands in '$bin --help'" >&2
	exit 1
fi
all=""
for c in $cmds; do
	all="$all bourse-$c"
done
printf '%s\n' "$top" | page bourse bourse \
	"a market-based scheduler for virtual machine memory" "${all# }"

printf '%s\n' "$top" | commands | while IFS="$(printf '\t')" read -r c summary; do
	help=$("$bin" "$c" --help) || {
		echo "gen-man.sh: '$bin $c --help' failed" >&2
		exit 1
	}
	subs=""
	for s in $(printf '%s\n' "$help" | commands | cut -f1); do
		# only what answers --help itself is a subcommand
		if "$bin" "$c" "$s" --help >/dev/null 2>&1; then
			subs="$subs $s"
		fi
	done
	see="bourse"
	for s in $subs; do
		see="$see bourse-$c-$s"
	done
	printf '%s\n' "$help" | page "bourse-$c" "bourse $c" "$summary" "$see"
	for s in $subs; do
		sh=$("$bin" "$c" "$s" --help)
		printf '%s\n' "$sh" |
			page "bourse-$c-$s" "bourse $c $s" "$(printf '%s\n' "$sh" | first_clause)" \
			     "bourse bourse-$c"
	done
done
touch "$out/stamp"
