#!/bin/sh
# demo.sh - the live system on one machine: a broker on loopback and four
# host agents replaying a trace, until the market has made both resize and
# migrate recommendations; then what an operator would look at, and a clean
# stop. Run by `make demo` (docs/operations.md explains each command).
#
# Settings (environment; the Makefile passes them):
#   BOURSE      the bourse binary            (default build/bourse)
#   DEMO_PORT   the broker's loopback port   (default 7411)
#   DEMO_DB     the SQLite file, recreated   (default <dir of BOURSE>/demo.db)
#   TRACES      a Bitbrains trace directory  (default ../shared/traces/bitbrains-rnd/2013-7;
#               if missing, the embedded tests/data/bitbrains-mini)
#   DEMO_WAIT_S how long to wait for recommendations (default 60)
#
# Logs go next to the database: <db>-broker.log, <db>-host-a.log, ...
# CURVE keys (one pair for the broker, one per host, and the broker's
# allow-list) are made afresh in <db>-keys/ with `bourse keygen`.

set -eu

ROOT=$(CDPATH='' cd -- "$(dirname -- "$0")/.." && pwd)
BOURSE=${BOURSE:-build/bourse}
PORT=${DEMO_PORT:-7411}
DB=${DEMO_DB:-$(dirname -- "$BOURSE")/demo.db}
TRACES=${TRACES:-../shared/traces/bitbrains-rnd/2013-7}
WAIT_S=${DEMO_WAIT_S:-60}
ROUND_MS=1000 # one market round a second; each agent bid replays 300 trace s
SETTLE_S=5    # rounds to let run once recommendations are there

ENDPOINT=tcp://127.0.0.1:$PORT
LOGBASE=${DB%.db}
BROKER_LOG=$LOGBASE-broker.log
CLI_ERR=$LOGBASE-cli.err # stderr of the commands shown, in turn
HOSTS="host-a host-b host-c host-d"

broker_pid=
agent_pids=
nap_pid=

say() { printf '%s\n' "$*"; }
fail() {
	printf 'demo: %s\n' "$*" >&2
	exit 1
}

# Stop whatever is still running: agents first, then the broker. Runs on
# every exit (normal, failure, Ctrl-C), so no process is left behind.
cleanup() {
	[ -z "$nap_pid" ] || kill "$nap_pid" 2>/dev/null || :
	for p in $agent_pids; do
		kill -TERM "$p" 2>/dev/null || :
	done
	for p in $agent_pids; do
		wait "$p" 2>/dev/null || :
	done
	agent_pids=
	rm -f "$CLI_ERR"
	if [ -n "$broker_pid" ]; then
		kill -TERM "$broker_pid" 2>/dev/null || :
		wait "$broker_pid" 2>/dev/null || :
		broker_pid=
	fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

log_tail() {
	printf -- '--- last lines of %s ---\n' "$1" >&2
	tail -n "${2:-15}" "$1" >&2 || :
}

# sleep $1 s. In the background, so that a signal's trap runs at once:
# the shell runs traps between commands, and `wait` is one it interrupts.
nap() {
	sleep "$1" &
	nap_pid=$!
	wait "$nap_pid" || :
	nap_pid=
}

# Is process $1 still running? (The shell reaps a child as it exits, so a
# dead one fails this; `wait` still gives its status.)
alive() {
	kill -0 "$1" 2>/dev/null
}

[ -x "$BOURSE" ] || fail "$BOURSE not found or not executable; run 'make build' first"
case $PORT in
'' | *[!0-9]*) fail "DEMO_PORT must be a port number, not '$PORT'" ;;
esac

# The trace, and what each host is: host:capacity_mib:first_vm:vm_count:prefix.
# Capacities are unequal on purpose: host-a is too small for what its VMs
# want (the market prices it high and recommends moving VMs off it),
# host-c is mid-sized, host-b and host-d have room to spare.
if [ -d "$TRACES" ]; then
	trace=$TRACES
	plan="host-a:6144:0:10:vm- host-b:65536:10:10:vm- host-c:32768:20:10:vm- host-d:65536:30:10:vm-"
else
	say "note: $TRACES not found; using the embedded trace tests/data/bitbrains-mini"
	say "      (3 VMs: each host replays all three under its own names)"
	trace=$ROOT/tests/data/bitbrains-mini
	plan="host-a:4096:0:3:a-vm- host-b:16384:0:3:b-vm- host-c:8192:0:3:c-vm- host-d:65536:0:3:d-vm-"
fi

mkdir -p "$(dirname -- "$DB")"
rm -f "$DB" "$DB-wal" "$DB-shm" "$BROKER_LOG"
for h in $HOSTS; do
	rm -f "$LOGBASE-$h.log"
done

start=$(date +%s)
elapsed() { echo $(($(date +%s) - start)); }

# ---- keys: TCP endpoints are authenticated (ZeroMQ CURVE) ------------------
KEYS=$LOGBASE-keys
rm -rf "$KEYS"
mkdir -p "$KEYS"
say "+ $BOURSE keygen broker --dir $KEYS; and one key pair per host, each in the allow-list"
"$BOURSE" keygen broker --dir "$KEYS" >/dev/null
for h in $HOSTS; do
	"$BOURSE" keygen "$h" --dir "$KEYS" | sed -n 's/^allow-list line: //p' >>"$KEYS/allow"
done

# ---- the broker -------------------------------------------------------------
say "+ $BOURSE broker --listen $ENDPOINT --db $DB --round-ms $ROUND_MS --key $KEYS/broker.key --allow $KEYS/allow"
"$BOURSE" broker --listen "$ENDPOINT" --db "$DB" --round-ms "$ROUND_MS" \
	--key "$KEYS/broker.key" --allow "$KEYS/allow" >"$BROKER_LOG" 2>&1 &
broker_pid=$!

i=0
until grep -q '^broker: listening on' "$BROKER_LOG" 2>/dev/null; do
	if ! alive "$broker_pid"; then
		rc=0
		wait "$broker_pid" || rc=$?
		broker_pid=
		cat "$BROKER_LOG" >&2
		if grep -q 'in use' "$BROKER_LOG"; then
			fail "port $PORT is taken (is another broker running?); try: make demo DEMO_PORT=7412"
		fi
		fail "the broker exited with status $rc before listening (log: $BROKER_LOG)"
	fi
	i=$((i + 1))
	[ "$i" -le 10 ] || { log_tail "$BROKER_LOG"; fail "the broker did not start listening within 10 s"; }
	nap 1
done

# ---- the agents -------------------------------------------------------------
old_ifs=$IFS
for entry in $plan; do
	IFS=:
	# shellcheck disable=SC2086 # split host:capacity:first:count:prefix
	set -- $entry
	IFS=$old_ifs
	host=$1 cap=$2 first=$3 count=$4 prefix=$5
	log=$LOGBASE-$host.log
	say "+ $BOURSE agent --broker $ENDPOINT --host $host --capacity-mib $cap --trace $trace --vms $first:$count --vm-prefix $prefix --key $KEYS/$host.key --broker-key $KEYS/broker.pub"
	"$BOURSE" agent --broker "$ENDPOINT" --host "$host" --capacity-mib "$cap" \
		--trace "$trace" --vms "$first:$count" --vm-prefix "$prefix" \
		--key "$KEYS/$host.key" --broker-key "$KEYS/broker.pub" \
		>"$log" 2>&1 &
	agent_pids="$agent_pids $!"
done
say "logs: $BROKER_LOG and $LOGBASE-host-a.log .. $LOGBASE-host-d.log"

# ---- wait for both kinds of recommendation ----------------------------------
say "waiting for the market to recommend resizes and migrations (up to $WAIT_S s) ..."
n_resize=0
n_migrate=0
while :; do
	alive "$broker_pid" || { log_tail "$BROKER_LOG"; fail "the broker stopped unexpectedly"; }
	for p in $agent_pids; do
		if ! alive "$p"; then
			for h in $HOSTS; do log_tail "$LOGBASE-$h.log" 5; done
			fail "an agent stopped unexpectedly (see its log above)"
		fi
	done
	json=$("$BOURSE" recs list --db "$DB" --limit 0 --json 2>/dev/null) || json=
	n_resize=$(printf '%s\n' "$json" | grep -c '"kind":"resize"') || :
	n_migrate=$(printf '%s\n' "$json" | grep -c '"kind":"migrate"') || :
	[ "$n_resize" -gt 0 ] && [ "$n_migrate" -gt 0 ] && break
	if [ "$(elapsed)" -ge "$WAIT_S" ]; then
		log_tail "$BROKER_LOG" 20
		fail "no resize and migrate recommendations after $WAIT_S s ($n_resize resize, $n_migrate migrate); see the logs next to $DB"
	fi
	nap 1
done
say "after $(elapsed) s: $n_resize resize and $n_migrate migrate recommendations; letting $SETTLE_S more rounds run"
nap "$SETTLE_S"

# ---- what an operator looks at ----------------------------------------------
# Run a command, echoed; its stderr (e.g. "the newest 20 shown") after its
# stdout, which a pipe would otherwise hold back until after it.
show() {
	say ""
	say "+ $*"
	rc=0
	"$@" 2>"$CLI_ERR" || rc=$?
	cat "$CLI_ERR"
	[ "$rc" -eq 0 ] || fail "'$*' exited with status $rc"
}
show "$BOURSE" hosts --db "$DB"
show "$BOURSE" recs list --db "$DB" --limit 20

# One migration to look at closely: the newest pending one, else the newest
# one, else the newest resize.
list=$("$BOURSE" recs list --db "$DB" --limit 0)
id=$(printf '%s\n' "$list" | awk '$3 == "pending" && $4 == "migrate" { print $1; exit }')
[ -n "$id" ] || id=$(printf '%s\n' "$list" | awk '$4 == "migrate" { print $1; exit }')
[ -n "$id" ] || id=$(printf '%s\n' "$list" | awk 'NR > 1 { print $1; exit }')
[ -z "$id" ] || show "$BOURSE" recs show "$id" --db "$DB"

# ---- stop cleanly -----------------------------------------------------------
say ""
say "stopping the agents, then the broker (SIGTERM) ..."
agents_rc=0
for p in $agent_pids; do
	kill -TERM "$p" 2>/dev/null || :
done
for p in $agent_pids; do
	rc=0
	wait "$p" || rc=$?
	[ "$rc" -eq 0 ] || agents_rc=$rc
done
agent_pids=
broker_rc=0
kill -TERM "$broker_pid" 2>/dev/null || :
wait "$broker_pid" || broker_rc=$?
broker_pid=
tail -n 1 "$BROKER_LOG"
if [ "$broker_rc" -ne 0 ]; then
	log_tail "$BROKER_LOG"
	fail "the broker exited with status $broker_rc"
fi
[ "$agents_rc" -eq 0 ] || {
	for h in $HOSTS; do log_tail "$LOGBASE-$h.log" 5; done
	fail "an agent exited with status $agents_rc"
}

# ---- what is left -----------------------------------------------------------
total=$("$BOURSE" recs list --db "$DB" --limit 0 --json | grep -c '"kind":') || :
pending=$("$BOURSE" recs list --db "$DB" --limit 0 --state pending --json | grep -c '"kind":') || :
say ""
say "done in $(elapsed) s: $total recommendations made, $pending still pending review."
say "The database is $DB (logs next to it). Inspect it with:"
say "  $BOURSE recs list --db $DB [--state pending] [--json]"
say "  $BOURSE recs show ID --db $DB"
say "  $BOURSE recs approve ID --db $DB;  $BOURSE recs reject ID --reason TEXT --db $DB"
say "  $BOURSE hosts --db $DB;  $BOURSE vms --db $DB;  $BOURSE prices --db $DB [--round N]"
if command -v sqlite3 >/dev/null 2>&1; then
	say "  sqlite3 $DB   (tables: docs/storage.md)"
else
	say "  sqlite3 $DB   (if you install sqlite3; tables: docs/storage.md)"
fi
say "Running it on real hosts: docs/operations.md."
