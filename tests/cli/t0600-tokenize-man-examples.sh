#!/bin/sh
# The EXAMPLES of quern-tokenize(1), read out of the page and run as
# printed: each "$ command" line runs with sh in the scratch directory,
# and the lines after it, up to the next command or the display's end,
# are its expected standard output.  The page's tokenizer files are the
# encodings npm's tiktoken ships, copied here under the names the page
# uses.
SRC=$(cd "${QN_TOP_SRCDIR:-.}" && pwd)
. "$SRC/tests/cli/lib.sh"
PAGE=$SRC/man/quern-tokenize.1

ENC=${QN_PEERS:-/nonexistent}/tiktoken/encoders
[ -r "$ENC/gpt2.json" ] || skip_all "npm tiktoken is not installed in \$QN_PEERS"
cp "$ENC/gpt2.json" "$ENC/cl100k_base.json" .

# Each display as "N<TAB>line", with the mdoc escapes turned back.
awk '
	/^\.Sh / { ex = ($0 == ".Sh EXAMPLES"); next }
	ex && /^\.Bd -literal/ { n++; lit = 1; next }
	lit && /^\.Ed/ { lit = 0; next }
	lit { print n "\t" $0 }
' "$PAGE" | sed -e 's/\\-/-/g' -e 's/\\(aq/'"'"'/g' -e 's/\\(dq/"/g' -e 's/\\&//g' -e 's/\\e/\\/g' > .lines

ncmd=0
run_pending() {
	[ -n "${cmd:-}" ] || return 0
	ncmd=$((ncmd + 1))
	got=$(sh -c "$cmd" 2>.err)
	s=$?
	# dash's echo would read the backslashes of printf commands
	is "example: $(printf '%s' "$cmd" | sed 's/\\/\\\\/g')" "$(printf '%s' "$want")" "$got"
	[ $s -eq 0 ] || { echo "#   exit $s"; sed 's/^/#   /' .err; }
	cmd=
}
cmd=
want=
prev=
while IFS='	' read -r disp line; do
	if [ "$disp" != "$prev" ]; then
		run_pending
		prev=$disp
	fi
	case $line in
	'$ '*)
		run_pending
		cmd=${line#\$ }
		want=
		;;
	*)
		if [ -z "$want" ]; then want=$line; else want="$want
$line"; fi
		;;
	esac
done < .lines
run_pending
ok "the page has examples ($ncmd commands)" test "$ncmd" -ge 5
ok "mandoc -Tlint is clean" sh -c "! mandoc -Tlint -Wwarning '$PAGE' 2>&1 | grep ."
done_testing
