#!/usr/bin/env bash
# Every public header compiles alone as C99 -pedantic and as C++.
set -euo pipefail
cc=${1:-cc}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0 n=0
for h in include/gophercron.h include/gophercron/*.h; do
	rel=${h#include/}
	n=$((n + 1))
	printf '#include <%s>\n#include <%s>\nint main(void) { return 0; }\n' "$rel" "$rel" >"$tmp/t.c"
	if ! $cc -std=c99 -pedantic -Wall -Wextra -Werror -Iinclude -c "$tmp/t.c" -o "$tmp/t.o"; then
		echo "header-test: $rel does not compile alone as C99" >&2; fail=$((fail + 1))
	fi
	cp "$tmp/t.c" "$tmp/t.cpp"
	if ! g++ -std=c++11 -pedantic -Wall -Wextra -Werror -Iinclude -c "$tmp/t.cpp" -o "$tmp/t.o"; then
		echo "header-test: $rel does not compile as C++" >&2; fail=$((fail + 1))
	fi
done
echo "header-test: $((n * 2 - fail)) passed, $fail failed"
exit $((fail > 0))
