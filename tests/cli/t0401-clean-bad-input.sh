#!/bin/sh
# quern-clean on bad input: lines that are not documents are reported
# with file:line, skipped, counted and recorded; huge documents are left
# out; --max-errors fails the run and publishes nothing; usage errors
# (options, parameters, config and rules files) exit 2.
. "${QN_TOP_SRCDIR:-.}/tests/cli/lib.sh"

have() { command -v "$1" >/dev/null 2>&1; }
have jq || skip_all "jq is not installed"

counter() { sql "SELECT json_extract(counters, '\$.\"$1\"') FROM runs ORDER BY id DESC LIMIT 1"; }
last_status() { sql "SELECT status FROM runs ORDER BY id DESC LIMIT 1"; }
FILTERS_OFF="--no-langid --no-gopher-repetition --no-gopher-quality --no-c4 --no-fineweb"

{
	printf '%s\n' '{"text":"good one"}'
	printf '%s\n' '{"text": not json}'
	printf '%s\n' '{"text":42}'
	printf '%s\n' '{"id":"x"}'
	printf '%s\n' '{"text":"good two"}'
	printf '{"text":"bad utf-8 \377"}\n'
} > bad.jsonl
# shellcheck disable=SC2086
ok "bad lines do not stop the run" quern-clean $FILTERS_OFF -o out.jsonl bad.jsonl
is "the good documents come through" "good one|good two" "$(jq -r .text out.jsonl | tr '\n' '|' | sed 's/|$//')"
like "each bad line is reported with file and line" '^quern-clean: bad\.jsonl:2: ' "$(err)"
like "the last one too" 'bad\.jsonl:6: ' "$(err)"
like "the summary counts them" '; 4 errors$' "$(err)"
is "errors counter" 4 "$(counter errors)"
is "reject events" 4 "$(sql "SELECT count(*) FROM doc_events WHERE kind = 'reject' AND rule = 'clean:invalid_input'")"
is "the run is ok" ok "$(last_status)"

# shellcheck disable=SC2086
fails 1 "past --max-errors the run fails" quern-clean $FILTERS_OFF --max-errors 2 -o fail.jsonl bad.jsonl
like "saying why" 'more than 2 errors' "$(err)"
is "nothing is published" no "$(test -e fail.jsonl && echo yes || echo no)"
is "the run is marked failed" failed "$(last_status)"

# A huge document is left out, not read into every step.
head -c 3000 /dev/zero | tr '\0' 'a' | jq -Rc '{text: .}' > huge.jsonl
printf '%s\n' '{"text":"small"}' >> huge.jsonl
# shellcheck disable=SC2086
ok "a document over --max-doc-bytes" quern-clean -q $FILTERS_OFF --max-doc-bytes 1k -o h.jsonl huge.jsonl
is "is left out" "small" "$(jq -r .text h.jsonl)"
is "as too_large" "clean:too_large|3000 bytes > 1024" "$(sql "SELECT rule, value FROM doc_events WHERE rule = 'clean:too_large'")"
is "counted" 1 "$(counter skipped_too_large)"

# Empty and whitespace-only documents.
printf '%s\n' '{"text":""}' '{"text":" \n\n\t\n"}' > empty.jsonl
ok "empty documents" quern-clean -q -o e.jsonl empty.jsonl
is "are dropped as clean:empty" 2 "$(counter drop:clean:empty)"

# A truncated compressed input is an error for the stream.
printf '%s\n' '{"text":"one"}' '{"text":"two"}' | zstd -q > t.jsonl.zst
head -c 12 t.jsonl.zst > cut.jsonl.zst
fails 1 "a truncated input fails the run" quern-clean -q -o cut.jsonl cut.jsonl.zst
is "and publishes nothing" no "$(test -e cut.jsonl && echo yes || echo no)"

# Usage errors.
fails 2 "no output" quern-clean bad.jsonl
fails 2 "no input" quern-clean -o x.jsonl
fails 2 "unknown option" quern-clean --nope -o x.jsonl bad.jsonl
fails 2 "unknown parameter" quern-clean -s gopher_quality.nope=1 -o x.jsonl bad.jsonl
like "named" "unknown parameter 'gopher_quality.nope'" "$(err)"
fails 2 "bad value" quern-clean -s fineweb.max_char_dup=abc -o x.jsonl bad.jsonl
fails 2 "--set without =" quern-clean -s fineweb.max_char_dup -o x.jsonl bad.jsonl
printf 'c4.min_sentences = 5\nthis line is wrong\n' > bad.conf
fails 2 "a bad config line" quern-clean -c bad.conf -o x.jsonl bad.jsonl
like "gives file and line" 'bad\.conf:2: expected' "$(err)"
fails 1 "a missing config file" quern-clean -c nope.conf -o x.jsonl bad.jsonl
printf 'drop ok /a/\nreplace broken /(/x/\n' > bad1.rules
fails 2 "a rules file with a bad pattern" quern-clean --rules bad1.rules -o x.jsonl bad.jsonl
like "gives file, line and PCRE2's message" 'bad1\.rules:2: pattern error at offset 1: missing closing parenthesis' "$(err)"
printf 'keep x /a/\n' > bad2.rules
fails 2 "an unknown action" quern-clean --rules bad2.rules -o x.jsonl bad.jsonl
printf 'drop x /a\n' > bad3.rules
fails 2 "an unterminated pattern" quern-clean --rules bad3.rules -o x.jsonl bad.jsonl
printf 'drop x /a/q\n' > bad4.rules
fails 2 "an unknown flag" quern-clean --rules bad4.rules -o x.jsonl bad.jsonl
fails 2 "stdin twice" quern-clean -o x.jsonl - -
done_testing
