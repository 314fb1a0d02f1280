#!/usr/bin/env bash
# The bash completion (contrib/bash-completion/bourse), sourced in bash
# with bash-completion's own helpers, as an interactive shell would load
# it, completing against the real binary: commands, subcommands, every
# command's flags, and the cheap values (modes, states, lists, *.db).
# usage: bash_completion.sh BOURSE SOURCE_DIR
set -u
bourse=$1
src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0
fail=0

helpers=/usr/share/bash-completion/bash_completion
if [ ! -r "$helpers" ]; then
	echo "FAIL: $helpers not found (apt-get install bash-completion)"
	exit 1
fi
# shellcheck disable=SC1090
. "$helpers"
# shellcheck disable=SC1091
. "$src/contrib/bash-completion/bourse"

# The binary as `bourse` on PATH, as installed.
mkdir "$tmp/bin"
ln -s "$(cd "$(dirname "$bourse")" && pwd)/$(basename "$bourse")" "$tmp/bin/bourse"
PATH=$tmp/bin:$PATH

# complete LINE: COMPREPLY for the cursor at the end of LINE, one a line
# in $tmp/got.
complete_line() {
	COMP_LINE=$1
	COMP_POINT=${#COMP_LINE}
	read -ra COMP_WORDS <<<"$COMP_LINE"
	[[ $COMP_LINE == *" " ]] && COMP_WORDS+=("")
	COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
	COMPREPLY=()
	_bourse
	printf '%s\n' "${COMPREPLY[@]}" | sort >"$tmp/got"
}

# expect LINE WORD...: completing LINE offers exactly WORDs.
expect() {
	local line=$1
	shift
	complete_line "$line"
	printf '%s\n' "$@" | sort >"$tmp/want"
	if cmp -s "$tmp/want" "$tmp/got"; then
		pass=$((pass + 1))
	else
		fail=$((fail + 1))
		echo "FAIL: '$line<TAB>' gave [$(tr '\n' ' ' <"$tmp/got")], want [$*]"
	fi
}

# offers LINE WORD...: completing LINE offers (at least) WORDs.
offers() {
	local line=$1 w
	shift
	complete_line "$line"
	for w in "$@"; do
		if grep -qxF -- "$w" "$tmp/got"; then
			pass=$((pass + 1))
		else
			fail=$((fail + 1))
			echo "FAIL: '$line<TAB>' gave [$(tr '\n' ' ' <"$tmp/got")], no '$w'"
		fi
	done
}

expect "bourse re" recs resume
expect "bourse recs list --s" --state
expect "bourse recs list --state p" pending
expect "bourse recs ap" approve
offers "bourse recs " list show approve reject cancel stats
expect "bourse recs reject --r" --reason
expect "bourse mode " recommend manual automated
expect "bourse mode --for resize-up,m" resize-up,migrate
expect "bourse sim --policy market,h" market,hyperv
expect "bourse agent --source l" libvirt
expect "bourse seller --source l" linux
expect "bourse agent --actuator d" dry-run
expect "bourse agent --migrate-disks c" copy
expect "bourse broker --listen " # an endpoint: nothing to offer
offers "bourse broker --" --db --listen --key --allow --help
expect "bourse sim --trace=x --hos" --hosts --host-gib

# Every command completes, and offers every long flag of its --help.
cmds=$("$bourse" --help | awk '/^commands:/ { f = 1; next }
	f && /^[^ ]/ { f = 0 } f && /^  [a-z]/ { print $1 }')
for c in $cmds; do
	offers "bourse ${c:0:${#c}-1}" "$c"
	# the flags of each option line's term (before two spaces)
	mapfile -t flags < <("$bourse" "$c" --help | grep -E '^ +-' |
		sed -E 's/^ +//; s/  .*//' | grep -oE -- '--[a-z0-9][a-z0-9-]*' |
		sort -u)
	[ ${#flags[@]} -gt 0 ] && offers "bourse $c --" "${flags[@]}"
done

# --db offers databases and directories, not other files.
mkdir "$tmp/d" "$tmp/d/sub"
touch "$tmp/d/a.db" "$tmp/d/notes.txt"
(cd "$tmp/d" && expect "bourse recs list --db " a.db sub)
(cd "$tmp/d" && expect "bourse keygen x --dir " sub)

# Help-text shapes the binary may not have yet, from a stand-in that
# prints them: subcommands named only in the usage lines, values spelled
# out in them.
mkdir "$tmp/alt"
cat >"$tmp/alt/bourse" <<'STANDIN'
#!/bin/sh
case "$*" in
"--help") printf 'usage: bourse <command>\n\ncommands:\n  host       hosts\n  plot       pictures\n' ;;
"host --help" | "host drain --help" | "host undrain --help")
	printf 'usage: bourse host drain HOST [--reason TEXT]\n       bourse host undrain HOST\n\nMaintenance.\n\n  --reason TEXT  why\n  -h, --help     this help\n' ;;
"plot --help")
	printf 'usage: bourse plot --out FILE [--format png|svg]\n                   [-o table|wide]\n\nDraw.\n\n  --out FILE    the file\n  --format F    png or svg\n  -o, --output FORMAT  how\n' ;;
*) exit 2 ;;
esac
STANDIN
chmod +x "$tmp/alt/bourse"
PATH=$tmp/alt:$PATH
expect "bourse host " drain undrain
expect "bourse host drain --" --reason --help
expect "bourse plot --format " png svg
expect "bourse plot -o w" wide
expect "bourse plot -" --out --format -o --output

echo "bash_completion: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
