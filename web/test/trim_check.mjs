// node web/test/trim_check.mjs CASES.json
// Each case {y (samples), sr, trim}: prints [start, end] of web/component/src/frontend.js's trimBounds as JSON.
import { readFileSync } from "node:fs";
import { trimBounds } from "../component/src/frontend.js";

const cases = JSON.parse(readFileSync(process.argv[2], "utf-8"));
console.log(JSON.stringify(cases.map((c) => trimBounds(Float32Array.from(c.y), c.sr, c.trim))));
