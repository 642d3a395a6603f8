#!/usr/bin/env bash
# Browser tests of the admin page: a real gcron-service (SQLite store) and a
# real gcron-agent on a throwaway etcd, driven through Debian's chromium
# (headless) by admin.test.js. Prints "N passed, M failed" last; exits
# non-zero on any failure. Screenshots and the service/agent logs go to
# build/e2e-artifacts/.
set -uo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
ART=${GC_E2E_ARTIFACTS:-$ROOT/build/e2e-artifacts}

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

for bin in build/bin/gcron-service build/bin/gcron-agent; do
	[[ -x $bin ]] || fail_early "$bin is missing (run make)"
done
[[ -x /usr/bin/chromium ]] || fail_early "/usr/bin/chromium is missing (tests/lib/deps.sh check installs it)"
[[ -d tests/e2e/node_modules/playwright-core ]] ||
	fail_early "tests/e2e/node_modules/playwright-core is missing (tests/lib/deps.sh check runs npm install)"

mkdir -p "$ART"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/gc-e2e.XXXXXX")
pids=()

cleanup() {
	local p i
	for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
	# Give them a moment to stop cleanly (the agent revokes its leases).
	for i in $(seq 1 50); do
		local alive=0
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
	node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close();});'
}

port=$(free_port) || fail_early "no free port"
base=http://127.0.0.1:$port
etcd_list=$(sed -E 's/([^,]+)/"\1"/g; s/,/, /g' <<<"$GC_TEST_ETCD_ENDPOINTS")
prefix=/gc_e2e_$$
report_token=e2e-report-$$-$RANDOM
agent_ip=127.0.0.1
project_id=1

cat >"$tmp/service.toml" <<EOF
log_level = "debug"

[deploy]
environment = "release"
host = ["127.0.0.1:$port"]
timeout = 5

[etcd]
service = [$etcd_list]
username = ""
password = ""
dialtimeout = 5000
prefix = "$prefix"

[mysql]
service = ""

[sqlite]
path = "$tmp/gophercron.db"

[jwt]
secret = "e2e-secret-$$-$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')"
exp = 1

[report]
token = "$report_token"
EOF

cat >"$tmp/agent.toml" <<EOF
log_level = "debug"
report_addr = "$base/api/v1/report"
report_token = "$report_token"
client_ip = "$agent_ip"
spool_dir = "$tmp/spool"
kill_grace = "1s"

[deploy]
environment = "release"
timeout = 5

[etcd]
service = [$etcd_list]
dialtimeout = 5000
prefix = "$prefix"
projects = [$project_id]
shell = "/bin/bash"
EOF

build/bin/gcron-service -c "$tmp/service.toml" >"$ART/service.log" 2>&1 &
pids+=($!)
up=0
for _ in $(seq 1 300); do
	if curl -fsS -o /dev/null --max-time 2 "$base/api/v1/version" 2>/dev/null; then
		up=1
		break
	fi
	kill -0 "${pids[0]}" 2>/dev/null || break
	sleep 0.1
done
((up)) || {
	tail -20 "$ART/service.log" | sed 's/^/  service: /'
	fail_early "gcron-service did not answer on $base (log: $ART/service.log)"
}

build/bin/gcron-agent -c "$tmp/agent.toml" >"$ART/agent.log" 2>&1 &
pids+=($!)

GC_E2E_BASE=$base GC_E2E_ARTIFACTS=$ART GC_E2E_AGENT_IP=$agent_ip GC_E2E_PROJECT=$project_id \
	GC_E2E_REPORT_TOKEN=$report_token node tests/e2e/admin.test.js
rc=$?
if ((rc != 0)); then
	echo "service log: $ART/service.log, agent log: $ART/agent.log"
	kill -0 "${pids[1]}" 2>/dev/null || { echo "gcron-agent is not running:"; tail -20 "$ART/agent.log" | sed 's/^/  agent: /'; }
fi
exit $rc
