#!/bin/sh
# The Debian package (`make deb`, debian/, scripts/build-deb.sh), built
# from a copy of this tree without its tests (about a minute on 2 cores):
# it holds the binary in /usr/bin, contrib's units in /lib/systemd/system
# starting /usr/bin/bourse, contrib's sysusers.d and tmpfiles.d entries
# (and the postinst that applies them), a man page for bourse and every
# command its --help lists, rendering without warnings, the bash
# completion, the docs and copyright, contrib/bourse.conf as a conffile
# and contrib/grafana/*.json in /usr/share/bourse/grafana when there are
# some; and lintian finds nothing of severity error. Every
# finding is printed. Installing it is `make deb-check` (it changes the
# system).
# usage: deb_package.sh SOURCE_DIR OUTDIR
set -u
src=$1
out=$2
pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() {
	fail=$((fail + 1))
	echo "FAIL: $*"
}
# has PATH: the package holds PATH (./-relative, as dpkg-deb -c prints).
has() {
	if grep -qxF -- "$1" "$out/files"; then ok; else bad "no $1 in the package"; fi
}

mkdir -p "$out"
if ! JOBS=${JOBS:-2} sh "$src/scripts/build-deb.sh" "$out" "$src" \
	>"$out/build.log" 2>&1; then
	tail -40 "$out/build.log"
	echo "FAIL: the package did not build (log: $out/build.log)"
	exit 1
fi
version=$(dpkg-parsechangelog -l "$src/debian/changelog" -S Version)
deb=$(ls "$out"/bourse_"$version"_*.deb)
echo "built $deb"

dpkg-deb -c "$deb" | awk '{ print $6 }' | sed 's|/$||' >"$out/files"
root=$out/root
rm -rf "$root"
dpkg-deb -x "$deb" "$root"
ctl=$out/control
rm -rf "$ctl"
dpkg-deb -e "$deb" "$ctl"

has ./usr/bin/bourse
if "$root/usr/bin/bourse" --version | grep -qx "bourse $version"; then ok; else
	bad "the packaged binary is not version $version"
fi
for u in "$src"/contrib/*.service; do
	n=$(basename "$u")
	has "./lib/systemd/system/$n"
	exec=$(grep '^ExecStart=' "$root/lib/systemd/system/$n" | head -1)
	case $exec in
	ExecStart=/usr/bin/bourse\ *) ok ;;
	*) bad "$n: $exec does not start /usr/bin/bourse" ;;
	esac
	if grep -q /usr/local "$root/lib/systemd/system/$n"; then
		bad "$n still names /usr/local"
	else ok; fi
done
for d in sysusers.d tmpfiles.d; do
	for f in "$src/contrib/$d"/*.conf; do
		[ -e "$f" ] || continue
		has "./usr/lib/$d/$(basename "$f")"
	done
done
if grep -q 'systemd-sysusers.*bourse.conf' "$ctl/postinst"; then ok; else
	bad "the postinst does not run systemd-sysusers"
fi
if grep -q 'systemd-tmpfiles.*--create bourse.conf' "$ctl/postinst"; then ok; else
	bad "the postinst does not run systemd-tmpfiles"
fi
if [ -f "$src/contrib/bourse.conf" ]; then
	has ./etc/bourse/bourse.conf
	if grep -qx /etc/bourse/bourse.conf "$ctl/conffiles" 2>/dev/null; then ok; else
		bad "/etc/bourse/bourse.conf is not a conffile"
	fi
fi
for f in "$src"/contrib/grafana/*.json; do
	[ -e "$f" ] || continue
	has "./usr/share/bourse/grafana/$(basename "$f")"
done
has ./usr/share/bash-completion/completions/bourse
for f in copyright README.md operations.md; do
	has "./usr/share/doc/bourse/$f"
done

# A man page for every command the packaged binary lists, and its
# subcommands; each renders without a warning.
man1=$root/usr/share/man/man1
cmds=$("$root/usr/bin/bourse" --help | awk '/^commands:/ { f = 1; next }
	f && /^[^ ]/ { f = 0 } f && /^  [a-z]/ { print $1 }')
[ -n "$cmds" ] || bad "no commands in the packaged bourse --help"
pages="bourse"
for c in $cmds; do
	pages="$pages bourse-$c"
done
pages="$pages bourse-recs-list bourse-recs-approve"
for p in $pages; do
	has "./usr/share/man/man1/$p.1.gz"
done
for f in "$man1"/*.1.gz; do
	w=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l "$f" 2>&1 >/dev/null)
	if [ -n "$w" ]; then bad "$(basename "$f"): $w"; else ok; fi
done

# lintian: every finding printed; none of severity error.
lintian --pedantic -I --tag-display-limit 0 "$deb" >"$out/lintian.txt" 2>&1
sed 's/^/lintian: /' "$out/lintian.txt"
if grep -q '^E:' "$out/lintian.txt"; then
	bad "lintian reports errors"
else ok; fi
if grep -q '^W:' "$out/lintian.txt"; then
	echo "note: lintian warnings above (docs/operations.md lists the known ones)"
fi

echo "deb_package: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
