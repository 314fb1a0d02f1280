#!/bin/sh
# Install the Debian packages bourse needs, when any is missing.
# As root it runs apt-get; otherwise it prints the command to run.
# `sh scripts/deps.sh fuzz` also wants clang and its libFuzzer runtime
# (`make fuzz`, tests/fuzz/README.md).
# The real-VM lab (`make lab`, docs/lab.md) wants QEMU >= 10, which Debian 12
# has only in bookworm-backports (its own QEMU 7.2 corrupts TCG guests in
# live migration, docs/dependencies.md): as root, the backports source is
# added (deb822, Debian's archive keyring) and qemu-system-x86 comes from it.
set -eu

PKGS="build-essential cmake pkg-config zlib1g-dev libjson-c-dev libcmocka-dev
libzmq3-dev libprotobuf-c-dev protobuf-c-compiler libsqlite3-dev libvirt-dev
sqlite3 libmicrohttpd-dev libgnutls28-dev libinih-dev libxml2-dev libsystemd-dev
libsmartcols-dev gnuplot-nox curl prometheus debhelper lintian
bash-completion fakeroot dpkg-dev libfaketime openssl
systemd
libvirt-daemon-system libvirt-daemon-driver-qemu libvirt-clients
busybox-static iproute2 util-linux"
if [ "${1:-}" = fuzz ]; then
	PKGS="$PKGS clang libclang-rt-14-dev"
fi
QEMU_MIN=1:10.0
BACKPORTS=/etc/apt/sources.list.d/bookworm-backports.sources

installed() {
	dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"
}

missing=""
for p in $PKGS; do
	installed "$p" || missing="$missing $p"
done
qemu_ok=1
qv=$(dpkg-query -W -f='${Version}' qemu-system-x86 2>/dev/null || true)
if [ -z "$qv" ] || ! dpkg --compare-versions "$qv" ge "$QEMU_MIN"; then
	qemu_ok=0
fi
[ -z "$missing" ] && [ "$qemu_ok" = 1 ] && exit 0

[ -n "$missing" ] && echo "deps: missing:$missing"
[ "$qemu_ok" = 0 ] && echo "deps: qemu-system-x86 >= 10 (bookworm-backports) missing${qv:+, found $qv}"
if [ "$(id -u)" -ne 0 ]; then
	echo "deps: run as root: apt-get install -y$missing" \
	  "&& apt-get install -y -t bookworm-backports qemu-system-x86" \
	  "(after adding $BACKPORTS, docs/lab.md)" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
if [ "$qemu_ok" = 0 ] && [ "$codename" = bookworm ] && [ ! -e "$BACKPORTS" ]; then
	cat >"$BACKPORTS" <<'SRC'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
	echo "deps: added $BACKPORTS"
fi
apt-get update -qq
if [ -n "$missing" ]; then
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $missing
fi
if [ "$qemu_ok" = 0 ]; then
	if [ "$codename" = bookworm ]; then
		apt-get install -y -qq --no-install-recommends -t bookworm-backports qemu-system-x86
	else
		apt-get install -y -qq --no-install-recommends qemu-system-x86
	fi
fi
