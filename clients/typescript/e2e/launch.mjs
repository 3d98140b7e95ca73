// Launch one of the system's browsers with puppeteer-core (no browser download: Debian's packages,
// `make browsers`): Chromium over the DevTools protocol, Firefox ESR over WebDriver BiDi. Headless.
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const BROWSERS = {
  chromium: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
  firefox: process.env.FIREFOX_PATH ?? "/usr/bin/firefox-esr",
};
export const INSTALL_HINT = "run `make browsers ts-install` from the repository root";

export function browserNames(argv) {
  const names = argv.length > 0 ? argv : Object.keys(BROWSERS);
  for (const name of names) {
    if (!(name in BROWSERS)) throw new Error(`unknown browser ${name}: one of ${Object.keys(BROWSERS).join(", ")}`);
  }
  return names;
}

/** The browser, and a function that closes it and removes its fresh profile. */
export async function launch(name) {
  let puppeteer;
  try {
    puppeteer = (await import("puppeteer-core")).default;
  } catch {
    throw new Error(`puppeteer-core is not installed: ${INSTALL_HINT}`);
  }
  const executablePath = BROWSERS[name];
  if (!existsSync(executablePath)) {
    throw new Error(`${executablePath} is missing: ${INSTALL_HINT}`);
  }
  const profile = mkdtempSync(join(tmpdir(), `secure-ai-${name}-`));
  const options =
    name === "chromium"
      ? {
          executablePath,
          headless: true,
          userDataDir: profile,
          args: [
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
          ],
        }
      : { browser: "firefox", executablePath, protocol: "webDriverBiDi", headless: true, userDataDir: profile };
  const browser = await puppeteer.launch({ ...options, timeout: 60_000 });
  return {
    browser,
    close: async () => {
      await browser.close().catch(() => undefined);
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** Run named checks in order, each bounded; print one line per check and a JSON summary line. */
export async function runChecks(browserName, checks, { timeoutMs = 60_000 } = {}) {
  const results = [];
  for (const [name, check] of checks) {
    const started = performance.now();
    let timer;
    try {
      await Promise.race([
        check(),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms`)), timeoutMs);
        }),
      ]);
      results.push({ browser: browserName, name, ok: true, ms: Math.round(performance.now() - started) });
      console.log(`ok   ${browserName} ${name}`);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      results.push({ browser: browserName, name, ok: false, error: message, ms: Math.round(performance.now() - started) });
      console.log(`FAIL ${browserName} ${name}: ${message}`);
    } finally {
      clearTimeout(timer);
    }
  }
  return results;
}
