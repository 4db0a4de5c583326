# lib.sh: shared by the CLI tests (tests/cli/tNNNN-program-what.sh), which
# speak TAP.  A test sources this file, calls plan or leaves counting to
# done_testing, and uses ok/is/fails.  Each test runs in its own fresh
# scratch directory ($T), removed at exit; the programs under test are
# the built ones (make check puts the build directory first on PATH).
#
#   . "${QN_TOP_SRCDIR:-.}/tests/cli/lib.sh"
#   ok "collect writes a stream" quern-collect -o out.jsonl dir
#   is "3 documents" 3 "$(zstdcat out.jsonl.zst | wc -l)"
#   fails 2 "unknown option is a usage error" quern-collect --nope
#   done_testing

set -u
_n=0
_failed=0
T=$(mktemp -d "${TMPDIR:-/tmp}/quern-cli.XXXXXX") || exit 99
trap 'rm -rf "$T"' EXIT
cd "$T" || exit 99
export QUERN_MANIFEST="$T/quern.db"

_result() {  # status description
	_n=$((_n + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $_n - $2"
	else
		echo "not ok $_n - $2"
		_failed=$((_failed + 1))
	fi
}

# ok DESCRIPTION COMMAND...: the command exits 0 (its output goes to the log).
ok() {
	_d=$1; shift
	"$@" >"$T/.out" 2>"$T/.err"
	_s=$?
	_result $_s "$_d"
	[ $_s -eq 0 ] || { echo "#   exit $_s: $*"; sed 's/^/#   /' "$T/.err" | head -20; }
	return $_s
}

# fails CODE DESCRIPTION COMMAND...: the command exits with CODE.
fails() {
	_c=$1; _d=$2; shift 2
	"$@" >"$T/.out" 2>"$T/.err"
	_s=$?
	[ $_s -eq "$_c" ]
	_result $? "$_d"
	[ $_s -eq "$_c" ] || { echo "#   exit $_s, want $_c: $*"; sed 's/^/#   /' "$T/.err" | head -20; }
}

# is DESCRIPTION WANT GOT: string equality.
is() {
	[ "$2" = "$3" ]
	_s=$?
	_result $_s "$1"
	[ $_s -eq 0 ] || { echo "#   want: '$2'"; echo "#    got: '$3'"; }
	return $_s
}

# like DESCRIPTION REGEX TEXT: TEXT matches the extended regex.
like() {
	printf '%s\n' "$3" | grep -Eq -- "$2"
	_s=$?
	_result $_s "$1"
	[ $_s -eq 0 ] || { echo "#   want match: '$2'"; printf '%s\n' "$3" | head -10 | sed 's/^/#    got: /'; }
	return $_s
}

# The stdout and stderr of the last ok/fails command.
out() { cat "$T/.out"; }
err() { cat "$T/.err"; }

# Under make check the TAP plan says "skipped" (the driver counts a non-zero
# exit as an error); by hand the exit status 77 says it, as automake does.
skip_all() { echo "1..0 # SKIP $*"; if [ -n "${QN_TOP_BUILDDIR:-}" ]; then exit 0; fi; exit 77; }

# skip DESCRIPTION REASON: one skipped test.
skip() { _n=$((_n + 1)); echo "ok $_n - $1 # SKIP $2"; }

# sql QUERY: one query on the test's manifest, as an auditor would run it.
sql() { sqlite3 -batch -noheader "$QUERN_MANIFEST" "$1"; }

# limited BLOCKS COMMAND...: the command under a file-size limit of
# BLOCKS 512-byte blocks, its writes past it failing with EFBIG, as on a
# full disk (RLIMIT_FSIZE binds root too; SIGXFSZ is ignored).
limited() {
	_b=$1; shift
	sh -c 'trap "" XFSZ; ulimit -f "$0" && exec "$@"' "$_b" "$@"
}

# names DIR: the names in a directory, hidden ones too, on one line.
names() { (cd "$1" && ls -A | tr '\n' ' ' | sed 's/ $//'); }

# unnamed_files DIR: whether the file system under DIR has unnamed files
# (O_TMPFILE).  Where it has not, programs write under a temporary name,
# which a SIGKILL cannot clean up, so kill tests let such names be;
# without python3 to ask, they are let be too.
unnamed_files() {
	command -v python3 >/dev/null 2>&1 &&
		python3 -c 'import os, sys; os.close(os.open(sys.argv[1], os.O_TMPFILE | os.O_WRONLY, 0o600))' "$1" 2>/dev/null
}

done_testing() {
	echo "1..$_n"
	[ $_failed -eq 0 ]
	exit $?
}
