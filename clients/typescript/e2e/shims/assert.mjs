// `node:assert/strict` for a browser build of the package's tests: the assertions they use, with
// node's strict semantics (Object.is, deep strict equality of plain data and typed arrays).
class AssertionError extends Error {
  name = "AssertionError";
}

function fail(message) {
  throw new AssertionError(message);
}

function show(value) {
  try {
    return typeof value === "string" ? JSON.stringify(value) : ArrayBuffer.isView(value) ? `${value.constructor.name}(${value.length})` : JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

function deepEqualValues(a, b) {
  if (Object.is(a, b)) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Object.getPrototypeOf(a) !== Object.getPrototypeOf(b)) return false;
  if (ArrayBuffer.isView(a)) {
    return a.length === b.length && a.every((item, index) => Object.is(item, b[index]));
  }
  if (a instanceof Date) return a.getTime() === b.getTime();
  const keys = Object.keys(a);
  if (keys.length !== Object.keys(b).length) return false;
  return keys.every((key) => Object.prototype.hasOwnProperty.call(b, key) && deepEqualValues(a[key], b[key]));
}

function matches(error, expected) {
  if (expected === undefined) return true;
  if (typeof expected === "function") {
    if (expected === Error || expected.prototype instanceof Error) return error instanceof expected;
    return expected(error) === true;
  }
  if (expected instanceof RegExp) return expected.test(String(error?.message ?? error));
  if (typeof expected === "object") {
    return Object.entries(expected).every(([key, value]) =>
      value instanceof RegExp && typeof error?.[key] === "string" ? value.test(error[key]) : deepEqualValues(error?.[key], value),
    );
  }
  return false;
}

function ok(value, message) {
  if (!value) fail(message ?? `expected a truthy value, got ${show(value)}`);
}

const assert = Object.assign(ok, {
  ok,
  AssertionError,
  equal(actual, expected, message) {
    if (!Object.is(actual, expected)) fail(message ?? `expected ${show(expected)}, got ${show(actual)}`);
  },
  notEqual(actual, expected, message) {
    if (Object.is(actual, expected)) fail(message ?? `expected anything but ${show(expected)}`);
  },
  deepEqual(actual, expected, message) {
    if (!deepEqualValues(actual, expected)) fail(message ?? `expected ${show(expected)}, got ${show(actual)}`);
  },
  match(actual, pattern, message) {
    if (typeof actual !== "string" || !pattern.test(actual)) fail(message ?? `${show(actual)} does not match ${pattern}`);
  },
  throws(run, expected, message) {
    try {
      run();
    } catch (error) {
      if (!matches(error, expected)) fail(message ?? `unexpected error: ${error?.name}: ${error?.message}`);
      return;
    }
    fail(message ?? "expected an exception");
  },
  async rejects(promiseOrFunction, expected, message) {
    try {
      await (typeof promiseOrFunction === "function" ? promiseOrFunction() : promiseOrFunction);
    } catch (error) {
      if (!matches(error, expected)) fail(message ?? `unexpected rejection: ${error?.name}: ${error?.message} ${show({ ...error })}`);
      return;
    }
    fail(message ?? "expected a rejection");
  },
});
assert.strict = assert;

export default assert;
export const { equal, notEqual, deepEqual, match, throws, rejects } = assert;
export { ok, AssertionError };
