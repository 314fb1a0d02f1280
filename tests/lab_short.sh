#!/bin/sh
# The lab's short scenario (issue 17; docs/lab.md, "In make test"): two
# real QEMU guests (TCG) on two libvirt hosts in namespaces of this machine,
# a real broker and one `bourse agent --source libvirt --actuator libvirt`
# per host, resizes and migrations automated:
#   1. an automated resize, verified in the guest: the balloon virsh
#      dommemstat shows (`actual`) and the guest's MemTotal (`available`)
#      are the size the succeeded recommendation asked for;
#   2. a live migration (the broker's, after `bourse host drain`), verified
#      on both hosts: `virsh list` shows the guest on the target only;
#   3. the guest alive after it: its console (bourse-guestload) advancing;
#   4. (bug 8) the migrated guest's balloon, on the destination, at the
#      size the migration asked for (virsh dommemstat actual);
#   5. (bug 11) no host marked lost by the broker while it ran;
#   6. (bug 4) a guest under real memory pressure (its workload wanting
#      300 MiB in a balloon squeezed to 192: it swaps) reported with
#      pressure above 100, and a resize up of it created within 3 rounds;
#   7. the destination's agent's readings not held up behind the
#      migration (libvirt's queries on a domain still arriving wait for
#      the migration's job).
# usage: lab_short.sh BOURSE PLAIN_BOURSE SOURCE_DIR WORK_DIR
# Skipped (77, one line) unless root, namespaces work, libvirtd and QEMU >= 10
# are installed and the guest kernel can be had (apt-get download, once:
# kept in WORK_DIR). About 90 s; everything it starts is removed.
set -u
bourse=$1
[ -x "$2" ] && bourse=$2
src=$3
work=$4
skip() { echo "SKIP: lab_short: $*"; exit 77; }

[ "$(id -u)" = 0 ] || skip "needs root (namespaces, libvirtd)"
for c in libvirtd virsh qemu-system-x86_64 ip unshare busybox sqlite3 gcc; do
	command -v "$c" >/dev/null 2>&1 || skip "no $c (make deps)"
done
qv=$(qemu-system-x86_64 --version | awk 'NR == 1 { print $4 }')
case "$qv" in
[1-9][0-9].*) ;;
*) skip "QEMU $qv found, the lab needs >= 10 (Debian 12's 7.2 corrupts TCG guests in live migration; make deps)" ;;
esac
unshare --mount --uts --net true 2>/dev/null || skip "unshare of mount, uts and net namespaces refused here"
ip netns del blabt-probe 2>/dev/null
if ! ip netns add blabt-probe 2>/dev/null; then
	skip "ip netns add refused here"
fi
ip netns del blabt-probe

export LAB_DIR="$work/lab-short" LAB_NAME=blabt LAB_NET=10.77.1 LAB_PORT=7411
# every guest wants 60 MiB for 30 s, then 300 for 30 s, and so on
export LAB_GUESTS=2 LAB_START_MIB=384 LAB_STEP_S=5
export LAB_SERIES=60,60,60,60,60,60,300,300,300,300,300,300
export LAB_ROUND_MS=1000 LAB_COOLDOWN_S=2 LAB_POLL_S=1 LAB_MINIMUM_MIB=192
export BOURSE="$bourse"
lab="$src/contrib/lab"
# shellcheck source=../contrib/lab/common.sh
. "$lab/common.sh"
if ! sh "$lab/build.sh" "$LAB_DIR" >"$work/lab-short-build.log" 2>&1; then
	skip "cannot build the guest (kernel download?): $(tail -n 1 "$work/lab-short-build.log")"
fi

pass=0
fail=0
ok() { pass=$((pass + 1)); echo "ok: $*"; }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
dir="$LAB_STATE/short"
cleanup() {
	sh "$lab/bourse.sh" stop "$dir" >/dev/null 2>&1
	rm -rf "$work/lab-short-last"
	cp -r "$LAB_STATE" "$work/lab-short-last" 2>/dev/null
	sh "$lab/hosts.sh" down >/dev/null 2>&1
}
trap cleanup EXIT
sh "$lab/hosts.sh" down >/dev/null 2>&1    # what a killed run left behind
sh "$lab/hosts.sh" up || { echo "FAIL: the hosts did not start"; exit 1; }
sh "$lab/guests.sh" start || { echo "FAIL: the guests did not start"; exit 1; }
sh "$lab/bourse.sh" start "$dir" automated automated libvirt
db="$dir/bourse.db"

# wait_for SECONDS CMD...: until CMD succeeds
wait_for() {
	_end=$(( $(date +%s) + $1 )); shift
	while [ "$(date +%s)" -lt "$_end" ]; do
		"$@" && return 0
		sleep 1
	done
	return 1
}
console_t() { sed -n 's/^bgl: t=\([0-9]*\) .*/\1/p' "$LAB_STATE/console/$1.log" | tail -n 1; }
succeeded() {
	sqlite3 -separator ' ' "$db" "SELECT v.name, r.to_mib FROM recs r JOIN vms v ON v.id = r.vm_id
		WHERE r.state = 7 AND r.kind = $1 ORDER BY r.id LIMIT 1" 2>/dev/null | grep .
}
dommem() { vsh "$1" dommemstat "$2" 2>/dev/null | awk -v k="$3" '$1 == k { print $2 }'; }

# 1. an automated resize: the guests boot with 384 MiB and want 60 MiB
#    (half the time), so the market shrinks them (or grows them); their
#    Minimum is 192 MiB, where a 60 MiB workload does not swap and the
#    balloon can reach its target (at 128 MiB a booting guest on busy cores
#    was seen stuck 5 MiB above it)
if wait_for 120 succeeded 1 >/dev/null; then
	# shellcheck disable=SC2046
	set -- $(succeeded 1)
	vm=$1 mib=$2
	h=$(where_is "$vm")
	# the balloon gets there in well under a second on an idle machine;
	# a booting guest on busy cores can take many
	# (and the guest's MemTotal, from its statistics of the next period,
	# following: the old agent once failed here with it 17 MiB above)
	balloon_at() {
		_t=$(dommem "$h" "$vm" available)
		[ "$(dommem "$h" "$vm" actual)" = "$((mib * 1024))" ] &&
		[ -n "$_t" ] && [ "$_t" -le "$((mib * 1024))" ]
	}
	wait_for 30 balloon_at
	actual=$(dommem "$h" "$vm" actual)
	total=$(dommem "$h" "$vm" available)
	if [ "${actual:-0}" = "$((mib * 1024))" ] && [ -n "$total" ] && [ "$total" -le "$((mib * 1024))" ]; then
		ok "automated resize of $vm to $mib MiB: virsh dommemstat actual $actual KiB, guest MemTotal $total KiB"
	else
		bad "resize of $vm to $mib MiB succeeded in bourse, but virsh shows actual ${actual:-?} KiB, guest MemTotal ${total:-?} KiB"
	fi
else
	bad "no automated resize succeeded in 120 s ($(sqlite3 "$db" 'SELECT count(*) FROM recs' 2>/dev/null) recommendations; $dir/broker.log)"
fi

# 2. a live migration: drain lab-a, the broker moves lab-g1 to lab-b
t_before=$(console_t lab-g1)
"$bourse" host drain lab-a --reason "lab_short" --db "$db" >/dev/null ||
	bad "bourse host drain lab-a failed"
on_b_only() {
	vsh b list --name 2>/dev/null | grep -qx lab-g1 &&
	! vsh a list --name 2>/dev/null | grep -qx lab-g1
}
if wait_for 60 on_b_only; then
	if wait_for 10 succeeded 2 >/dev/null; then
		ok "live migration of lab-g1 lab-a -> lab-b: virsh list shows it on lab-b, not on lab-a; the recommendation succeeded"
		# 4. bug 8: its balloon there at the migration's target
		mig_mib=$(succeeded 2 | awk '{ print $2 }')
		at_target() { [ "$(dommem b lab-g1 actual)" = "$((mig_mib * 1024))" ]; }
		if wait_for 15 at_target; then
			ok "lab-g1's balloon on lab-b at the migration's target, $mig_mib MiB (virsh dommemstat actual; it had $(sqlite3 "$db" 'SELECT from_mib FROM recs WHERE kind = 2 AND state = 7 ORDER BY id LIMIT 1') MiB on lab-a)"
		else
			bad "lab-g1 migrated to $mig_mib MiB, but its balloon on lab-b is $(dommem b lab-g1 actual) KiB"
		fi
	else
		bad "lab-g1 moved to lab-b, but no migrate recommendation succeeded in bourse"
	fi
	# 3. alive after: its console advances
	t_after=$(console_t lab-g1)
	console_past() { [ "$(console_t lab-g1)" -ge "$1" ] 2>/dev/null; }
	if wait_for 30 console_past $(( ${t_after:-0} + 3 )); then
		ok "lab-g1 alive after the migration: console t=${t_before:-?} before, t=$(console_t lab-g1) now"
	else
		bad "lab-g1's console stopped after the migration at t=${t_after:-?}"
	fi
else
	bad "lab-g1 not on lab-b alone 60 s after the drain: lab-a runs '$(vsh a list --name | tr '\n' ' ')', lab-b '$(vsh b list --name | tr '\n' ' ')' ($(sqlite3 "$db" "SELECT state || ' ' || state_reason FROM recs WHERE kind = 2" 2>/dev/null | tr '\n' ';'))"
fi

# 6. bug 4: pressure above 100 (the guest swapping, its workload wanting
#    300 MiB), then a resize up of that guest created within 3 rounds
short_up() {
	sqlite3 "$db" "SELECT v.name || ' ' || s.round || ' ' || s.reported_pressure || ' ' ||
		(SELECT MIN(r.round) FROM recs r WHERE r.vm_id = s.vm_id AND r.kind = 1
		   AND r.to_mib > r.from_mib AND r.round BETWEEN s.round AND s.round + 3)
		FROM samples s JOIN vms v ON v.id = s.vm_id
		WHERE s.reported_pressure > 100 AND s.assigned_mib < 300 AND EXISTS (
			SELECT 1 FROM recs r WHERE r.vm_id = s.vm_id AND r.kind = 1
			AND r.to_mib > r.from_mib AND r.round BETWEEN s.round AND s.round + 3)
		ORDER BY s.round LIMIT 1" 2>/dev/null | grep .
}
if wait_for 75 short_up >/dev/null; then
	# shellcheck disable=SC2046
	set -- $(short_up)
	ok "$1 short of memory at round $2 (pressure $3), a resize up created at round $4"
else
	bad "no guest seen short (pressure > 100 below 300 MiB) and grown within 3 rounds: max pressure $(sqlite3 "$db" 'SELECT MAX(reported_pressure) FROM samples' 2>/dev/null)"
fi

# 5. bug 11: no host lost while the guests booted, resized and migrated
if grep -q 'lost (silent' "$dir/broker.log"; then
	bad "the broker marked a host lost: $(grep 'lost (silent' "$dir/broker.log" | head -n 2 | tr '\n' ' ')"
else
	ok "no host marked lost in the broker's log, migration included"
fi

# 7. the destination's agent (lab-b) never waited behind the migration:
#    libvirt's queries on a domain still arriving ("paused (starting up)")
#    wait for the migration's job (1.3 s here before the fix, 2-4 s in
#    make lab, every VM's bid held up); the source skips a domain a
#    migration holds paused (agents/source_libvirt.c). The source host's
#    agent is not checked: its readings were seen taking just over a round
#    (1.1 s) on a loaded machine with or without the fix.
if grep -q 'the source is still reading' "$dir/agent-b.log"; then
	bad "the destination's agent waited: $(grep -h 'the source is still reading\|the source answered' "$dir/agent-b.log" | head -n 2 | tr '\n' ' ')"
else
	ok "the destination's agent never waited more than a round for a reading, migration included"
fi

echo "lab_short: $pass passed, $fail failed"
[ "$fail" = 0 ] || { echo "logs: $work/lab-short-last"; tail -n 5 "$dir"/*.log; }
[ "$fail" = 0 ]
