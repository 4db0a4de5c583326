// hf-ids.js: ids from npm tokenizers (Hugging Face), for the tests of
// quern-bpe-train.  node hf-ids.js TOKENIZER.json FILE... writes FILE.hf.ids,
// one id a line: each FILE encoded as one text, without added special tokens
// other than those the text spells.
const { Tokenizer } = require("tokenizers");
const fs = require("fs");
(async () => {
	const tok = Tokenizer.fromFile(process.argv[2]);
	for (const f of process.argv.slice(3)) {
		const enc = await tok.encode(fs.readFileSync(f, "utf8"), null, { addSpecialTokens: false });
		fs.writeFileSync(f + ".hf.ids", enc.getIds().join("\n") + (enc.getIds().length ? "\n" : ""));
	}
})().catch((e) => { console.error(String(e)); process.exit(1); });
