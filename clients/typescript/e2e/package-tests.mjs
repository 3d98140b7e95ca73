// The package's own unit and vector tests (test/*.test.ts) inside real browsers:
//   node e2e/package-tests.mjs [chromium] [firefox]
// esbuild bundles the test modules with browser stand-ins for node:test, node:assert/strict and the
// vector loader (e2e/shims/); a loopback server (a secure context) serves them with
// docs/vectors/client-vectors.json and stream-vectors.json; each browser runs every test. Prints
// one line per test and `RESULTS <json>`; exits 1 when any test failed or none ran.
import { readFileSync } from "node:fs";
import { createServer } from "node:http";
import { fileURLToPath } from "node:url";

import { browserNames, INSTALL_HINT, launch } from "./launch.mjs";

const ROOT = new URL("../", import.meta.url);
const VECTORS = new URL("../../docs/vectors/client-vectors.json", ROOT);
const STREAM_VECTORS = new URL("../../docs/vectors/stream-vectors.json", ROOT);
const SHIMS = { "node:test": "node-test.mjs", "node:assert/strict": "assert.mjs", "./load-vectors.js": "load-vectors.mjs" };

async function bundle() {
  let esbuild;
  try {
    esbuild = await import("esbuild");
  } catch {
    throw new Error(`esbuild is not installed: ${INSTALL_HINT}`);
  }
  const shims = {
    name: "browser-shims",
    setup(build) {
      build.onResolve({ filter: /^(node:test|node:assert\/strict|\.\/load-vectors\.js)$/ }, (args) => ({
        path: fileURLToPath(new URL(`shims/${SHIMS[args.path]}`, import.meta.url)),
      }));
      // The sources import "./x.js" for "./x.ts" (NodeNext); esbuild resolves that itself.
    },
  };
  const entry = `export { run } from "node:test";\nimport "./test/client.test.ts";\nimport "./test/vectors.test.ts";\nimport "./test/stream.test.ts";\n`;
  const result = await esbuild.build({
    stdin: { contents: entry, resolveDir: fileURLToPath(ROOT), sourcefile: "browser-tests.ts", loader: "ts" },
    bundle: true,
    format: "esm",
    platform: "browser",
    target: "es2022",
    write: false,
    plugins: [shims],
    logLevel: "silent",
    // package.json says "sideEffects": false (true of src/), which would drop the test modules.
    ignoreAnnotations: true,
  });
  return result.outputFiles[0].contents;
}

const PAGE = `<!doctype html><meta charset="utf-8"><title>@secure-ai/client tests</title>
<script type="module">
globalThis.__SECURE_AI_VECTORS__ = await (await fetch("vectors.json")).json();
globalThis.__SECURE_AI_STREAM_VECTORS__ = await (await fetch("stream-vectors.json")).json();
const { run } = await import("./tests.js");
globalThis.__SECURE_AI_RESULTS__ = await run();
</script>`;

function serve(files) {
  const server = createServer((request, response) => {
    const file = files[new URL(request.url, "http://x").pathname];
    if (file === undefined) {
      response.writeHead(404).end();
      return;
    }
    response.writeHead(200, { "content-type": file.type, "cache-control": "no-store" }).end(file.body);
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server)));
}

const tests = await bundle();
const server = await serve({
  "/": { type: "text/html; charset=utf-8", body: PAGE },
  "/tests.js": { type: "text/javascript", body: tests },
  "/vectors.json": { type: "application/json", body: readFileSync(VECTORS) },
  "/stream-vectors.json": { type: "application/json", body: readFileSync(STREAM_VECTORS) },
});
const url = `http://127.0.0.1:${server.address().port}/`;
const all = [];
try {
  for (const name of browserNames(process.argv.slice(2))) {
    try {
      const { browser, close } = await launch(name);
      try {
        const page = await browser.newPage();
        const errors = [];
        page.on("pageerror", (error) => errors.push(error.message));
        await page.goto(url, { waitUntil: "load" });
        await page.waitForFunction(() => globalThis.__SECURE_AI_RESULTS__ !== undefined || document.readyState === "complete" && globalThis.__SECURE_AI_FAILED__, { timeout: 60_000 }).catch(() => undefined);
        const results = await page.evaluate(() => globalThis.__SECURE_AI_RESULTS__ ?? null);
        if (results === null) throw new Error(`the tests did not run: ${errors.join("; ") || "no results"}`);
        for (const result of results) {
          all.push({ browser: name, ...result });
          console.log(`${result.ok ? "ok  " : "FAIL"} ${name} ${result.name}${result.ok ? "" : `: ${result.error}`}`);
        }
        if (results.length === 0) throw new Error("no test ran");
      } finally {
        await close();
      }
    } catch (error) {
      all.push({ browser: name, name: "run", ok: false, error: error instanceof Error ? error.message : String(error) });
      console.log(`FAIL ${name}: ${all.at(-1).error}`);
    }
  }
} finally {
  server.close();
}
for (const name of new Set(all.map((result) => result.browser))) {
  const mine = all.filter((result) => result.browser === name);
  console.log(`${name}: ${mine.filter((result) => result.ok).length} passed, ${mine.filter((result) => !result.ok).length} failed`);
}
console.log(`RESULTS ${JSON.stringify(all)}`);
process.exit(all.length > 0 && all.every((result) => result.ok) ? 0 : 1);
