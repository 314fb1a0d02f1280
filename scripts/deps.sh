#!/bin/sh
# Install the Debian packages bourse needs, when any is missing.
# As root it runs apt-get; otherwise it prints the command to run.
# `sh scripts/deps.sh fuzz` also wants clang and its libFuzzer runtime
# (`make fuzz`, tests/fuzz/README.md).
set -eu

PKGS="build-essential cmake pkg-config zlib1g-dev libjson-c-dev libcmocka-dev
libzmq3-dev libprotobuf-c-dev protobuf-c-compiler libsqlite3-dev libvirt-dev
sqlite3 libmicrohttpd-dev libgnutls28-dev libinih-dev libxml2-dev libsystemd-dev
libsmartcols-dev gnuplot-nox curl prometheus debhelper lintian
bash-completion fakeroot dpkg-dev libfaketime openssl
systemd"
if [ "${1:-}" = fuzz ]; then
	PKGS="$PKGS clang libclang-rt-14-dev"
fi

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

echo "deps: missing:$missing"
if [ "$(id -u)" -ne 0 ]; then
	echo "deps: run as root: apt-get install -y$missing" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing
