#!/bin/sh
# bourse on the lab (docs/lab.md): the broker in host a's network namespace
# on $LAB_NET.1:$LAB_PORT, and one `bourse agent --source libvirt --actuator
# libvirt` per host, reading and acting on its host's libvirtd over TCP.
#   sh contrib/lab/bourse.sh start DIR RESIZE_MODE MIGRATE_MODE ACTUATOR
#   sh contrib/lab/bourse.sh stop DIR
# DIR gets bourse.db, broker.log, agent-a.log, agent-b.log and pids.
# RESIZE_MODE and MIGRATE_MODE are the modes of a new database (bourse
# broker --mode-*; recommend, manual, automated); ACTUATOR is the agents'
# (libvirt, or none for the static run). LAB_ROUND_MS (default 2000) is the
# round and the agents' bid interval; LAB_COOLDOWN_S (default 4) the VM
# cooldown (the default 600 s would allow one action per VM in a lab run);
# LAB_MINIMUM_MIB (default 128) the VMs' Minimum; LAB_MIGRATE_DISKS
# (default shared) the agents' --migrate-disks (contrib/lab/disks.sh: copy).
set -eu
. "$(dirname "$0")/common.sh"
BOURSE=${BOURSE:-build/bourse}
BOURSE=$(cd "$(dirname "$BOURSE")" && pwd)/$(basename "$BOURSE")
LAB_PORT=${LAB_PORT:-7411}
LAB_ROUND_MS=${LAB_ROUND_MS:-2000}
LAB_COOLDOWN_S=${LAB_COOLDOWN_S:-4}
LAB_MINIMUM_MIB=${LAB_MINIMUM_MIB:-128}
LAB_MIGRATE_DISKS=${LAB_MIGRATE_DISKS:-shared}
case "$LAB_MIGRATE_DISKS" in
shared|copy|unsafe) ;;
*) echo "lab: LAB_MIGRATE_DISKS must be shared, copy or unsafe, not '$LAB_MIGRATE_DISKS'" >&2; exit 2 ;;
esac
lab_num LAB_PORT "$LAB_PORT" 1 65535
lab_num LAB_ROUND_MS "$LAB_ROUND_MS" 100 60000
lab_num LAB_COOLDOWN_S "$LAB_COOLDOWN_S" 0 86400
lab_num LAB_MINIMUM_MIB "$LAB_MINIMUM_MIB" 0 65536
broker_ep="tcp://$(host_addr a):$LAB_PORT"

start() {
	dir=$1 rmode=$2 mmode=$3 act=$4
	[ -x "$BOURSE" ] || lab_die "no bourse binary at $BOURSE (make build)"
	mkdir -p "$dir"
	dir=$(cd "$dir" && pwd)
	: >"$dir/pids"
	# ip netns exec execs bourse: $! is the broker's own PID
	ip netns exec "$(host_ns a)" "$BOURSE" broker --listen "$broker_ep" --insecure --db "$dir/bourse.db" \
		--round-ms "$LAB_ROUND_MS" --vm-cooldown-s "$LAB_COOLDOWN_S" \
		--mode-resize-up "$rmode" --mode-resize-down "$rmode" \
		--mode-migrate "$mmode" >"$dir/broker.log" 2>&1 &
	bpid=$!
	echo "broker $bpid" >>"$dir/pids"
	lab_record_pid bourse "$bpid"
	sleep 1
	if ! [ -d "/proc/$bpid" ]; then
		cat "$dir/broker.log" >&2
		lab_die "the broker did not start"
	fi
	disks=""
	[ "$act" = libvirt ] && disks="--migrate-disks $LAB_MIGRATE_DISKS"
	for h in $LAB_HOSTS; do
		# shellcheck disable=SC2086
		ip netns exec "$(host_ns "$h")" "$BOURSE" agent --host "$(host_name "$h")" --source libvirt \
			--uri "$(host_uri "$h")" --actuator "$act" --broker "$broker_ep" \
			--insecure --minimum-mib "$LAB_MINIMUM_MIB" \
			--interval-ms "$LAB_ROUND_MS" $disks --verbose >"$dir/agent-$h.log" 2>&1 &
		echo "agent-$h $!" >>"$dir/pids"
		lab_record_pid bourse $!
	done
	lab_say "bourse: broker on $broker_ep (resizes $rmode, migrations $mmode), agents --actuator $act; logs in $dir"
}

stop() {
	dir=$1
	[ -e "$dir/pids" ] || return 0
	tac "$dir/pids" | while read -r _ pid; do
		if [ -d "/proc/$pid" ] && grep -q bourse "/proc/$pid/comm" 2>/dev/null; then
			kill "$pid" 2>/dev/null || true
		fi
	done
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		alive=0
		while read -r _ pid; do
			[ -d "/proc/$pid" ] && alive=1
		done <"$dir/pids"
		[ "$alive" = 0 ] && break
		sleep 0.5
	done
	rm -f "$dir/pids"
}

case "${1:-}" in
start) [ $# -eq 5 ] || lab_die "usage: bourse.sh start DIR RESIZE_MODE MIGRATE_MODE ACTUATOR"; start "$2" "$3" "$4" "$5" ;;
stop) [ $# -eq 2 ] || lab_die "usage: bourse.sh stop DIR"; stop "$2" ;;
*) echo "usage: bourse.sh start|stop DIR ..." >&2; exit 2 ;;
esac
