#!/bin/sh
# check_idioms.sh SRCDIR CC - the house rules a compiler does not check by
# itself (issue 14; util/banned.h, proto/README.md):
#  1. every .c file of ours includes "banned.h" as its last #include, so
#     that atoi, strcpy, sprintf ... fail the build everywhere;
#  2. banned.h does make them fail: a file calling strcpy does not compile;
#  3. no file outside proto/ names a protobuf-c type or the generated
#     header (CMake already refuses the header; this also catches the
#     runtime's own types).
set -u
src=$1
cc=$2
fail=0

for f in $(find "$src/agents" "$src/bench" "$src/broker" "$src/cli" \
	     "$src/log" "$src/market" "$src/proto" "$src/sim" "$src/storage" \
	     "$src/tests" "$src/util" -name '*.c' | sort); do
	last=$(grep -n '^#include' "$f" | tail -n 1)
	case "$last" in
	*'"banned.h"'*) ;;
	*) echo "check_idioms: $f: the last #include is not \"banned.h\"" \
		"(${last:-none})"; fail=1 ;;
	esac
done

tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
cat >"$tmp/slip.c" <<'C'
#include <string.h>
#include "banned.h"
void slip(char *d, const char *s);
void slip(char *d, const char *s) { strcpy(d, s); }
C
if "$cc" -fsyntax-only -I"$src/util" "$tmp/slip.c" 2>"$tmp/err"; then
	echo "check_idioms: a file calling strcpy after banned.h compiled"
	fail=1
elif ! grep -q 'banned_function' "$tmp/err"; then
	echo "check_idioms: strcpy failed to compile, but not as banned:"
	cat "$tmp/err"
	fail=1
fi

if grep -rnE 'Bourse__|BOURSE__|bourse__|ProtobufC|protobuf_c_|bourse\.pb-c\.h' \
	"$src/agents" "$src/bench" "$src/broker" "$src/cli" "$src/market" \
	"$src/sim" "$src/storage" "$src/tests" "$src/util" \
	--include='*.c' --include='*.h'; then
	echo "check_idioms: protobuf types named outside proto/ (above)"
	fail=1
fi

[ "$fail" = 0 ] && echo "check_idioms: ok"
exit "$fail"
