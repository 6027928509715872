// node web/test/judge_check.mjs CASES.json
// Each case {open_set, probs, embedding, sequences?}: prints the verdicts of web/component/src/frontend.js's judge as JSON.
import { readFileSync } from "node:fs";
import { judge } from "../component/src/frontend.js";

const cases = JSON.parse(readFileSync(process.argv[2], "utf-8"));
console.log(JSON.stringify(cases.map((c) => judge(c.open_set, c.probs, c.embedding,
  c.sequences ? c.sequences.map((e) => ({ data: Float64Array.from(e.data), dims: e.dims })) : null))));
