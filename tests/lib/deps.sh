#!/usr/bin/env bash
# Install the Debian packages the project needs, only those missing.
#   deps.sh check   what `make check` needs (build, tests, browser tests)
#   deps.sh all     everything, including benchmarks and the demo
#   deps.sh bench | demo
set -euo pipefail

build_pkgs=(build-essential pkg-config clang libcurl4-openssl-dev libcjson-dev
	libsqlite3-dev default-libmysqlclient-dev libcivetweb-dev libjwt-dev
	libcmocka-dev libcrypt-dev)
test_pkgs=(etcd-server etcd-client mariadb-server mariadb-client faketime
	sqlite3 curl procps iproute2 valgrind python3 chromium nodejs npm)
bench_pkgs=(golang-go golang-github-gorhill-cronexpr-dev wrk hyperfine)
demo_pkgs=(etcd-server curl)

case "${1:-check}" in
check) want=("${build_pkgs[@]}" "${test_pkgs[@]}") ;;
bench) want=("${build_pkgs[@]}" "${test_pkgs[@]}" "${bench_pkgs[@]}") ;;
demo) want=("${build_pkgs[@]}" "${demo_pkgs[@]}") ;;
all) want=("${build_pkgs[@]}" "${test_pkgs[@]}" "${bench_pkgs[@]}") ;;
*) echo "usage: $0 check|bench|demo|all" >&2; exit 2 ;;
esac

missing=()
for p in "${want[@]}"; do
	st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	# A nodejs build that bundles npm (e.g. NodeSource's) conflicts with
	# Debian's npm package: an npm that already runs is enough.
	[[ $p == npm ]] && command -v npm >/dev/null && continue
	[[ $st == "install ok installed" ]] || missing+=("$p")
done

if ((${#missing[@]})); then
	echo "deps: installing ${missing[*]}" >&2
	sudo=()
	[[ $(id -u) == 0 ]] || sudo=(sudo)
	export DEBIAN_FRONTEND=noninteractive
	# Never start the packaged daemons (mariadb, etcd): tests run their own.
	if [[ $(id -u) == 0 && ! -e /usr/sbin/policy-rc.d ]]; then
		printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
		chmod +x /usr/sbin/policy-rc.d
		trap 'rm -f /usr/sbin/policy-rc.d' EXIT
	fi
	"${sudo[@]}" apt-get update -qq
	"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Browser tests drive Debian's chromium with playwright-core from npm.
if [[ ${1:-check} == check || ${1:-check} == all ]]; then
	here=$(cd "$(dirname "$0")/../e2e" && pwd)
	if [[ -f $here/package.json && ! -d $here/node_modules/playwright-core ]]; then
		echo "deps: npm install in tests/e2e" >&2
		log=$(mktemp)
		# npm ci installs exactly the locked versions; its log is shown on
		# failure (a TLS error here means the machine's CA bundle lacks the
		# certificate of an intercepting proxy).
		if ! (cd "$here" && npm ci --no-audit --no-fund >"$log" 2>&1); then
			tail -30 "$log" >&2
			rm -f "$log"
			echo "deps: npm install in tests/e2e failed" >&2
			exit 1
		fi
		rm -f "$log"
	fi
fi
