#!/bin/sh
# Bug 9 of issue 17 on real QEMU (docs/lab.md, "A guest with a local
# disk"): one guest with a local raw disk (LAB_DISK_MIB, default 16 MiB,
# its first line "bourse-lab-disk lab-g1") on lab-a, the agents run with
# --migrate-disks copy, `bourse host drain lab-a`; then checks that
#   1. the broker's migration succeeded and virsh lists the guest on
#      lab-b only;
#   2. lab-b's copy of the disk (its own file, the hosts' /var/lib/libvirt
#      being separate) begins with the marker: the disk was copied;
#   3. the guest's console advances after it.
# Needs the lab's hosts up and no guest running (after `make lab`, or
# `contrib/lab/build.sh && contrib/lab/hosts.sh up`). Exit 0 if all hold.
#   sh contrib/lab/disks.sh
set -u
here=$(cd "$(dirname "$0")" && pwd)
export LAB_GUESTS=1 LAB_SERIES=60 LAB_STEP_S=5 LAB_START_MIB=256
export LAB_DISK_MIB=${LAB_DISK_MIB:-16} LAB_MIGRATE_DISKS=copy
export LAB_ROUND_MS=${LAB_ROUND_MS:-1000} LAB_COOLDOWN_S=2
. "$here/common.sh"
BOURSE=${BOURSE:-build/bourse}
BOURSE=$(cd "$(dirname "$BOURSE")" && pwd)/$(basename "$BOURSE")
export BOURSE
[ -e "$LAB_STATE/pids" ] || lab_die "the hosts are not up (make lab, or contrib/lab/hosts.sh up)"
[ -z "$(vsh a list --name; vsh b list --name)" ] || lab_die "guests are running: contrib/lab/guests.sh destroy first"
dir="$LAB_STATE/disks"
rm -rf "$dir"
fail=0
bad() { fail=1; echo "FAIL: $*"; }
wait_for() {
	_end=$(( $(date +%s) + $1 )); shift
	while [ "$(date +%s)" -lt "$_end" ]; do
		"$@" && return 0
		sleep 1
	done
	return 1
}
console_t() { sed -n 's/^bgl: t=\([0-9]*\) .*/\1/p' "$LAB_STATE/console/lab-g1.log" | tail -n 1; }
booted() { [ -n "$(console_t)" ]; }
on_b_only() { vsh b list --name | grep -qx lab-g1 && ! vsh a list --name | grep -qx lab-g1; }

sh "$here/guests.sh" start || exit 1
sh "$here/bourse.sh" start "$dir" recommend automated libvirt || exit 1
wait_for 120 booted || bad "lab-g1 did not boot in 120 s"
sleep 3
"$BOURSE" host drain lab-a --reason "lab: a local disk, copied" --db "$dir/bourse.db" >/dev/null
if wait_for 90 on_b_only; then
	mig_ok() { sqlite3 "$dir/bourse.db" "SELECT state_reason FROM recs WHERE kind = 2 AND state = 7" 2>/dev/null | grep .; }
	wait_for 20 mig_ok >/dev/null
	st=$(mig_ok | head -n 1)
	[ -n "$st" ] && echo "ok: lab-g1 with a ${LAB_DISK_MIB} MiB local disk migrated lab-a -> lab-b (--migrate-disks copy): $st" ||
		bad "lab-g1 on lab-b, but no migration succeeded in bourse"
	if head -c 64 "$(host_dir b)/lib/images/lab-g1.raw" | grep -q '^bourse-lab-disk lab-g1'; then
		echo "ok: lab-b's copy of the disk begins with the marker written on lab-a"
	else
		bad "lab-b's disk file does not hold the marker: not copied"
	fi
	t=$(console_t)
	past() { [ "$(console_t)" -ge $(( ${t:-0} + 3 )) ] 2>/dev/null; }
	wait_for 30 past && echo "ok: lab-g1 alive after it: console t=$t, then $(console_t)" ||
		bad "lab-g1's console stopped at t=$t"
else
	bad "lab-g1 not on lab-b alone 90 s after the drain ($(sqlite3 "$dir/bourse.db" "SELECT state || ' ' || state_reason FROM recs WHERE kind = 2" | tr '\n' ';'))"
fi
sh "$here/bourse.sh" stop "$dir"
sh "$here/guests.sh" destroy
rm -f "$(host_dir a)/lib/images/lab-g1.raw" "$(host_dir b)/lib/images/lab-g1.raw"
exit "$fail"
