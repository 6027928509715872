// node web/test/logmel_check.mjs IN.f32 OUT.f32 '{"sr":22050,"nFft":1024,"hop":256,"nMels":64,"fmin":0,"fmax":null,"topDb":80}'
// Reads mono float32 samples, writes the log-mel (frames x nMels, float32, row-major) of web/src/logmel.js.
import { readFileSync, writeFileSync } from "node:fs";
import { LogMel } from "../component/src/logmel.js";

const [inPath, outPath, paramsJson] = process.argv.slice(2);
const buf = readFileSync(inPath);
const y = new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4);
const lm = new LogMel(JSON.parse(paramsJson));
const rows = lm.clipDb(y);
const out = new Float32Array(rows.length * lm.nMels);
rows.forEach((r, i) => out.set(r, i * lm.nMels));
writeFileSync(outPath, Buffer.from(out.buffer));
console.log(JSON.stringify({ frames: rows.length, mels: lm.nMels }));
