# Shared by the lab's scripts (docs/lab.md); sourced, not run.
# LAB_DIR: where everything lives (default build/lab); LAB_NAME: the prefix
# of the network namespaces and veth ends (default blab; tests use another).
LAB_DIR=${LAB_DIR:-build/lab}
mkdir -p "$LAB_DIR"
LAB_DIR=$(cd "$LAB_DIR" && pwd)
LAB_NAME=${LAB_NAME:-blab}
LAB_NET=${LAB_NET:-10.77.0}
LAB_HOSTS="a b"
LAB_STATE="$LAB_DIR/state"

lab_die() { echo "lab: $*" >&2; exit 1; }
lab_say() { echo "lab: $*"; }

# host_addr a -> 10.77.0.1
host_addr() {
	case $1 in a) echo "$LAB_NET.1" ;; b) echo "$LAB_NET.2" ;; *) return 1 ;; esac
}
host_ns() { echo "$LAB_NAME-$1"; }
host_name() { echo "lab-$1"; }
host_uri() { echo "qemu+tcp://$(host_addr "$1")/system"; }
host_dir() { echo "$LAB_STATE/host-$1"; }

# in_ns a CMD...: run CMD in host a's network namespace
in_ns() {
	_h=$1; shift
	ip netns exec "$(host_ns "$_h")" "$@"
}

# vsh a ARGS...: virsh on host a, over its TCP listener
vsh() {
	_h=$1; shift
	in_ns "$_h" virsh -q -c "$(host_uri "$_h")" "$@"
}

# record a PID we started, for lab-down
lab_record_pid() { echo "$1 $2" >>"$LAB_STATE/pids"; }

# which host runs domain NAME now (a, b, or nothing)
where_is() {
	for _h in $LAB_HOSTS; do
		if vsh "$_h" list --name 2>/dev/null | grep -qx "$1"; then
			echo "$_h"
			return 0
		fi
	done
	return 1
}

# lab_num NAME VALUE MIN MAX: a setting that must be an integer in range;
# anything else is a usage error (exit 2), named
lab_num() {
	case "$2" in
	''|*[!0-9]*) echo "lab: $1 must be a whole number, not '$2'" >&2; exit 2 ;;
	esac
	if [ "$2" -lt "$3" ] || [ "$2" -gt "$4" ]; then
		echo "lab: $1 must be between $3 and $4, not $2" >&2
		exit 2
	fi
}
