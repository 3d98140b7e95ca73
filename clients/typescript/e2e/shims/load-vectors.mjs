// test/load-vectors.ts for browsers: the page fetched docs/vectors/client-vectors.json before
// importing the tests, into globalThis.__SECURE_AI_VECTORS__.
export const VECTOR_PATH = "vectors.json";

export function loadVectors() {
  const vectors = globalThis.__SECURE_AI_VECTORS__;
  if (vectors === undefined) throw new Error("the vectors were not loaded before the tests");
  return vectors;
}
