// bench/tokenizer-peers.js: the npm peers of bench/tokenizer.sh.
//   node tokenizer-peers.js tiktoken ENCODING FILE   encoding speed of npm tiktoken
//   node tokenizer-peers.js hf TOKENIZER.json FILE   encoding speed of npm tokenizers
//   node tokenizer-peers.js train CORPUS OUT.json    Hugging Face BPE training (ByteLevel,
//                                                    the binding's default trainer: 30000 ids)
// Speeds are MB of text per second of this process's CPU time (user +
// system), so they are per core.  The text is encoded in pieces of about
// 1 MB cut after a newline (npm tiktoken merges long pieces in quadratic time).
const fs = require("fs");
const [mode, a, b] = process.argv.slice(2);

function chunks(text) {
	const out = [];
	let i = 0;
	while (i < text.length) {
		let j = Math.min(text.length, i + 1000000);
		const nl = text.indexOf("\n", j);
		j = nl < 0 ? text.length : nl + 1;
		out.push(text.slice(i, j));
		i = j;
	}
	return out;
}

function cpu() {
	const u = process.cpuUsage();
	return (u.user + u.system) / 1e6;
}

(async () => {
	if (mode === "tiktoken") {
		const { get_encoding } = require("tiktoken");
		const enc = get_encoding(a);
		const text = fs.readFileSync(b, "utf8");
		const parts = chunks(text);
		const t0 = cpu();
		let n = 0;
		for (const p of parts) n += enc.encode_ordinary(p).length;
		const dt = cpu() - t0;
		console.log(`${(Buffer.byteLength(text) / dt / 1e6).toFixed(1)} MB/s per core, ${n} ids`);
	} else if (mode === "hf") {
		const { Tokenizer } = require("tokenizers");
		const tok = Tokenizer.fromFile(a);
		const text = fs.readFileSync(b, "utf8");
		const parts = chunks(text);
		const t0 = cpu();
		let n = 0;
		for (const p of parts) n += (await tok.encode(p, null, { addSpecialTokens: false })).getIds().length;
		const dt = cpu() - t0;
		console.log(`${(Buffer.byteLength(text) / dt / 1e6).toFixed(1)} MB/s per core, ${n} ids, ` +
			`${(Buffer.byteLength(text) / n).toFixed(3)} bytes/token`);
	} else if (mode === "train") {
		const t = require("tokenizers");
		const tok = new t.Tokenizer(t.BPE.empty());
		tok.setPreTokenizer(t.byteLevelPreTokenizer(false, true));
		tok.train([a]);
		tok.save(b);
	} else {
		console.error("usage: tokenizer-peers.js tiktoken|hf|train ...");
		process.exit(2);
	}
})().catch((e) => { console.error(String(e)); process.exit(1); });
