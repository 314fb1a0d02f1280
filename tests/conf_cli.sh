#!/usr/bin/env bash
# bourse.conf through the real binary (docs/configuration.md): a broker and
# an agent started with only a configuration file (the broker listens where
# the file says, the agent's [vm "NAME"] settings reach the store), `bourse
# hosts` and `vms` finding the database from it, flags and $BOURSE_DB
# overriding it, bad values refused with file:line:key and exit 2, the
# audited user (SUDO_USER under sudo, never $USER), and "permission denied"
# for a user who may not read or write the database.
# usage: conf_cli.sh BOURSE DATA_DIR
set -u
bourse=$1
data=$2
pass=0
fail=0
tmp=$(mktemp -d)
broker_pid=
cleanup() {
	[ -n "$broker_pid" ] && kill "$broker_pid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
unset BOURSE_DB BOURSE_CONF

ok() { pass=$((pass + 1)); }
bad() {
	fail=$((fail + 1))
	echo "FAIL: $*"
	sed 's/^/  out: /' "$tmp/out" 2>/dev/null | head -5
	sed 's/^/  err: /' "$tmp/err" 2>/dev/null | head -5
}

# run CODE PATTERN FILE -- ARGS: exit CODE, PATTERN (grep -E) in FILE
# (out or err). The environment is the caller's.
run() {
	local code=$1 pattern=$2 file=$3
	shift 4
	"$bourse" "$@" >"$tmp/out" 2>"$tmp/err"
	local got=$?
	if [ "$got" -eq "$code" ] && grep -Eq -- "$pattern" "$tmp/$file"; then
		ok
	else
		bad "bourse $* -> exit $got (want $code), $file should match '$pattern'"
	fi
}

conf=$tmp/bourse.conf
cat >"$conf" <<EOF
# what a host's operator writes: no flags anywhere
[broker]
listen = ipc://$tmp/broker.sock
db = $tmp/bourse.db
round-ms = 200
heartbeat-ms = 100
quiet = yes

[agent]
broker = ipc://$tmp/broker.sock
host = h1
capacity-mib = 65536
trace = $data/small.csv
vms = 0:4
interval-ms = 200
run-for-s = 6

[vm "vm-2"]
minimum = 2G
weight = 42
shares = 3000

[vm "vm-3"]
exclude = yes
EOF

# ---- a broker and an agent from the file alone ----
BOURSE_CONF=$conf "$bourse" broker 2>"$tmp/broker.err" &
broker_pid=$!
for _ in $(seq 300); do # 30 s: a loaded machine, a sanitized build
	[ -S "$tmp/broker.sock" ] && break
	sleep 0.1
done
if [ -S "$tmp/broker.sock" ]; then ok; else bad "the broker is not listening on ipc://$tmp/broker.sock"; fi
if BOURSE_CONF=$conf "$bourse" agent >"$tmp/out" 2>"$tmp/err"; then ok; else bad "the agent from the file alone failed"; fi
export BOURSE_CONF=$conf
run 0 '^h1 ' out -- hosts
run 0 '"name": ?"vm-2"' out -- vms --json
if grep -Eq '"name": ?"vm-3"' "$tmp/out"; then bad "vm-3 is excluded but registered"; else ok; fi
# vm-2's settings from [vm "vm-2"]; vm-1's the defaults
vm2=$(tr -d '\n ' <"$tmp/out" | grep -o '"name":"vm-2"[^}]*')
case $vm2 in *'"minimum_mib":2048'*'"weight":42'*'"shares":3000'*) ok ;;
	*) bad "vm-2's settings are not the file's: $vm2" ;; esac
vm1=$(tr -d '\n ' <"$tmp/out" | grep -o '"name":"vm-1"[^}]*')
case $vm1 in *'"minimum_mib":512'*'"weight":5000'*) ok ;;
	*) bad "vm-1's settings are not the defaults: $vm1" ;; esac
kill "$broker_pid"
wait "$broker_pid"
broker_pid=
if grep -q "listening on ipc://$tmp/broker.sock, database $tmp/bourse.db, round [0-9]* every 200 ms" "$tmp/broker.err"; then ok; else bad "the broker did not take the file: $(head -3 "$tmp/broker.err")"; fi

# ---- flags override the file; $BOURSE_DB too; --config names one ----
run 0 "database $tmp/other.db, round 1 every 50 ms" err -- broker --rounds 1 --round-ms 50 --db "$tmp/other.db" --listen "ipc://$tmp/b2.sock"
BOURSE_DB=$tmp/env.db run 0 "database $tmp/env.db," err -- broker --rounds 1 --listen "ipc://$tmp/b3.sock"
run 0 '^h1 ' out -- hosts
run 1 "database $tmp/none.db does not exist" err -- hosts --db "$tmp/none.db"
BOURSE_DB=$tmp/none.db run 1 "$tmp/none.db" err -- hosts
printf '[broker]\ndb = %s\n[cli]\ndb = %s\n' "$tmp/x.db" "$tmp/bourse.db" >"$tmp/cli.conf"
BOURSE_CONF=$tmp/cli.conf run 0 '^h1 ' out -- hosts
printf '[broker]\nround-ms = 300\n' >"$tmp/nodb.conf"
BOURSE_CONF=$tmp/nodb.conf run 2 "^bourse hosts: $tmp/nodb.conf names no database" err -- hosts
run 0 "database $tmp/flag.db, round 1 every 300 ms" err -- broker --config "$tmp/nodb.conf" --db "$tmp/flag.db" --rounds 1 --listen "ipc://$tmp/b4.sock"
unset BOURSE_CONF
run 2 "^bourse: $tmp/missing.conf: No such file or directory \(the configuration named by --config\)$" err -- broker --config "$tmp/missing.conf"
BOURSE_CONF=$tmp/missing.conf run 2 "named by \\\$BOURSE_CONF" err -- hosts

# ---- bad values: file, line and key; exit 2 ----
printf '[broker]\nquiet = yes\n\nround-ms = abc\n' >"$tmp/bad.conf"
run 2 "^bourse: $tmp/bad.conf:4: \[broker\] round-ms: 'abc' is not a whole number$" err -- broker --config "$tmp/bad.conf"
printf '[broker]\nround-msec = 5\n' >"$tmp/bad.conf"
run 2 "^bourse: $tmp/bad.conf:2: \[broker\] round-msec: not a key of \[broker\]" err -- broker --config "$tmp/bad.conf"
printf '[broker]\nlisten = x\n[brokr]\nround-ms = 5\n' >"$tmp/bad.conf"
run 2 "^bourse: $tmp/bad.conf:4: \[brokr\] round-ms: not a section" err -- broker --config "$tmp/bad.conf"
printf '[agent]\nhost = h1\ncapacity-mib = -5\n' >"$tmp/bad.conf"
run 2 "^bourse: $tmp/bad.conf:3: \[agent\] capacity-mib: '-5' is out of range" err -- agent --config "$tmp/bad.conf"
printf '[seller]\nvm = 1\n' >"$tmp/bad.conf"
run 2 "^bourse: $tmp/bad.conf:2: \[seller\] vm: not a key of \[seller\]" err -- seller --config "$tmp/bad.conf"
printf '[vm "vm-1"]\nmaximum = lots\n' >"$tmp/bad.conf"
run 2 "^bourse: $tmp/bad.conf:2: \[vm \"vm-1\"\] maximum: 'lots' is not a size" err -- agent --config "$tmp/bad.conf" --host h1
printf '[cli]\ndatabase = x\n' >"$tmp/bad.conf"
BOURSE_CONF=$tmp/bad.conf run 2 "^bourse: $tmp/bad.conf:2: \[cli\] database: not a key of \[cli\]" err -- recs list
# --help whatever the file says
printf '[broker]\nround-ms = abc\n' >"$tmp/bad.conf"
BOURSE_CONF=$tmp/bad.conf run 0 'usage: bourse broker' out -- broker --help
BOURSE_CONF=$tmp/bad.conf run 0 'usage: bourse agent' out -- agent --config "$tmp/bad.conf" --help
BOURSE_CONF=$tmp/bad.conf run 0 'usage: bourse hosts' out -- hosts --help
BOURSE_CONF=$tmp/bad.conf run 0 'usage: bourse recs' out -- recs --help
BOURSE_CONF=$tmp/missing.conf run 0 'no hosts yet' out -- hosts --db "$tmp/other.db"
# a flag's error still names the flag
printf '[broker]\nround-ms = 500\n' >"$tmp/good.conf"
run 2 "^bourse broker: --round-ms: 'x' is not a whole number" err -- broker --config "$tmp/good.conf" --round-ms x

# ---- the modes a new database starts with: once, then bourse mode's ----
printf '[broker]\nmode-migrate = automated\nmode-resize-down = recommend\n' >"$tmp/modes.conf"
run 0 'modes: resize-up automated, resize-down recommend, migrate automated' err -- broker --config "$tmp/modes.conf" --db "$tmp/modes.db" --rounds 1 --listen "ipc://$tmp/m.sock"
run 0 'broker +mode.set +.*migrate: manual -> automated' out -- events --db "$tmp/modes.db"
run 0 'manual' out -- mode manual --for migrate --db "$tmp/modes.db"
run 0 "note: --mode-migrate automated not applied: cli:[^ ]+ set the modes of $tmp/modes.db already" err -- broker --config "$tmp/modes.conf" --db "$tmp/modes.db" --rounds 1 --listen "ipc://$tmp/m.sock"
run 0 'modes: resize-up automated, resize-down recommend, migrate manual' err -- broker --config "$tmp/modes.conf" --db "$tmp/modes.db" --rounds 1 --listen "ipc://$tmp/m.sock"
printf '[broker]\nmode-migrate = sometimes\n' >"$tmp/bad.conf"
run 2 "^bourse: $tmp/bad.conf:2: \[broker\] mode-migrate: expected recommend, manual or automated" err -- broker --config "$tmp/bad.conf"

# ---- contrib/bourse.conf: it reads as it is, and every key it shows (all
# uncommented) is a key of its section ----
example=$data/../../contrib/bourse.conf
run 0 '^idle_tax ' out -- broker --config "$example" --params
sed 's/^;//' "$example" >"$tmp/full.conf"
run 0 '^idle_tax +0.75$' out -- broker --config "$tmp/full.conf" --params
for cmd in agent seller buyer; do
	"$bourse" $cmd --config "$tmp/full.conf" >"$tmp/out" 2>"$tmp/err"
	if [ $? -eq 2 ] && ! grep -q 'bourse: .*full.conf' "$tmp/err"; then ok; else bad "$cmd refuses a key of contrib/bourse.conf"; fi
done
BOURSE_CONF=$tmp/full.conf "$bourse" hosts >"$tmp/out" 2>"$tmp/err"
if ! grep -q 'full.conf' "$tmp/err"; then ok; else bad "hosts refuses contrib/bourse.conf's [cli]"; fi

# ---- who acts: the real user, not $USER ----
me=$(id -un)
if [ "$(id -u)" -eq 0 ]; then want=alice; else want=$me; fi
SUDO_USER=alice USER=mallory run 0 'paused' out -- pause --db "$tmp/bourse.db" --reason conf-test
run 0 "cli:$want +dispatch.paused +.*conf-test" out -- events --db "$tmp/bourse.db"
USER=mallory run 0 'resumed|dispatching' out -- resume --db "$tmp/bourse.db"
run 0 "cli:$me +dispatch.resumed" out -- events --db "$tmp/bourse.db"

# ---- permission ----
cp "$tmp/bourse.db" "$tmp/perm.db"
rm -f "$tmp"/perm.db-*
chmod 755 "$tmp"
if [ "$(id -u)" -eq 0 ]; then
	as_other() { setpriv --reuid=nobody --regid=nogroup --clear-groups "$bourse" "$@"; }
	chmod 600 "$tmp/perm.db" # root's: nobody may not read it
else
	as_other() { "$bourse" "$@"; }
	chmod 000 "$tmp/perm.db" # ours, but no right to it
fi
as_other hosts --db "$tmp/perm.db" >"$tmp/out" 2>"$tmp/err"
if [ $? -eq 1 ] && grep -q "^bourse hosts: $tmp/perm.db: permission denied (reading needs the bourse group or sudo)$" "$tmp/err"; then ok; else bad "reading without the right does not say permission"; fi
as_other pause --db "$tmp/perm.db" >"$tmp/out" 2>"$tmp/err"
if [ $? -eq 1 ] && grep -q "^bourse pause: $tmp/perm.db: permission denied (writing needs the bourse group or sudo)$" "$tmp/err"; then ok; else bad "writing without the right does not say permission"; fi
if [ "$(id -u)" -eq 0 ]; then chmod 644 "$tmp/perm.db"; else chmod 444 "$tmp/perm.db"; fi
as_other pause --db "$tmp/perm.db" >"$tmp/out" 2>"$tmp/err"
if [ $? -eq 1 ] && grep -q "^bourse pause: $tmp/perm.db: permission denied (writing needs the bourse group or sudo)$" "$tmp/err"; then ok; else bad "writing a read-only file does not say permission"; fi
if [ "$(id -u)" -eq 0 ]; then
	printf '[cli]\ndb = %s\n' "$tmp/perm.db" >"$tmp/secret.conf"
	chmod 600 "$tmp/secret.conf"
	BOURSE_CONF=$tmp/secret.conf as_other hosts >"$tmp/out" 2>"$tmp/err"
	if [ $? -eq 2 ] && grep -q "^bourse: $tmp/secret.conf: permission denied (reading it needs the bourse group or sudo)$" "$tmp/err"; then ok; else bad "an unreadable configuration does not say permission"; fi
fi

echo "conf_cli: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
