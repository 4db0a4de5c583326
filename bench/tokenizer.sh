#!/bin/sh
# bench/tokenizer.sh: BPE training and encoding, quern side by side with
# its peers in one run, with ratios.
#
# Training: the same corpus of real text (Python's sources and HTML
# documentation, the man pages, everything gzipped under /usr/share/doc),
# QN_BENCH_TOK_MB MB of it (default 100), 30000 ids (the vocabulary
# npm tokenizers' binding trains: its train() takes no trainer options),
# quern-bpe-train vs npm tokenizers (Hugging Face BPE, ByteLevel with the
# gpt2 regex, like quern's default pattern) in wall time and peak memory;
# then compression on held-out text (the next 5 MB of the same sources)
# in bytes per token, each tokenizer encoding with its own library; and
# spm_train --model_type=bpe on a QN_BENCH_SPM_MB slice (default 10,
# sentencepiece being far slower).
# Encoding: MB/s per core (CPU time) on QN_BENCH_ENC_MB MB (default 20)
# for gpt2 and cl100k_base vs npm tiktoken, and with the Hugging Face
# tokenizer trained above vs npm tokenizers (the same file, two
# encoders).  Run from the build directory after make
# bench/tokenizer-bench (make bench does both).
#
#   QN_BENCH_DIR   where the corpus is kept (default /tmp/quern-bench)
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
build=${QN_TOP_BUILDDIR:-$(pwd)}
dir=${QN_BENCH_DIR:-/tmp/quern-bench}
peers=${QN_PEERS:-$top/tests/peers/node_modules}
mb=${QN_BENCH_TOK_MB:-100}
spm_mb=${QN_BENCH_SPM_MB:-10}
enc_mb=${QN_BENCH_ENC_MB:-20}
mkdir -p "$dir"
export NODE_PATH=$peers
echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load $(cut -d' ' -f1-3 /proc/loadavg)"

all=$dir/tok-all.txt
if [ ! -s "$all" ]; then
	{
		find /usr/lib/python3.11 -name '*.py' -print0 | sort -z | xargs -0 cat
		find /usr/share/doc/python3.11/html -name '*.html' -print0 | sort -z | xargs -0 cat
		find /usr/share/man/man[1-8] -name '*.gz' -print0 | sort -z | xargs -0 zcat
		find /usr/share/doc -name '*.gz' -print0 | sort -z | xargs -0 zcat
	} 2>/dev/null | iconv -f utf-8 -t utf-8 -c > "$all" || true
fi
total=$(($(wc -c < "$all") / 1000000))
[ "$total" -ge $((mb + 5)) ] || { echo "only $total MB of text here: using $((total - 5)) MB"; mb=$((total - 5)); }
head -c $((mb * 1000000)) "$all" | sed '$d' > "$dir/tok-train.txt"
tail -c +$((mb * 1000000 + 1)) "$all" | head -c 5000000 | sed '1d;$d' > "$dir/tok-held.txt"
head -c $((enc_mb * 1000000)) "$all" | sed '$d' > "$dir/tok-enc.txt"
head -c $((spm_mb * 1000000)) "$all" | sed '$d' > "$dir/tok-spm.txt"

# wall seconds and peak KB of a command, into $wall and $peak
timed() {
	/usr/bin/time -f '%e %M' -o "$dir/time" "$@" > "$dir/out" 2> "$dir/err" || { cat "$dir/err"; return 1; }
	read -r wall peak < "$dir/time"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

echo "== training: $mb MB, 30000 ids, $(nproc) threads"
timed "$build/quern-bpe-train" -q -m "$dir/tok.db" --text --vocab-size 30000 --special '<|endoftext|>' \
	-o "$dir/quern-30k.json" "$dir/tok-train.txt"
q_wall=$wall q_peak=$peak
echo "quern-bpe-train        $q_wall s  $((q_peak / 1024)) MB peak"
timed node "$top/bench/tokenizer-peers.js" train "$dir/tok-train.txt" "$dir/hf-30k.json"
h_wall=$wall h_peak=$peak
echo "npm tokenizers (HF)    $h_wall s  $((h_peak / 1024)) MB peak"
echo "ratio: quern is $(ratio "$h_wall" "$q_wall")x faster than HF, peak memory $(ratio "$q_peak" "$h_peak")x HF's"
q_bpt=$("$build/bench/tokenizer-bench" "$dir/quern-30k.json" "$dir/tok-held.txt" 1 | sed 's/.* ids, \([0-9.]*\) bytes.*/\1/')
h_bpt=$(node "$top/bench/tokenizer-peers.js" hf "$dir/hf-30k.json" "$dir/tok-held.txt" | sed 's/.* ids, \([0-9.]*\) bytes.*/\1/')
echo "held-out compression: quern $q_bpt bytes/token, HF $h_bpt bytes/token (quern/HF $(ratio "$q_bpt" "$h_bpt"))"
if command -v spm_train >/dev/null 2>&1; then
	timed spm_train --input="$dir/tok-spm.txt" --model_prefix="$dir/spm" --vocab_size=30000 \
		--model_type=bpe --num_threads="$(nproc)" --minloglevel=2
	s_wall=$wall
	timed "$build/quern-bpe-train" -q -m "$dir/tok.db" --text --vocab-size 30000 -o "$dir/quern-spm.json" "$dir/tok-spm.txt"
	echo "spm_train --model_type=bpe on $spm_mb MB: $s_wall s; quern on the same: $wall s (quern $(ratio "$s_wall" "$wall")x faster)"
else
	echo "(spm_train not installed: apt-get install sentencepiece)"
fi

echo "== encoding: $enc_mb MB, MB/s per core (CPU time)"
for e in gpt2 cl100k_base o200k_base; do
	q=$("$build/bench/tokenizer-bench" "$peers/tiktoken/encoders/$e.json" "$dir/tok-enc.txt" 3)
	t=$(node "$top/bench/tokenizer-peers.js" tiktoken $e "$dir/tok-enc.txt")
	qs=${q%% MB/s*} ts=${t%% MB/s*}
	echo "$e: quern $qs MB/s, npm tiktoken $ts MB/s: $(ratio "$qs" "$ts")x"
	qi=$(echo "$q" | sed 's/.*core, \([0-9]*\) ids.*/\1/'); ti=$(echo "$t" | sed 's/.*core, \([0-9]*\) ids.*/\1/')
	echo "  ids: quern $qi, tiktoken $ti (in 1 MB pieces)"
done
q=$("$build/bench/tokenizer-bench" "$dir/hf-30k.json" "$dir/tok-enc.txt" 3)
h=$(node "$top/bench/tokenizer-peers.js" hf "$dir/hf-30k.json" "$dir/tok-enc.txt")
echo "HF's 30k tokenizer.json: quern ${q%% MB/s*} MB/s, npm tokenizers ${h%% MB/s*} MB/s: $(ratio "${q%% MB/s*}" "${h%% MB/s*}")x"
