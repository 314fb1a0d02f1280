#!/bin/sh
# Build the lab's guest: kernel, workload program, initramfs (docs/lab.md).
#   sh contrib/lab/build.sh [LAB_DIR]      (default build/lab)
# The kernel is Debian's cloud kernel, downloaded with `apt-get download`
# (never installed: /boot is untouched) and unpacked with dpkg-deb. The
# initramfs holds busybox-static, the virtio, balloon and zram modules, and
# bourse-guestload (contrib/lab/guest/), built static with warnings as errors.
# Idempotent: what is already there is kept.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
LAB=${1:-${LAB_DIR:-build/lab}}
mkdir -p "$LAB"
LAB=$(cd "$LAB" && pwd)
MODS="virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci
virtio_balloon zsmalloc lzo lzo-rle zram"

die() { echo "lab build: $*" >&2; exit 1; }

# 1. the kernel: the package linux-image-cloud-amd64 depends on
if [ ! -e "$LAB/vmlinuz" ]; then
	pkg=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null |
	      awk '/Depends: linux-image-/ {print $2; exit}')
	[ -n "$pkg" ] || die "cannot find the package linux-image-cloud-amd64 depends on (apt-cache depends)"
	mkdir -p "$LAB/dl"
	if ! ls "$LAB/dl/${pkg}_"*.deb >/dev/null 2>&1; then
		echo "lab build: apt-get download $pkg"
		(cd "$LAB/dl" && apt-get download "$pkg" 2>&1 | grep -v '^W: Download is performed unsandboxed') ||
			die "apt-get download $pkg failed"
	fi
	rm -rf "$LAB/kroot"
	dpkg-deb -x "$(ls "$LAB/dl/${pkg}_"*.deb | head -n 1)" "$LAB/kroot"
	kver=$(ls "$LAB/kroot/lib/modules" | head -n 1)
	cp "$LAB/kroot/boot/vmlinuz-$kver" "$LAB/vmlinuz.tmp"
	echo "$kver" >"$LAB/kernel-version"
	mv "$LAB/vmlinuz.tmp" "$LAB/vmlinuz"
fi
kver=$(cat "$LAB/kernel-version")

# 2. the workload program
gl="$LAB/bourse-guestload"
if [ ! -e "$gl" ] || [ "$here/guest/bourse-guestload.c" -nt "$gl" ]; then
	gcc -static -O2 -std=c11 -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
	    -Wmissing-prototypes -Wformat=2 -Wvla -I"$src/util" \
	    -o "$gl" "$here/guest/bourse-guestload.c" || die "cannot build bourse-guestload"
fi

# 3. the initramfs
ird="$LAB/initramfs.gz"
if [ ! -e "$ird" ] || [ "$gl" -nt "$ird" ] || [ "$here/guest/init" -nt "$ird" ]; then
	root="$LAB/initroot"
	rm -rf "$root"
	mkdir -p "$root/bin" "$root/lib/modules" "$root/proc" "$root/sys" "$root/dev" "$root/tmp"
	[ -x /bin/busybox ] || die "busybox-static is not installed (make deps)"
	cp /bin/busybox "$root/bin/busybox"
	for a in sh mount insmod mkswap swapon sleep cat echo; do
		ln -s busybox "$root/bin/$a"
	done
	for m in $MODS; do
		f=$(find "$LAB/kroot/lib/modules/$kver" -name "$m.ko" -o -name "$m.ko.xz" | head -n 1)
		[ -n "$f" ] || die "module $m not found in $kver"
		case "$f" in
		*.xz) xz -dc "$f" >"$root/lib/modules/$m.ko" ;;
		*) cp "$f" "$root/lib/modules/$m.ko" ;;
		esac
	done
	echo "$MODS" | tr '\n' ' ' >"$root/lib/modules/order"
	cp "$gl" "$root/bin/bourse-guestload"
	cp "$here/guest/init" "$root/init"
	chmod 755 "$root/init"
	(cd "$root" && find . | busybox cpio -o -H newc 2>/dev/null) | gzip -9 >"$ird.tmp"
	mv "$ird.tmp" "$ird"
	rm -rf "$root"
fi
echo "lab build: kernel $kver, $(du -k "$ird" | cut -f1) KiB initramfs in $LAB"
