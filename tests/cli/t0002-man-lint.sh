#!/bin/sh
# Every man page is mandoc -Tlint clean and has the sections STYLE.md asks for.
. "${QN_TOP_SRCDIR:-.}/tests/cli/lib.sh"

top=${QN_TOP_SRCDIR:-.}
command -v mandoc >/dev/null 2>&1 || skip_all "mandoc not installed"
for page in "$top"/man/*.[1-8]; do
	name=$(basename "$page")
	ok "$name: mandoc -Tlint is clean" sh -c "! mandoc -Tlint -Wwarning '$page' 2>&1 | grep ."
	for section in NAME SYNOPSIS DESCRIPTION "SEE ALSO"; do
		ok "$name: has $section" grep -q "^\.Sh $section" "$page"
	done
done
# Every program built has its page.
for bin in "${QN_TOP_BUILDDIR:-.}"/quern "${QN_TOP_BUILDDIR:-.}"/quern-*; do
	[ -x "$bin" ] && [ -f "$bin" ] || continue
	prog=$(basename "$bin")
	ok "$prog has a man page" sh -c "ls '$top'/man/$prog.[1-8] >/dev/null 2>&1"
done
done_testing
