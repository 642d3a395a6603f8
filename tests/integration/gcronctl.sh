#!/usr/bin/env bash
# gcronctl against a real gcron-service (SQLite) and a real gcron-agent on
# a throwaway etcd: every command, its --json output parsed, the exit codes
# (0 ok, 1 refused, 2 usage, 3 unreachable) and the messages of the errors
# people meet (bad URL, timeout, garbage and expired tokens, unknown project
# or job, ambiguous names, bad cron). A few commands run under valgrind.
# Prints "N passed, M failed" last; exits non-zero on any failure.
set -uo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD

fail_early() {
	echo "FAIL - set-up: $*"
	echo "0 passed, 1 failed"
	exit 1
}

# Re-run under the harness, which starts etcd and stops it when we end.
if [[ -z ${GC_TEST_ETCD_ENDPOINTS:-} ]]; then
	[[ -x build/tests/gc-harness ]] || fail_early "build/tests/gc-harness is missing (run make)"
	exec build/tests/gc-harness --etcd 1 -- bash "$0" "$@"
fi

BIN=${GC_BUILD:-$ROOT/build}/bin
G=$BIN/gcronctl
for b in "$G" "$BIN/gcron-service" "$BIN/gcron-agent"; do
	[[ -x $b ]] || fail_early "$b is missing (run make)"
done
command -v python3 >/dev/null || fail_early "python3 is missing (tests/lib/deps.sh)"
# The interpreter itself: a version manager's shim costs seconds per call
# on a loaded machine, and this script calls python often.
PY=$(python3 -c 'import sys; print(sys.executable)') || fail_early "python3 does not run"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/gc-ctl.XXXXXX")
pids=()
cleanup() {
	local p i alive
	for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
	for i in $(seq 1 50); do
		alive=0
		for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
		((alive)) || break
		sleep 0.1
	done
	for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null; done
	wait 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

free_port() {
	"$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

port=$(free_port) || fail_early "no free port"
S=http://127.0.0.1:$port
etcd_list=$(sed -E 's/([^,]+)/"\1"/g; s/,/, /g' <<<"$GC_TEST_ETCD_ENDPOINTS")
etcd_first=${GC_TEST_ETCD_ENDPOINTS%%,*}
prefix=/gc_ctl_$$
jwt_secret="ctl-secret-$$-$RANDOM$RANDOM-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
report_token="ctl-report-$$-$RANDOM"

cat >"$tmp/service.toml" <<EOF
log_level = "info"
[deploy]
environment = "release"
host = ["127.0.0.1:$port"]
timeout = 5
[etcd]
service = [$etcd_list]
dialtimeout = 5000
prefix = "$prefix"
[mysql]
service = ""
[sqlite]
path = "$tmp/gophercron.db"
[jwt]
secret = "$jwt_secret"
exp = 1
[report]
token = "$report_token"
EOF

cat >"$tmp/agent.toml" <<EOF
log_level = "info"
report_addr = "$S/api/v1/report"
report_token = "$report_token"
client_ip = "127.0.0.1"
spool_dir = "$tmp/spool"
kill_grace = "1s"
[deploy]
environment = "release"
timeout = 5
[etcd]
service = [$etcd_list]
dialtimeout = 5000
prefix = "$prefix"
projects = [1]
shell = "/bin/bash"
EOF

"$BIN/gcron-service" -c "$tmp/service.toml" >"$tmp/service.log" 2>&1 &
pids+=($!)
up=0
for _ in $(seq 1 300); do
	if curl -fsS -o /dev/null --max-time 2 "$S/api/v1/version" 2>/dev/null; then
		up=1
		break
	fi
	kill -0 "${pids[0]}" 2>/dev/null || break
	sleep 0.1
done
((up)) || {
	tail -20 "$tmp/service.log" | sed 's/^/  service: /'
	fail_early "gcron-service did not answer on $S"
}
"$BIN/gcron-agent" -c "$tmp/agent.toml" >"$tmp/agent.log" 2>&1 &
pids+=($!)

# Every gcronctl call sees only this test's config and server.
export XDG_CONFIG_HOME=$tmp/config HOME=$tmp/home
unset GCRON_SERVER GCRON_TOKEN GCRON_TIMEOUT
mkdir -p "$HOME"
CFG=$XDG_CONFIG_HOME/gophercron/config

pass=0 fail=0
ok() {
	echo "ok $1 [${SECONDS}s]"
	pass=$((pass + 1))
}
bad() {
	echo "FAIL $1: $2"
	[[ -n ${OUT-} ]] && sed 's/^/  stdout: /' <<<"${OUT:0:2000}"
	[[ -n ${ERR-} ]] && sed 's/^/  stderr: /' <<<"${ERR:0:2000}"
	fail=$((fail + 1))
}

# lines LINE...: what the next command reads on stdin (IN=$tmp/in).
lines() { printf '%s\n' "$@" >"$tmp/in"; }

# run ARGS... : runs gcronctl, sets OUT, ERR, RC (stdin from $IN if set).
run() {
	local e=$tmp/stderr
	OUT=$("$G" "$@" <"${IN:-/dev/null}" 2>"$e")
	RC=$?
	ERR=$(<"$e")
}

# check NAME RC [stdout-substring] [stderr-substring] -- ARGS...
check() {
	local name=$1 want=$2 so=$3 se=$4
	shift 4
	[[ $1 == -- ]] && shift
	run "$@"
	if ((RC != want)); then
		bad "$name" "exit status $RC, want $want"
	elif [[ -n $so && $OUT != *"$so"* ]]; then
		bad "$name" "stdout lacks: $so"
	elif [[ -n $se && $ERR != *"$se"* ]]; then
		bad "$name" "stderr lacks: $se"
	else
		ok "$name"
	fi
}

# jcheck NAME PYTHON-EXPR: evaluates EXPR with j = json.loads(OUT).
jcheck() {
	local name=$1 expr=$2 res
	res=$("$PY" -c '
import json, sys
j = json.loads(sys.stdin.read())
print("yes" if ('"$expr"') else "no")' <<<"$OUT" 2>&1)
	if [[ $res == yes ]]; then
		ok "$name"
	else
		bad "$name" "JSON check failed: $expr ($res)"
	fi
}

# jget PYTHON-EXPR: prints EXPR over j = json.loads(OUT).
jget() {
	"$PY" -c '
import json, sys
j = json.loads(sys.stdin.read())
print('"$1"')' <<<"$OUT"
}

# wait_for NAME SECONDS CMD...: retries CMD until it succeeds.
wait_for() {
	local name=$1 secs=$2 deadline
	shift 2
	deadline=$((SECONDS + secs))
	while ((SECONDS < deadline)); do
		"$@" && return 0
		sleep 0.2
	done
	bad "$name" "not true within ${secs}s: $*"
	return 1
}

# ------------------------------------------------------------- no server
check "help lists every group" 0 "project" "" -- --help
for grp in login logout whoami project job log node user cron exec; do
	check "help $grp" 0 "usage: gcronctl" "" -- help "$grp"
done
check "--help after a command needs no server" 0 "add -p PROJECT" "" -- job add --help
check "unknown command is a usage error" 2 "" "unknown command" -- frobnicate
check "unknown subcommand is a usage error" 2 "" "unknown command 'frob'" -- job frob
check "no server configured" 2 "" "no server" -- project ls
check "unsupported URL scheme" 2 "" "only http:// and https://" -- -s ftp://x project ls

# ----------------------------------------------------------------- login
lines wrong; IN=$tmp/in check "login: wrong password is refused" 1 "" "password is wrong" \
	-- -s "$S" login -u admin --password-stdin
lines 123456; IN=$tmp/in check "login: unknown account is refused" 1 "" "user not found" \
	-- -s "$S" login -u nobody --password-stdin
[[ ! -e $CFG ]] && ok "failed logins write no config" || bad "failed logins write no config" "$CFG exists"
check "login without a terminal needs --password-stdin" 2 "" "--password-stdin" \
	-- -s "$S" login -u admin
lines 123456; IN=$tmp/in check "login --password-stdin" 0 "Logged in to $S as admin" "first-start password" \
	-- -s "$S" login -u admin --password-stdin
mode=$(stat -c %a "$CFG" 2>/dev/null)
[[ $mode == 600 ]] && ok "token file mode 0600" || bad "token file mode 0600" "mode $mode"
mode=$(stat -c %a "$(dirname "$CFG")" 2>/dev/null)
[[ $mode == 700 ]] && ok "config dir mode 0700" || bad "config dir mode 0700" "mode $mode"
if grep -qx "server = $S" "$CFG" && grep -q '^token = ey' "$CFG"; then
	ok "config holds the server and the token"
else
	bad "config holds the server and the token" "$(sed 's/token = .*/token = .../' "$CFG")"
fi
# On a terminal: the account is asked for with echo, the password without.
"$PY" - "$G" "$S" >"$tmp/pty.out" 2>&1 <<'EOF'
import os, pty, select, sys, time
g, server = sys.argv[1], sys.argv[2]
pid, fd = pty.fork()
if pid == 0:
    os.execv(g, [g, "-s", server, "login"])
seen = b""
def until(pat, secs=30):
    global seen
    deadline = time.time() + secs
    while pat not in seen and time.time() < deadline:
        r, _, _ = select.select([fd], [], [], 0.2)
        if r:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
    return pat in seen
assert until(b"Account: "), seen
os.write(fd, b"admin\n")
assert until(b"Password: "), seen
os.write(fd, b"123456\n")
until(b"\xff", 30)  # read to the end
for _ in range(300):
    done, st = os.waitpid(pid, os.WNOHANG)
    if done:
        break
    time.sleep(0.1)
else:
    os.kill(pid, 9)
    raise SystemExit("gcronctl login did not end: %r" % seen)
assert os.WIFEXITED(st) and os.WEXITSTATUS(st) == 0, (st, seen)
after = seen.split(b"Password: ", 1)[1]
assert b"123456" not in after, "the password was echoed: %r" % seen
assert b"admin" in seen.split(b"Password: ", 1)[0], "the account was not echoed"
assert b"Logged in to " in after, seen
print("pty login ok")
EOF
[[ $? == 0 ]] && ok "login on a terminal: password not echoed" ||
	bad "login on a terminal: password not echoed" "$(cat "$tmp/pty.out")"
TOKEN=$(sed -n 's/^token = //p' "$CFG")

check "whoami" 0 "admin" "" -- whoami
check "whoami --json" 0 "" "" -- --json whoami
jcheck "whoami --json fields" "j['account'] == 'admin' and j['server'] == '$S' and j['id'] == 1 and 'admin' in j['permission']"
GCRON_SERVER=$S check "GCRON_SERVER is used" 0 "admin" "" -- whoami

# --------------------------------------------------------------- projects
check "project add" 0 "Created project 1 (demo)" "" -- project add demo --remark "first one"
check "project add: duplicate title refused" 1 "" "project exists" -- project add demo
check "project add --json" 0 "" "" -- project add scratch --json
jcheck "project add --json fields" "j['title'] == 'scratch' and j['project_id'] == 2 and j['remark'] == ''"
check "project ls" 0 "demo" "" -- project ls
[[ $(head -1 <<<"$OUT") == "ID  TITLE    JOBS  OWNER  REMARK" ]] && ok "project ls: aligned header" ||
	bad "project ls: aligned header" "$(head -1 <<<"$OUT")"
grep -Eq '^1 +demo +0 +admin +first one$' <<<"$OUT" && ok "project ls: the owner's account" ||
	bad "project ls: the owner's account" "$OUT"
check "project ls --json" 0 "" "" -- --json project ls
jcheck "project ls --json fields" "[p['title'] for p in j] == ['demo', 'scratch'] and j[0]['remark'] == 'first one' and j[0]['task_count'] == 0 and set(j[0]) >= {'project_id', 'uid', 'title', 'remark', 'task_count'}"
check "project edit --remark keeps the title" 0 "Updated project 2 (scratch)" "" -- project edit scratch --remark "temp"
check "project edit --title by id" 0 "" "" -- --json project edit 2 --title scratch2
jcheck "project edit --json" "j == {'project_id': 2, 'title': 'scratch2', 'remark': 'temp'}"
check "project edit: nothing to change" 2 "" "nothing to change" -- project edit 2
check "project: unknown project" 1 "" 'no project "nope"' -- project members nope
check "project rm without a terminal needs --yes" 2 "" "needs --yes" -- project rm scratch2
check "project rm --yes" 0 "Deleted project 2" "" -- project rm scratch2 --yes
check "project ls after rm" 0 "" "" -- --json project ls
jcheck "project rm removed it" "[p['title'] for p in j] == ['demo']"

# ------------------------------------------------------------------ users
lines bobpass1; IN=$tmp/in check "user add" 0 "Created user" "" -- user add bob -n "Bob B" --password-stdin
lines xxxxxxxx; IN=$tmp/in check "user add: duplicate account refused" 1 "" "user exists" -- user add bob --password-stdin
lines short77; IN=$tmp/in check "user add: a password under 8 characters is refused" 1 "" \
	'parameter "password": password too short (7 characters, at least 8)' -- user add shorty --password-stdin
check "user ls --json" 0 "" "" -- user ls --json
jcheck "user ls --json fields" "sorted(u['account'] for u in j) == ['admin', 'bob'] and [u for u in j if u['account'] == 'bob'][0]['name'] == 'Bob B' and all(set(u) >= {'id', 'account', 'name', 'permission', 'create_time'} for u in j)"
BOB_ID=$(jget "[u['id'] for u in j if u['account'] == 'bob'][0]")
check "user ls" 0 "Bob B" "" -- user ls
check "project add-member" 0 "Added bob to project 1" "" -- project add-member demo bob
check "project members --json" 0 "" "" -- --json project members demo
jcheck "project members --json lists bob" "sorted(u['account'] for u in j) == ['admin', 'bob']"
check "project add-member: unknown account" 1 "" "user not found" -- project add-member demo nobody

# bob, in a config of his own
BOBCFG=$tmp/bobcfg
bob() { XDG_CONFIG_HOME=$BOBCFG "$@"; }
lines bobpass1; IN=$tmp/in bob check "bob logs in" 0 "as bob" "" -- -s "$S" login -u bob --password-stdin
bob check "bob sees the project" 0 "demo" "" -- project ls
bob check "bob may not list users" 1 "" "" -- user ls
lines bobpass1 bobpass2; IN=$tmp/in bob check "user passwd (own, stdin)" 0 "Changed the password" "" -- user passwd --password-stdin
# (the token the change was made with is revoked: the new one was kept)
lines wrong bobpass3; IN=$tmp/in bob check "user passwd: wrong current password" 1 "" "password is wrong" -- user passwd --password-stdin
lines bobpass2 short; IN=$tmp/in bob check "user passwd: a new password under 8 characters is refused" 1 "" \
	'parameter "new_password": password too short' -- user passwd --password-stdin
lines bobpass2; IN=$tmp/in bob check "bob logs in with the new password" 0 "" "" -- login -u bob --password-stdin
cp -r "$BOBCFG" "$tmp/bobold"
lines bobpass9; IN=$tmp/in check "user passwd USER (admin reset)" 0 "" "" -- --json user passwd bob --password-stdin
jcheck "user passwd --json" "j == {'id': $BOB_ID, 'account': 'bob', 'changed': True}"
XDG_CONFIG_HOME=$tmp/bobold check "bob's token from before the reset is refused" 1 "" "token revoked" -- project ls
lines bobpass9; IN=$tmp/in bob check "bob logs in with the reset password" 0 "" "" -- login -u bob --password-stdin

# ------------------------------------------------------------------- jobs
NEVER='0 0 29 2 *' # no fire time during the test (next: a 29th of February)
check "job add: bad cron shows the cron engine's message" 1 "" 'cron expression is wrong: minute field "61"' \
	-- job add -p demo -n bad --cron '61 * * * *' -- true
run cron check '61 * * * *'
engine_msg=${ERR#gcronctl: cron: }
check "job add: the same message as gcronctl cron check" 1 "" "$engine_msg" \
	-- job add -p demo -n bad --cron '61 * * * *' -- true
check "job add: command must follow --" 2 "" "after --" -- job add -p demo -n x --cron "$NEVER" echo hi
check "job add: missing --cron" 2 "" "missing --cron" -- job add -p demo -n x -- true
check "job add: bad --timeout" 2 "" "--timeout" -- job add -p demo -n x --cron "$NEVER" --timeout soon -- true
check "job add: unknown project" 1 "" 'no project "nope"' -- job add -p nope -n x --cron "$NEVER" -- true

OUTPUT_CMD='printf "line1\r\nt\tab \"q\" \\\\ back\n"; echo "é ü 日本" >&2; printf "x%.0s" $(seq 1 3000); printf "\n\n"; printf "no newline"'
check "job add --json" 0 "" "" -- --json job add -p demo -n out --cron "$NEVER" --timeout 30 \
	--remark "prints things" -- "$OUTPUT_CMD"
jcheck "job add --json: stored TaskInfo" "j['name'] == 'out' and j['project_id'] == 1 and j['cron'] == '$NEVER' and j['timeout'] == 30 and j['status'] == 1 and j['noseize'] == 0 and j['exclusion'] == 0 and j['remark'] == 'prints things' and j['is_running'] == 0 and len(j['task_id']) > 0"
OUT_ID=$(jget "j['task_id']")
run --json job show out -p demo
"$PY" -c 'import json, sys; assert json.loads(sys.stdin.read())["command"] == sys.argv[1]' "$OUTPUT_CMD" <<<"$OUT" &&
	ok "job add: command stored as given" || bad "job add: command stored as given" "$OUT"
check "job add: words after -- are joined" 0 "Created job" "" -- job add -p 1 -n joined --cron "$NEVER" --noseize --exclusion --paused -- echo a   b
run --json job show joined
jcheck "job add: flags and joined words" "j['command'] == 'echo a b' and j['noseize'] == 1 and j['exclusion'] == 1 and j['status'] == 0"
check "job add: duplicate name refused" 1 "" 'already has a job named "out"' -- job add -p demo -n out --cron "$NEVER" -- true

check "job ls -p" 0 "SCHEDULE" "" -- job ls -p demo
[[ $OUT == *"out"*"joined"* || $OUT == *"joined"*"out"* ]] && ok "job ls lists both" || bad "job ls lists both" "$OUT"
grep -Eq '^ID +NAME +SCHEDULE +NEXT RUN +STATUS ' <<<"$OUT" && ok "job ls: a NEXT RUN column" || bad "job ls: a NEXT RUN column" "$OUT"
next_out=$(run --json job show out -p demo; jget "j['next'][0]")
want=$(date -d "@$next_out" '+%Y-%m-%d %H:%M:%S' 2>/dev/null)
run job ls -p demo
grep -Eq "^$OUT_ID +out +.* +$want +active " <<<"$OUT" && grep -Eq ' joined +.* +paused +paused ' <<<"$OUT" &&
	ok "job ls: next run of an active job, \"paused\" for a paused one" || bad "job ls: NEXT RUN values (want $want)" "$OUT"
check "job ls (every project) has a PROJECT column" 0 "PROJECT" "" -- job ls
check "job ls --json" 0 "" "" -- job ls -p demo --json
jcheck "job ls --json: TaskInfo fields" "sorted(t['name'] for t in j) == ['joined', 'out'] and all(set(t) >= {'task_id', 'name', 'project_id', 'command', 'cron', 'remark', 'timeout', 'create_time', 'status', 'is_running', 'noseize', 'exclusion', 'client_ip'} for t in j)"
check "job ls: unknown project" 1 "" 'no project "nope"' -- job ls -p nope

check "job show by name" 0 "$OUT_ID" "" -- job show out -p demo
[[ $OUT =~ created:\ +[0-9]{4}-[0-9]{2}-[0-9]{2}\ [0-9]{2}:[0-9]{2}:[0-9]{2} ]] &&
	ok "job show: local time" || bad "job show: local time" "$OUT"
check "job show by id, without -p" 0 "prints things" "" -- job show "$OUT_ID"
check "job show --json" 0 "" "" -- --json job show out
jcheck "job show --json: next fire times" "len(j['next']) == 3 and all(isinstance(t, (int, float)) for t in j['next']) and j['next'] == sorted(j['next'])"
check "job show: unknown job" 1 "" 'no job "nope" in project demo' -- job show nope -p demo
check "job show: unknown job anywhere" 1 "" 'no job "nope" in any of your projects' -- job show nope

# The API allows two jobs of one name; gcronctl then asks for an id.
for _ in 1 2; do
	curl -fsS -o /dev/null -H "access-token: $TOKEN" --data-urlencode "cron=$NEVER" \
		-d project_id=1 -d name=twin -d command=true "$S/api/v1/crontab/save" ||
		bad "create twins" "curl failed"
done
check "ambiguous job name lists the ids" 1 "" 'job name "twin" is ambiguous in project demo' -- job run twin -p demo
n_ids=$(grep -oE '[0-9]{6,} \(project 1\)' <<<"$ERR" | wc -l)
((n_ids == 2)) && ok "ambiguous: both ids named" || bad "ambiguous: both ids named" "$n_ids ids"
run --json job ls -p demo
for id in $(jget "' '.join(t['task_id'] for t in j if t['name'] == 'twin')"); do
	check "job rm by id ($id)" 0 "Deleted job $id" "" -- job rm "$id" -p demo
done

# edit: only what is given changes
check "job edit --cron" 0 "Updated job $OUT_ID" "" -- job edit out -p demo --cron '0 0 29 2 * 2096'
run --json job show out
jcheck "job edit changed only the cron" "j['cron'] == '0 0 29 2 * 2096' and j['timeout'] == 30 and j['remark'] == 'prints things' and j['status'] == 1 and j['name'] == 'out'"
check "job edit: bad cron" 1 "" "cron expression is wrong" -- job edit out --cron 'nope'
check "job edit: nothing to change" 2 "" "nothing to change" -- job edit out
check "job edit: contradicting flags" 2 "" "contradict" -- job edit out --paused --active
check "job edit --json several fields" 0 "" "" -- --json job edit joined -p demo -n joined2 --timeout 5 --seize --no-exclusion --active --remark r2 -- echo b
jcheck "job edit --json result" "j['name'] == 'joined2' and j['timeout'] == 5 and j['noseize'] == 0 and j['exclusion'] == 0 and j['status'] == 1 and j['remark'] == 'r2' and j['command'] == 'echo b'"
check "job edit: rename onto another job refused" 1 "" 'already has a job named "out"' -- job edit joined2 -n out
check "job edit: unknown job" 1 "" 'no job "nope"' -- job edit nope --timeout 3

check "job pause" 0 "Paused job $OUT_ID" "" -- job pause out
run --json job show out
jcheck "job pause: status 0, rest kept" "j['status'] == 0 and j['cron'] == '0 0 29 2 * 2096' and j['timeout'] == 30"
check "job resume --json" 0 "" "" -- --json job resume out
jcheck "job resume --json" "j == {'task_id': '$OUT_ID', 'project_id': 1, 'name': 'out', 'action': 'resume'}"
run --json job show out
jcheck "job resume: status 1" "j['status'] == 1"

# ---------------------------------------------------------- nodes and runs
node_up() {
	run --json node ls -p demo
	((RC == 0)) && "$PY" -c 'import json,sys; j=json.load(sys.stdin); sys.exit(0 if any(n["client_ip"] == "127.0.0.1" and n["project_id"] == 1 for n in j) else 1)' <<<"$OUT"
}
wait_for "agent registers" 30 node_up && ok "node ls -p --json shows the agent"
check "node ls" 0 "127.0.0.1" "" -- node ls
[[ $OUT == *demo* ]] && ok "node ls names the project" || bad "node ls names the project" "$OUT"
check "node ls --json" 0 "" "" -- node ls --json
jcheck "node ls --json fields" "any(set(n) >= {'project_id', 'client_ip', 'version'} and n['client_ip'] == '127.0.0.1' for n in j)"
check "node ls: unknown project" 1 "" 'no project "nope"' -- node ls -p nope

# log_count JOB: number of logs of JOB in project demo
logs_of() { # job min
	run --json log ls -p demo -t "$1"
	((RC == 0)) && (($(jget "j['total']") >= $2))
}

check "job run" 0 "Asked the agents to run job $OUT_ID" "" -- job run out -p demo
wait_for "the run is logged" 30 logs_of out 1
run --json log ls -p demo -t out
LOG_ID=$(jget "j['list'][0]['id']")
jcheck "log ls --json fields" "j['total'] == 1 and j['page'] == 1 and j['limit'] == 20 and set(j['list'][0]) >= {'id', 'project_id', 'task_id', 'project', 'name', 'result', 'start_time', 'end_time', 'command', 'with_error', 'client_ip', 'plan_time', 'run_id', 'output', 'error'} and j['list'][0]['with_error'] == 0 and j['list'][0]['client_ip'] == '127.0.0.1' and j['list'][0]['task_id'] == '$OUT_ID'"
# What bash prints for the command, byte for byte (stdout and stderr in order).
(cd "$tmp" && bash -c "$OUTPUT_CMD") >"$tmp/expected" 2>&1
"$G" log show "$LOG_ID" >"$tmp/shown" 2>"$tmp/show.err"
rc=$?
if ((rc == 0)) && cmp -s "$tmp/expected" "$tmp/shown"; then
	ok "log show prints the output byte for byte"
else
	bad "log show prints the output byte for byte" "rc $rc; $(cmp "$tmp/expected" "$tmp/shown" 2>&1)"
fi
check "log show --details" 0 "result:       ok" "" -- log show "$LOG_ID" --details
check "log show --json" 0 "" "" -- --json log show "$LOG_ID" -p demo
"$PY" -c '
import json, sys
j = json.loads(sys.stdin.read())
assert j["output"] == open(sys.argv[1], encoding="utf-8", newline="").read(), j["output"][:200]
assert j["error"] == "" and j["id"] > 0' "$tmp/expected" <<<"$OUT" &&
	ok "log show --json output decoded" || bad "log show --json output decoded" ""
check "log show: unknown id" 1 "" "log 999999 not found" -- log show 999999
check "log show: id must be a number" 2 "" "not a number" -- log show abc
check "log ls (table)" 0 "STARTED" "" -- log ls -p demo
[[ $OUT == *"$LOG_ID"*out*demo*127.0.0.1*ok* ]] && ok "log ls row" || bad "log ls row" "$OUT"

# a failing run
check "job add failing" 0 "" "" -- job add -p demo -n fails --cron "$NEVER" -- 'echo about to fail; exit 3'
check "job run failing" 0 "" "" -- job run fails
wait_for "the failed run is logged" 30 logs_of fails 1
check "log ls --errors --json" 0 "" "" -- --json log ls -p demo --errors
jcheck "log ls --errors: only the failure" "j['total'] == 1 and j['list'][0]['name'] == 'fails' and j['list'][0]['with_error'] == 1 and j['list'][0]['error'] == 'exit status 3' and j['list'][0]['output'] == 'about to fail\n'"
FAIL_ID=$(jget "j['list'][0]['id']")
check "log ls --errors (table)" 0 "failed: exit status 3" "" -- log ls --errors
check "log show of a failed run" 0 "about to fail" "run $FAIL_ID failed: exit status 3" -- log show "$FAIL_ID"
check "log ls paging" 0 "" "" -- --json log ls -p demo --limit 1 --page 2
jcheck "log ls --limit 1 --page 2" "j['total'] == 2 and len(j['list']) == 1 and j['page'] == 2 and j['limit'] == 1"
# run now and wait for the result
"$G" job run out -p demo --wait --wait-timeout 60 >"$tmp/waited" 2>"$tmp/wait.err"
rc=$?
if ((rc == 0)) && cmp -s "$tmp/expected" "$tmp/waited"; then
	ok "job run --wait prints the output byte for byte"
else
	bad "job run --wait prints the output byte for byte" "rc $rc; $(cat "$tmp/wait.err"; cmp "$tmp/expected" "$tmp/waited" 2>&1)"
fi
check "job run --wait: a failed run exits 1" 1 "about to fail" "failed: exit status 3" -- job run fails --wait --wait-timeout 60
check "job run --wait --json" 1 "" "" -- --json job run fails --wait --wait-timeout 60
jcheck "job run --wait --json: the new run" "j['with_error'] == 1 and j['error'] == 'exit status 3' and j['id'] not in ($FAIL_ID,)"
check "log ls: bad --limit" 2 "" "--limit" -- log ls --limit 0
check "log ls: unknown job" 1 "" 'no job "nope"' -- log ls -p demo -t nope

# run now while running, then kill
check "job add long" 0 "" "" -- job add -p demo -n long --cron "$NEVER" -- 'echo started; sleep 60'
check "job run long" 0 "" "" -- job run long
is_running() {
	run --json job show long
	((RC == 0)) && [[ $(jget "j['is_running']") == 1 ]]
}
wait_for "long is running" 30 is_running && ok "job shows is_running"
check "job ls shows running" 0 "running" "" -- job ls -p demo
check "job run while running is refused" 1 "" "task is running" -- job run long
check "job kill" 0 "kill the run of job" "" -- job kill long
wait_for "the killed run is logged" 30 logs_of long 1
not_running() {
	run --json job show long
	((RC == 0)) && [[ $(jget "j['is_running']") == 0 ]]
}
wait_for "long is no longer running" 30 not_running
check "job kill of a job not running exits 1" 1 "" "task is not running" -- job kill long
run --json log ls -p demo -t long
jcheck "killed run: error says killed" "j['list'][0]['with_error'] == 1 and 'kill' in j['list'][0]['error'] and j['list'][0]['output'].startswith('started')"

# log clean
check "log clean -t" 0 "" "" -- --json log clean -p demo -t out
jcheck "log clean --json" "j['project_id'] == 1 and j['task_id'] == '$OUT_ID' and j['deleted'] == 2"
run --json log ls -p demo -t out
jcheck "log clean removed the job's logs" "j['total'] == 0"
check "log clean needs -p" 2 "" "missing -p" -- log clean
check "log clean project" 0 "Deleted 4 logs of every job" "" -- log clean -p demo

# log show of a run the list has a preview of: log/list answers the first
# and last 2 KiB of a long output (read so from the database); log show
# asks GET log/detail for the run and prints it whole, byte for byte.
"$PY" - "$tmp" <<'EOF2'
import json, sys
for i in range(3):
    out = "".join("run %d line %06d <&>\n" % (i, n) for n in range(50000))[:1000 * 1024]
    body = {"execute_info": {"task": {"task_id": "4242", "name": "big", "project_id": 1,
                                      "command": "big", "cron": "* * * * *",
                                      "client_ip": "127.0.0.1"},
                             "plan_time": "2026-01-01T00:00:00Z", "real_time": "2026-01-01T00:00:00Z"},
            "output": out, "error": "", "start_time": "2026-01-01T00:00:%02dZ" % i,
            "end_time": "2026-01-01T00:00:%02dZ" % i, "run_id": "big-%d" % i}
    open("%s/big-%d.json" % (sys.argv[1], i), "w").write(json.dumps(body))
    if i == 0:
        open("%s/big-0.out" % sys.argv[1], "w").write(out)
EOF2
posted=0
for i in $(seq 0 2); do
	curl -fsS -o /dev/null -H "Authorization: Bearer $report_token" \
		-H 'Content-Type: application/json' -H 'Report-Type: report_task_result' \
		--data-binary "@$tmp/big-$i.json" "$S/api/v1/report" && posted=$((posted + 1))
done
((posted == 3)) && ok "three 1000 KiB results stored" || bad "three 1000 KiB results stored" "$posted of 3"
run --json log ls -p demo --limit 1000
jcheck "log ls: long outputs listed as previews" "j['total'] == 3 and all(l.get('truncated') and l['result_bytes'] > 1000 * 1024 and len(l['output']) < 8192 and '[preview: about ' in l['output'] for l in j['list']) and j['truncated_rows'] == 3"
BIG_ID=$(jget "j['list'][2]['id']")
"$G" log show "$BIG_ID" >"$tmp/big-shown" 2>"$tmp/big-show.err"
rc=$?
if ((rc == 0)) && cmp -s "$tmp/big-0.out" "$tmp/big-shown"; then
	ok "log show prints a previewed run whole"
else
	bad "log show prints a previewed run whole" "rc $rc; $(cmp "$tmp/big-0.out" "$tmp/big-shown" 2>&1; cat "$tmp/big-show.err")"
fi
check "log show -p: the run's project" 0 "" "" -- log show "$BIG_ID" -p demo
check "log ls: says runs come as previews" 0 "" "3 runs on this page listed with a preview" -- log ls -p demo --limit 1000
check "log clean after the big runs" 0 "Deleted 3 logs" "" -- log clean -p demo

# ------------------------------------------------------------------ errors
check "unreachable server (connection refused)" 3 "" "cannot reach http://127.0.0.1:1" -- -s http://127.0.0.1:1 project ls
GCRON_TIMEOUT=5 check "unreachable server (DNS)" 3 "" "cannot reach" -- -s http://no-such-host.invalid project ls
# A listener that never answers: the timeout is reached.
"$PY" -c '
import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(8)
print(s.getsockname()[1], flush=True); time.sleep(60)' >"$tmp/mute_port" &
pids+=($!)
wait_for "mute listener" 10 test -s "$tmp/mute_port"
GCRON_TIMEOUT=1 check "server that never answers: timeout" 3 "" "cannot reach" -- -s "http://127.0.0.1:$(<"$tmp/mute_port")" project ls
check "not a gcron-service (etcd)" 1 "" "without the API's JSON envelope" -- -s "$etcd_first" project ls
GCRON_TOKEN=garbage check "garbage token" 1 "" "token expired or invalid: run gcronctl login" -- project ls
EXPIRED=$("$PY" - "$jwt_secret" <<'EOF'
import base64, hashlib, hmac, json, sys, time
def b64(b): return base64.urlsafe_b64encode(b).rstrip(b"=").decode()
now = int(time.time())
head = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
body = b64(json.dumps({"uid": 1, "user": 1, "account": "admin", "permission": "admin,user",
                       "biz": "gopherCron", "iat": now - 7200, "exp": now - 3600}).encode())
sig = b64(hmac.new(sys.argv[1].encode(), f"{head}.{body}".encode(), hashlib.sha256).digest())
print(f"{head}.{body}.{sig}")
EOF
)
GCRON_TOKEN=$EXPIRED check "expired token" 1 "" "token expired or invalid: run gcronctl login" -- project ls
[[ $ERR == *expired* ]] && ok "expired token: the server's reason shown" || bad "expired token: the server's reason shown" "$ERR"
# The token belongs to its server: another URL gets none.
check "token not sent to another server" 1 "" "not logged in to http://localhost:$port" -- -s "http://localhost:$port" project ls

# -------------------------------------------------------- rm, users, logout
check "job rm" 0 "Deleted job" "" -- job rm long -p demo
check "job rm: gone" 1 "" 'no job "long"' -- job show long -p demo
check "project rm-member" 0 "Removed bob from project 1" "" -- project rm-member demo bob
check "project rm-member: not a member" 1 "" "not a member" -- project rm-member demo bob
bob check "bob no longer sees the project" 1 "" "no project" -- job ls -p demo
# log show as one who is not in the run's project: as if there were no run
curl -fsS -o /dev/null -H "Authorization: Bearer $report_token" \
	-H 'Content-Type: application/json' -H 'Report-Type: report_task_result' \
	--data-binary "@$tmp/big-0.json" "$S/api/v1/report"
run --json log ls -p demo --limit 1
HIDDEN_ID=$(jget "j['list'][0]['id']")
bob check "log show: a run of a project bob is not in" 1 "" "log $HIDDEN_ID not found" -- log show "$HIDDEN_ID"
check "log show: the admin sees it" 0 "run 0 line 000000" "" -- log show "$HIDDEN_ID"
check "user rm --json" 0 "" "" -- --json user rm bob
jcheck "user rm --json" "j == {'id': $BOB_ID, 'account': 'bob', 'deleted': True}"
check "user rm: unknown user" 1 "" 'no user "bob"' -- user rm bob
bob check "deleted user's token is refused" 1 "" "token expired or invalid" -- project ls

# ---------------------------------------------------------------- valgrind
if command -v valgrind >/dev/null; then
	vg() { # name args...
		local name=$1
		shift
		if valgrind -q --error-exitcode=99 --leak-check=full \
			--log-file="$tmp/vg.log" "$G" "$@" >/dev/null 2>&1 <"${IN:-/dev/null}"; then
			ok "valgrind: $name"
		elif (($? == 99)); then
			bad "valgrind: $name" "$(head -30 "$tmp/vg.log")"
		else
			ok "valgrind: $name (non-zero exit as expected, no memory errors)"
		fi
	}
	vg "project ls" project ls
	vg "job edit" job edit out --remark vg
	vg "unknown job" job show nope
	vg "unreachable" -s http://127.0.0.1:1 project ls
	GCRON_TOKEN=garbage vg "garbage token" whoami
else
	bad "valgrind" "valgrind is not installed (tests/lib/deps.sh)"
fi

# ------------------------------------------------------------- completion
check "completion bash prints the script" 0 "complete -F _gcronctl gcronctl" "" -- completion bash
[[ $OUT == "$(cat "$ROOT/tools/gcronctl/completion.bash")" ]] && ok "completion bash: the installed script, byte for byte" ||
	bad "completion bash: the installed script, byte for byte" ""
check "completion zsh goes through bashcompinit" 0 "bashcompinit" "" -- completion zsh
check "completion: unknown shell" 2 "" "bash|zsh" -- completion fish
# The completion tests below use what `gcronctl completion bash` prints.
"$BIN/gcronctl" completion bash >"$tmp/completion.bash"
comp() {
	bash -c 'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); _gcronctl; echo "${COMPREPLY[*]}"' \
		_ "$tmp/completion.bash" "$@"
}
[[ $(PATH=$BIN:$PATH comp gcronctl completion "") == "bash zsh" ]] && ok "completion: shells" || bad "completion: shells" "$(comp gcronctl completion "")"
[[ $(PATH=$BIN:$PATH comp gcronctl jo) == job ]] && ok "completion: commands" || bad "completion: commands" "$(comp gcronctl jo)"
[[ $(PATH=$BIN:$PATH comp gcronctl job add --no) == --noseize ]] && ok "completion: options" || bad "completion: options" ""
c=$(PATH=$BIN:$PATH comp gcronctl job show -p demo "")
[[ " $c " == *" out "* && " $c " == *" $OUT_ID "* ]] && ok "completion: job names from the server" ||
	bad "completion: job names from the server" "$c"

# ------------------------------------------------------------------ logout
check "logout" 0 "Logged out of $S" "" -- logout
grep -q '^token' "$CFG" && bad "logout removes the token" "$(cat "$CFG")" || ok "logout removes the token"
check "after logout: not logged in" 1 "" "not logged in to $S: run gcronctl login" -- whoami
check "logout again" 0 "Not logged in" "" -- logout

echo "$pass passed, $fail failed"
((fail == 0))
