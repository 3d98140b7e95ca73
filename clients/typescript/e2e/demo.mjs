// The browser demo's flow in real browsers against a running local stack:
//   node e2e/demo.mjs --demo-url http://127.0.0.1:8787/ [chromium] [firefox]
// sign in → enroll (non-extractable key) → an allowed answer with its ciphertext proof → a redacted
// answer → a blocked answer shown as blocked → the device revoked by the operator command → refused.
// SECURE_AI_REVOKE: the revoke command as a JSON array (the device id is appended), run in
// SECURE_AI_REVOKE_CWD; SECURE_AI_KEY_CACHE_SECONDS: how long the authorizer may still accept the key.
// Prints one line per check and `RESULTS <json>`; exits 1 when any check failed.
import { execFileSync } from "node:child_process";
import { parseArgs } from "node:util";

import { browserNames, launch, runChecks } from "./launch.mjs";

const { values, positionals } = parseArgs({ options: { "demo-url": { type: "string" } }, allowPositionals: true });
const demoUrl = values["demo-url"];
if (!demoUrl) throw new Error("--demo-url is required");
const revokeCommand = JSON.parse(process.env.SECURE_AI_REVOKE ?? "null");
const keyCacheSeconds = Number(process.env.SECURE_AI_KEY_CACHE_SECONDS ?? "60");

function check(condition, message) {
  if (!condition) throw new Error(message);
}

async function entryAfter(page, count, prompt) {
  await page.$eval("#prompt", (element, value) => {
    element.value = value;
  }, prompt);
  await page.click("#send");
  await page.waitForFunction(
    (expected) => {
      const entries = document.querySelectorAll("#transcript .entry");
      return entries.length === expected && entries[0].dataset.outcome !== "pending";
    },
    { timeout: 30_000 },
    count,
  );
  return page.evaluate(() => {
    const entry = document.querySelector("#transcript .entry");
    const proof = entry.querySelector(".proof");
    return {
      outcome: entry.dataset.outcome,
      verdict: entry.dataset.verdict ?? null,
      findings: entry.dataset.findings ?? "",
      status: entry.dataset.status ?? null,
      text: entry.textContent,
      answer: entry.querySelector(".answer").textContent,
      bytes: Number(proof.dataset.bytes ?? 0),
      hex: proof.dataset.hex ?? "",
      promptInBody: proof.dataset.promptInBody ?? null,
    };
  });
}

function checkProof(entry) {
  check(entry.bytes > 300, `the sent body is ${entry.bytes} bytes`);
  // An ESDK message: format version 2, suite 0x0478 (committing, unsigned).
  check(entry.hex.startsWith("020478"), `the sent body starts ${entry.hex.slice(0, 12)}, not 02 04 78`);
  check(entry.promptInBody === "false", "the prompt's text occurs in the sent body");
}

async function scenario(name) {
  const { browser, close } = await launch(name);
  const problems = [];
  try {
    const page = await browser.newPage();
    page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
    let device = "";
    let entries = 0;
    const results = await runChecks(name, [
      [
        "sign in and enroll with a non-extractable key",
        async () => {
          await page.goto(demoUrl, { waitUntil: "load" });
          await page.waitForFunction(() => document.getElementById("status").dataset.state !== "loading", { timeout: 15_000 });
          await page.click("#sign-in");
          await page.waitForFunction(() => ["enrolled", "error"].includes(document.getElementById("status").dataset.state), { timeout: 30_000 });
          const state = await page.evaluate(() => ({
            status: document.getElementById("status").textContent,
            state: document.getElementById("status").dataset.state,
            device: document.getElementById("device-id").textContent,
            extractable: document.getElementById("key-extractable").textContent,
            secure: window.isSecureContext,
          }));
          check(state.secure, "the page is not a secure context");
          check(state.state === "enrolled", `enrollment failed: ${state.status} ${problems.join("; ")}`);
          check(state.device.startsWith("dev-"), `device id ${state.device}`);
          check(state.extractable === "false", `the stored key is extractable: ${state.extractable}`);
          device = state.device;
        },
      ],
      [
        "chat: an answer with verdict allow and proof the body was ciphertext",
        async () => {
          const entry = await entryAfter(page, ++entries, "What is the capital of France?");
          check(entry.outcome === "answered", `outcome ${entry.outcome}: ${entry.text}`);
          check(entry.verdict === "allow", `verdict ${entry.verdict}`);
          check(entry.answer.includes("capital of France"), `answer ${entry.answer}`);
          checkProof(entry);
        },
      ],
      [
        "a redacted answer names what was redacted",
        async () => {
          const entry = await entryAfter(page, ++entries, "[demo:redact] How do I reach support?");
          check(entry.outcome === "answered" && entry.verdict === "redact", `outcome ${entry.outcome}, verdict ${entry.verdict}`);
          check(entry.findings === "email,phone", `findings ${entry.findings}`);
          check(!entry.text.includes("jane.doe@example.com"), "the e-mail address is shown");
          checkProof(entry);
        },
      ],
      [
        "a blocked answer is shown as blocked",
        async () => {
          const entry = await entryAfter(page, ++entries, "[demo:block] Show me the settings.");
          check(entry.outcome === "blocked" && entry.verdict === "block", `outcome ${entry.outcome}, verdict ${entry.verdict}`);
          check(entry.findings.split(",").includes("aws_access_key"), `findings ${entry.findings}`);
          check(!entry.text.includes("STUBDEMOKEY") && !entry.text.includes("NotARealKey"), "the secret is shown");
          checkProof(entry);
        },
      ],
      [
        "after revocation the device is refused",
        async () => {
          check(Array.isArray(revokeCommand), "SECURE_AI_REVOKE is not set");
          check(device !== "", "no device enrolled");
          const [command, ...args] = revokeCommand;
          execFileSync(command, [...args, device], { cwd: process.env.SECURE_AI_REVOKE_CWD ?? process.cwd(), stdio: ["ignore", "ignore", "inherit"], timeout: 30_000 });
          await new Promise((resolve) => setTimeout(resolve, (keyCacheSeconds + 0.5) * 1000));
          const entry = await entryAfter(page, ++entries, "What is the capital of France?");
          check(entry.outcome === "refused", `outcome ${entry.outcome}: ${entry.text}`);
          check(entry.status === "401" || entry.status === "403", `status ${entry.status}`);
        },
      ],
    ]);
    if (problems.length > 0) console.log(`${name} page problems: ${problems.join("; ")}`);
    return results;
  } finally {
    await close();
  }
}

const all = [];
for (const name of browserNames(positionals)) {
  try {
    all.push(...(await scenario(name)));
  } catch (error) {
    all.push({ browser: name, name: "launch", ok: false, error: error instanceof Error ? error.message : String(error) });
    console.log(`FAIL ${name} launch: ${all.at(-1).error}`);
  }
}
console.log(`RESULTS ${JSON.stringify(all)}`);
process.exit(all.every((result) => result.ok) ? 0 : 1);
