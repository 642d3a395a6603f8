#!/usr/bin/env bash
# GopherCron demo: a whole system on this machine, in a temporary directory.
#
#   make demo            one etcd member, gcron-service (SQLite), one agent
#   make demo-cluster    three etcd members, two agents
#   examples/demo/demo.sh [--cluster]
#
# It starts etcd (Debian's etcd-server) on free loopback ports, the service,
# creates a project "demo" with a few tasks through the REST API, starts the
# agent(s), prints the admin page URL and the login, and runs until Ctrl-C
# (or SIGTERM), which stops everything in order: agents (they finish or kill
# their runs and hand over results), the service, etcd. Nothing is left
# running; the temporary directory is removed (kept when something failed).
#
# Environment:
#   DEMO_SECONDS=N        stop by itself after N seconds (0 = run until Ctrl-C)
#   DEMO_ETCD_MEMBERS=N   etcd members (1; --cluster: 3)
#   DEMO_AGENTS=N         agents (1; --cluster: 2), client_ip 127.0.0.N
#   DEMO_PORT=P           service port (default 6306, another if it is busy)
#   DEMO_LISTEN=ADDR      service listen address (default 127.0.0.1; 0.0.0.0
#                         to open the admin page from another machine)
#   DEMO_DIR=DIR          work directory, kept afterwards (default: a new
#                         one under $TMPDIR, removed afterwards)
#   DEMO_KEEP=1           keep the work directory (configs, logs, database)
#   DEMO_BIN=DIR          where gcron-service and gcron-agent are
#                         (default build/bin)
#   DEMO_MARK=TEXT        environment marker put on every process the demo
#                         starts (tests use it to prove nothing is left)
#
# While it runs, DIR/demo.env holds DEMO_BASE, DEMO_TOKEN, DEMO_PROJECT_ID
# and DEMO_ETCD for scripts (tests/integration/demo.sh uses it).
set -uo pipefail

# The marker must be in the environment of the daemons only: /proc shows a
# process's environment as it was at exec, so it is handed over under
# another name and this script runs again without it.
if [[ -n ${DEMO_MARK:-} ]]; then
	exec env -u DEMO_MARK GC_DEMO_MARK="$DEMO_MARK" bash "$0" "$@"
fi

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)

members=${DEMO_ETCD_MEMBERS:-}
agents=${DEMO_AGENTS:-}
for arg in "$@"; do
	case $arg in
	--cluster)
		members=${members:-3}
		agents=${agents:-2}
		;;
	-h | --help)
		sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'
		exit 0
		;;
	*)
		echo "demo: unknown argument \"$arg\" (see --help)" >&2
		exit 2
		;;
	esac
done
members=${members:-1}
agents=${agents:-1}
seconds=${DEMO_SECONDS:-0}
listen=${DEMO_LISTEN:-127.0.0.1}
bin=${DEMO_BIN:-$root/build/bin}
mark=${GC_DEMO_MARK:-gophercron-demo-$$-$RANDOM$RANDOM}
unset GC_DEMO_MARK

die() {
	echo "demo: $*" >&2
	failed=1
	exit 1
}

[[ $members =~ ^[1-9]$ ]] || die "DEMO_ETCD_MEMBERS must be 1 to 9"
[[ $agents =~ ^[1-9]$ ]] || die "DEMO_AGENTS must be 1 to 9"
[[ $seconds =~ ^[0-9]+$ ]] || die "DEMO_SECONDS must be a number of seconds"
for b in gcron-service gcron-agent; do
	[[ -x $bin/$b ]] || die "$bin/$b is missing: run \`make\` first (or use \`make demo\`)"
done
bin=$(cd "$bin" && pwd)
command -v etcd >/dev/null || die "etcd is missing: sudo apt-get install etcd-server (or \`make demo\`)"
command -v curl >/dev/null || die "curl is missing: sudo apt-get install curl (or \`make demo\`)"

own_dir=0
if [[ -n ${DEMO_DIR:-} ]]; then
	dir=$DEMO_DIR
	mkdir -p "$dir" || die "cannot create $dir"
else
	dir=$(mktemp -d "${TMPDIR:-/tmp}/gophercron-demo.XXXXXX") || die "cannot create a temporary directory"
	own_dir=1
fi
dir=$(cd "$dir" && pwd)

# ------------------------------------------------------------ processes
pids=() names=() kinds=() logs=()
failed=0 force=0

# Start a daemon in its own session (so Ctrl-C in the terminal reaches only
# this script, which then stops everything in order) with the marker in its
# environment. Without job control `setsid` needs no fork: $! is the pid,
# the session and the process group.
start() { # kind name log command...
	local kind=$1 name=$2 log=$3
	shift 3
	DEMO_MARK=$mark setsid "$@" </dev/null >"$log" 2>&1 &
	pids+=("$!")
	names+=("$name")
	kinds+=("$kind")
	logs+=("$log")
}

alive() { # pid: running and not a zombie
	local st
	st=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	st=${st##*) }
	[[ ${st%% *} != Z ]]
}

# SIGTERM one kind of process (their whole process groups), wait up to
# $2 seconds, then SIGKILL what is left.
stop_kind() { # kind seconds
	local kind=$1 limit=$(($2 * 10)) i n any
	for i in "${!pids[@]}"; do
		[[ ${kinds[$i]} == "$1" ]] && kill -TERM -- "-${pids[$i]}" 2>/dev/null
	done
	for ((n = 0; n < limit && !force; n++)); do
		any=0
		for i in "${!pids[@]}"; do
			[[ ${kinds[$i]} == "$kind" ]] && alive "${pids[$i]}" && any=1
		done
		((any)) || break
		sleep 0.1
	done
	for i in "${!pids[@]}"; do
		[[ ${kinds[$i]} == "$kind" ]] || continue
		if alive "${pids[$i]}"; then
			echo "demo: ${names[$i]} did not stop in time: SIGKILL" >&2
			kill -KILL -- "-${pids[$i]}" 2>/dev/null
		fi
		wait "${pids[$i]}" 2>/dev/null
	done
}

# Processes that carry the marker: what the demo started, including task
# processes (they inherit the agent's environment).
# Ancestors (e.g. a make given DEMO_MARK) are never counted.
ancestors=" "
for ((p = PPID; p > 1; )); do
	ancestors+="$p "
	p=$(awk '/^PPid:/ {print $2}' "/proc/$p/status" 2>/dev/null) || break
	[[ -n $p ]] || break
done
marked() {
	local f
	for f in $(grep -lsxzF "DEMO_MARK=$mark" /proc/[0-9]*/environ 2>/dev/null); do
		f=${f#/proc/}
		f=${f%/environ}
		[[ $ancestors == *" $f "* ]] || echo "$f"
	done
}

cleanup() {
	local left rc=$?
	trap 'force=1' INT TERM
	((${#pids[@]})) && echo "demo: stopping..." >&2
	# Agents first: they stop scheduling, end their runs and hand the
	# results to the service, which must still be up for that.
	stop_kind agent 15
	stop_kind service 10
	stop_kind etcd 10
	left=$(marked)
	if [[ -n $left ]]; then
		echo "demo: still running after stop, killing: $left" >&2
		# shellcheck disable=SC2086
		kill -KILL $left 2>/dev/null
		failed=1
	fi
	((rc != 0 && rc != 130 && rc != 143)) && failed=1
	# A directory given with DEMO_DIR is never removed.
	if ((failed)) || [[ ${DEMO_KEEP:-0} == 1 ]] || ((!own_dir)); then
		echo "demo: logs and data kept in $dir" >&2
	else
		rm -rf "$dir"
	fi
	((${#pids[@]})) && ((!failed)) && echo "demo: stopped; nothing is left running." >&2
	# A stop asked for with Ctrl-C or SIGTERM is a success.
	((failed)) && exit 1
	exit 0
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ------------------------------------------------------------ ports
taken=" "
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
# A random port below Linux's ephemeral range that nothing listens on.
pick_port() { # -> $REPLY
	local p i
	for ((i = 0; i < 500; i++)); do
		p=$((20000 + RANDOM % 12000))
		[[ $taken == *" $p "* ]] && continue
		port_busy "$p" && continue
		taken+="$p "
		REPLY=$p
		return 0
	done
	die "no free port found"
}

port=${DEMO_PORT:-6306}
if port_busy "$port"; then
	[[ -n ${DEMO_PORT:-} ]] && die "port $port is in use (DEMO_PORT)"
	pick_port
	port=$REPLY
fi
taken+="$port "

# ------------------------------------------------------------ etcd
cluster="" endpoints=() etcd_list=""
client_ports=() peer_ports=()
for ((i = 0; i < members; i++)); do
	pick_port
	client_ports+=("$REPLY")
	pick_port
	peer_ports+=("$REPLY")
	cluster+="${cluster:+,}m$i=http://127.0.0.1:${peer_ports[$i]}"
	endpoints+=("http://127.0.0.1:${client_ports[$i]}")
	etcd_list+="${etcd_list:+, }\"127.0.0.1:${client_ports[$i]}\""
done

echo "demo: working in $dir" >&2
echo "demo: starting etcd ($members member(s))" >&2
for ((i = 0; i < members; i++)); do
	start etcd "etcd member m$i" "$dir/etcd-m$i.log" \
		etcd --name "m$i" --data-dir "$dir/etcd-m$i" \
		--listen-client-urls "${endpoints[$i]}" \
		--advertise-client-urls "${endpoints[$i]}" \
		--listen-peer-urls "http://127.0.0.1:${peer_ports[$i]}" \
		--initial-advertise-peer-urls "http://127.0.0.1:${peer_ports[$i]}" \
		--initial-cluster "$cluster" \
		--initial-cluster-token "gophercron-demo-$$" \
		--initial-cluster-state new \
		--logger=zap --log-level=warn
done

# Wait for a condition with a deadline, noticing a daemon that died.
wait_for() { # what seconds command...
	local what=$1 limit=$(($2 * 10)) n i
	shift 2
	for ((n = 0; n < limit; n++)); do
		"$@" && return 0
		for i in "${!pids[@]}"; do
			alive "${pids[$i]}" && continue
			echo "demo: ${names[$i]} exited; the end of its log:" >&2
			tail -n 15 "${logs[$i]}" 2>/dev/null | sed 's/^/    /' >&2
			die "$what failed"
		done
		sleep 0.1
	done
	die "timed out waiting for $what (logs in $dir)"
}

etcd_healthy() {
	local e
	for e in "${endpoints[@]}"; do
		[[ $(curl -s --max-time 2 "$e/health" 2>/dev/null) == *'"health":"true"'* ]] || return 1
	done
}
wait_for "etcd to become healthy" 60 etcd_healthy

# ------------------------------------------------------------ service
rand() { od -An -N16 -tx1 /dev/urandom | tr -d ' \n'; }
report_token=$(rand)
report_host=$listen
[[ $report_host == 0.0.0.0 ]] && report_host=127.0.0.1
fill() { # template output [extra sed expressions...]
	local in=$1 out=$2
	shift 2
	# the files hold secrets (JWT secret, report token): owner only
	rm -f "$out"
	(umask 077 && sed -e "s|@LISTEN@|$listen|g" -e "s|@PORT@|$port|g" \
		-e "s|@ETCD_LIST@|$etcd_list|g" -e "s|@DIR@|$dir|g" \
		-e "s|@REPORT_TOKEN@|$report_token|g" \
		-e "s|@REPORT_HOST@|$report_host|g" "$@" "$in" >"$out")
}
fill "$here/service.toml.in" "$dir/service.toml" -e "s|@JWT_SECRET@|$(rand)|g"

echo "demo: starting gcron-service on $listen:$port (SQLite)" >&2
start service gcron-service "$dir/service.log" "$bin/gcron-service" -c "$dir/service.toml"
base=http://$report_host:$port
service_up() { curl -fsS -o /dev/null --max-time 2 "$base/api/v1/version" 2>/dev/null; }
wait_for "gcron-service to answer on $base" 60 service_up

# ------------------------------------------------------------ REST calls
token=""
# api METHOD ROUTE [curl args]: prints the response member of the envelope's
# JSON; fails with the service's message when meta.code is not 0.
api() {
	local method=$1 route=$2 out
	shift 2
	out=$(curl -sS --max-time 10 -X "$method" -H "access-token: $token" \
		"$base/api/v1/$route" "$@" 2>&1) || die "$method /api/v1/$route: $out"
	[[ $out == '{"meta":{"code":0,'* ]] ||
		die "$method /api/v1/$route: $(sed -n 's/.*"msg":"\([^"]*\)".*/\1/p' <<<"$out") ($out)"
	REPLY=$out
}
json_field() { # name json -> first string or number value of "name"
	sed -n "s/.*\"$1\":\"\{0,1\}\([^\",}]*\).*/\1/p" <<<"$2" | head -n1
}

api POST user/login -d account=admin -d password=123456
token=$(json_field token "$REPLY")
[[ -n $token ]] || die "login as admin/123456 gave no token (was the password changed?)"

api POST project/create -d title=demo \
	--data-urlencode "remark=created by examples/demo/demo.sh"
project_id=$(json_field project_id "$REPLY")
[[ $project_id =~ ^[0-9]+$ ]] || die "project/create gave no project_id: $REPLY"

# save NAME CRON TIMEOUT REMARK COMMAND
save() {
	api POST crontab/save -d "project_id=$project_id" -d status=1 \
		--data-urlencode "name=$1" --data-urlencode "cron=$2" \
		-d "timeout=$3" --data-urlencode "remark=$4" \
		--data-urlencode "command=$5"
}
save heartbeat '*/5 * * * * * *' 0 'every 5 seconds: says hello' \
	'echo "hello from agent $GOPHERCRON_AGENT_IP, tick $(date -d @$GOPHERCRON_PLAN_TIME +%T)"'
save fails '*/10 * * * * * *' 0 'every 10 seconds: writes to stderr and exits 3' \
	'echo "checking the backup..."; echo "backup is missing" >&2; exit 3'
save long-job '0 */10 * * * * *' 0 'every 10 minutes, 2 minutes long: kill it from the task list' \
	'for i in $(seq 1 120); do echo "step $i of 120"; sleep 1; done'
save times-out '30 * * * * * *' 3 'every minute at :30, stopped by its 3 s timeout' \
	'echo "waiting for a lock that never frees"; sleep 60'

api GET "crontab/list?project_id=$project_id"
# One TaskInfo object per line, then the one named long-job.
long_id=$(tr '{' '\n' <<<"$REPLY" | grep '"name":"long-job"' | sed -n 's/.*"task_id":"\([^"]*\)".*/\1/p' | head -n1)

# ------------------------------------------------------------ agents
for ((n = 1; n <= agents; n++)); do
	fill "$here/agent.toml.in" "$dir/agent-$n.toml" \
		-e "s|@CLIENT_IP@|127.0.0.$n|g" -e "s|@N@|$n|g" \
		-e "s|@PROJECT_ID@|$project_id|g"
	echo "demo: starting gcron-agent 127.0.0.$n for project $project_id" >&2
	start agent "gcron-agent 127.0.0.$n" "$dir/agent-$n.log" \
		"$bin/gcron-agent" -c "$dir/agent-$n.toml" --stop-grace 3000
done
agents_registered() {
	local out n
	out=$(curl -sS --max-time 5 -H "access-token: $token" \
		"$base/api/v1/crontab/client_list?project_id=$project_id" 2>/dev/null) || return 1
	for ((n = 1; n <= agents; n++)); do
		[[ $out == *"\"127.0.0.$n:"* ]] || return 1
	done
}
wait_for "the agent(s) to register" 60 agents_registered

# Start the long task now, so there is something to kill right away.
[[ -n $long_id ]] && api POST crontab/execute -d "project_id=$project_id" -d "task_id=$long_id"

cat >"$dir/demo.env" <<EOF
DEMO_BASE=$base
DEMO_TOKEN=$token
DEMO_PROJECT_ID=$project_id
DEMO_LONG_TASK_ID=$long_id
DEMO_ETCD=$(
	IFS=,
	echo "${endpoints[*]}"
)
EOF

url_host=$listen
[[ $url_host == 0.0.0.0 ]] && url_host=$(hostname -f 2>/dev/null || echo 127.0.0.1)
cat <<EOF

  GopherCron demo is running ($members etcd member(s), $agents agent(s)).

  Admin page   http://$url_host:$port/admin/
  Login        admin / 123456
               This is the first-start password: change it on the admin
               page (user menu, "Change password") before anything else.

  Project "demo" (id $project_id) has four tasks:
    heartbeat   every 5 seconds, prints a line
    fails       every 10 seconds, exits with status 3 (see its logs)
    long-job    running now for 2 minutes: kill it from the task list
    times-out   every minute at :30, stopped by its 3 s timeout

  REST API     $base/api/v1/  (token in the "access-token" header)
  etcd         ${endpoints[*]}
  Files        $dir  (configs, logs, SQLite database)

EOF
if [[ -x $bin/gcronctl ]]; then
	cat <<EOF
  Command line $bin/gcronctl -s $base login -u admin
               then e.g. \`gcronctl job ls\`, \`gcronctl log ls --errors\`

EOF
fi
if ((seconds > 0)); then
	echo "  Stops by itself after $seconds seconds (DEMO_SECONDS)."
else
	echo "  Press Ctrl-C to stop everything."
fi
echo

# ------------------------------------------------------------ run
deadline=$((SECONDS + seconds))
while :; do
	for i in "${!pids[@]}"; do
		alive "${pids[$i]}" && continue
		echo "demo: ${names[$i]} exited unexpectedly; the end of its log:" >&2
		tail -n 15 "${logs[$i]}" 2>/dev/null | sed 's/^/    /' >&2
		failed=1
		exit 1
	done
	((seconds > 0 && SECONDS >= deadline)) && break
	sleep 1
done
exit 0
