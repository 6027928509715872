// node web/test/classify_check.mjs EXPORT_DIR IN.f32
// Runs web/src/frontend.js's classifyClip (onnxruntime-web, wasm) on mono float32 samples at the model's rate
// and prints {starts, ends, padded, probs, embedding} as JSON, to compare with export_runner in Python.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import * as ort from "onnxruntime-web";
import { Model, classifyClip } from "../component/src/frontend.js";

const [dir, inPath] = process.argv.slice(2);
const spec = JSON.parse(readFileSync(join(dir, "labels.json"), "utf-8"));
const buf = readFileSync(inPath);
const y = new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4);
ort.env.wasm.numThreads = 1;
const bytes = readFileSync(join(dir, spec.model_file));
const model = await Model.create(ort, new Uint8Array(bytes), spec);
const res = await classifyClip(model, spec, Float32Array.from(y));
console.log(JSON.stringify({ ...res, probs: res.probs.map((p) => Array.from(p)) }));
