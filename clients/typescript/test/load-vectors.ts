// Node only: reads docs/vectors/client-vectors.json and stream-vectors.json (in browsers,
// e2e/shims/load-vectors.mjs hands over what the test page fetched).
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

export const VECTOR_PATH = fileURLToPath(new URL("../../../../docs/vectors/client-vectors.json", import.meta.url));
export const STREAM_VECTOR_PATH = fileURLToPath(new URL("../../../../docs/vectors/stream-vectors.json", import.meta.url));

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a JSON document read by tests only
export type Vectors = any;

export function loadVectors(path = VECTOR_PATH): Vectors {
  return JSON.parse(readFileSync(path, "utf-8"));
}

export function loadStreamVectors(path = STREAM_VECTOR_PATH): Vectors {
  return JSON.parse(readFileSync(path, "utf-8"));
}
