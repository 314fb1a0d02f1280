#!/bin/sh
# Start the lab's guests on its two hosts (docs/lab.md):
#   sh contrib/lab/guests.sh start|destroy
# LAB_GUESTS (default 4) guests lab-g1.., the first half on lab-a, the rest
# on lab-b; guest i replays the i-th VM of LAB_VMS (Bitbrains ids in
# LAB_TRACE) through bourse-guestload, LAB_STEPS steps of LAB_STEP_S seconds
# scaled to LAB_FLOOR_MIB..LAB_TOP_MIB (contrib/lab/slice.sh); or, with
# LAB_SERIES=MiB,MiB,... set, every guest replays that series (no trace
# needed: tests/lab_short.sh). Each guest:
# TCG (type qemu), machine pc with ACPI (without it libvirt 9.0 passes
# -no-acpi, which QEMU 10 no longer has), 1 vCPU, LAB_MAX_MIB maximum, started with
# LAB_START_MIB, direct kernel boot, a virtio balloon with a statistics
# period, no disk and no network; its console (ttyS0) is appended to
# $LAB_DIR/state/console/NAME.log (kept across migrations).
# LAB_DISK_MIB (default 0: none) gives each guest a local raw disk of that
# size (virtio, unused by the guest), /var/lib/libvirt/images/NAME.raw in
# its host's namespace, beginning with the line "bourse-lab-disk NAME"; an
# empty file of the same size waits on the other host (a migration with
# --migrate-disks copy fills it: contrib/lab/disks.sh). libvirt refuses to
# live-migrate such a guest without copy or unsafe.
set -eu
. "$(dirname "$0")/common.sh"
here=$(cd "$(dirname "$0")" && pwd)
LAB_GUESTS=${LAB_GUESTS:-4}
LAB_TRACE=${LAB_TRACE:-$here/../../../shared/traces/bitbrains-rnd/2013-7}
[ -d "$LAB_TRACE" ] || LAB_TRACE=/work/shared/traces/bitbrains-rnd/2013-7
LAB_VMS=${LAB_VMS:-14 36 60 1 43 24}
LAB_STEPS=${LAB_STEPS:-40}
LAB_STEP_S=${LAB_STEP_S:-3}
LAB_FLOOR_MIB=${LAB_FLOOR_MIB:-48}
LAB_TOP_MIB=${LAB_TOP_MIB:-400}
LAB_MAX_MIB=${LAB_MAX_MIB:-512}
LAB_START_MIB=${LAB_START_MIB:-256}
LAB_STATS_S=${LAB_STATS_S:-2}
LAB_DISK_MIB=${LAB_DISK_MIB:-0}
lab_num LAB_GUESTS "$LAB_GUESTS" 1 $(echo $LAB_VMS | wc -w)
lab_num LAB_STEPS "$LAB_STEPS" 1 400
lab_num LAB_STEP_S "$LAB_STEP_S" 1 3600
lab_num LAB_FLOOR_MIB "$LAB_FLOOR_MIB" 0 4096
lab_num LAB_TOP_MIB "$LAB_TOP_MIB" "$LAB_FLOOR_MIB" 4096
lab_num LAB_MAX_MIB "$LAB_MAX_MIB" 128 65536
lab_num LAB_START_MIB "$LAB_START_MIB" 64 "$LAB_MAX_MIB"
lab_num LAB_STATS_S "$LAB_STATS_S" 1 60
lab_num LAB_DISK_MIB "$LAB_DISK_MIB" 0 1024
if [ -n "${LAB_SERIES:-}" ]; then
	case "$LAB_SERIES" in
	*[!0-9,]*|,*|*,|*,,*) echo "lab: LAB_SERIES must be MiB,MiB,... (whole numbers), not '$LAB_SERIES'" >&2; exit 2 ;;
	esac
fi

disk_xml() {
	[ "$LAB_DISK_MIB" -gt 0 ] || return 0
	cat <<XML
    <disk type='file' device='disk'>
      <driver name='qemu' type='raw'/>
      <source file='/var/lib/libvirt/images/$1.raw'/>
      <target dev='vda' bus='virtio'/>
    </disk>
XML
}

# make_disks NAME HOST: the guest's disk on HOST (with its marker line),
# and an empty one of the same size on the other host
make_disks() {
	[ "$LAB_DISK_MIB" -gt 0 ] || return 0
	for _d in $LAB_HOSTS; do
		_f="$(host_dir "$_d")/lib/images/$1.raw"
		mkdir -p "$(dirname "$_f")"
		rm -f "$_f"
		[ "$_d" = "$2" ] && echo "bourse-lab-disk $1" >"$_f"
		truncate -s "${LAB_DISK_MIB}M" "$_f"
	done
}

domain_xml() {
	name=$1 series=$2
	cat <<XML
<domain type='qemu'>
  <name>$name</name>
  <memory unit='MiB'>$LAB_MAX_MIB</memory>
  <currentMemory unit='MiB'>$LAB_START_MIB</currentMemory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>$LAB_DIR/vmlinuz</kernel>
    <initrd>$LAB_DIR/initramfs.gz</initrd>
    <cmdline>console=ttyS0 quiet panic=-1 bgl.step=$LAB_STEP_S bgl.d=$series</cmdline>
  </os>
  <features><acpi/></features>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>destroy</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <controller type='usb' model='none'/>
$(disk_xml "$name")
    <serial type='file'>
      <source path='$LAB_STATE/console/$name.log' append='on'/>
      <target port='0'/>
    </serial>
    <memballoon model='virtio'>
      <stats period='$LAB_STATS_S'/>
    </memballoon>
  </devices>
</domain>
XML
}

start() {
	[ -e "$LAB_STATE/pids" ] || lab_die "the hosts are not up (contrib/lab/hosts.sh up)"
	[ -e "$LAB_DIR/initramfs.gz" ] || lab_die "no initramfs in $LAB_DIR (contrib/lab/build.sh)"
	mkdir -p "$LAB_STATE/console"
	: >"$LAB_STATE/guests"
	i=1
	half=$(( (LAB_GUESTS + 1) / 2 ))
	set -- $LAB_VMS
	while [ "$i" -le "$LAB_GUESTS" ]; do
		[ $# -gt 0 ] || lab_die "LAB_VMS has fewer than $LAB_GUESTS trace VMs"
		vm=$1; shift
		name="lab-g$i"
		if [ "$i" -le "$half" ]; then h=a; else h=b; fi
		if [ -n "${LAB_SERIES:-}" ]; then
			vm=series line="0 $LAB_SERIES"
		else
			line=$(sh "$here/slice.sh" "$LAB_TRACE/$vm.csv.gz" "$LAB_STEPS" "$LAB_FLOOR_MIB" "$LAB_TOP_MIB") ||
				lab_die "cannot slice $LAB_TRACE/$vm.csv.gz"
		fi
		off=${line%% *} series=${line#* }
		steps=$(echo "$series" | tr ',' '\n' | wc -l)
		domain_xml "$name" "$series" >"$LAB_STATE/$name.xml"
		make_disks "$name" "$h"
		: >"$LAB_STATE/console/$name.log"
		vsh "$h" define "$LAB_STATE/$name.xml" >/dev/null
		vsh "$h" start "$name" >/dev/null
		echo "$name $h $vm $off $series" >>"$LAB_STATE/guests"
		lab_say "$name on $(host_name "$h"): ${LAB_SERIES:+the given series}${LAB_SERIES:-trace VM $vm from step $off}, $steps steps of ${LAB_STEP_S}s, ${LAB_START_MIB}/${LAB_MAX_MIB} MiB"
		i=$((i + 1))
	done
}

destroy() {
	for h in $LAB_HOSTS; do
		for dom in $(vsh "$h" list --all --name 2>/dev/null || true); do
			vsh "$h" destroy "$dom" >/dev/null 2>&1 || true
			vsh "$h" undefine "$dom" >/dev/null 2>&1 || true
		done
	done
}

case "${1:-}" in
start) start ;;
destroy) destroy ;;
*) echo "usage: guests.sh start|destroy" >&2; exit 2 ;;
esac
