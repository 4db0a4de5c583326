// collect-mkwarc.mjs: writes a WARC with npm's warcio, for quern-collect's
// tests and benchmark (a real writer, so the reader is tested on files it
// did not make itself).
//
//   node collect-mkwarc.mjs OUT.warc[.gz] < SPEC
//
// SPEC is JSON lines, one record each:
//   {"type":"response","url":"http://x/","file":"page.html",
//    "contentType":"text/html; charset=utf-8","status":200}
//   {"type":"conversion","url":"http://x/","text":"plain text"}
// "file" (read as bytes) or "text" gives the content; a response gets HTTP
// headers with the status and Content-Type; others get the Content-Type as
// the record's.  An OUT ending in .gz is written one gzip member per record.
// warcio is found under $QN_PEERS (the npm peers' node_modules).
import fs from "node:fs";
import readline from "node:readline";
import path from "node:path";

const peers = process.env.QN_PEERS || path.join(path.dirname(new URL(import.meta.url).pathname),
	"../tests/peers/node_modules");
const { WARCRecord, WARCSerializer } = await import(path.join(peers, "warcio/dist/index.js"));

const out = process.argv[2];
if (!out) {
	console.error("usage: node collect-mkwarc.mjs OUT.warc[.gz] < SPEC");
	process.exit(2);
}
const gzip = out.endsWith(".gz");
const fd = fs.openSync(out, "w");
const warcVersion = "WARC/1.1";
const info = await WARCRecord.createWARCInfo({ filename: path.basename(out), warcVersion },
	{ software: "quern collect-mkwarc.mjs (warcio.js)" });
fs.writeSync(fd, await WARCSerializer.serialize(info, { gzip }));
const rl = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
let n = 0;
for await (const line of rl) {
	if (!line.trim())
		continue;
	const s = JSON.parse(line);
	const body = s.file !== undefined ? fs.readFileSync(s.file) : new TextEncoder().encode(s.text || "");
	const type = s.type || "response";
	const opts = { url: s.url, type, warcVersion, date: s.date || "2026-01-01T00:00:00Z" };
	if (type === "response") {
		opts.httpHeaders = { "Content-Type": s.contentType || "text/html; charset=utf-8" };
		opts.statusline = `HTTP/1.1 ${s.status || 200} ${(s.status || 200) === 200 ? "OK" : "Other"}`;
	} else {
		opts.warcHeaders = { "Content-Type": s.contentType || "text/plain" };
	}
	async function* content() { yield new Uint8Array(body); }
	const rec = await WARCRecord.create(opts, content());
	fs.writeSync(fd, await WARCSerializer.serialize(rec, { gzip }));
	n++;
}
fs.closeSync(fd);
console.error(`collect-mkwarc: ${n} records in ${out}`);
