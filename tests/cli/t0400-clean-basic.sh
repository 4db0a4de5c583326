#!/bin/sh
# quern-clean on good input: real Debian documents through every default
# step, the manifest record (events, drop counters, histograms), the same
# bytes for any -j, --dry-run, languages and meta, the two language
# samples, PII masking, the rules file, the config file and --set, and
# the man page's examples.
. "${QN_TOP_SRCDIR:-.}/tests/cli/lib.sh"

have() { command -v "$1" >/dev/null 2>&1; }
have jq || skip_all "jq is not installed"
[ -d /usr/share/doc/bash ] || skip_all "/usr/share/doc/bash is missing"

counter() { sql "SELECT json_extract(counters, '\$.\"$1\"') FROM runs ORDER BY id DESC LIMIT 1"; }
last_run() { sql "SELECT max(id) FROM runs"; }

ok "--help" quern-clean --help
like "help shows the usage" '^usage: quern-clean' "$(out)"
ok "--version" quern-clean --version
ok "--list-params" quern-clean --list-params
like "the parameters list datatrove's thresholds" 'gopher_quality.min_words +50' "$(out)"
like "and FineWeb's" 'fineweb.max_char_dup +0.01' "$(out)"

# Real documents: the bash and coreutils docs (README, NEWS, changelogs, copyright).
ok "collect real documents" quern-collect -q -o docs.jsonl.zst /usr/share/doc/bash /usr/share/doc/coreutils
n_in=$(zstdcat docs.jsonl.zst | wc -l | tr -d ' ')
ok "clean them" quern-clean -o clean.jsonl.zst docs.jsonl.zst
like "the summary counts documents in, out and dropped by rule" \
	"^quern-clean: $n_in documents in \\([0-9.]+ MB\\), [0-9]+ out .*dropped: [0-9]+ [a-z_0-9]+:[a-z_0-9]+" "$(err)"
n_out=$(zstdcat clean.jsonl.zst | wc -l | tr -d ' ')
is "docs_in counter" "$n_in" "$(counter docs_in)"
is "docs_out counter" "$n_out" "$(counter docs_out)"
is "in = out + dropped" "$n_in" "$(( n_out + $(counter docs_dropped) ))"
is "one drop event per dropped document" "$(counter docs_dropped)" \
	"$(sql "SELECT count(DISTINCT doc) FROM doc_events WHERE kind = 'drop' AND run = $(last_run)")"
is "the drop counters add up to the dropped documents" "$(counter docs_dropped)" \
	"$(sql "SELECT sum(value) FROM runs, json_each(runs.counters) WHERE runs.id = $(last_run) AND key LIKE 'drop:%'")"
is "each measured value has a histogram over every document measured" "$n_in" \
	"$(sql "SELECT sum(value) FROM runs, json_each(runs.counters) WHERE runs.id = $(last_run) AND key LIKE 'hist:langid:score:%'")"
like "drop events name the rule and show value and threshold" \
	'^(gopher_quality:[a-z_]+\|[0-9.e+-]+ [<>]=? [0-9.e+-]+|[a-z_0-9]+:[a-z_0-9]+\|.+)$' \
	"$(sql "SELECT rule, value FROM doc_events WHERE kind = 'drop' AND run = $(last_run) LIMIT 1")"
is "kept documents carry their language in meta" "$n_out" \
	"$(zstdcat clean.jsonl.zst | jq -r 'select(.meta.lang != null and .meta.lang_score >= 0.65) | .id' | wc -l | tr -d ' ')"
zstdcat clean.jsonl.zst | jq -r .id | sort > ids.out
zstdcat docs.jsonl.zst | jq -r .id | sort > ids.in
is "every kept document keeps its id" "" "$(comm -23 ids.out ids.in)"
is "the run records its input and output files" "input output" \
	"$(sql "SELECT role FROM run_files WHERE run = $(last_run) ORDER BY role" | tr '\n' ' ' | sed 's/ $//')"

# The same bytes and the same record for any -j.
ok "-j1" quern-clean -q -j1 -o j1.jsonl.zst docs.jsonl.zst
ev1=$(sql "SELECT doc, kind, rule, value FROM doc_events WHERE run = $(last_run) ORDER BY doc, rule, value" | md5sum)
c1=$(sql "SELECT counters FROM runs WHERE id = $(last_run)")
ok "-j3" quern-clean -q -j3 -o j3.jsonl.zst docs.jsonl.zst
ev3=$(sql "SELECT doc, kind, rule, value FROM doc_events WHERE run = $(last_run) ORDER BY doc, rule, value" | md5sum)
c3=$(sql "SELECT counters FROM runs WHERE id = $(last_run)")
ok "-j1 and -j3 write the same bytes" cmp j1.jsonl.zst j3.jsonl.zst
is "and the same events" "$ev1" "$ev3"
is "and the same counters" "$c1" "$c3"

# --dry-run: everything goes through, the drops are recorded as such.
# --profile: CPU time by step, and the rest.
ok "--profile" quern-clean -q --profile -o prof.jsonl docs.jsonl.zst
like "gives the run's CPU time" 'profile: [0-9.]+ MB in [0-9.]+ s wall, [0-9.]+ MB/s; [0-9.]+ s CPU' "$(err)"
is "and a line for each step and the rest" 9 "$(grep -c 'profile: [a-z_0-9]* *[0-9.]* s *[0-9.]*%' .err)"
ok "--dry-run" quern-clean -q --dry-run -o dry.jsonl docs.jsonl.zst
is "a dry run drops nothing" "$n_in" "$(wc -l < dry.jsonl | tr -d ' ')"
is "and records what it would drop" "$(( n_in - n_out ))" \
	"$(sql "SELECT count(*) FROM doc_events WHERE kind = 'drop' AND run = $(last_run) AND value LIKE '% (dry run)'")"

# Languages: --lang keeps only those; meta is merged, not replaced.
cat > de.txt <<'TXT'
Der Fluss fließt durch das breite Tal, und die Bauern bestellen seit vielen Generationen ihre Felder.
Jedes Frühjahr überschwemmt das Wasser die unteren Wiesen und hinterlässt eine Schicht fruchtbarer Erde.
Die Kinder gehen zu der kleinen Schule auf dem Hügel, wo ein einziger Lehrer sie im Lesen und Schreiben unterrichtet.
Am Abend versammeln sich die Familien auf dem Platz, um Neuigkeiten auszutauschen und alte Geschichten zu hören.
Besucher bemerken oft, dass die Zeit hier langsamer zu vergehen scheint als in den geschäftigen Städten im Süden.
TXT
jq -Rs '{text: ., source: "test:de", meta: {origin: "fixture", lang: "xx"}}' de.txt | jq -c . > de.jsonl
ok "a German document with no language list" quern-clean -q -o de-out.jsonl de.jsonl
is "is kept, language de" "de" "$(jq -r .meta.lang de-out.jsonl)"
is "its other meta members stay" "fixture" "$(jq -r .meta.origin de-out.jsonl)"
is "an old lang member is replaced, not repeated" 1 "$(grep -o '"lang":' de-out.jsonl | wc -l | tr -d ' ')"
ok "--lang en" quern-clean -q --lang en -o de-en.jsonl de.jsonl
is "drops it" 0 "$(wc -l < de-en.jsonl | tr -d ' ')"
is "with the reason" "langid:lang|de not in en" \
	"$(sql "SELECT rule, value FROM doc_events WHERE run = $(last_run) AND kind = 'drop'")"

# Two language samples: 4.8 KB of English, then German.  The first
# 4096 bytes are reliably English, so they stand; with one sample
# (langid.first_bytes=0) the first 16384 bytes are mostly German.
cat > en.txt <<'TXT'
The river runs through the wide valley, and the farmers have worked their fields there for many generations.
Every spring the water floods the lower meadows and leaves behind a layer of rich and fertile soil.
The children walk to the small school on the hill, where a single teacher shows them how to read and write.
In the evening the families gather in the square to share the news of the day and to hear the old stories.
Visitors often remark that time seems to pass more slowly here than in the busy cities of the south.
TXT
(for i in 1 2 3 4 5 6 7 8 9; do cat en.txt; done; for i in $(seq 30); do cat de.txt; done) |
	jq -Rs '{text: ., source: "test:en-de"}' | jq -c . > en-de.jsonl
(for i in $(seq 15); do cat en.txt de.txt; done) | jq -Rs '{text: ., source: "test:mixed"}' | jq -c . > mixed.jsonl
LANG_ONLY="--no-gopher-repetition --no-gopher-quality --no-c4 --no-fineweb --no-pii"
ok "English, then German" quern-clean -q $LANG_ONLY -o en-de-2.jsonl en-de.jsonl
is "the first sample stands" '{"lang":"en","lang_score":0.99}' "$(jq -c .meta en-de-2.jsonl)"
ok "with one sample" quern-clean -q $LANG_ONLY -s langid.first_bytes=0 -o en-de-1.jsonl en-de.jsonl
is "the first 16384 bytes decide" "de" "$(jq -r .meta.lang en-de-1.jsonl)"
ok "with the first sample's score out of reach" quern-clean -q $LANG_ONLY -s langid.first_min_score=1.01 -o en-de-3.jsonl en-de.jsonl
is "the same" "$(jq -c .meta en-de-1.jsonl)" "$(jq -c .meta en-de-3.jsonl)"
ok "English and German line by line" quern-clean -q $LANG_ONLY -s langid.min_score=0 -o mixed-2.jsonl mixed.jsonl
ok "and with one sample" quern-clean -q $LANG_ONLY -s langid.min_score=0 -s langid.first_bytes=0 -o mixed-1.jsonl mixed.jsonl
is "an uncertain first sample leaves it to the second" "$(jq -c .meta mixed-1.jsonl)" "$(jq -c .meta mixed-2.jsonl)"
is "which CLD2 calls German, English being boilerplate to it" "de" "$(jq -r .meta.lang mixed-2.jsonl)"

# PII: placeholders, Luhn-checked cards, counts.
cat > pii.txt <<'TXT'
Write to jane.doe@example.org or call +1 415-555-0132 about the server at 192.168.10.20 and 2001:db8::7334.
Card 4111 1111 1111 1111 is a test number and passes the Luhn check; 4111 1111 1111 1112 does not.
Version 1.2.3 and the year 2024 are not personal data, nor is std::vector or 10:30:00.
TXT
jq -Rs '{text: ., source: "test:pii"}' pii.txt | jq -c . > pii.jsonl
ok "mask personal data" quern-clean -q --no-gopher-repetition --no-gopher-quality --no-c4 --no-fineweb --no-langid -o pii-out.jsonl pii.jsonl
t=$(jq -r .text pii-out.jsonl)
like "e-mail masked" 'Write to \|\|\|EMAIL_ADDRESS\|\|\| or call \|\|\|PHONE_NUMBER\|\|\|' "$t"
like "IPv4 and IPv6 masked" 'server at \|\|\|IP_ADDRESS\|\|\| and \|\|\|IP_ADDRESS\|\|\|\.' "$t"
like "a valid card masked, an invalid one kept" 'Card \|\|\|CARD_NUMBER\|\|\| is .* 4111 1111 1111 1112 does not' "$t"
like "versions, years, C++ names and times are left alone" 'Version 1\.2\.3 and the year 2024 .* std::vector or 10:30:00\.' "$t"
is "counts recorded" "1 2 1 1" "$(counter pii:email) $(counter pii:ip) $(counter pii:phone) $(counter pii:card)"
is "events per kind" "pii:card|x1 pii:email|x1 pii:ip|x2 pii:phone|x1" \
	"$(sql "SELECT rule, value FROM doc_events WHERE run = $(last_run) AND rule LIKE 'pii:%' ORDER BY rule" | tr '\n' ' ' | sed 's/ $//')"

# The rules file.
cat > my.rules <<'TXT'
# drop documents about spam, drop FIXME lines, rename a product
drop      spam      /buy now/i
drop-line fixme     |^FIXME|
replace   rename    /Acme(Corp)?/Initech/
TXT
printf '%s\n' '{"text":"Acme makes widgets.\nFIXME: remove\nAcmeCorp sells them."}' '{"text":"BUY NOW while stocks last"}' > r.jsonl
ok "apply a rules file" quern-clean -q --rules my.rules --no-gopher-repetition --no-gopher-quality --no-c4 --no-fineweb --no-langid -o r-out.jsonl r.jsonl
is "drop-line and replace" "Initech makes widgets.
Initech sells them." "$(jq -r .text r-out.jsonl)"
is "drop, with the match" "rules:spam|matched 'BUY NOW' at byte 0" \
	"$(sql "SELECT rule, value FROM doc_events WHERE run = $(last_run) AND kind = 'drop'")"
is "modify events" "rules:fixme|removed 1 of 3 lines rules:rename|replaced x2" \
	"$(sql "SELECT rule, value FROM doc_events WHERE run = $(last_run) AND kind = 'modify' AND rule LIKE 'rules:%' ORDER BY rule" | tr '\n' ' ' | sed 's/ $//')"

# A pathological pattern hits the match limit: an error for that document, not a stall.
printf 'drop catastrophic /^(a+)+$/\n' > bad.rules
jq -nc '{text: ("a" * 40 + "b")}' > aaa.jsonl
printf '%s\n' '{"text":"fine"}' >> aaa.jsonl
ok "a catastrophic pattern does not hang the run" quern-clean -q --rules bad.rules --set rules.match_limit=100000 \
	--no-gopher-repetition --no-gopher-quality --no-c4 --no-fineweb --no-langid -o aaa-out.jsonl aaa.jsonl
like "the document is reported" 'aaa.jsonl:1: document [0-9a-f]{32}: rules:catastrophic: match limit exceeded' "$(err)"
is "the other one goes on" "fine" "$(jq -r .text aaa-out.jsonl)"
is "a reject event" "reject|rules:catastrophic" "$(sql "SELECT kind, rule FROM doc_events WHERE run = $(last_run)")"

# Config file and --set: every threshold, flags win.
printf '# looser Gopher\ngopher_quality.min_words = 3\ngopher_quality.min_stop_words = off\n' > my.conf
printf '%s\n' '{"text":"Three small words.\nThree small words again, with more words here.\nAnd another line of words.\nFourth sentence is here too.\nFifth one ends the text."}' > small.jsonl
ok "--config" quern-clean -q -c my.conf --no-gopher-repetition --no-c4 --no-fineweb --no-langid -o conf-out.jsonl small.jsonl
is "the config file lowers the word minimum" 1 "$(wc -l < conf-out.jsonl | tr -d ' ')"
is "the run records the effective value" "3" \
	"$(sql "SELECT json_extract(config, '\$.\"gopher_quality.min_words\"') FROM runs WHERE id = $(last_run)")"
is "and 'off'" "off" \
	"$(sql "SELECT json_extract(config, '\$.\"gopher_quality.min_stop_words\"') FROM runs WHERE id = $(last_run)")"
ok "--set after --config wins" quern-clean -q -c my.conf -s gopher_quality.min_words=500 --no-gopher-repetition --no-c4 --no-fineweb --no-langid -o conf2.jsonl small.jsonl
is "so the document goes" 0 "$(wc -l < conf2.jsonl | tr -d ' ')"

# The preset for software documentation keeps more of it, all English.
ok "the software-docs preset" quern-clean -q -c "${QN_TOP_SRCDIR:-.}/cleaners/software-docs.conf" -o sw.jsonl.zst docs.jsonl.zst
n_sw=$(zstdcat sw.jsonl.zst | wc -l | tr -d ' ')
ok "keeps more than the defaults ($n_sw > $n_out)" test "$n_sw" -gt "$n_out"
is "all of it English" "$n_sw" "$(zstdcat sw.jsonl.zst | jq -r 'select(.meta.lang == "en") | .id' | wc -l | tr -d ' ')"

# The man page's examples.
ok "example: clean with the defaults" quern-clean -o clean2.jsonl.zst docs.jsonl.zst
ok "example: English only, looser for documentation" \
	quern-clean --lang en -s gopher_quality.min_alpha_words=0.6 -s gopher_repetition.dup_5_gram=0.3 -o en.jsonl.zst docs.jsonl.zst
ok "example: the preset for software documentation" \
	quern-clean -c "${QN_TOP_SRCDIR:-.}/cleaners/software-docs.conf" -o docs-clean.jsonl.zst docs.jsonl.zst
ok "example: what would a threshold do" quern-clean --dry-run --measures m.jsonl -o /dev/null docs.jsonl.zst
is "one measures line per document" "$n_in" "$(wc -l < m.jsonl | tr -d ' ')"
ok "example: the drop counts of a run" sql "SELECT key, value FROM runs, json_each(runs.counters) WHERE runs.id = (SELECT max(id) FROM runs WHERE tool = 'quern-clean') AND key LIKE 'drop:%'"
ok "example: a histogram" sql "SELECT key, value FROM runs, json_each(runs.counters) WHERE runs.id = (SELECT max(id) FROM runs WHERE tool = 'quern-clean') AND key LIKE 'hist:gopher_quality:mean_word_length:%'"
like "it has bins" 'hist:gopher_quality:mean_word_length:[0-9.]+\|[0-9]+' "$(out)"
ok "example: why a document is gone" sh -c "quern-manifest why $(sql "SELECT doc FROM doc_events WHERE kind = 'drop' LIMIT 1") >/dev/null 2>&1 || true"
done_testing
