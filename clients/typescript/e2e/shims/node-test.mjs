// `node:test` for a browser build of the package's tests: describe/it collect, run() runs them in
// order and reports each. Only what test/*.test.ts use.
const tests = [];
const prefix = [];

export function describe(name, body) {
  prefix.push(name);
  try {
    body();
  } finally {
    prefix.pop();
  }
}

export function it(name, body) {
  tests.push({ name: [...prefix, name].join(" › "), body });
}
export const test = it;

export async function run() {
  const results = [];
  for (const { name, body } of tests) {
    try {
      await body();
      results.push({ name, ok: true });
    } catch (error) {
      results.push({ name, ok: false, error: error instanceof Error ? `${error.name}: ${error.message}` : String(error) });
    }
  }
  return results;
}
