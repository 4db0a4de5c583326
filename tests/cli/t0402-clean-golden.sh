#!/bin/sh
# quern-clean's golden vectors: tests/golden/clean.jsonl holds small
# documents, each with the values every filter must measure and the
# verdict (worked by hand from the definitions in quern-clean(1); the
# "note" member says what each one shows).  Then the measured values of
# real Debian documents against an independent Python implementation of
# the same definitions (tests/golden/clean-ref.py).
. "${QN_TOP_SRCDIR:-.}/tests/cli/lib.sh"

have() { command -v "$1" >/dev/null 2>&1; }
have jq || skip_all "jq is not installed"
golden=${QN_TOP_SRCDIR:-.}/tests/golden/clean.jsonl

ok "measure the golden documents" quern-clean -q --no-langid --dry-run --measures got.jsonl -o out.jsonl "$golden"
for id in $(jq -r .id "$golden"); do
	name=$(jq -r --arg id "$id" 'select(.id == $id) | .source' "$golden")
	want=$(jq -c --arg id "$id" 'select(.id == $id) | .expect | {verdict, rule}' "$golden")
	got=$(jq -c --arg id "$id" 'select(.id == $id) | {verdict, rule}' got.jsonl)
	is "$name: verdict" "$want" "$got"
	# Every expected value within 1e-4 (relative for large ones), and nothing extra.
	diff=$(jq -n -r --arg id "$id" --slurpfile e "$golden" --slurpfile g got.jsonl '
		($e[] | select(.id == $id) | .expect.m) as $w |
		($g[] | select(.id == $id) | .m) as $m |
		(($w | keys) - ($m | keys) | .[] | "missing \(.)"),
		(($m | keys) - ($w | keys) | .[] | "extra \(.)"),
		($w | to_entries[] | select($m[.key] != null) |
		 select(((.value - $m[.key]) | if . < 0 then -. else . end) >
			1e-4 * (if .value > 1 then .value else 1 end)) |
		 "\(.key): got \($m[.key]), want \(.value)")')
	is "$name: measured values" "" "$diff"
done
want=$(jq -r 'select(.expect.text != null) | .expect.text' "$golden")
is "normalization and C4 on the NFD document" "$want" \
	"$(jq -r 'select(.source == "golden:nfc") | .text' out.jsonl)"

# Real documents against the Python reference.
if have python3 && [ -d /usr/share/doc/bash ]; then
	ok "collect real documents" quern-collect -q -o docs.jsonl /usr/share/doc/bash /usr/share/doc/coreutils /usr/share/doc/apt
	ok "normalize them" quern-clean -q --no-langid --no-gopher-repetition --no-gopher-quality --no-c4 --no-fineweb --no-pii -o norm.jsonl docs.jsonl
	jq -c 'select((.text | length) < 200000)' norm.jsonl > small.jsonl
	ok "measure them" quern-clean -q --no-langid --no-pii --dry-run --measures m.jsonl -o /dev/null small.jsonl
	ok "the Python reference measures them" sh -c "python3 '${QN_TOP_SRCDIR:-.}/tests/golden/clean-ref.py' < small.jsonl > ref.jsonl"
	n=$(wc -l < ref.jsonl | tr -d ' ')
	ok "on a real sample" test "$n" -ge 10
	diff=$(jq -n -r --slurpfile r ref.jsonl --slurpfile g m.jsonl '
		($g | map({(.id): .m}) | add) as $gm |
		$r[] | .id as $id | .m | to_entries[] |
		select(((.value - ($gm[$id][.key] // -99)) | if . < 0 then -. else . end) >
		       1e-6 * (if .value > 1 then .value else 1 end)) |
		"\($id) \(.key): C \($gm[$id][.key]), Python \(.value)"' | head -5)
	is "every value of $n documents agrees" "" "$diff"
else
	skip "the Python reference" "python3 or /usr/share/doc/bash is missing"
fi
done_testing
