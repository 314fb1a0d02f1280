#!/usr/bin/env bash
# The command-line contract of the real `bourse` binary: every command
# explains itself with --help, bad flags and values are refused with a clear
# message and a non-zero exit, and a simulator run works end to end.
# usage: cli_contract.sh BOURSE DATA_DIR
set -u
bourse=$1
data=$2
pass=0
fail=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# expect CODE STREAM PATTERN -- ARGS...: exit status CODE and PATTERN (grep -E)
# in stdout or stderr.
expect() {
	local code=$1 stream=$2 pattern=$3
	shift 4
	"$bourse" "$@" >"$tmp/out" 2>"$tmp/err"
	local got=$?
	local file="$tmp/out"
	[ "$stream" = stderr ] && file="$tmp/err"
	if [ "$got" -eq "$code" ] && grep -Eq -- "$pattern" "$file"; then
		pass=$((pass + 1))
	else
		fail=$((fail + 1))
		echo "FAIL: bourse $* -> exit $got (want $code), $stream should match '$pattern'"
		sed 's/^/  out: /' "$tmp/out" | head -5
		sed 's/^/  err: /' "$tmp/err" | head -5
	fi
}

expect 0 stdout 'usage: bourse' -- --help
expect 0 stdout '^  sim ' -- help
expect 2 stderr 'usage: bourse' --
expect 2 stderr "'frobnicate' is not a bourse command" -- frobnicate
expect 0 stdout '--trace PATH' -- sim --help
expect 0 stdout '--trace PATH' -- sim -h
expect 2 stderr '--trace: is required' -- sim
expect 2 stderr "unrecognized option '--bogus'" -- sim --bogus
expect 2 stderr "--hosts: 'abc' is not a whole number" -- sim --trace "$data/small.csv" --hosts abc
expect 2 stderr "--hosts: '0' is out of range" -- sim --trace "$data/small.csv" --hosts 0
expect 2 stderr "--hosts: '8x' is not a whole number" -- sim --trace "$data/small.csv" --hosts 8x
expect 2 stderr "--host-gib: '-4' is out of range" -- sim --trace "$data/small.csv" --host-gib -4
expect 2 stderr "--policy: 'nope' is not a policy" -- sim --trace "$data/small.csv" --policy market,nope
expect 2 stderr "--policy: empty policy name" -- sim --trace "$data/small.csv" --policy ,market
expect 2 stderr "--hosts: ' 5' is not a whole number" -- sim --trace "$data/small.csv" --hosts " 5"
expect 2 stderr "--step: '0' is out of range" -- sim --trace "$data/small.csv" --step 0
expect 1 stderr "it has subdirectories" -- sim --trace "$data"
expect 2 stderr "--param: 'nope' is not a market parameter" -- sim --trace "$data/small.csv" --param nope=1
expect 2 stderr "--param: 'x' is not a finite number" -- sim --trace "$data/small.csv" --param idle_tax=x
expect 2 stderr "idle_tax" -- sim --trace "$data/small.csv" --param idle_tax=1.5
expect 2 stderr "unexpected argument 'extra'" -- sim --trace "$data/small.csv" extra
expect 2 stderr "requires an argument" -- sim --trace
expect 0 stdout '^idle_tax +0.75$' -- sim --params
expect 1 stderr "bad.csv:[0-9]+: " -- sim --trace "$data/bad.csv"
expect 1 stderr "/nonexistent" -- sim --trace /nonexistent
expect 0 stdout 'market +static +hyperv +esx +threshold' -- sim --trace "$data/small.csv" --hosts 2 --host-gib 8
expect 0 stdout '^resizes ' -- sim --trace "$data/bitbrains-mini" --hosts 2 --host-gib 8
expect 0 stdout '^ +esx$' -- sim --trace "$data/small.csv" --hosts 2 --host-gib 8 --policy esx
expect 2 stderr "--lag-steps: '-1' is out of range" -- sim --trace "$data/small.csv" --lag-steps -1
expect 2 stderr "--lag-steps: '1001' is out of range" -- sim --trace "$data/small.csv" --lag-steps 1001
expect 2 stderr "--migration: must be 'precopy' or 'instant'" -- sim --trace "$data/small.csv" --migration fast
expect 2 stderr "--migrate-mibps: '0' is out of range" -- sim --trace "$data/small.csv" --migrate-mibps 0
expect 2 stderr "--dirty-mibps: 'x' is not a finite number" -- sim --trace "$data/small.csv" --dirty-mibps x
expect 2 stderr "--downtime-ms: '0' is out of range" -- sim --trace "$data/small.csv" --downtime-ms 0
expect 2 stderr "--migrations-per-host: '0' is out of range" -- sim --trace "$data/small.csv" --migrations-per-host 0
expect 2 stderr "--return-hours: '-2' is out of range" -- sim --trace "$data/small.csv" --return-hours -2
expect 0 stdout '^model +decisions lag 1 step\(s\); pre-copy' -- sim --trace "$data/small.csv" --hosts 2 --host-gib 8
expect 0 stdout '^model +decisions lag 0 step\(s\); migrations instant' -- sim --trace "$data/small.csv" --hosts 2 --host-gib 8 --lag-steps 0 --migration instant
expect 0 stdout '^  double-held memory \(GiB-h\) ' -- sim --trace "$data/small.csv" --hosts 2 --host-gib 8

# --json is valid JSON with every policy asked for.
if "$bourse" sim --trace "$data/small.csv" --hosts 2 --host-gib 8 --json >"$tmp/json" &&
	perl -MJSON::PP -e '
		local $/; my $j = decode_json(<STDIN>);
		for my $p (qw(market static hyperv esx threshold)) {
			for my $k (qw(pressure_gib_h migrations held_gib_avg
				      host_swap_gib_h return_migrations gib_moved
				      migration_s double_held_gib_h)) {
				exists $j->{policies}{$p}{$k} or die "no $p.$k\n";
			}
		}
		exists $j->{lower_bound_gib_h} or die "lower_bound_gib_h\n";
		$j->{lag_steps} == 1 or die "lag_steps\n";
		$j->{cluster}{hosts} == 2 or die "hosts\n";' <"$tmp/json"; then
	pass=$((pass + 1))
else
	fail=$((fail + 1))
	echo "FAIL: bourse sim --json is not the JSON expected"
fi

# The review CLI without a database: each command explains itself, refuses
# bad flags with 2, and names a missing database with 1 (creating nothing).
# tests/test_recs_cli.c covers them on a real database.
expect 0 stdout 'usage: bourse recs <command>' -- recs --help
expect 0 stdout '--state S' -- recs list --help
expect 0 stdout 'usage: bourse recs show ID' -- recs show --help
expect 0 stdout 'usage: bourse recs approve ID' -- recs approve --help
expect 0 stdout '--reason TEXT' -- recs reject -h
expect 0 stdout 'usage: bourse hosts' -- hosts --help
expect 0 stdout '--host NAME' -- vms --help
expect 0 stdout '--round N' -- prices --help
expect 0 stdout 'usage: bourse recs stats' -- recs stats --help
expect 1 stderr "database $tmp/none.db does not exist" -- recs stats --db "$tmp/none.db"
expect 2 stderr "--score-rounds: '-1' is out of range" -- broker --score-rounds -1
expect 2 stderr 'usage: bourse recs' -- recs
expect 2 stderr "'frob' is not a recs command" -- recs frob
expect 2 stderr "unrecognized option '--bogus'" -- recs list --bogus
expect 2 stderr "unrecognized option '--bogus'" -- recs approve --bogus 1
expect 2 stderr "unrecognized option '--bogus'" -- hosts --bogus
expect 2 stderr "unrecognized option '--bogus'" -- vms --bogus
expect 2 stderr "unrecognized option '--bogus'" -- prices --bogus
expect 2 stderr "--limit: 'x' is not a whole number" -- recs list --limit x
expect 2 stderr "--state: 'nope' is not a state" -- recs list --state nope
expect 2 stderr "'abc' is not a whole number" -- recs approve abc
expect 2 stderr "a recommendation id is required" -- recs reject
expect 2 stderr "--round: '0' is out of range" -- prices --round 0
expect 1 stderr "database $tmp/none.db does not exist" -- recs list --db "$tmp/none.db"
expect 1 stderr "database $tmp/none.db does not exist" -- recs show 1 --db "$tmp/none.db"
expect 1 stderr "database $tmp/none.db does not exist" -- recs approve 1 --db "$tmp/none.db"
expect 1 stderr "database $tmp/none.db does not exist" -- hosts --db "$tmp/none.db"
expect 1 stderr "database $tmp/none.db does not exist" -- vms --db "$tmp/none.db"
expect 1 stderr "database $tmp/none.db does not exist" -- prices --db "$tmp/none.db"
expect 0 stdout 'usage: bourse status' -- status --help
expect 0 stdout '--since AGE' -- events --help
expect 0 stdout '--kind K' -- signals --help
expect 2 stderr "unrecognized option '--bogus'" -- status --bogus
expect 2 stderr "--limit: 'x' is not a whole number" -- events --limit x
expect 2 stderr "--kind: it is 'provision' or 'suspend'" -- signals --kind up
expect 2 stderr "unexpected argument 'now'" -- status now
expect 1 stderr "database $tmp/none.db does not exist" -- status --db "$tmp/none.db"
expect 1 stderr "database $tmp/none.db does not exist" -- events --db "$tmp/none.db"
expect 1 stderr "database $tmp/none.db does not exist" -- signals --watch --db "$tmp/none.db"
if [ -e "$tmp/none.db" ]; then
	fail=$((fail + 1))
	echo "FAIL: a read of a missing database created it"
else
	pass=$((pass + 1))
fi

# The live system's commands: bad flags and values exit 2 before anything
# starts; an endpoint, database or trace that cannot be used exits 1 naming
# it. tests/test_live.c runs them for real.
small="$data/small.csv"
expect 0 stdout '--listen ENDPOINT' -- broker --help
expect 0 stdout '--vms FIRST:COUNT' -- agent --help
expect 0 stdout 'usage: bourse seller' -- seller --help
expect 0 stdout 'usage: bourse buyer' -- buyer --help
expect 2 stderr "unrecognized option '--bogus'" -- broker --bogus
expect 2 stderr "--round-ms: '0' is out of range" -- broker --round-ms 0
expect 2 stderr "--heartbeat-ms: 'abc' is not a whole number" -- broker --heartbeat-ms abc
expect 2 stderr "--liveness: '0' is out of range" -- broker --liveness 0
expect 2 stderr "bourse broker: --log-level: 'loud' is not a level \(err, warning, notice, info or debug\)" -- broker --log-level loud
expect 2 stderr "bourse agent: --log-level: 'loud' is not a level" -- agent --log-level loud
expect 2 stderr "'nope' is not a market parameter" -- broker --param nope=1
expect 1 stderr 'cannot listen on bogus://x' -- broker --listen bogus://x --db "$tmp/b.db" --rounds 1
if [ -e "$tmp/b.db" ]; then
	fail=$((fail + 1))
	echo "FAIL: a broker that could not listen created its database"
else
	pass=$((pass + 1))
fi
expect 1 stderr "cannot open database $tmp/no/such/dir.db" -- broker --insecure --db "$tmp/no/such/dir.db" --rounds 1
expect 2 stderr '--host: is required' -- agent
expect 2 stderr "unrecognized option '--bogus'" -- agent --bogus
expect 2 stderr "--capacity-mib: '0' is out of range" -- agent --host h --capacity-mib 0 --trace "$small" --vms 0:1
expect 2 stderr '--host: a name is 1..128 printable characters' -- agent --host 'a b' --capacity-mib 4096 --trace "$small" --vms 0:1
expect 2 stderr '--vms: expected FIRST:COUNT' -- agent --host h --capacity-mib 4096 --trace "$small" --vms x
expect 2 stderr '--reserve-mib: must be below --capacity-mib' -- agent --host h --capacity-mib 100 --trace "$small" --vms 0:1
expect 1 stderr "cannot open '$tmp/nope'" -- agent --host h --capacity-mib 4096 --trace "$tmp/nope" --vms 0:1
expect 1 stderr 'has 4 VMs; 5 asked for from index 3' -- agent --host h --capacity-mib 4096 --trace "$small" --vms 3:5
expect 1 stderr 'bad.csv:5: demand_mib is not a number' -- agent --host h --capacity-mib 4096 --trace "$data/bad.csv" --vms 0:1
expect 1 stderr 'cannot connect to nope' -- agent --host h --capacity-mib 4096 --trace "$small" --vms 0:1 --broker nope
expect 2 stderr '--source: expected trace, libvirt or cgroup' -- agent --host h --source nope
expect 2 stderr '--source: expected trace or linux' -- seller --host h --source libvirt
expect 2 stderr "--source\" is not an option|--source is not an option" -- buyer --host h --source linux --trace "$small" --vm 0
expect 2 stderr '--capacity-mib: comes from the source' -- agent --host h --source libvirt --capacity-mib 4096
expect 2 stderr '--cgroup-parent: is required with --source cgroup' -- agent --host h --source cgroup
expect 2 stderr '--cgroup-parent: goes with --source cgroup only' -- agent --host h --source libvirt --cgroup-parent x
expect 2 stderr '--trace: goes with --source trace only' -- agent --host h --source libvirt --trace "$small"
expect 1 stderr "cannot read this host's VMs \(--source libvirt\): cannot connect to libvirt at bogus:///x.*NOT going on as a seller only" -- agent --host h --source libvirt --uri bogus:///x --broker "ipc://$tmp/none.ipc" --run-for-s 1
expect 1 stderr "cannot read this host's VMs \(--source cgroup\): cannot open the cgroup.*NOT going on" -- agent --host h --source cgroup --cgroup-parent "no-such-$$.slice" --broker "ipc://$tmp/none.ipc" --run-for-s 1
expect 2 stderr "--max-actions: '-1' is out of range" -- broker --max-actions -1
expect 2 stderr "--action-timeout-s: '0' is out of range" -- broker --action-timeout-s 0
expect 2 stderr "--vm-cooldown-s: 'x' is not a whole number" -- broker --vm-cooldown-s x
expect 2 stderr '--migrate-disks: expected shared, copy or unsafe' -- agent --host h --source libvirt --uri test:///default --actuator libvirt --migrate-disks yes
expect 2 stderr '--migrate-disks: goes with --actuator libvirt only' -- agent --host h --source libvirt --uri test:///default --migrate-disks copy
expect 2 stderr '--migrate-disks is not an option of this command' -- seller --host h --capacity-mib 4096 --migrate-disks copy
expect 0 stdout '--migrate-disks M' -- agent --help
expect 2 stderr "--max-conns-per-key: '-1' is out of range" -- broker --max-conns-per-key -1
expect 2 stderr "--handshake-timeout-s: '0' is out of range" -- broker --handshake-timeout-s 0
expect 2 stderr '--actuator: expected none, dry-run, libvirt, cgroup or emulated' -- agent --host h --capacity-mib 4096 --trace "$small" --vms 0:1 --actuator nope
# the emulated hypervisor (docs/emulated.md)
expect 0 stdout '--world DIR' -- agent --help
expect 2 stderr '--world: is required with --actuator emulated' -- agent --host h --capacity-mib 4096 --trace "$small" --vms 0:1 --actuator emulated
expect 2 stderr '--world: goes with --actuator emulated only' -- agent --host h --capacity-mib 4096 --trace "$small" --vms 0:1 --world "$tmp/w"
expect 2 stderr '--migrate-mibps: goes with --actuator emulated only' -- agent --host h --capacity-mib 4096 --trace "$small" --vms 0:1 --migrate-mibps 100
expect 2 stderr '--migrate-mibps: must be above 0' -- agent --host h --capacity-mib 4096 --trace "$small" --vms 0:1 --actuator emulated --world "$tmp/w" --migrate-mibps 0
expect 2 stderr "--dirty-mibps: '-1' is out of range" -- agent --host h --capacity-mib 4096 --trace "$small" --vms 0:1 --actuator emulated --world "$tmp/w" --dirty-mibps -1
expect 2 stderr '--actuator: emulated goes with --source trace only' -- agent --host h --source libvirt --actuator emulated --world "$tmp/w"
expect 2 stderr '--uri: with --actuator emulated the host.s URI is emulated://HOST' -- agent --host h --capacity-mib 4096 --trace "$small" --vms 0:1 --actuator emulated --world "$tmp/w" --uri qemu:///system
expect 2 stderr '--host: with --actuator emulated, a name of 1..128' -- agent --host h/x --capacity-mib 4096 --trace "$small" --vms 0:1 --actuator emulated --world "$tmp/w"
expect 1 stderr 'cannot create /dev/null/w' -- agent --host h --capacity-mib 4096 --trace "$small" --vms 0:1 --actuator emulated --world /dev/null/w
expect 2 stderr '--actuator: libvirt needs --uri' -- agent --host h --capacity-mib 4096 --trace "$small" --vms 0:1 --actuator libvirt
expect 2 stderr '--actuator is not an option' -- seller --host h --capacity-mib 4096 --actuator dry-run
expect 2 stderr '--dry-run-delay-ms: goes with --actuator dry-run only' -- agent --host h --capacity-mib 4096 --trace "$small" --vms 0:1 --dry-run-delay-ms 5
expect 1 stderr '--state-dir .*/nope: No such file or directory' -- agent --host h --capacity-mib 4096 --trace "$small" --vms 0:1 --actuator dry-run --state-dir "$tmp/nope"
expect 2 stderr '--state-dir is not an option' -- seller --host h --capacity-mib 4096 --state-dir "$tmp"
expect 0 stderr 'note: .*bogus:///x.*without an actuator' -- agent --host h --capacity-mib 4096 --trace "$small" --vms 0:1 --uri bogus:///x --actuator libvirt --broker "ipc://$tmp/none.ipc" --run-for-s 1
# the default URI, where no libvirtd runs (a CI container)
if [ ! -S /var/run/libvirt/libvirt-sock ]; then
	expect 1 stderr 'cannot read this host.s VMs .--source libvirt.: cannot connect to libvirt at qemu:///system' -- agent --host h --source libvirt --broker "ipc://$tmp/none.ipc" --run-for-s 1
fi
expect 2 stderr '--trace: is required' -- buyer --host h
expect 2 stderr "--run-for-s: '-1' is out of range" -- seller --host h --capacity-mib 4096 --run-for-s -1
# the VM defaults: the agent's and a buyer's, not a seller's
expect 0 stdout '--minimum-mib M' -- agent --help
expect 0 stdout '--buffer PCT' -- buyer --help
expect 2 stderr '--buffer is not an option' -- seller --host h --capacity-mib 4096 --buffer 10
expect 2 stderr "--buffer: '2001' is out of range" -- agent --host h --capacity-mib 4096 --trace "$small" --vms 0:1 --buffer 2001
expect 2 stderr '--startup-mib: must be at least --minimum-mib' -- agent --host h --capacity-mib 4096 --trace "$small" --vms 0:1 --minimum-mib 2048

# CURVE: a tcp:// endpoint without keys is refused unless --insecure; key
# files and the allow-list are checked before anything listens.
expect 0 stdout 'usage: bourse keygen' -- keygen --help
expect 2 stderr 'a NAME is needed' -- keygen
expect 1 stderr "'a b' is not a valid name" -- keygen 'a b' --dir "$tmp"
expect 0 stdout "allow-list line: k1 " -- keygen k1 --dir "$tmp"
expect 1 stderr "k1.key: File exists .not overwritten." -- keygen k1 --dir "$tmp"
if [ "$(stat -c %a "$tmp/k1.key")" = 600 ]; then
	pass=$((pass + 1))
else
	fail=$((fail + 1))
	echo "FAIL: a secret key file is readable by others"
fi
expect 1 stderr 'is a TCP endpoint: give the broker --key FILE and --allow FILE' -- broker --db "$tmp/k.db" --rounds 1
expect 1 stderr 'CURVE needs both --key' -- broker --key "$tmp/k1.key" --db "$tmp/k.db" --rounds 1
expect 2 stderr 'contradict' -- broker --insecure --key "$tmp/k1.key" --allow "$tmp/k1.pub" --db "$tmp/k.db"
expect 1 stderr "$tmp/nope.key: No such file" -- broker --key "$tmp/nope.key" --allow "$tmp/k1.pub" --db "$tmp/k.db" --rounds 1
printf 'host-a %s\nhost-b not-a-key\n' "$(sed -n 's/^public-key = //p' "$tmp/k1.pub")" > "$tmp/allow"
expect 1 stderr "allow:2: not a 40-character Z85 key" -- broker --key "$tmp/k1.key" --allow "$tmp/allow" --db "$tmp/k.db" --rounds 1
expect 1 stderr "k1.pub: no secret-key" -- broker --key "$tmp/k1.pub" --allow "$tmp/allow" --db "$tmp/k.db" --rounds 1
# the allow-list's pins (uri=, max_mib=), and who holds what
k1pub="$(sed -n 's/^public-key = //p' "$tmp/k1.pub")"
printf 'host-a %s max_mib=0\n' "$k1pub" > "$tmp/allow-pin"
expect 1 stderr "allow-pin:1: max_mib= must be a number of MiB" -- broker --key "$tmp/k1.key" --allow "$tmp/allow-pin" --db "$tmp/k.db" --rounds 1
printf 'host-a %s colour=red\n' "$k1pub" > "$tmp/allow-pin"
expect 1 stderr "allow-pin:1: 'colour=red': expected uri=URI or max_mib=N" -- broker --key "$tmp/k1.key" --allow "$tmp/allow-pin" --db "$tmp/k.db" --rounds 1
expect 2 stderr "bourse broker: --probation-rounds: '-1' is out of range" -- broker --probation-rounds -1
expect 2 stderr "bourse broker: --max-host-mib: '0' is out of range" -- broker --max-host-mib 0
expect 2 stderr "bourse broker: --max-vms-per-host: 'many' is not a whole number" -- broker --max-vms-per-host many
expect 1 stderr 'is a TCP endpoint: give --key' -- agent --host h --capacity-mib 4096 --trace "$small" --vms 0:1 --run-for-s 1
expect 1 stderr 'CURVE needs both --key and --broker-key' -- agent --host h --capacity-mib 4096 --trace "$small" --vms 0:1 --key "$tmp/k1.key" --run-for-s 1

# Modes and the kill switch: bad values exit 2 before touching anything; a
# missing database is named and not created; then a round trip on a real one.
expect 0 stdout 'usage: bourse mode' -- mode --help
expect 0 stdout 'usage: bourse pause' -- pause --help
expect 0 stdout 'usage: bourse resume' -- resume --help
expect 2 stderr "'auto' is not a mode" -- mode auto --db "$tmp/c.db"
expect 2 stderr "--for: 'resize' is not a kind of action" -- mode manual --for resize --db "$tmp/c.db"
expect 2 stderr '--for needs a MODE' -- mode --for migrate --db "$tmp/c.db"
expect 2 stderr 'pause takes no such option' -- pause --json --db "$tmp/c.db"
expect 2 stderr "unrecognized option '--bogus'" -- resume --bogus
expect 1 stderr "database $tmp/c.db does not exist" -- mode manual --db "$tmp/c.db"
expect 1 stderr "database $tmp/c.db does not exist" -- pause --db "$tmp/c.db"
"$bourse" broker --listen "ipc://$tmp/ctl.ipc" --db "$tmp/c.db" --rounds 1 --round-ms 10 2>/dev/null
# a new database: resizes automated, migrations manual
expect 0 stdout '^resize-down +automated' -- mode --db "$tmp/c.db"
expect 0 stdout '^migrate: already manual' -- mode manual --for migrate,resize-up --db "$tmp/c.db"
expect 0 stdout '^resize-up +manual' -- mode --db "$tmp/c.db"
expect 0 stdout '^resize-down: automated -> recommend: 0 approved resize-down withdrawn' -- mode recommend --for resize-down --db "$tmp/c.db"
expect 0 stdout '^resize-down +recommend' -- mode --db "$tmp/c.db"
expect 0 stdout 'dispatching paused' -- pause --reason 'maintenance' --db "$tmp/c.db"
expect 0 stdout 'PAUSED: maintenance' -- mode --db "$tmp/c.db"
expect 0 stdout '"paused":true' -- mode --json --db "$tmp/c.db"
expect 0 stdout 'dispatching resumed' -- resume --db "$tmp/c.db"
expect 0 stdout 'dispatching +on' -- mode --db "$tmp/c.db"

# Output conventions (docs/operations.md, "Output"): a mistyped command
# gets the nearest one; getopt's messages name the whole command; JSON has
# no long float tails.
expect 2 stderr "'rec' is not a bourse command; did you mean 'recs'\?" -- rec
expect 2 stderr "did you mean 'status'\?" -- statsu
expect 2 stderr "'frobnicate' is not a bourse command; see" -- frobnicate
expect 2 stderr "'aprove' is not a recs command .*; did you mean 'approve'\?" -- recs aprove 1
expect 2 stderr "did you mean 'list'\?" -- recs lsit
for cmd in sim broker agent seller buyer keygen hosts vms prices status \
	events signals mode pause resume "recs" "recs list" "recs show" \
	"recs approve" "recs reject" "recs cancel" "recs stats"; do
	# shellcheck disable=SC2086 # the words of the command
	expect 2 stderr "^bourse $cmd: unrecognized option '--statz'" -- $cmd --statz
done
expect 2 stderr "^bourse recs list: option '--limit' requires an argument" -- recs list --limit
expect 2 stderr "^bourse hosts: invalid option -- 'x'" -- hosts -x
expect 2 stderr "^bourse recs list: -o: 'yaml' is not an output format \(table, wide, json\)" -- recs list -o yaml
expect 2 stderr "^bourse status: -o: 'csv' is not an output format" -- status --output csv
expect 2 stderr "^bourse recs list: --kind: it is 'resize' or 'migrate'" -- recs list --kind up
expect 0 stdout '-o, --output FORMAT' -- recs list --help
expect 0 stdout '--no-headers' -- hosts --help
for j in "sim --trace $data/bitbrains-mini --json" \
	"sim --trace $data/small.csv --hosts 2 --host-gib 8 --json" \
	"mode -o json --db $tmp/c.db" "status -o json --db $tmp/c.db" \
	"recs stats -o json --db $tmp/c.db"; do
	# shellcheck disable=SC2086 # the words of the command
	if "$bourse" $j >"$tmp/j" 2>"$tmp/err" && [ -s "$tmp/j" ] &&
		! grep -Eq '[0-9]\.[0-9]{10,}' "$tmp/j"; then
		pass=$((pass + 1))
	else
		fail=$((fail + 1))
		echo "FAIL: bourse $j: a long float tail or no JSON"
		grep -E '[0-9]\.[0-9]{10,}' "$tmp/j" | head -3
	fi
done

# A table on a terminal (script(1), util-linux, gives one): bold headers
# unless NO_COLOR, free-text columns cut to its width; into a pipe neither.
esc=$(printf '\033')
tty_run() { # COLS ENV...: bourse mode on a terminal COLS wide, into $tmp/tty
	local cols=$1
	shift
	script -q -e -c "stty cols $cols; env $* '$bourse' mode --db '$tmp/c.db'" \
		/dev/null >"$tmp/tty" 2>&1
}
effect="dispatched once approved ('bourse recs approve ID')"
if tty_run 200 && grep -q "${esc}\[1mKIND" "$tmp/tty" &&
	grep -qF "$effect" "$tmp/tty" &&
	tty_run 200 NO_COLOR=1 && ! grep -q "$esc" "$tmp/tty" &&
	tty_run 50 NO_COLOR=1 && ! grep -qF "$effect" "$tmp/tty" &&
	grep -q '^migrate  *manual  *[0-9]' "$tmp/tty" &&
	"$bourse" mode --db "$tmp/c.db" >"$tmp/pipe" && ! grep -q "$esc" "$tmp/pipe" &&
	grep -qF "$effect" "$tmp/pipe"; then
	pass=$((pass + 1))
else
	fail=$((fail + 1))
	echo "FAIL: colours and cut columns on a terminal only"
	sed 's/^/  tty: /' "$tmp/tty" | cat -v | head -5
fi

# Pictures (bourse plot, bourse sim --plot): bad flags exit 2 naming the
# flag; a database without rounds exits 1 saying so; the simulator's plot
# of the small trace is a PNG and an SVG (test_plot_cli draws from a store).
expect 0 stdout 'usage: bourse plot --out FILE' -- plot --help
expect 2 stderr '--out: is required' -- plot --db "$tmp/c.db"
expect 2 stderr 'must end in .png or .svg' -- plot --out "$tmp/p.jpg"
expect 2 stderr "--what: 'cpu' is not one of" -- plot --out "$tmp/p.png" --what prices,cpu
expect 2 stderr "bourse plot: unrecognized option '--bogus'" -- plot --bogus
expect 1 stderr 'has no rounds' -- plot --db "$tmp/c.db" --out "$tmp/p.png" --from 100000
expect 2 stderr '--plot: the directory name is empty' -- sim --trace "$data/small.csv" --plot ''
expect 1 stderr 'cannot make the directory' -- sim --trace "$data/small.csv" --hosts 2 --host-gib 8 --plot "$tmp/no/such"
expect 0 stderr "plots: $tmp/simplot/sim-policies.png" -- sim --trace "$data/bitbrains-mini" --hosts 2 --host-gib 8 --plot "$tmp/simplot"
if [ "$(head -c 8 "$tmp/simplot/sim-policies.png" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ] &&
	[ "$(wc -c <"$tmp/simplot/sim-policies.png")" -gt 20000 ] &&
	grep -q '<svg' "$tmp/simplot/sim-policies.svg" && grep -q '</svg>' "$tmp/simplot/sim-policies.svg" &&
	grep -q '>market: ' "$tmp/simplot/sim-policies.svg"; then
	pass=$((pass + 1))
else
	fail=$((fail + 1))
	echo "FAIL: sim --plot did not write a PNG and an SVG with the policies"
fi

# Host maintenance: bad usage exits 2 naming the command; an unknown host
# is named; drain and undrain round-trip, shown by hosts and status.
expect 0 stdout 'usage: bourse host drain HOST' -- host --help
expect 2 stderr 'bourse host: which: drain or undrain' -- host --db "$tmp/c.db"
expect 2 stderr "bourse host: 'empty' is not drain or undrain" -- host empty h --db "$tmp/c.db"
expect 2 stderr 'bourse host drain: no HOST given' -- host drain --db "$tmp/c.db"
expect 2 stderr 'bourse host undrain: --reason is for drain' -- host undrain h --reason x --db "$tmp/c.db"
expect 2 stderr "bourse host drain: unknown option '--bogus'" -- host drain h --bogus
expect 2 stderr "bourse host drain: unexpected argument 'extra'" -- host drain h extra
expect 1 stderr "database $tmp/none.db does not exist" -- host drain h --db "$tmp/none.db"
expect 1 stderr "bourse host drain: no host named 'h-x'" -- host drain h-x --db "$tmp/c.db"
sqlite3 "$tmp/c.db" "INSERT INTO hosts (name, uri, capacity_mib, reserve_mib, state, first_seen_ms, last_seen_ms) VALUES ('h-1', '', 8192, 1024, 1, 0, 0)" 2>/dev/null ||
	echo "FAIL: cannot add a host with sqlite3"
expect 0 stdout '^host h-1 draining' -- host drain h-1 --reason 'new DIMMs' --db "$tmp/c.db"
expect 0 stdout '^host h-1 is draining already' -- host drain h-1 --db "$tmp/c.db"
expect 0 stdout '^h-1 .*, draining ' -- hosts --db "$tmp/c.db"
expect 0 stdout '^draining +h-1 since .* by cli.* \(new DIMMs\)' -- status --db "$tmp/c.db"
expect 0 stdout '"draining":true' -- hosts --json --db "$tmp/c.db"
expect 0 stdout '^host h-1 no longer draining' -- host undrain h-1 --db "$tmp/c.db"
expect 0 stdout '^draining +none' -- status --db "$tmp/c.db"

# Per-VM policy on libvirt's test driver: a node file whose domain pa has a
# policy (each process reads the file anew: set writes in its own process
# only, so set is checked by its output; test_source_libvirt round-trips).
cat >"$tmp/node.xml" <<'XML'
<node><cpu><nodes>1</nodes><sockets>1</sockets><cores>1</cores><threads>1</threads><active>1</active><mhz>2000</mhz><model>i686</model></cpu>
<memory>16777216</memory>
<domain type='test'><name>pa</name><metadata><bourse:policy xmlns:bourse='https://bourse.dev/xmlns/policy/1'><bourse:minimum unit='GiB'>1</bourse:minimum><bourse:buffer>3000</bourse:buffer></bourse:policy></metadata><memory unit='MiB'>4096</memory><currentMemory unit='MiB'>2048</currentMemory><vcpu>1</vcpu><os><type>hvm</type></os></domain>
</node>
XML
node="test://$tmp/node.xml"
expect 0 stdout 'usage: bourse vm-policy set DOMAIN' -- vm-policy --help
expect 2 stderr 'bourse vm-policy: set or show' -- vm-policy
expect 2 stderr 'bourse vm-policy show: no DOMAIN given' -- vm-policy show
expect 2 stderr 'bourse vm-policy set: no setting given' -- vm-policy set pa -c "$node"
expect 2 stderr 'bourse vm-policy show: show takes no settings' -- vm-policy show pa --weight 3 -c "$node"
expect 2 stderr "bourse vm-policy set: --minimum: '1X': unknown unit 'X'" -- vm-policy set pa --minimum 1X -c "$node"
expect 2 stderr "bourse vm-policy set: --weight: '10001' is not a whole number in 0..10000" -- vm-policy set pa --weight 10001 -c "$node"
expect 2 stderr 'bourse vm-policy set: minimum: 8192 MiB is above the maximum \(4096 MiB\)' -- vm-policy set pa --minimum 8G --maximum 4G -c "$node"
expect 2 stderr 'bourse vm-policy set: --exclude and --include together' -- vm-policy set pa --exclude --include -c "$node"
expect 1 stderr "bourse vm-policy show: .*no domain named 'nope'" -- vm-policy show nope -c "$node"
expect 0 stdout '^minimum +1024 MiB +set' -- vm-policy show pa -c "$node"
expect 0 stderr "domain pa: bourse policy: <buffer>: '3000' is not a whole number" -- vm-policy show pa -c "$node"
expect 0 stdout '^buffer +20% +default' -- vm-policy show pa -c "$node"
expect 0 stdout '"minimum_mib":1024' -- vm-policy show pa --json -c "$node"
expect 0 stdout '^weight +7 +set' -- vm-policy set pa --weight 7 --maximum 3GiB -c "$node"
expect 0 stdout '^maximum +3072 MiB +set' -- vm-policy set pa --weight 7 --maximum 3GiB -c "$node"
expect 0 stdout '^minimum +512 MiB +default' -- vm-policy set pa --minimum default -c "$node"
expect 0 stdout '^exclude +yes +set' -- vm-policy set pa --exclude --uri "$node"

# bourse.conf (docs/configuration.md; tests/conf_cli.sh has the rest)
expect 0 stdout '--config PATH' -- broker --help
expect 0 stdout '--config PATH' -- agent --help
expect 0 stdout '--mode-migrate M' -- broker --help
expect 2 stderr "^bourse: $tmp/none.conf: No such file or directory" -- broker --config "$tmp/none.conf"
expect 2 stderr "--mode-migrate: expected recommend, manual or automated" -- broker --mode-migrate always

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
