#!/usr/bin/env bash
# `make install DESTDIR=$tmp PREFIX=/usr/local`, then use only the installed
# tree: every file in place, pkg-config (with PKG_CONFIG_SYSROOT_DIR) gives
# working flags, the examples installed under share/ build against it
# (shared and static), and the installed pieces work together on a real
# etcd: gcron-service (SQLite) <- post_task (creates a task through the
# REST API) ; the installed gcron-agent runs it and reports to
# report_receiver ; embed_agent runs its in-process handler. Then
# `make uninstall` removes every file. Prints "N passed, M failed".
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
ROOT=$PWD
BUILD_DIR=${GC_BUILD:-$ROOT/build}
pass=0 fail=0

ok() {
	echo "ok - $*"
	pass=$((pass + 1))
}
bad() {
	echo "FAIL - $*"
	fail=$((fail + 1))
}
check() { # description command...
	local what=$1
	shift
	if "$@" >>"$log" 2>&1; then ok "$what"; else bad "$what (log: see below)"; show=1; fi
}
finish() {
	if ((show)) && [[ -s $log ]]; then
		echo "--- last lines of the log"
		tail -n 40 "$log" | sed 's/^/    /'
	fi
	echo "$pass passed, $fail failed"
	((fail == 0))
	exit
}

# Re-run under the harness, which starts etcd and stops it when we end.
if [[ -z ${GC_TEST_ETCD_ENDPOINTS:-} ]]; then
	if [[ ! -x $BUILD_DIR/tests/gc-harness ]]; then
		echo "FAIL - $BUILD_DIR/tests/gc-harness is missing (run make)"
		echo "0 passed, 1 failed"
		exit 1
	fi
	exec "$BUILD_DIR/tests/gc-harness" --etcd 1 -- bash "$0" "$@"
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/gc-install.XXXXXX")
log=$tmp/log
show=0
: >"$log"
pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
	for p in "${pids[@]}"; do
		for _ in $(seq 1 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$p" 2>/dev/null
	done
	wait 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

root=$tmp/root
P=$root/usr/local
VERSION=$(sed -n 's/^#define GC_VERSION_STRING "\(.*\)"/\1/p' include/gophercron/common.h)

# ------------------------------------------------------------ install
if ! make --no-print-directory -s BUILD="$BUILD_DIR" install DESTDIR="$root" PREFIX=/usr/local >>"$log" 2>&1; then
	bad "make install DESTDIR=... PREFIX=/usr/local"
	show=1
	finish
fi
ok "make install DESTDIR=... PREFIX=/usr/local"

missing=()
for f in bin/gcron-service bin/gcron-agent bin/gcronctl \
	include/gophercron.h include/gophercron/common.h include/gophercron/agent.h \
	lib/libgophercron.a lib/libgophercron.so lib/libgophercron.so.1 \
	"lib/libgophercron.so.$VERSION" lib/pkgconfig/libgophercron.pc \
	share/man/man1/gcron-service.1 share/man/man1/gcron-agent.1 share/man/man1/gcronctl.1 \
	lib/systemd/system/gcron-service.service lib/systemd/system/gcron-agent.service \
	share/gophercron/config/service.toml share/gophercron/config/agent.toml \
	share/gophercron/examples/report_receiver.c share/gophercron/examples/next_times.c \
	share/gophercron/examples/post_task.c share/gophercron/examples/embed_agent.c \
	share/gophercron/examples/README.md \
	share/doc/libgophercron/README.md share/doc/libgophercron/OPERATIONS.md \
	share/bash-completion/completions/gcronctl; do
	[[ -e $P/$f ]] || missing+=("$f")
done
((${#missing[@]} == 0)) && ok "every file is installed under DESTDIR/usr/local" ||
	bad "missing under DESTDIR/usr/local: ${missing[*]}"
for h in include/gophercron/*.h; do
	cmp -s "$h" "$P/$h" || missing+=("$h")
done
((${#missing[@]} == 0)) && ok "every public header is installed unchanged" ||
	bad "headers differ or are missing: ${missing[*]}"
[[ -z $(find "$root" -mindepth 1 -maxdepth 1 ! -name usr) && -z $(find "$root/usr" -mindepth 1 -maxdepth 1 ! -name local) ]] &&
	ok "nothing is installed outside DESTDIR/usr/local" ||
	bad "files outside usr/local: $(find "$root" -mindepth 1 -maxdepth 2 | grep -v "^$root/usr\(/local\)\?$")"
grep -q '^ExecStart=/usr/local/bin/gcron-service -c /etc/gophercron/service.toml$' "$P/lib/systemd/system/gcron-service.service" &&
	grep -q '^ExecStart=/usr/local/bin/gcron-agent -c /etc/gophercron/agent.toml$' "$P/lib/systemd/system/gcron-agent.service" &&
	ok "unit files point at PREFIX/bin and /etc/gophercron" || bad "unit files' ExecStart"

# Another PREFIX: the installed units and man pages name its paths.
root2=$tmp/root-usr
if make --no-print-directory -s BUILD="$BUILD_DIR" install DESTDIR="$root2" PREFIX=/usr >>"$log" 2>&1; then
	left=$(grep -rn '/usr/local' "$root2/usr/share/man/man1" "$root2/usr/lib/systemd/system")
	[[ -z $left ]] && ok "make install PREFIX=/usr: no /usr/local in the installed man pages and units" ||
		bad "PREFIX=/usr left /usr/local in: $left"
	grep -q '^ExecStart=/usr/bin/gcron-agent -c /etc/gophercron/agent.toml$' "$root2/usr/lib/systemd/system/gcron-agent.service" &&
		grep -q '/usr/share/gophercron/config/service.toml /etc/gophercron/' "$root2/usr/lib/systemd/system/gcron-service.service" &&
		grep -q '^\.IR\? /usr/share/gophercron/config/agent.toml' "$root2/usr/share/man/man1/gcron-agent.1" &&
		ok "PREFIX=/usr: units and man pages point at /usr/bin and /usr/share" ||
		bad "PREFIX=/usr: paths in units or man pages"
	rm -rf "$root2"
else
	bad "make install DESTDIR=... PREFIX=/usr"
fi

if command -v systemd-analyze >/dev/null; then
	mkdir -p "$tmp/units"
	for u in "$P"/lib/systemd/system/*.service; do
		sed "s|/usr/local/bin/|$P/bin/|" "$u" >"$tmp/units/${u##*/}"
	done
	check "systemd-analyze verify accepts both unit files" systemd-analyze verify --man=no "$tmp"/units/*.service
fi
if command -v man >/dev/null; then
	manok=1
	for m in "$P"/share/man/man1/*.1; do
		out=$(MANWIDTH=80 man --warnings -l "$m" 2>&1 >/dev/null)
		[[ -z $out ]] || {
			manok=0
			echo "$m: $out" >>"$log"
		}
	done
	((manok)) && ok "man pages render without warnings" || bad "man page warnings (see log)"
	show=$((show || !manok))
fi

# ------------------------------------------------------------ pkg-config
export PKG_CONFIG_PATH=$P/lib/pkgconfig PKG_CONFIG_SYSROOT_DIR=$root
flags=$(pkg-config --cflags --libs libgophercron 2>>"$log")
[[ $flags == *"-I$P/include"* && $flags == *"-L$P/lib"* && $flags == *-lgophercron* ]] &&
	ok "pkg-config --cflags --libs libgophercron points into the installed tree" ||
	bad "pkg-config flags: $flags"
[[ $(pkg-config --modversion libgophercron 2>/dev/null) == "$VERSION" ]] &&
	ok "pkg-config --modversion is $VERSION" || bad "pkg-config --modversion"

# ------------------------------------------------------------ examples
ex=$tmp/ex
mkdir -p "$ex"
cp "$P"/share/gophercron/examples/*.c "$ex/"
cd "$ex" || exit 1
CFLAGS=(-std=c11 -D_GNU_SOURCE -O1 -Wall -Wextra -Werror)
build() { # name extra pkg-config modules / flags...
	local name=$1
	shift
	# shellcheck disable=SC2046
	cc "${CFLAGS[@]}" "$name.c" -o "$name" $(pkg-config --cflags --libs libgophercron "$@") >>"$log" 2>&1
}
check "embed_agent.c builds with pkg-config against the installed tree" build embed_agent
check "next_times.c builds against the installed tree" build next_times
# libcurl and cJSON are the system's: not under the DESTDIR sysroot.
# shellcheck disable=SC2046
check "post_task.c builds against the installed tree (+ libcurl, libcjson)" \
	cc "${CFLAGS[@]}" post_task.c -o post_task $(pkg-config --cflags --libs libgophercron) \
	$(PKG_CONFIG_SYSROOT_DIR='' pkg-config --cflags --libs libcurl libcjson)
# shellcheck disable=SC2046
check "report_receiver.c builds against the installed tree (+ civetweb)" \
	cc "${CFLAGS[@]}" report_receiver.c -o report_receiver $(pkg-config --cflags --libs libgophercron) -lcivetweb
# Static libgophercron: the .a plus exactly what the .pc file lists as
# Requires.private and Libs.private (the system's libraries stay shared).
priv_mods=$(pkg-config --print-requires-private libgophercron | awk '{print $1}')
priv_libs=$(sed -n 's/^Libs.private: //p' "$P/lib/pkgconfig/libgophercron.pc")
# shellcheck disable=SC2046,SC2086
check "next_times.c links with libgophercron.a and the .pc file's private dependencies" \
	cc "${CFLAGS[@]}" next_times.c -o next_times_static $(pkg-config --cflags libgophercron) \
	"$P/lib/libgophercron.a" $(PKG_CONFIG_SYSROOT_DIR='' pkg-config --libs $priv_mods) $priv_libs
export LD_LIBRARY_PATH=$P/lib
ldd ./embed_agent 2>/dev/null | grep -q "libgophercron.so.1 => $P/lib/libgophercron.so.1" &&
	ok "embed_agent loads the installed libgophercron.so.1" ||
	bad "embed_agent's libgophercron: $(ldd ./embed_agent 2>&1 | grep gophercron)"
if nm -D ./next_times_static 2>/dev/null | grep -q 'gc_cron_parse' || ldd ./next_times_static 2>/dev/null | grep -q libgophercron; then
	bad "next_times_static still needs libgophercron.so"
else
	ok "the static build carries the library"
fi

want=$'5  1970-01-01 00:00:05 UTC Thu\n10  1970-01-01 00:00:10 UTC Thu\n15  1970-01-01 00:00:15 UTC Thu'
[[ $(./next_times '0/5 * * * * * *' -n 3 --from 0) == "$want" && $(./next_times_static '0/5 * * * * * *' -n 3 --from 0) == "$want" ]] &&
	ok "next_times prints the next fire times" || bad "next_times output: $(./next_times '0/5 * * * * * *' -n 3 --from 0 2>&1)"
out=$(./next_times '0 0 32 * *' 2>&1)
[[ $? == 1 && $out == *'day-of-month field "32"'* ]] && ok "next_times names the bad field" || bad "next_times error: $out"

# ------------------------------------------------------------ running
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_for() { # seconds command...
	local n limit=$(($1 * 10))
	shift
	for ((n = 0; n < limit; n++)); do
		"$@" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}
etcd_list=$(sed -E 's/([^,]+)/"\1"/g; s/,/, /g' <<<"$GC_TEST_ETCD_ENDPOINTS")
prefix=/gc_install_$$
svc_port=$(free_port)
rx_port=$(free_port)
token=install-$$-$RANDOM

# 1. The installed service on SQLite, from the installed commented config.
jwt_secret=install-test-$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')
sed -e "s|^host = .*|host = [\"127.0.0.1:$svc_port\"]|" \
	-e "s|^service = \[\"127.0.0.1:2379\"\]|service = [$etcd_list]|" \
	-e "s|^prefix = .*|prefix = \"$prefix\"|" \
	-e "s|^path = .*|path = \"$tmp/gophercron.db\"|" \
	-e "s|^secret = .*|secret = \"$jwt_secret\"|" \
	-e "s|^token = .*|token = \"\"|" \
	"$P/share/gophercron/config/service.toml" >"$tmp/service.toml"
"$P/bin/gcron-service" -c "$tmp/service.toml" >"$tmp/service.log" 2>&1 &
pids+=($!)
base=http://127.0.0.1:$svc_port
if wait_for 30 curl -fsS -o /dev/null "$base/api/v1/version"; then
	ok "installed gcron-service starts from the installed service.toml"
else
	bad "installed gcron-service did not answer: $(tail -5 "$tmp/service.log")"
	finish
fi
grep -qi 'unknown' "$tmp/service.log" && bad "service.toml: unknown keys: $(grep -i unknown "$tmp/service.log")" ||
	ok "installed service.toml has no unknown keys"

# 2. A project (curl), then a task through post_task (the REST example).
tok=$(curl -fsS -d account=admin -d password=123456 "$base/api/v1/user/login" |
	python3 -c 'import json,sys; print(json.load(sys.stdin)["response"]["token"])')
pid=$(curl -fsS -H "access-token: $tok" -d title=install "$base/api/v1/project/create" |
	python3 -c 'import json,sys; print(json.load(sys.stdin)["response"]["project_id"])')
out=$(GCRON_PASSWORD=123456 ./post_task -s "$base" --project "$pid" --name every-second \
	--cron '* * * * * * *' --command 'echo "installed agent says hi"' 2>&1)
[[ $? == 0 && $out == *"saved in project $pid (scheduled)"* ]] &&
	ok "post_task creates a task through the REST API" || bad "post_task: $out"

# 3. report_receiver, and the installed agent reporting to it.
./report_receiver --listen "127.0.0.1:$rx_port" --token "$token" >"$tmp/rx.out" 2>"$tmp/rx.err" &
pids+=($!)
rx_pid=$!
wait_for 10 curl -s -o /dev/null "http://127.0.0.1:$rx_port/" || bad "report_receiver did not start: $(cat "$tmp/rx.err")"
sed -e "s|^report_addr = .*|report_addr = \"http://127.0.0.1:$rx_port/report\"|" \
	-e "s|^report_token = .*|report_token = \"$token\"|" \
	-e "s|^#client_ip = .*|client_ip = \"127.0.0.1\"|" \
	-e "s|^#spool_dir = .*|spool_dir = \"$tmp/spool\"|" \
	-e "s|^projects = .*|projects = [$pid]|" \
	-e "s|^service = \[\"127.0.0.1:2379\"\]|service = [$etcd_list]|" \
	-e "s|^prefix = .*|prefix = \"$prefix\"|" \
	"$P/share/gophercron/config/agent.toml" >"$tmp/agent.toml"
# Without projects (or with a misspelt key) it refuses to start.
sed -e "s|^projects = .*|projects = []|" "$tmp/agent.toml" >"$tmp/agent-none.toml"
out=$("$P/bin/gcron-agent" -c "$tmp/agent-none.toml" 2>&1)
rc=$?
[[ $rc == 1 && $out == *"agent-none.toml: no projects: this agent would serve nothing"* ]] &&
	ok "installed gcron-agent refuses to start without projects" || bad "no projects (status $rc): $out"
sed -e "s|^projects = |projcets = |" "$tmp/agent.toml" >"$tmp/agent-typo.toml"
out=$("$P/bin/gcron-agent" -c "$tmp/agent-typo.toml" 2>&1)
rc=$?
[[ $rc == 1 && $out == *'agent-typo.toml:'*': unknown key "projcets" (did you mean "projects"?)'* ]] &&
	ok "installed gcron-agent names a misspelt key with file:line and a suggestion" ||
	bad "misspelt key (status $rc): $out"
"$P/bin/gcron-agent" -c "$tmp/agent.toml" >"$tmp/agent.log" 2>&1 &
pids+=($!)
agent_pid=$!
got_result() { grep -q "^result project=$pid .*name=\"every-second\".* ok output=\"installed agent says hi\\\\n\"" "$tmp/rx.out"; }
if wait_for 30 got_result; then
	ok "installed gcron-agent runs the task and report_receiver prints the result"
else
	bad "no result at report_receiver: $(tail -3 "$tmp/rx.out") / agent: $(tail -5 "$tmp/agent.log")"
fi
grep -qi 'unknown' "$tmp/agent.log" && bad "agent.toml: unknown keys: $(grep -i unknown "$tmp/agent.log")" ||
	ok "installed agent.toml has no unknown keys"
if (($(id -u) == 0)); then
	grep -q 'running as root: every task.s command runs as root too' "$tmp/agent.log" &&
		ok "installed gcron-agent started as root warns that tasks run as root" ||
		bad "no root warning: $(head -5 "$tmp/agent.log")"
else
	grep -q 'running as root' "$tmp/agent.log" && bad "root warning from a non-root agent" ||
		ok "installed gcron-agent started as a user does not warn about root"
fi
kill -TERM "$agent_pid"
wait "$agent_pid"
rc=$?
((rc == 0)) && ok "installed gcron-agent stops cleanly on SIGTERM" || bad "gcron-agent exit status $rc"
kill -TERM "$rx_pid"
wait "$rx_pid"
rc=$?
((rc == 0)) && ok "report_receiver stops cleanly on SIGTERM" || bad "report_receiver exit status $rc"

# 4. embed_agent (the embedding example) from the installed tree: its demo
#    puts a task run by an in-process handler and stops after 2 results.
out=$(timeout 60 ./embed_agent --endpoints "$GC_TEST_ETCD_ENDPOINTS" --prefix "$prefix" \
	--project "$((pid + 100))" --client-ip 127.0.0.9 --demo 2 2>&1)
rc=$?
[[ $rc == 0 && $(grep -c '^result task=embed-demo .*hello, embedded world' <<<"$out") -ge 2 ]] &&
	ok "embed_agent built from the installed tree runs its in-process handler" ||
	bad "embed_agent --demo 2 (status $rc): $(tail -5 <<<"$out")"

# ------------------------------------------------------------ uninstall
cd "$ROOT" || exit 1
if make --no-print-directory -s BUILD="$BUILD_DIR" uninstall DESTDIR="$root" PREFIX=/usr/local >>"$log" 2>&1; then
	left=$(find "$root" ! -type d)
	[[ -z $left ]] && ok "make uninstall removes every installed file" || bad "left after uninstall: $left"
else
	bad "make uninstall"
fi

finish
