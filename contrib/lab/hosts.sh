#!/bin/sh
# Two libvirt "hosts" on this machine (docs/lab.md):
#   sh contrib/lab/hosts.sh up|down
# Each host X (a, b) is a network namespace $LAB_NAME-X (the two joined by
# a veth pair, $LAB_NET.1 and .2) in which a mount + UTS namespace runs its
# own libvirtd: /etc/libvirt, /run/libvirt, /var/lib/libvirt,
# /var/log/libvirt and /var/cache/libvirt bind-mounted from
# $LAB_DIR/state/host-X, its own host_uuid, listening on TCP (auth none)
# only on its private address. `down` destroys the domains, stops the
# daemons by their recorded PIDs and removes the namespaces.
set -eu
. "$(dirname "$0")/common.sh"

write_conf() {
	h=$1 d=$2 addr=$3
	uuid_file="$d/host_uuid"
	[ -s "$uuid_file" ] || cat /proc/sys/kernel/random/uuid >"$uuid_file"
	cat >"$d/etc/libvirtd.conf" <<CONF
listen_tls = 0
listen_tcp = 1
listen_addr = "$addr"
auth_tcp = "none"
auth_unix_rw = "none"
auth_unix_ro = "none"
host_uuid = "$(cat "$uuid_file")"
log_outputs = "3:file:/var/log/libvirt/libvirtd.log"
CONF
	cat >"$d/etc/qemu.conf" <<CONF
security_driver = "none"
cgroup_controllers = [ ]
namespaces = [ ]
user = "root"
group = "root"
dynamic_ownership = 0
remember_owner = 0
stdio_handler = "file"
migration_address = "$addr"
migration_host = "$addr"
CONF
}

up_host() {
	h=$1
	ns=$(host_ns "$h") addr=$(host_addr "$h") d=$(host_dir "$h")
	mkdir -p "$d/etc" "$d/run" "$d/lib" "$d/log" "$d/cache"
	write_conf "$h" "$d" "$addr"
	rm -f "$d/libvirtd.pid"
	in_ns "$h" unshare --mount --uts --propagation private sh -c '
		set -e
		hostname "$1"
		mount --bind "$2/etc" /etc/libvirt
		mount --bind "$2/run" /run/libvirt
		mount --bind "$2/lib" /var/lib/libvirt
		mount --bind "$2/log" /var/log/libvirt
		mount --bind "$2/cache" /var/cache/libvirt
		exec libvirtd -d -l -p "$2/libvirtd.pid"' sh "$(host_name "$h")" "$d"
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		[ -s "$d/libvirtd.pid" ] && break
		sleep 0.5
	done
	[ -s "$d/libvirtd.pid" ] || lab_die "libvirtd of $(host_name "$h") did not start (see $d/log/libvirtd.log)"
	lab_record_pid libvirtd "$(cat "$d/libvirtd.pid")"
	lab_say "$(host_name "$h"): libvirtd $(cat "$d/libvirtd.pid") on $(host_uri "$h")"
}

up() {
	[ "$(id -u)" = 0 ] || lab_die "the lab needs root (namespaces, libvirtd)"
	command -v libvirtd >/dev/null || lab_die "libvirtd not found (make deps)"
	[ -e "$LAB_STATE/pids" ] && lab_die "a lab is up already ($LAB_STATE/pids): make lab-down first"
	mkdir -p "$LAB_STATE" /run/libvirt /var/lib/libvirt /var/log/libvirt /var/cache/libvirt /etc/libvirt
	: >"$LAB_STATE/pids"
	for h in $LAB_HOSTS; do
		ip netns add "$(host_ns "$h")"
		echo "$(host_ns "$h")" >>"$LAB_STATE/netns"
		in_ns "$h" ip link set lo up
	done
	ip link add "$LAB_NAME-va" type veth peer name "$LAB_NAME-vb"
	for h in $LAB_HOSTS; do
		ip link set "$LAB_NAME-v$h" netns "$(host_ns "$h")"
		in_ns "$h" ip addr add "$(host_addr "$h")/24" dev "$LAB_NAME-v$h"
		in_ns "$h" ip link set "$LAB_NAME-v$h" up
	done
	for h in $LAB_HOSTS; do
		up_host "$h"
	done
}

# kill PID if it is still the process we recorded (by its name)
stop_pid() {
	name=$1 pid=$2
	[ -d "/proc/$pid" ] || return 0
	comm=$(cat "/proc/$pid/comm" 2>/dev/null || true)
	case "$comm" in
	"$name"*|qemu*|bourse*) kill "$pid" 2>/dev/null || true ;;
	*) return 0 ;;
	esac
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		[ -d "/proc/$pid" ] || return 0
		sleep 0.3
	done
	kill -9 "$pid" 2>/dev/null || true
}

down() {
	[ -d "$LAB_STATE" ] || { lab_say "nothing to take down"; return 0; }
	# the domains first (their QEMU processes), while libvirtd still runs
	for h in $LAB_HOSTS; do
		d=$(host_dir "$h")
		for dom in $(vsh "$h" list --name 2>/dev/null || true); do
			vsh "$h" destroy "$dom" >/dev/null 2>&1 || true
		done
		for p in "$d"/run/qemu/*.pid; do
			[ -s "$p" ] && stop_pid qemu "$(cat "$p")"
		done
	done
	if [ -e "$LAB_STATE/pids" ]; then
		# the newest first: agents and broker before the daemons
		tac "$LAB_STATE/pids" | while read -r name pid; do
			stop_pid "$name" "$pid"
		done
	fi
	if [ -e "$LAB_STATE/netns" ]; then
		for ns in $(cat "$LAB_STATE/netns"); do
			ip netns del "$ns" 2>/dev/null || true
		done
	fi
	ip link del "$LAB_NAME-va" 2>/dev/null || true
	rm -rf "$LAB_STATE"
	lab_say "down: domains destroyed, daemons stopped, namespaces removed"
}

case "${1:-}" in
up) up ;;
down) down ;;
*) echo "usage: hosts.sh up|down" >&2; exit 2 ;;
esac
