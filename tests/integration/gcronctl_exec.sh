#!/usr/bin/env bash
# gcronctl exec: the result JSON an agent would report and the exit status
# that follows the run. Prints "N passed, M failed".
set -uo pipefail
cd "$(dirname "$0")/../.."
G=${GC_BUILD:-build}/bin/gcronctl
pass=0 fail=0

check() { # name expected-status expected-substring... -- args...
	local name=$1 want_rc=$2 out rc s
	shift 2
	local subs=()
	while [[ $1 != -- ]]; do
		subs+=("$1")
		shift
	done
	shift
	out=$("$G" exec "$@" 2>/dev/null)
	rc=$?
	if ((rc != want_rc)); then
		echo "FAIL $name: exit status $rc, want $want_rc"
		echo "  output: $out"
		fail=$((fail + 1))
		return
	fi
	for s in "${subs[@]}"; do
		if [[ $out != *"$s"* ]]; then
			echo "FAIL $name: output lacks $s"
			echo "  output: $out"
			fail=$((fail + 1))
			return
		fi
	done
	echo "ok $name"
	pass=$((pass + 1))
}

if [[ ! -x $G ]]; then
	echo "FAIL: $G missing (make all)"
	echo "0 passed, 1 failed"
	exit 1
fi

check success 0 '"output":"hello\n","error":""' '"execute_info":{"task":{"task_id":""' \
	-- echo hello
check exit-status 3 '"output":"out\nerr\n","error":"exit status 3"' \
	-- 'echo out; echo err >&2; exit 3'
check command-not-found 127 '"error":"command not found"' -- no_such_cmd_xyz
check signal 137 '"error":"signal: killed"' -- 'kill -9 $$'
check timeout 124 '"output":"start\n","error":"timeout"' '"timeout":1' \
	-- --timeout 0.3 -- 'echo start; sleep 30'
check missing-shell 127 '"error":"fork/exec /bin/nosuch: no such file or directory"' \
	-- --shell /bin/nosuch -- true
check output-limit 0 'bytes omitted] ...\n' '"output":"1\n2\n' '2000\n","error"' \
	-- --output-limit 256 -- 'seq 1 2000'
check identity 0 '"name":"nightly","project_id":3' '"run_id":"3-abc-' \
	'GOPHERCRON_TASK_ID=abc\nGOPHERCRON_TASK_NAME=nightly\n' \
	-- --name nightly --project 3 --task-id abc --ip 10.0.0.1 -- \
	'env | grep -E "^GOPHERCRON_TASK" | sort'
check html-escaping 0 '"command":"echo \"\u003ca\u003e \u0026\""' '"output":"\u003ca\u003e \u0026\n"' \
	-- 'echo "<a> &"'
check usage-no-command 2 -- 
check usage-bad-option 2 -- --bogus -- true

# Is any non-zombie process in process group $1? (Orphaned zombies wait
# for init, which reaps them on its own schedule.)
live_in_group() {
	ps -eo pgid=,stat= | awk -v g="$1" '$1 == g && $2 !~ /^Z/ { n++ } END { exit !n }'
}

# A signal to gcronctl kills the run's whole group (which the terminal
# cannot reach: it is in its own session) and is reported as killed.
out=$(mktemp)
"$G" exec -- 'echo x; sleep 30 & sleep 30; wait' >"$out" 2>/dev/null &
pid=$!
for _ in $(seq 100); do
	grep -q . "/proc/$pid/stat" 2>/dev/null || break
	pgrep -P "$pid" >/dev/null && break
	sleep 0.05
done
child=$(pgrep -P "$pid" | head -1)
sleep 0.2
kill -TERM "$pid"
wait "$pid"
rc=$?
if ((rc == 143)) && grep -q '"error":"killed"' "$out" &&
	[[ -n $child ]] && ! live_in_group "$child"; then
	echo "ok signal-to-gcronctl"
	pass=$((pass + 1))
else
	echo "FAIL signal-to-gcronctl: status $rc, output $(cat "$out")"
	fail=$((fail + 1))
fi
rm -f "$out"

echo "$pass passed, $fail failed"
((fail == 0))
