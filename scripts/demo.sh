#!/bin/sh
# demo.sh - the loop closed on one machine, and what it changed. A broker on
# loopback and four emulated hosts (docs/emulated.md) carrying forty VMs of
# the shipped trace, its 5-minute steps replayed one a second. Run 1
# ("bourse"): resizes automated, migrations manual; the demo approves one
# migration with `bourse recs approve` and waits until the VM bids from its
# destination. Run 2 ("recommend only"): the same trace window, nothing
# carried out. Then a before/after summary from the two databases. Run by
# `make demo` (docs/operations.md, "The demo").
#
# Settings (environment; the Makefile passes them):
#   BOURSE       the bourse binary            (default build/bourse)
#   DEMO_PORT    the broker's loopback port   (default 7411)
#   DEMO_DB      run 1's SQLite file, recreated (default <dir of BOURSE>/demo.db);
#                run 2's is <DEMO_DB without .db>-recommend.db
#   TRACES       a Bitbrains trace directory  (default ../shared/traces/bitbrains-rnd/2013-7;
#                if missing, the embedded tests/data/bitbrains-mini)
#   DEMO_SECONDS each run's length in seconds, the agents' start included
#                (default 25; 10 to 86400)
#
# Logs go next to the database: <db>-broker.log, <db>-host-a.log, ... (run
# 2: <db>-recommend-broker.log, ...). So does run 1's picture, <db less
# .db>.png (`bourse plot`: prices, utilization, VM pressure; needs gnuplot). CURVE keys (one pair for the broker,
# one per host, and the broker's allow-list) are made afresh in <db>-keys/
# with `bourse keygen`; each run's emulated world is <db>-world/.
# Needs the sqlite3 command (scripts/deps.sh installs it) for the summary.

set -eu

ROOT=$(CDPATH='' cd -- "$(dirname -- "$0")/.." && pwd)
BOURSE=${BOURSE:-build/bourse}
PORT=${DEMO_PORT:-7411}
DB=${DEMO_DB:-$(dirname -- "$BOURSE")/demo.db}
TRACES=${TRACES:-../shared/traces/bitbrains-rnd/2013-7}
SECONDS_RUN=${DEMO_SECONDS:-25}

# Why each figure (docs/operations.md, "The demo", has the same table):
ROUND_MS=1000    # one market round a second ...
STEP_S=300       # ... each replaying one 300 s step of the trace (its sampling)
COOLDOWN_S=2     # a VM may be acted on again after 2 rounds: the broker's
                 # 600 s default in trace time (600 / 300)
MAX_ACTIONS=40   # dispatches a round: every VM may be acted on each step;
                 # the default 4 a 5 s round allows 240 per 300 s
ACTION_TIMEOUT_S=20 # a copy takes about 1 s per GiB (1100 MiB/s): the
                    # default 600 s would hold a lost action past the run
MIGRATE_GRACE_S=20  # run 1 waits this much longer for an approved copy
REC_DRIFT=0      # approvals do not expire when a price moves: each round
                 # replays 300 s of trace, and a congested host's price
                 # swings by 99 % or 100x from one round to the next here;
                 # every migration approved by hand expired before it
                 # could go (the default 0.25 is for rounds of seconds of
                 # real time)

PROBATION_ROUNDS=2 # a new host is a migration target after 2 rounds: the
                   # default 12 (a minute of 5 s rounds) is an hour of
                   # trace here, and the hosts registered at round 3-4
                   # became targets only as vm-27's burst ended

ENDPOINT=tcp://127.0.0.1:$PORT
BASE=${DB%.db}
HOSTS="host-a host-b host-c host-d"

broker_pid=
agent_pids=
nap_pid=
CLI_ERR=$BASE-cli.err # stderr of the commands shown, in turn

say() { printf '%s\n' "$*"; }
fail() {
	printf 'demo: %s\n' "$*" >&2
	exit 1
}

# Stop whatever is still running: agents first, then the broker. Runs on
# every exit (normal, failure, Ctrl-C), so no process is left behind.
stop_agents() {
	for p in $agent_pids; do
		kill -TERM "$p" 2>/dev/null || :
	done
	for p in $agent_pids; do
		wait "$p" 2>/dev/null || :
	done
	agent_pids=
}
cleanup() {
	[ -z "$nap_pid" ] || kill "$nap_pid" 2>/dev/null || :
	stop_agents
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

# Run a command, echoed; its stderr after its stdout.
show() {
	say ""
	say "+ $*"
	rc=0
	"$@" 2>"$CLI_ERR" || rc=$?
	cat "$CLI_ERR"
	[ "$rc" -eq 0 ] || fail "'$*' exited with status $rc"
}

# sqlite3 DB SQL: one query on a database, read-only.
q() {
	sqlite3 -readonly -batch -noheader "$1" "$2"
}

[ -x "$BOURSE" ] || fail "$BOURSE not found or not executable; run 'make build' first"
command -v sqlite3 >/dev/null 2>&1 ||
	fail "the sqlite3 command is needed for the summary; run 'make deps' (scripts/deps.sh)"
command -v gnuplot >/dev/null 2>&1 ||
	fail "gnuplot is needed for the picture (package gnuplot-nox); run 'make deps' (scripts/deps.sh)"
case $PORT in
'' | *[!0-9]*) fail "DEMO_PORT must be a port number, not '$PORT'" ;;
esac
case $SECONDS_RUN in
'' | *[!0-9]*) fail "DEMO_SECONDS must be a whole number of seconds, not '$SECONDS_RUN'" ;;
esac
if [ "$SECONDS_RUN" -lt 10 ] || [ "$SECONDS_RUN" -gt 86400 ]; then
	fail "DEMO_SECONDS must be between 10 and 86400 (each run's length), not $SECONDS_RUN"
fi
case $DB in
*.db) ;;
*) fail "DEMO_DB must end in .db (the logs and run 2's file are named from it), not '$DB'" ;;
esac

# The trace, and each host: host:capacity_mib:first_vm:vm_count. Every host
# sells capacity - 1 GiB (the agent's --reserve-mib). The VMs start at up to
# 1 GiB each (--startup-mib, or what the host has left). host-a and host-b
# sell 7 GiB to ten VMs that need about 2 GiB in all; host-c sells 15 GiB
# and carries vm-27, which climbs to 18 GiB within two steps: too small;
# host-d sells 31 GiB and has room. So the market shrinks the idle, grows
# the busy as far as host-c allows, and recommends moves off host-c.
if [ -d "$TRACES" ]; then
	trace=$TRACES
	plan="host-a:8192:0:10 host-b:8192:10:10 host-c:16384:20:10 host-d:32768:30:10"
	fallback=0
	nvms=40
else
	say "note: $TRACES not found; using the embedded trace tests/data/bitbrains-mini"
	say "      (3 VMs on three hosts, host-d empty: no migration is promised)"
	trace=$ROOT/tests/data/bitbrains-mini
	plan="host-a:2048:0:1 host-b:4096:1:1 host-c:2048:2:1 host-d:16384:0:3"
	fallback=1
	nvms=3
fi

start=$(date +%s)
elapsed() { echo $(($(date +%s) - start)); }

# ---- keys: TCP endpoints are authenticated (ZeroMQ CURVE) ------------------
KEYS=$BASE-keys
rm -rf "$KEYS"
mkdir -p "$KEYS"
say "+ $BOURSE keygen broker --dir $KEYS; and one key pair per host, each in the allow-list"
"$BOURSE" keygen broker --dir "$KEYS" >/dev/null
for h in $HOSTS; do
	"$BOURSE" keygen "$h" --dir "$KEYS" | sed -n 's/^allow-list line: //p' >>"$KEYS/allow"
done

# start_run DB LOGBASE: a fresh database, world and logs; the broker, then
# the modes, then the agents.
start_run() {
	db=$1 lb=$2
	world=$lb-world
	blog=$lb-broker.log
	rm -rf "$world"
	rm -f "$db" "$db-wal" "$db-shm" "$blog"
	for h in $HOSTS; do rm -f "$lb-$h.log"; done

	say "+ $BOURSE broker --listen $ENDPOINT --db $db --round-ms $ROUND_MS --vm-cooldown-s $COOLDOWN_S --max-actions $MAX_ACTIONS --rec-drift $REC_DRIFT --probation-rounds $PROBATION_ROUNDS --action-timeout-s $ACTION_TIMEOUT_S --key $KEYS/broker.key --allow $KEYS/allow"
	"$BOURSE" broker --listen "$ENDPOINT" --db "$db" --round-ms "$ROUND_MS" \
		--vm-cooldown-s "$COOLDOWN_S" --max-actions "$MAX_ACTIONS" \
		--rec-drift "$REC_DRIFT" --probation-rounds "$PROBATION_ROUNDS" \
		--action-timeout-s "$ACTION_TIMEOUT_S" \
		--key "$KEYS/broker.key" --allow "$KEYS/allow" >"$blog" 2>&1 &
	broker_pid=$!
	i=0
	until grep -q '^broker: listening on' "$blog" 2>/dev/null; do
		if ! alive "$broker_pid"; then
			rc=0
			wait "$broker_pid" || rc=$?
			broker_pid=
			cat "$blog" >&2
			if grep -q 'in use' "$blog"; then
				fail "port $PORT is taken (is another broker running?); try: make demo DEMO_PORT=7412"
			fi
			fail "the broker exited with status $rc before listening (log: $blog)"
		fi
		i=$((i + 1))
		[ "$i" -le 40 ] || { log_tail "$blog"; fail "the broker did not start listening within 10 s"; }
		nap 0.25
	done

	# The modes are set explicitly, whatever a new database's defaults are.
	shift 2
	for m in "$@"; do
		# shellcheck disable=SC2086 # "MODE --for KINDS"
		show "$BOURSE" mode $m --db "$db"
	done

	old_ifs=$IFS
	for entry in $plan; do
		IFS=:
		# shellcheck disable=SC2086 # split host:capacity:first:count
		set -- $entry
		IFS=$old_ifs
		host=$1 cap=$2 first=$3 count=$4
		if [ "$fallback" -eq 1 ] && [ "$host" = host-d ]; then
			# host-d lists every VM but starts empty: the world has
			# placed them by the time it opens it.
			i=0
			until [ "$(find "$world/vms" -type f ! -name '.*' 2>/dev/null | wc -l)" -ge 3 ]; do
				i=$((i + 1))
				[ "$i" -le 40 ] || fail "the emulated world did not place the 3 VMs within 10 s"
				nap 0.25
			done
		fi
		[ "$host" != host-a ] || say "+ $BOURSE agent --broker $ENDPOINT --host $host --capacity-mib $cap --trace $trace --vms $first:$count --actuator emulated --world $world --key $KEYS/$host.key --broker-key $KEYS/broker.pub   (and so on for each host)"
		"$BOURSE" agent --broker "$ENDPOINT" --host "$host" --capacity-mib "$cap" \
			--trace "$trace" --vms "$first:$count" --step-s "$STEP_S" \
			--actuator emulated --world "$world" \
			--key "$KEYS/$host.key" --broker-key "$KEYS/broker.pub" \
			>"$lb-$host.log" 2>&1 &
		agent_pids="$agent_pids $!"
	done
	say "logs: $blog and $lb-host-a.log .. $lb-host-d.log"
}

# check_running LOGBASE: fail if the broker or an agent stopped.
check_running() {
	alive "$broker_pid" || { log_tail "$1-broker.log"; fail "the broker stopped unexpectedly"; }
	for p in $agent_pids; do
		if ! alive "$p"; then
			for h in $HOSTS; do log_tail "$1-$h.log" 5; done
			fail "an agent stopped unexpectedly (see its log above)"
		fi
	done
}

# stop_run DB LOGBASE: agents, then the broker; their exit statuses. Sets
# last_round: the last round while every agent was still bidding.
stop_run() {
	last_round=$(q "$1" 'SELECT COALESCE(MAX(round), 0) FROM rounds;')
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
	tail -n 1 "$2-broker.log"
	if [ "$broker_rc" -ne 0 ]; then
		log_tail "$2-broker.log"
		fail "the broker exited with status $broker_rc"
	fi
	[ "$agents_rc" -eq 0 ] || {
		for h in $HOSTS; do log_tail "$2-$h.log" 5; done
		fail "an agent exited with status $agents_rc"
	}
}

# bids_from ID: 1 if the VM of migration ID last bid (its newest sample)
# from the migration's destination, in run 1's database.
bids_from() {
	q "$DB" "SELECT (SELECT s.host_id FROM samples s WHERE s.vm_id = r.vm_id
	                  ORDER BY s.round DESC LIMIT 1) = r.to_host_id
	           FROM recs r WHERE r.id = $1;"
}

# rounds_bid DB: rounds in which VMs reported (have samples).
rounds_bid() {
	q "$1" 'SELECT COUNT(DISTINCT round) FROM samples;'
}

# ---- run 1: the loop closed --------------------------------------------------
DB2=$BASE-recommend.db
BASE2=$BASE-recommend
say ""
say "== run 1 of 2, 'bourse': resizes automated, migrations approved by hand ($SECONDS_RUN s) =="
start_run "$DB" "$BASE" "automated --for resize-up,resize-down" "manual --for migrate"
run_start=$(date +%s)
approved=
# One look, as an operator would: the approved migration failed, expired or
# was superseded? Then the newest pending one is approved.
approve_step() {
	st=
	[ -z "$approved" ] || st=$(q "$DB" "SELECT state FROM recs WHERE id = $approved;")
	if [ "$st" = 8 ]; then
		# Failed (e.g. no room left at the destination): the next one.
		say "migration #$approved failed: $(q "$DB" "SELECT detail FROM audit
		      WHERE rec_id = $approved AND event = 'rec.failed';")"
		approved=
	elif [ "$st" = 4 ] || [ "$st" = 5 ]; then
		# Expired (its prices moved: each round replays 300 s of trace
		# here) or superseded by the market's newer view before it
		# went: the market's current one, as an operator would.
		say "migration #$approved: $(q "$DB" "SELECT state_reason FROM recs WHERE id = $approved;")"
		approved=
	fi
	[ -z "$approved" ] || return 0
	id=$("$BOURSE" recs list --db "$DB" --state pending --limit 0 2>/dev/null |
		awk '$4 == "migrate" { print $1; exit }') || id=
	[ -n "$id" ] || return 0
	show "$BOURSE" recs show "$id" --db "$DB"
	say ""
	say "+ $BOURSE recs approve $id --db $DB"
	# It may have been superseded or expired a moment ago: then the next
	# one.
	if "$BOURSE" recs approve "$id" --db "$DB"; then
		approved=$id
	fi
}
while :; do
	check_running "$BASE"
	approve_step
	now=$(($(date +%s) - run_start))
	[ "$now" -lt "$SECONDS_RUN" ] || break
	nap 1
done
# The approved copy may still be under way, or the VM not yet bidding from
# its destination, or the market's newest migration not yet approved (the
# one approved was superseded, or none came in time): a little longer.
i=0
while :; do
	approve_step
	if [ -n "$approved" ]; then
		st=$(q "$DB" "SELECT state FROM recs WHERE id = $approved;")
		[ "$st" != 7 ] || [ "$(bids_from "$approved")" != 1 ] || break
	fi
	i=$((i + 1))
	[ "$i" -le "$MIGRATE_GRACE_S" ] || break
	[ "$i" -gt 1 ] || say "run 1: waiting up to $MIGRATE_GRACE_S s more for an approved migration to be carried out and its VM to bid from its destination"
	check_running "$BASE"
	nap 1
done
show "$BOURSE" hosts --db "$DB"
stop_run "$DB" "$BASE"
last1=$last_round
n1=$(rounds_bid "$DB")

# ---- run 2: the same window, recommendations only ----------------------------
say ""
say "== run 2 of 2, 'recommend only': the same trace window, nothing carried out =="
start_run "$DB2" "$BASE2" "recommend"
# As many rounds with bids as run 1 had (it may have waited for the copy).
deadline=$(($(date +%s) + SECONDS_RUN + MIGRATE_GRACE_S + 5))
while :; do
	check_running "$BASE2"
	[ "$(rounds_bid "$DB2")" -lt "$n1" ] || break
	[ "$(date +%s)" -lt "$deadline" ] || break
	nap 1
done
stop_run "$DB2" "$BASE2"
last2=$last_round

# ---- the summary --------------------------------------------------------------
# The window: each VM's first K samples in each run (up to the last round
# while every agent bid), K the fewest rounds any host bid in, in either
# run. Every agent starts at the trace's first step and moves one step per
# round, so a VM's k-th sample is step k of its trace in both runs,
# whichever round the agent's slower or faster start made it.
# hosts_k DB LAST: the fewest rounds with bids of any host.
hosts_k() {
	q "$1" "SELECT COALESCE(MIN(n), 0) FROM (SELECT COUNT(DISTINCT round) AS n
	         FROM samples WHERE round <= $2 GROUP BY host_id);"
}
k1=$(hosts_k "$DB" "$last1")
k2=$(hosts_k "$DB2" "$last2")
K=$k1
[ "$k2" -ge "$K" ] || K=$k2
[ "$K" -gt 0 ] || fail "no VM bid in one of the runs; see the logs next to $DB"

# win LAST: the window's samples (a subquery).
win() {
	echo "(SELECT * FROM (SELECT s.*, ROW_NUMBER() OVER
	        (PARTITION BY s.vm_id ORDER BY s.round) AS k
	        FROM samples s WHERE s.round <= $1) WHERE k <= $K)"
}
# Each sample stands for STEP_S trace seconds: shortfall MiB x s -> GiB-h.
pressure() {
	q "$1" "SELECT printf('%.1f', COALESCE(SUM(MAX(0, demand_mib - assigned_mib)), 0)
	         * $STEP_S / 3600.0 / 1024) FROM $(win "$2");"
}
# The trace's demand in the window, integrated the same way: equal in both
# runs when they replayed the same steps.
demand() {
	q "$1" "SELECT printf('%.1f', COALESCE(SUM(demand_mib), 0)
	         * $STEP_S / 3600.0 / 1024) FROM $(win "$2");"
}
vms_bid() {
	q "$1" "SELECT COUNT(DISTINCT vm_id) FROM $(win "$2");"
}
short_pct() {
	q "$1" "SELECT printf('%.0f%%', 100.0 * SUM(demand_mib >= assigned_mib AND demand_mib > 0)
	         / COUNT(*)) FROM $(win "$2");"
}
# Memory held: the VMs' assigned memory, summed, per step (mean).
held() {
	q "$1" "SELECT printf('%.1f', SUM(assigned_mib) / 1024.0 / $K) FROM $(win "$2");"
}
# utilization HOST DB LAST: mean and peak, over the host's first K rounds
# with bids, of what its VMs were assigned / its capacity.
utilization() {
	q "$2" "SELECT printf('%.0f%% / %.0f%%', AVG(u), MAX(u)) FROM
	         (SELECT 100.0 * SUM(s.assigned_mib) / h.capacity_mib AS u
	            FROM samples s JOIN hosts h ON h.id = s.host_id
	           WHERE h.name = '$1' AND s.round <= $3
	           GROUP BY s.round ORDER BY s.round LIMIT $K);"
}
# count DB KIND STATE: recommendations of a kind (1 resize, 2 migrate) in a
# state (7 succeeded, 8 failed: storage/store.h), or made (STATE empty).
count() {
	if [ -n "$3" ]; then
		q "$1" "SELECT COUNT(*) FROM recs WHERE kind = $2 AND state = $3;"
	else
		q "$1" "SELECT COUNT(*) FROM recs WHERE kind = $2;"
	fi
}

row() { printf '%-40s %-18s %s\n' "$1" "$2" "$3"; }
say ""
say "== what bourse changed: the same $K trace steps of the same $nvms VMs in both runs =="
say "(one round replays one step of the trace: a VM's sample stands for"
say " $STEP_S trace seconds, as one step of 'bourse sim'; figures from the"
say " samples and recs tables of $DB and $DB2)"
say ""
row "" "bourse" "recommend only"
d1=$(demand "$DB" "$last1") d2=$(demand "$DB2" "$last2")
row "VMs bidding (of $nvms; the rest not running)" "$(vms_bid "$DB" "$last1")" "$(vms_bid "$DB2" "$last2")"
row "VM demand, GiB-h (the trace's)" "$d1" "$d2"
row "VM pressure, GiB-h short" "$(pressure "$DB" "$last1")" "$(pressure "$DB2" "$last2")"
row "VM-rounds at pressure >= 100" "$(short_pct "$DB" "$last1")" "$(short_pct "$DB2" "$last2")"
row "memory held, mean GiB" "$(held "$DB" "$last1")" "$(held "$DB2" "$last2")"
for h in $HOSTS; do
	row "$h utilization, mean / peak" "$(utilization "$h" "$DB" "$last1")" \
		"$(utilization "$h" "$DB2" "$last2")"
done
rs1=$(count "$DB" 1 7) rf1=$(count "$DB" 1 8) ms1=$(count "$DB" 2 7) mf1=$(count "$DB" 2 8)
row "resizes succeeded / failed" "$rs1 / $rf1" "$(count "$DB2" 1 7) / $(count "$DB2" 1 8)"
row "migrations succeeded / failed" "$ms1 / $mf1" "$(count "$DB2" 2 7) / $(count "$DB2" 2 8)"
row "recommendations made (resize, migrate)" "$(count "$DB" 1 ''), $(count "$DB" 2 '')" \
	"$(count "$DB2" 1 ''), $(count "$DB2" 2 '')"
if [ "$d1" != "$d2" ]; then
	say "note: the trace's demand differs a little: a VM skipped or repeated a step"
	say "      in one run (a bid missing a round's deadline, or a migrated VM's"
	say "      rounds between leaving its host and bidding from the next)."
fi
say ""
say "VM pressure: the sum over rounds and bidding VMs of max(0, demand - assigned),"
say "each round counted as $STEP_S s (docs/simulator.md, \"What is measured\");"
say "utilization: the VMs' assigned memory / the host's capacity, per round."

# ---- what the loop must have shown ---------------------------------------------
moved=
if [ -n "$approved" ]; then
	vm=$(q "$DB" "SELECT v.name FROM recs r JOIN vms v ON v.id = r.vm_id WHERE r.id = $approved;")
	to=$(q "$DB" "SELECT h.name FROM recs r JOIN hosts h ON h.id = r.to_host_id WHERE r.id = $approved;")
	st=$(q "$DB" "SELECT state FROM recs WHERE id = $approved;")
	# Where the VM last bid from: its newest sample's host.
	now_on=$(q "$DB" "SELECT h.name FROM samples s JOIN vms v ON v.id = s.vm_id
	                   JOIN hosts h ON h.id = s.host_id
	                  WHERE v.name = '$vm' ORDER BY s.round DESC LIMIT 1;")
	since=$(q "$DB" "SELECT MIN(s.round) FROM samples s JOIN vms v ON v.id = s.vm_id
	                  JOIN hosts h ON h.id = s.host_id
	                 WHERE v.name = '$vm' AND h.name = '$to';")
	say ""
	if [ "$st" = 7 ] && [ "$now_on" = "$to" ]; then
		say "approved migration #$approved: carried out; $vm bids from $to since round $since."
		moved=1
	else
		say "approved migration #$approved: $vm to $to is in state $st (storage/store.h); its last bid came from ${now_on:-nowhere}."
	fi
fi
# ---- the picture of run 1 -------------------------------------------------------
PLOT=$BASE.png
say ""
say "+ $BOURSE plot --db $DB --out $PLOT"
"$BOURSE" plot --db "$DB" --out "$PLOT" >/dev/null 2>"$CLI_ERR" || {
	cat "$CLI_ERR" >&2
	fail "'bourse plot' could not draw run 1"
}
say ""
say "done in $(elapsed) s. The databases are $DB and $DB2 (logs next to them)."
say "The picture of run 1 (host prices, utilization, VM pressure): $PLOT"
say "  $BOURSE recs list --db $DB [--state succeeded] [--json];  $BOURSE recs show ID --db $DB"
say "  $BOURSE events --db $DB;  $BOURSE hosts --db $DB;  $BOURSE vms --db $DB"
say "  $BOURSE plot --db $DB2 --out ${BASE2}.svg   (run 2's picture; --help for more)"
say "  sqlite3 $DB   (tables: docs/storage.md)"
say "Running it on real hosts: docs/operations.md."

[ "$rs1" -gt 0 ] || fail "no resize was carried out in run 1 (see $BASE-broker.log)"
if [ "$fallback" -eq 0 ]; then
	[ -n "$approved" ] || fail "the market recommended no migration to approve in $((SECONDS_RUN + MIGRATE_GRACE_S)) s; try a longer DEMO_SECONDS"
	[ -n "$moved" ] || fail "the approved migration #$approved was not carried out (see $BASE-broker.log and the hosts' logs)"
fi
exit 0
