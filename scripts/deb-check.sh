#!/bin/sh
# deb-check.sh DEBDIR: install the package `make deb` built on this
# machine and start the broker the way its unit does (`make deb-check`).
# It CHANGES THE SYSTEM (root only): apt-get installs the package; the
# postinst creates the bourse user (systemd-sysusers) and its directories
# (systemd-tmpfiles); then, as an operator would (docs/operations.md,
# "Installing from the Debian package"), the broker's key pair and an
# empty allow-list in /etc/bourse and /etc/default/bourse-broker with the
# listening port DEB_CHECK_PORT (default 7750); the broker is started
# with bourse-broker.service's own User=, Group=, Environment=,
# EnvironmentFile= and ExecStart= (systemctl where systemd is PID 1, else
# by hand), must report itself running in `bourse status`, and must stop
# cleanly on SIGTERM. At the end everything is undone: the files it wrote,
# the package (apt-get remove --purge), and the user and /var/lib/bourse
# and /etc/bourse if they were not there before (DEB_CHECK_KEEP=1 keeps it
# all).
set -eu

if [ $# -ne 1 ]; then
	echo "usage: deb-check.sh DEBDIR" >&2
	exit 2
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "deb-check.sh: installs a package: run as root" >&2
	exit 1
fi
deb=""
for f in "$(cd "$1" && pwd)"/bourse_*_*.deb; do
	[ -e "$f" ] && deb=$f
done
if [ -z "$deb" ]; then
	echo "deb-check.sh: no bourse_*.deb in $1: make deb first" >&2
	exit 1
fi
port=${DEB_CHECK_PORT:-7750}
unit=/lib/systemd/system/bourse-broker.service
keep=${DEB_CHECK_KEEP:-0}

say() { printf '%s\n' "deb-check: $*"; }
run() {
	printf '+ %s\n' "$*"
	"$@"
}
fail() {
	say "FAIL: $*"
	exit 1
}

had_user=no
id bourse >/dev/null 2>&1 && had_user=yes
had_state=no
[ -e /var/lib/bourse ] && had_state=yes
had_etc=no
[ -e /etc/bourse ] && had_etc=yes
wrote=""
broker=""
cleanup() {
	status=$?
	if [ -n "$broker" ] && kill -0 "$broker" 2>/dev/null; then
		kill -TERM "$broker" 2>/dev/null || :
		wait "$broker" 2>/dev/null || :
	fi
	if [ "$keep" = 1 ]; then
		say "DEB_CHECK_KEEP=1: bourse stays installed"
		exit "$status"
	fi
	for f in $wrote; do
		run rm -f "$f"
	done
	run apt-get remove --purge -y -qq bourse || :
	if [ "$had_user" = no ] && id bourse >/dev/null 2>&1; then
		run userdel bourse || :
		if getent group bourse >/dev/null; then
			run groupdel bourse || :
		fi
	fi
	[ "$had_state" = no ] && run rm -rf /var/lib/bourse
	[ "$had_etc" = no ] && [ -d /etc/bourse ] && run rmdir /etc/bourse
	exit "$status"
}
trap cleanup EXIT INT TERM

say "installing $deb"
run env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$deb"
run bourse --version

pid1=$(cat /proc/1/comm 2>/dev/null || echo unknown)
say "PID 1 is $pid1"
# The postinst ran systemd-sysusers and systemd-tmpfiles; neither needs
# systemd to be running. Where it could not, this is the by-hand step.
if ! id bourse >/dev/null 2>&1; then
	say "the postinst did not create the user: systemd-sysusers by hand"
	run systemd-sysusers bourse.conf
fi
run id bourse
for d in /var/lib/bourse /etc/bourse; do
	if [ ! -d "$d" ]; then
		say "the postinst did not create $d: systemd-tmpfiles by hand"
		run systemd-tmpfiles --create bourse.conf
	fi
done
run stat -c '%n %U:%G %a' /var/lib/bourse /etc/bourse
[ "$(stat -c %U /var/lib/bourse)" = bourse ] || fail "/var/lib/bourse is not bourse's"
run man -w bourse bourse-broker bourse-recs-list
run test -r /usr/share/bash-completion/completions/bourse

# Configure as docs/operations.md says: the broker's keys, the
# allow-list, the listening address.
for f in /etc/bourse/broker.key /etc/bourse/broker.pub /etc/bourse/allow \
	/etc/default/bourse-broker; do
	[ -e "$f" ] && fail "$f exists already: not overwriting it"
done
wrote="/etc/bourse/broker.key /etc/bourse/broker.pub"
run bourse keygen broker --dir /etc/bourse
run chgrp bourse /etc/bourse/broker.key
run chmod 0640 /etc/bourse/broker.key
wrote="$wrote /etc/bourse/allow"
run install -m 0640 -g bourse /dev/null /etc/bourse/allow
wrote="$wrote /etc/default/bourse-broker"
args="--listen tcp://127.0.0.1:$port --key /etc/bourse/broker.key --allow /etc/bourse/allow"
printf 'BOURSE_BROKER_ARGS="%s"\n' "$args" >/etc/default/bourse-broker
say "/etc/default/bourse-broker: $(cat /etc/default/bourse-broker)"

# The unit's settings, read from the installed file.
key() { sed -n "s/^$1=//p" "$unit"; }
user=$(key User | tail -1)
group=$(key Group | tail -1)
exec_start=$(key ExecStart | head -1 | sed 's/^[-@:+!]*//')
say "$unit: User=$user Group=$group"
say "ExecStart=$exec_start"
env_file=$(mktemp)
wrote="$wrote $env_file"
key Environment | while IFS= read -r line; do
	eval "set -- $line"
	for a in "$@"; do
		printf '%s\n' "$a"
	done
done >"$env_file"
# EnvironmentFile=: KEY=VALUE lines, quotes removed as systemd does.
key EnvironmentFile | while IFS= read -r f; do
	f=${f#-}
	[ -r "$f" ] || continue
	sed -e '/^[#;]/d' -e '/^[[:space:]]*$/d' "$f" | while IFS= read -r line; do
		eval "set -- $line"
		printf '%s\n' "$*"
	done
done >>"$env_file"
say "environment: $(tr '\n' ' ' <"$env_file")"

if [ "$pid1" = systemd ]; then
	run systemctl daemon-reload
	run systemctl start bourse-broker.service
	broker=""
else
	say "systemd is not PID 1 here: the unit's ExecStart as $user:$group"
	(
		set -a
		while IFS= read -r kv; do
			export "${kv?}"
		done <"$env_file"
		set +a
		cd /
		exec setpriv --reuid="$user" --regid="$group" --init-groups \
			sh -c "exec $exec_start"
	) &
	broker=$!
fi

# The CLI as the service user too: root would leave the database's -shm
# and -wal files root's.
as_user() { setpriv --reuid="$user" --regid="$group" --init-groups "$@"; }
db=$(sed -n 's/^BOURSE_DB=//p' "$env_file" | tail -1)
db=${db:-/var/lib/bourse/bourse.db}
i=0
while :; do
	if as_user bourse status --db "$db" 2>/dev/null | grep -Eq '^broker +running'; then
		break
	fi
	i=$((i + 1))
	[ $i -lt 50 ] || fail "the broker did not report running in 10 s"
	if [ -n "$broker" ] && ! kill -0 "$broker" 2>/dev/null; then
		wait "$broker" || :
		fail "the broker exited"
	fi
	sleep 0.2
done
run as_user bourse status --db "$db"
run stat -c '%n %U:%G %a' "$db"
[ "$(stat -c %U "$db")" = "$user" ] || fail "$db is not $user's"
if command -v ss >/dev/null 2>&1; then
	run ss -ltnp "sport = :$port"
fi

if [ "$pid1" = systemd ]; then
	run systemctl stop bourse-broker.service
else
	run kill -TERM "$broker"
	code=0
	wait "$broker" || code=$?
	broker=""
	[ "$code" -eq 0 ] || fail "the broker exited $code on SIGTERM"
	say "the broker stopped cleanly (exit 0)"
fi
run as_user bourse status --db "$db"
say "OK"
