#!/bin/sh
# The lab's observer (docs/lab.md): every LAB_POLL_S seconds, one line per
# running guest, as both hosts' libvirtd see it (virsh domstats --balloon
# --nowait on each: without --nowait a guest being migrated holds the
# query until the migration's job ends, and the observer went blind for
# 5 s at every migration; the swap counters of such a guest are then "-")
# and as its console shows it (the last bourse-guestload line):
#   epoch_s guest host balloon_kib swap_in_kib swap_out_kib guest_t want_mib held_mib
# ("-" for what is not known yet). Appends to FILE until killed.
#   sh contrib/lab/poll.sh FILE
set -eu
. "$(dirname "$0")/common.sh"
out=$1
LAB_POLL_S=${LAB_POLL_S:-1}
lab_num LAB_POLL_S "$LAB_POLL_S" 1 60
while :; do
	now=$(date +%s)
	for h in $LAB_HOSTS; do
		vsh "$h" domstats --balloon --list-active --nowait 2>/dev/null |
		awk -v h="$h" -v now="$now" -v cons="$LAB_STATE/console" '
		function flush() {
			if (dom == "") return
			t = "-"; w = "-"; held = "-"; line = ""
			f = cons "/" dom ".log"
			while ((getline l < f) > 0) if (l ~ /^bgl: t=/) line = l
			close(f)
			if (line != "") {
				n = split(line, a, /[ =]/)
				for (i = 1; i < n; i++) {
					if (a[i] == "t") t = a[i + 1]
					if (a[i] == "want") w = a[i + 1]
					if (a[i] == "held") held = a[i + 1]
				}
			}
			print now, dom, h, cur, (si == "" ? "-" : si), (so == "" ? "-" : so), t, w, held
			dom = ""; cur = "-"; si = ""; so = ""
		}
		/^Domain:/ { flush(); dom = $2; gsub(/\047/, "", dom); cur = "-" }
		/balloon.current=/ { split($1, a, "="); cur = a[2] }
		/balloon.swap_in=/ { split($1, a, "="); si = a[2] }
		/balloon.swap_out=/ { split($1, a, "="); so = a[2] }
		END { flush() }'
	done >>"$out"
	sleep "$LAB_POLL_S"
done
