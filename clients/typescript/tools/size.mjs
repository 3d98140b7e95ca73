// Print the browser bundle's minified and gzipped sizes; exit 1 over the budget (KB gzipped, default 60).
import { readFileSync } from "node:fs";
import { gzipSync } from "node:zlib";

const budget = Number(process.argv[2] ?? 60) * 1024;
const bundle = readFileSync(new URL("../dist/browser/secure-ai-client.min.js", import.meta.url));
const gzipped = gzipSync(bundle, { level: 9 }).length;
console.log(`dist/browser/secure-ai-client.min.js: ${(bundle.length / 1024).toFixed(1)} KB minified, ${(gzipped / 1024).toFixed(1)} KB gzipped (budget ${budget / 1024} KB)`);
if (gzipped > budget) {
  console.error("over the size budget");
  process.exit(1);
}
