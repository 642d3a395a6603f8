#!/usr/bin/env bash
# `make demo` end to end, twice, each in a fresh temporary directory:
#  1. one etcd member and one agent, stopped like Ctrl-C in a terminal
#     (SIGINT to the demo's process group) once the checks are done: the
#     admin page answers, the demo tasks ran and their logs are visible
#     through the API (success, exit status 3, a kill), then nothing the
#     demo started is left running;
#  2. the cluster variant (3 etcd members, 2 agents) with DEMO_SECONDS, so it
#     stops by itself: both agents registered, every heartbeat tick ran
#     exactly once, nothing left running.
# Prints "N passed, M failed"; exits non-zero on any failure.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
ROOT=$PWD
BIN=${GC_BUILD:-$ROOT/build}/bin
pass=0 fail=0

ok() {
	echo "ok - $*"
	pass=$((pass + 1))
}
bad() {
	echo "FAIL - $*"
	fail=$((fail + 1))
}
finish() {
	echo "$pass passed, $fail failed"
	((fail == 0))
	exit
}

for b in gcron-service gcron-agent; do
	[[ -x $BIN/$b ]] || {
		bad "$BIN/$b is missing (run make)"
		finish
	}
done
for c in etcd curl python3; do
	command -v "$c" >/dev/null || {
		bad "$c is missing (tests/lib/deps.sh check installs it)"
		finish
	}
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/gc-demo-test.XXXXXX")
marks=()
demo_pid=

# Processes that carry a run's marker (the demo's daemons and their tasks).
marked() { # mark
	local f p
	for f in $(grep -lsxzF "DEMO_MARK=$1" /proc/[0-9]*/environ 2>/dev/null); do
		p=${f#/proc/}
		echo "${p%/environ}"
	done
}

cleanup() {
	local m left
	[[ -n $demo_pid ]] && kill -TERM -- "-$demo_pid" 2>/dev/null
	for m in "${marks[@]}"; do
		left=$(marked "$m")
		# shellcheck disable=SC2086
		[[ -n $left ]] && kill -KILL $left 2>/dev/null
	done
	wait 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

# Wait for a command to succeed, with a deadline (seconds); load-tolerant
# bounds: the point is that it happens, not how fast.
wait_for() { # seconds command...
	local limit=$(($1 * 5)) n
	shift
	for ((n = 0; n < limit; n++)); do
		"$@" && return 0
		kill -0 "$demo_pid" 2>/dev/null || return 1
		sleep 0.2
	done
	return 1
}

api() { # route [curl args]: the JSON envelope
	curl -sS --max-time 10 -H "access-token: $DEMO_TOKEN" "$DEMO_BASE/api/v1/$1" "${@:2}"
}

# py EXPR-over-`d` (the response member) < envelope: prints the value,
# fails when meta.code is not 0 or the expression is false/empty.
py() {
	python3 -c '
import json, sys
env = json.load(sys.stdin)
if env["meta"]["code"] != 0:
    sys.exit("code %s: %s" % (env["meta"]["code"], env["meta"]["msg"]))
d = env["response"]
v = eval(sys.argv[1])
if not v:
    sys.exit(1)
if v is not True:
    print(v)
' "$1"
}

# Start the demo in its own process group (as a terminal's foreground job
# is), wait until it printed its state file. Sets DEMO_* from demo.env.
start_demo() { # name extra-args...
	local name=$1 mark=gc-demo-test-$$-$RANDOM$RANDOM
	shift
	marks+=("$mark")
	MARK=$mark
	DIR=$tmp/$name
	# Job control gives the demo its own process group, as a terminal's
	# foreground job has, and keeps SIGINT deliverable (without it a
	# background job starts with SIGINT ignored, and a shell cannot trap
	# a signal ignored on entry).
	set -m
	DEMO_MARK=$mark DEMO_DIR=$DIR DEMO_KEEP=1 DEMO_BIN=$BIN DEMO_SECONDS=${SECS:-0} \
		examples/demo/demo.sh "$@" >"$tmp/$name.out" 2>&1 &
	demo_pid=$!
	set +m
	if wait_for 120 test -s "$DIR/demo.env"; then
		# shellcheck disable=SC1091
		source "$DIR/demo.env"
		ok "$name: demo came up ($DEMO_BASE, project $DEMO_PROJECT_ID)"
		return 0
	fi
	bad "$name: demo did not come up; its output:"
	sed 's/^/    /' "$tmp/$name.out"
	return 1
}

# After the demo exited: status 0, its goodbye, no process left.
check_stopped() { # name
	local name=$1 rc left
	wait "$demo_pid"
	rc=$?
	demo_pid=
	((rc == 0)) && ok "$name: demo exited with status 0" ||
		bad "$name: demo exited with status $rc"
	grep -q 'nothing is left running' "$tmp/$name.out" &&
		ok "$name: demo says nothing is left running" ||
		bad "$name: demo did not report a clean stop: $(tail -3 "$tmp/$name.out")"
	left=$(marked "$MARK")
	[[ -z $left ]] && ok "$name: no process of the demo is left" ||
		bad "$name: still running after the demo ended: $(ps -o pid=,args= -p "${left//$'\n'/,}")"
	curl -s -o /dev/null --max-time 2 "$DEMO_BASE/api/v1/version" &&
		bad "$name: the service still answers on $DEMO_BASE" ||
		ok "$name: the service port is closed"
}

logs_json() { api "log/list?project_id=$DEMO_PROJECT_ID&pagesize=200"; }
task_id_of() { # name
	api "crontab/list?project_id=$DEMO_PROJECT_ID" |
		py "[t['task_id'] for t in d['list'] if t['name'] == '$1'][0]"
}

# ------------------------------------------------------------ 1: single
if start_demo single; then
	code=$(curl -s -o "$tmp/admin.html" -w '%{http_code}' --max-time 10 -L "$DEMO_BASE/admin/")
	[[ $code == 200 ]] && grep -qi '<html' "$tmp/admin.html" &&
		ok "single: admin page answers 200 with HTML" ||
		bad "single: admin page: HTTP $code"
	grep -q "Login        admin / 123456" "$tmp/single.out" &&
		grep -q "change it" "$tmp/single.out" &&
		grep -q "Admin page   http://" "$tmp/single.out" &&
		ok "single: prints admin URL, login and that it must be changed" ||
		bad "single: banner incomplete: $(cat "$tmp/single.out")"
	api "crontab/list?project_id=$DEMO_PROJECT_ID" |
		py "sorted(t['name'] for t in d['list']) == ['fails', 'heartbeat', 'long-job', 'times-out'] and all(t['status'] == 1 for t in d['list'])" &&
		ok "single: project has the four demo tasks, all scheduled" ||
		bad "single: demo tasks: $(api "crontab/list?project_id=$DEMO_PROJECT_ID")"
	api "crontab/client_list?project_id=$DEMO_PROJECT_ID" |
		py "any(c.startswith('127.0.0.1:') for c in d['list'])" >/dev/null &&
		ok "single: the agent is registered" || bad "single: agent not registered"

	heartbeats() { logs_json | py "len([l for l in d['list'] if l['name'] == 'heartbeat' and l['with_error'] == 0 and 'hello from agent 127.0.0.1' in l['result']]) >= 2" >/dev/null; }
	wait_for 40 heartbeats && ok "single: heartbeat ran (2+ successful runs in the logs)" ||
		bad "single: no heartbeat logs: $(logs_json)"
	failed_run() { logs_json | py "any(l['name'] == 'fails' and l['with_error'] == 1 and 'exit status 3' in l['result'] and 'backup is missing' in l['result'] for l in d['list'])" >/dev/null; }
	wait_for 40 failed_run && ok "single: 'fails' logged exit status 3 with its stderr" ||
		bad "single: no failed run logged: $(logs_json)"

	long=$(task_id_of long-job)
	running() { api "crontab/list?project_id=$DEMO_PROJECT_ID" | py "[t for t in d['list'] if t['name'] == 'long-job'][0]['is_running'] == 1" >/dev/null; }
	if [[ -n $long ]] && wait_for 30 running; then
		ok "single: long-job is running"
		api crontab/kill -d "project_id=$DEMO_PROJECT_ID" -d "task_id=$long" | py True &&
			ok "single: kill accepted" || bad "single: kill refused"
		killed() { logs_json | py "any(l['name'] == 'long-job' and l['with_error'] == 1 and 'killed' in l['result'] for l in d['list'])" >/dev/null; }
		wait_for 30 killed && ok "single: the killed run is logged as killed" ||
			bad "single: no killed run in the logs: $(logs_json)"
	else
		bad "single: long-job (id '$long') never showed as running"
	fi

	# Ctrl-C in a terminal: SIGINT to the foreground process group.
	kill -INT -- "-$demo_pid"
	if wait_for 60 false; then :; fi # returns as soon as the demo is gone
	check_stopped single
fi

# ------------------------------------------------------------ 2: cluster
if SECS=12 start_demo cluster --cluster; then
	[[ $DEMO_ETCD == *,*,* ]] && ok "cluster: three etcd endpoints" ||
		bad "cluster: etcd endpoints: $DEMO_ETCD"
	api "crontab/client_list?project_id=$DEMO_PROJECT_ID" |
		py "sum(c.startswith(('127.0.0.1:', '127.0.0.2:')) for c in d['list']) == 2" >/dev/null &&
		ok "cluster: both agents are registered" ||
		bad "cluster: agents: $(api "crontab/client_list?project_id=$DEMO_PROJECT_ID")"
	# DEMO_SECONDS=12: it stops by itself (generous bound under load).
	for ((n = 0; n < 900; n++)); do
		kill -0 "$demo_pid" 2>/dev/null || break
		sleep 0.2
	done
	kill -0 "$demo_pid" 2>/dev/null && bad "cluster: still running 3 minutes after start"
	check_stopped cluster
	# The SQLite file stays (DEMO_KEEP=1): every heartbeat tick ran once.
	python3 - "$DIR/gophercron.db" <<'PY' && ok "cluster: heartbeat ticks ran exactly once each (from the log table)" || bad "cluster: log table check failed"
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
rows = db.execute("select plan_time, count(*) from gc_task_log where name = 'heartbeat' group by plan_time").fetchall()
dups = [r for r in rows if r[1] != 1]
print("heartbeat ticks logged: %d, duplicated: %d" % (len(rows), len(dups)))
sys.exit(0 if len(rows) >= 2 and not dups else 1)
PY
fi

finish
