#!/bin/sh
# quern dispatches "quern X" to quern-X like git, and lists the programs.
. "${QN_TOP_SRCDIR:-.}/tests/cli/lib.sh"

ok "quern --help" quern --help
like "help lists quern-manifest" '^ +manifest$' "$(out)"
ok "quern --version" quern --version
like "version names the package" '^quern \(quern\) [0-9]' "$(out)"
ok "quern manifest init dispatches to quern-manifest" quern manifest init
ok "quern manifest --version" quern manifest --version
like "the dispatched program knows its name" '^quern-manifest \(quern\)' "$(out)"
fails 2 "an unknown program is a usage error" quern nosuchprogram
like "and says so" "'nosuchprogram' is not a quern program" "$(err)"
fails 2 "an unknown option is a usage error" quern --bogus
fails 2 "a program name with a slash is refused" quern ../etc/passwd

# A quern-X found on PATH, outside the build directory, is run too.
mkdir bin
printf '#!/bin/sh\necho "extension says $*"\n' > bin/quern-hello
chmod +x bin/quern-hello
PATH="$T/bin:$PATH" ok "a program on PATH is found" quern hello a b
is "with its arguments" "extension says a b" "$(out)"
done_testing
