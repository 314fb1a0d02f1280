#!/bin/sh
# run.sh - run the libFuzzer targets (`make fuzz`; tests/fuzz/README.md).
#
#   sh tests/fuzz/run.sh BUILD SECONDS TARGET...
#
# Each TARGET (wire, trace, config, procfile, vmpolicy, conf) runs for SECONDS under
# BUILD/tests/fuzz_TARGET (built with clang -fsanitize=fuzzer,address,
# undefined) on BUILD/fuzz-out/TARGET/corpus: a working copy seeded from
# tests/fuzz/corpus/TARGET and tests/fuzz/crashes/TARGET, which keeps what
# earlier runs found. New findings (crash-*, leak-*, timeout-*, oom-*) go to
# BUILD/fuzz-out/TARGET/artifacts/, never into the repository; the log is
# BUILD/fuzz-out/TARGET/log. FUZZ_JOBS targets run at a time (default: the
# number of cores); FUZZ_ARGS is added to every libFuzzer command line.
# Prints one summary line per target; exits 1 if any target found something
# or could not run.
set -u

if [ $# -lt 3 ]; then
	echo "usage: $0 BUILD SECONDS TARGET..." >&2
	exit 2
fi
build=$1
secs=$2
shift 2
src=$(cd "$(dirname "$0")" && pwd)
jobs=${FUZZ_JOBS:-$(nproc 2>/dev/null || echo 2)}
extra=${FUZZ_ARGS:-}

# The longest input each target is given: wire covers WIRE_MAX_FRAME
# (256 KiB) and beyond, trace lines past the 4 KiB line limit.
max_len() {
	case $1 in
	wire) echo 300000 ;;
	trace) echo 65536 ;;
	procfile) echo 16384 ;;
	*) echo 4096 ;;
	esac
}

# Start one target in the background.
start() {
	t=$1
	out=$build/fuzz-out/$t
	bin=$build/tests/fuzz_$t
	mkdir -p "$out/corpus" "$out/artifacts"
	# findings of an earlier run: kept aside, not counted again
	if [ -n "$(ls "$out/artifacts")" ]; then
		mkdir -p "$out/artifacts.prev"
		mv "$out/artifacts"/* "$out/artifacts.prev/"
	fi
	if [ ! -x "$bin" ]; then
		echo "fuzz: no $bin (build it first: make fuzz)" >"$out/log"
		return
	fi
	for f in "$src/corpus/$t"/* "$src/crashes/$t"/*; do
		case $(basename "$f") in README*) continue ;; esac
		[ -f "$f" ] && cp "$f" "$out/corpus/seed-$(basename "$f")"
	done
	opts="-max_total_time=$secs -max_len=$(max_len "$t") -timeout=10"
	opts="$opts -rss_limit_mb=2048 -print_final_stats=1"
	opts="$opts -artifact_prefix=$out/artifacts/"
	[ -f "$src/$t.dict" ] && opts="$opts -dict=$src/$t.dict"
	# the CLI's own messages are not what is checked
	[ "$t" = config ] && opts="$opts -close_fd_mask=3"
	echo "+ $bin $opts $extra $out/corpus" >"$out/log"
	# shellcheck disable=SC2086
	"$bin" $opts $extra "$out/corpus" >>"$out/log" 2>&1 &
}

# One line per target from its log: executions, rate, coverage, corpus.
summary() {
	t=$1
	out=$build/fuzz-out/$t
	log=$out/log
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
	rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
	rss=$(sed -n 's/^stat::peak_rss_mb: *//p' "$log" | tail -1)
	last=$(grep -E '^#[0-9]+' "$log" | tail -1)
	cov=$(echo "$last" | sed -n 's/.* cov: \([0-9]*\).*/\1/p')
	ft=$(echo "$last" | sed -n 's/.* ft: \([0-9]*\).*/\1/p')
	corp=$(echo "$last" | sed -n 's/.* corp: \([0-9]*\/[0-9a-zA-Z]*\).*/\1/p')
	found=$(ls "$out/artifacts" 2>/dev/null | wc -l)
	printf '%-9s %10s execs %7s/s  cov %5s  ft %6s  corpus %-10s rss %4s MB  findings %s\n' \
		"$t" "${execs:-?}" "${rate:-?}" "${cov:-?}" "${ft:-?}" \
		"${corp:-?}" "${rss:-?}" "$found"
	[ -n "$execs" ] && [ "$found" -eq 0 ]
}

status=0
while [ $# -gt 0 ]; do
	batch=""
	n=0
	while [ $# -gt 0 ] && [ "$n" -lt "$jobs" ]; do
		batch="$batch $1"
		start "$1"
		shift
		n=$((n + 1))
	done
	echo "fuzz:$batch for ${secs}s each ..."
	wait
	for t in $batch; do
		if ! summary "$t"; then
			status=1
			echo "  see $build/fuzz-out/$t/log"
			for a in "$build/fuzz-out/$t/artifacts"/*; do
				[ -f "$a" ] || continue
				echo "  found: $a"
				echo "  reproduce: $build/tests/fuzz_$t $a"
			done
		fi
	done
done
exit $status
