#!/bin/sh
# systemd_units.sh BOURSE SRCDIR - the units, sysusers.d and tmpfiles.d
# entries of contrib/, checked with systemd's own tools (package systemd,
# in scripts/deps.sh); none needs systemd running as PID 1:
#  1. `systemd-analyze security --offline=true` rates each unit 3.0 or
#     better (issue 18; docs/operations.md, "systemd", says what is left);
#  2. `systemd-analyze verify` accepts each unit (with ExecStart= pointing
#     at this build's binary: /usr/bin/bourse is the package's path);
#  3. each is Type=notify, NotifyAccess=main, with a watchdog, UMask=0027
#     and ExecStart=/usr/bin/bourse (the broker also LimitNOFILE= of
#     10,000 or more);
#  4. systemd-sysusers and systemd-tmpfiles, applied to a scratch root
#     (--root), make the user and group bourse, /var/lib/bourse
#     (bourse:bourse 0750) and /etc/bourse (root:bourse 0750); the
#     directories' owners only as root, who alone may chown.
set -u
bourse=$1
src=$2
fail=0
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT

bad() {
	echo "systemd_units: $*"
	fail=1
}

for unit in "$src"/contrib/bourse-broker.service "$src"/contrib/bourse-agent.service; do
	name=$(basename "$unit")
	out=$(systemd-analyze security --offline=true "$unit" 2>&1)
	score=$(printf '%s\n' "$out" |
		sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
	if [ -z "$score" ]; then
		bad "$name: no exposure level from systemd-analyze security:"
		printf '%s\n' "$out" | tail -n 5
	elif ! awk -v s="$score" 'BEGIN { exit !(s <= 3.0) }'; then
		bad "$name: exposure $score, above 3.0:"
		printf '%s\n' "$out" | grep '✗'
	else
		echo "systemd_units: $name: exposure $score"
	fi

	sed "s|/usr/bin/bourse|$bourse|" "$unit" >"$tmp/$name"
	systemd-analyze verify "$tmp/$name" >"$tmp/verify" 2>&1 ||
		{ bad "$name: systemd-analyze verify failed:"; cat "$tmp/verify"; }

	for line in 'Type=notify' 'NotifyAccess=main' 'UMask=0027' \
		    'ExecStart=/usr/bin/bourse '; do
		grep -q "^$line" "$unit" || bad "$name: no '$line'"
	done
	grep -Eq '^WatchdogSec=[1-9]' "$unit" || bad "$name: no WatchdogSec="
done
# the broker: a descriptor per connection, not systemd's default 1,024
grep -Eq '^LimitNOFILE=[0-9]{5,}$' "$src/contrib/bourse-broker.service" ||
	bad "bourse-broker.service: no LimitNOFILE= of 10,000 or more"
# the broker: not started again on a damaged database (cli/cmd_broker.c's
# BROKER_EXIT_DAMAGED), which would stop it at its first round, for ever
grep -q '^RestartPreventExitStatus=3$' "$src/contrib/bourse-broker.service" ||
	bad "bourse-broker.service: no RestartPreventExitStatus=3"
# the agent: its durable memory of action ids (--state-dir's default)
grep -q '^StateDirectory=bourse-agent$' "$src/contrib/bourse-agent.service" ||
	bad "bourse-agent.service: no StateDirectory=bourse-agent"

root=$tmp/root
mkdir -p "$root/etc"
: >"$root/etc/passwd"
: >"$root/etc/group"
systemd-sysusers --root="$root" "$src/contrib/sysusers.d/bourse.conf" \
	>"$tmp/sysusers" 2>&1 || { bad "systemd-sysusers failed:"; cat "$tmp/sysusers"; }
uid=$(awk -F: '$1 == "bourse" { print $3 }' "$root/etc/passwd")
gid=$(awk -F: '$1 == "bourse" { print $3 }' "$root/etc/group")
[ -n "$uid" ] && [ -n "$gid" ] || bad "sysusers.d: no user and group bourse"
grep -q '^bourse:.*:/usr/sbin/nologin$' "$root/etc/passwd" ||
	bad "sysusers.d: bourse may log in"
check_dir() { # PATH MODE UID GID
	got=$(stat -c '%a %u %g' "$root$1" 2>/dev/null)
	[ "$got" = "$2 $3 $4" ] || bad "tmpfiles.d: $1 is '$got', not '$2 $3 $4'"
}
# giving the directories their owners takes root (make test runs as root)
if [ "$(id -u)" -eq 0 ]; then
	systemd-tmpfiles --root="$root" --create \
		"$src/contrib/tmpfiles.d/bourse.conf" >"$tmp/tmpfiles" 2>&1 ||
		{ bad "systemd-tmpfiles failed:"; cat "$tmp/tmpfiles"; }
	check_dir /var/lib/bourse 750 "$uid" "$gid"
	check_dir /etc/bourse 750 0 "$gid"
else
	echo "systemd_units: not root: tmpfiles.d not applied (chown needs root)"
fi

[ "$fail" = 0 ] && echo "systemd_units: ok"
exit "$fail"
