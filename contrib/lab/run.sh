#!/bin/sh
# The whole lab (`make lab`, docs/lab.md): build, two hosts, LAB_GUESTS
# guests; run 1 with bourse acting (resizes and migrations automated, a drain
# of each host in turn to move guests there and back), run 2 on the same
# slices with static allocation (bourse recommending only, no actuator);
# then the report, its last line one JSON object.
# LAB_SECONDS (default 150) is run 1's length at least (its drains may take
# longer); run 2 lasts as long as run 1 did.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
. "$here/common.sh"
LAB_SECONDS=${LAB_SECONDS:-150}
LAB_ROUND_MS=${LAB_ROUND_MS:-2000}
export LAB_ROUND_MS
lab_num LAB_SECONDS "$LAB_SECONDS" 30 86400
lab_num LAB_ROUND_MS "$LAB_ROUND_MS" 100 60000
round_s=$(awk -v ms="$LAB_ROUND_MS" 'BEGIN { print ms / 1000 }')

sh "$here/build.sh" "$LAB_DIR"
sh "$here/hosts.sh" up

poll_pid=""
stop_poll() {
	[ -n "$poll_pid" ] && kill "$poll_pid" 2>/dev/null || true
	poll_pid=""
}
trap 'stop_poll' EXIT

# wait_moved HOST SECONDS: until no guest runs on HOST
wait_moved() {
	_end=$(( $(date +%s) + $2 ))
	while [ "$(date +%s)" -lt "$_end" ]; do
		[ -z "$(vsh "$1" list --name 2>/dev/null | grep .)" ] && return 0
		sleep 2
	done
	return 1
}

# run NAME RESIZE_MODE MIGRATE_MODE ACTUATOR DRAIN(0|1) SECONDS: sets ran_s,
# how long it ran (the drains may take it past SECONDS)
run() {
	dir="$LAB_STATE/$1"
	rm -rf "$dir"; mkdir -p "$dir"
	sh "$here/guests.sh" start
	sh "$here/bourse.sh" start "$dir" "$2" "$3" "$4"
	sh "$here/poll.sh" "$dir/poll.tsv" &
	poll_pid=$!
	lab_record_pid sh "$poll_pid"
	t0=$(date +%s)
	if [ "$5" = 1 ]; then
		db="$dir/bourse.db"
		sleep $((LAB_SECONDS * 2 / 5))
		lab_say "draining lab-a: its guests move to lab-b"
		"$BOURSE_BIN" host drain lab-a --reason "lab: migrate there" --db "$db" >/dev/null
		wait_moved a 60 || lab_say "lab-a still runs guests after 60 s ($(vsh a list --name | tr '\n' ' '))"
		"$BOURSE_BIN" host undrain lab-a --db "$db" >/dev/null
		sleep 10
		lab_say "draining lab-b: every guest moves to lab-a (back, for two of them)"
		"$BOURSE_BIN" host drain lab-b --reason "lab: and back" --db "$db" >/dev/null
		wait_moved b 60 || lab_say "lab-b still runs guests after 60 s ($(vsh b list --name | tr '\n' ' '))"
		"$BOURSE_BIN" host undrain lab-b --db "$db" >/dev/null
	fi
	left=$(( t0 + $6 - $(date +%s) ))
	[ "$left" -gt 0 ] && sleep "$left"
	ran_s=$(( $(date +%s) - t0 ))
	stop_poll
	sh "$here/bourse.sh" stop "$dir"
	cp -r "$LAB_STATE/console" "$dir/console"
	sh "$here/guests.sh" destroy
}

BOURSE_BIN=$(cd "$(dirname "${BOURSE:-build/bourse}")" && pwd)/$(basename "${BOURSE:-build/bourse}")
export BOURSE="$BOURSE_BIN"
lab_say "run 1 of 2: bourse acting, ${LAB_SECONDS}s or more"
run bourse automated automated libvirt 1 "$LAB_SECONDS"
# the static run lasts as long as the first did: the figures are totals
run1_s=$ran_s
lab_say "run 2 of 2: static allocation (bourse recommends only), ${run1_s}s, as long as run 1"
run static recommend recommend none 0 "$run1_s"

echo
echo "== bourse lab report ($(cat "$LAB_DIR/kernel-version") guests on $(qemu-system-x86_64 --version | head -n 1 | awk '{print "QEMU " $4}'), libvirt $(libvirtd --version | awk '{print $3}'))"
echo "-- with bourse (resizes and migrations automated):"
sh "$here/report.sh" "$LAB_STATE/bourse" "$round_s" | tee "$LAB_STATE/bourse.report" | grep -v '^figures:'
echo "-- static allocation (the same slices, nothing acting):"
sh "$here/report.sh" "$LAB_STATE/static" "$round_s" | tee "$LAB_STATE/static.report" | grep -v '^figures:'
fig() { grep '^figures:' "$LAB_STATE/$1.report" | tr ' ' '\n' | sed -n "s/^$2=//p"; }
printf '{"resizes":%s,"resizes_verified":%s,"migrations":%s,"migrations_verified":%s,"migrations_at_target":%s,"guests_alive":%s,"spikes":%s,"spike_to_balloon_rounds":%s,"spike_to_balloon_rounds_from_step":%s,"guest_swap_mib_bourse":%s,"guest_swap_mib_static":%s,"guest_oom_kills_bourse":%s,"guest_oom_kills_static":%s,"guest_passes_bourse":%s,"guest_passes_static":%s,"seconds_per_run":%s,"round_ms":%s}\n' \
	"$(fig bourse resizes)" "$(fig bourse resizes_verified)" "$(fig bourse migrations)" \
	"$(fig bourse migrations_verified)" "$(fig bourse migrations_at_target)" "$(fig bourse guests_alive)" "$(fig bourse spikes)" \
	"$(fig bourse spike_rounds)" "$(fig bourse spike_rounds_step)" "$(fig bourse swap_mib)" "$(fig static swap_mib)" \
	"$(fig bourse oom_kills)" "$(fig static oom_kills)" \
	"$(fig bourse passes)" "$(fig static passes)" \
	"$run1_s" "$LAB_ROUND_MS" | tee "$LAB_DIR/report.json"
