#!/bin/sh
# build-deb.sh OUTDIR [SRCDIR]: build bourse's Debian package (`make deb`).
# Copies the source tree (the files git tracks or would track: untracked
# but not ignored; without git, all but build*/) to OUTDIR/bourse-VERSION,
# so neither the build nor debian/'s leftovers touch the tree, and runs
# dpkg-buildpackage -us -uc -b there, without the tests (nocheck: `make
# test` runs them). The .deb, .buildinfo and .changes land in OUTDIR.
# JOBS: parallel jobs (default: nproc).
set -eu

if [ $# -lt 1 ] || [ $# -gt 2 ]; then
	echo "usage: build-deb.sh OUTDIR [SRCDIR]" >&2
	exit 2
fi
src=$(cd "${2:-$(dirname "$0")/..}" && pwd)
mkdir -p "$1"
out=$(cd "$1" && pwd)

for tool in dpkg-buildpackage dh dpkg-parsechangelog; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		echo "build-deb.sh: $tool not found: apt-get install debhelper dpkg-dev" >&2
		exit 1
	fi
done
version=$(dpkg-parsechangelog -l "$src/debian/changelog" -S Version)
work="$out/bourse-$version"
rm -rf "$work"
mkdir -p "$work"

if git -C "$src" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	(cd "$src" && git ls-files -co --exclude-standard |
		while IFS= read -r f; do [ -e "$f" ] && printf '%s\n' "$f"; done |
		tar -cf - -T -) | tar -xf - -C "$work"
else
	tar -C "$src" --exclude='./build' --exclude='./build-*' -cf - . |
		tar -xf - -C "$work"
fi

rm -f "$out"/bourse_"$version"_*.deb "$out"/bourse-dbgsym_"$version"_*.deb
jobs=${JOBS:-$(nproc 2>/dev/null || echo 2)}
cd "$work"
DEB_BUILD_OPTIONS="nocheck parallel=$jobs ${DEB_BUILD_OPTIONS:-}" \
	dpkg-buildpackage -us -uc -b
ls "$out"/bourse_"$version"_*.deb
