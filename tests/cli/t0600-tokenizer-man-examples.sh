#!/bin/sh
# The EXAMPLES of quern-tokenize(1) and quern-bpe-train(1), read out of
# the pages and run as printed: each "$ command" line runs with sh in a
# scratch directory of its page, and the lines after it, up to the next
# command or the display's end, are its expected standard output.  The
# tokenizer files the pages name are the encodings npm's tiktoken ships,
# copied under those names.
SRC=$(cd "${QN_TOP_SRCDIR:-.}" && pwd)
. "$SRC/tests/cli/lib.sh"

ENC=${QN_PEERS:-/nonexistent}/tiktoken/encoders
[ -r "$ENC/gpt2.json" ] || skip_all "npm tiktoken is not installed in \$QN_PEERS"

# Each display of page $1 as "N<TAB>line", with the mdoc escapes turned back.
displays() {
	awk '
		/^\.Sh / { ex = ($0 == ".Sh EXAMPLES"); next }
		ex && /^\.Bd -literal/ { n++; lit = 1; next }
		lit && /^\.Ed/ { lit = 0; next }
		lit { print n "\t" $0 }
	' "$1" | sed -e 's/\\-/-/g' -e 's/\\(aq/'"'"'/g' -e 's/\\(dq/"/g' -e 's/\\&//g' -e 's/\\e/\\/g'
}

run_pending() {
	[ -n "${cmd:-}" ] || return 0
	ncmd=$((ncmd + 1))
	got=$(sh -c "$cmd" 2>"$T/.cmderr")
	s=$?
	# dash's echo would read the backslashes of printf commands
	is "$page: $(printf '%s' "$cmd" | sed 's/\\/\\\\/g')" "$(printf '%s' "$want")" "$got"
	[ $s -eq 0 ] || { echo "#   exit $s"; sed 's/^/#   /' "$T/.cmderr"; }
	cmd=
}

for page in quern-tokenize.1 quern-bpe-train.1; do
	mkdir "$T/$page" && cd "$T/$page" || exit 99
	export QUERN_MANIFEST="$T/$page/quern.db"
	cp "$ENC/gpt2.json" "$ENC/cl100k_base.json" .
	displays "$SRC/man/$page" > "$T/.lines.$page"
	ncmd=0 cmd= want= prev=
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
	done < "$T/.lines.$page"
	run_pending
	ok "$page has examples ($ncmd commands)" test "$ncmd" -ge 4
	ok "$page: mandoc -Tlint is clean" sh -c "! mandoc -Tlint -Wwarning '$SRC/man/$page' 2>&1 | grep ."
done
done_testing
