#!/usr/bin/env bash
# Fault-injection suite (docs/RELIABILITY.md): a 3-member etcd cluster,
# gcron-service on SQLite and on MariaDB, three gcron-agents, faults one at
# a time and together; every count of missed, doubled and lost runs and of
# stuck t_status keys must be zero.
#   GC_RELIABILITY_PROFILE=short|long (default long; `make check` runs short)
#   GC_RELIABILITY_ONLY=agent-kill,quorum,...   (gc_reliability --list)
set -uo pipefail
cd "$(dirname "$0")/../.."
: "${GC_BUILD:=$PWD/build}"
export GC_BUILD
bin=$GC_BUILD/tests/reliability/gc_reliability
if [[ ! -x $bin ]]; then
	echo "not ok - $bin missing (run make all)"
	echo "0 passed, 1 failed"
	exit 1
fi
args=(--profile "${GC_RELIABILITY_PROFILE:-long}")
[[ -n ${GC_RELIABILITY_ONLY:-} ]] && args+=(--only "$GC_RELIABILITY_ONLY")
exec "$bin" "${args[@]}"
