// test/load-vectors.ts for browsers: the page fetched docs/vectors/client-vectors.json and
// stream-vectors.json before importing the tests, into globalThis.__SECURE_AI_VECTORS__ and
// __SECURE_AI_STREAM_VECTORS__.
export const VECTOR_PATH = "vectors.json";
export const STREAM_VECTOR_PATH = "stream-vectors.json";

export function loadVectors() {
  const vectors = globalThis.__SECURE_AI_VECTORS__;
  if (vectors === undefined) throw new Error("the vectors were not loaded before the tests");
  return vectors;
}

export function loadStreamVectors() {
  const vectors = globalThis.__SECURE_AI_STREAM_VECTORS__;
  if (vectors === undefined) throw new Error("the stream vectors were not loaded before the tests");
  return vectors;
}
