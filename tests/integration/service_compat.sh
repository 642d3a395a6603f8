#!/usr/bin/env bash
# Replays the original GopherCron's captured REST calls against
# build/bin/gcron-service (real etcd, SQLite) and compares response shapes
# with $GC_SHARED/compat/rest. Fails (does not skip) when they are missing.
set -uo pipefail
cd "$(dirname "$0")/../.."
: "${GC_BUILD:=$PWD/build}"
: "${GC_SHARED:=$PWD/../shared}"
export GC_BUILD GC_SHARED
if [[ ! -d $GC_SHARED/compat/rest ]]; then
	echo "FAIL: $GC_SHARED/compat/rest not found"
	echo "0 passed, 1 failed"
	exit 1
fi
exec "$GC_BUILD/tests/gc-harness" --etcd 1 -- \
	python3 tests/integration/service_compat.py
