// Node only: reads docs/vectors/client-vectors.json (a browser runner would fetch it instead).
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

export const VECTOR_PATH = fileURLToPath(new URL("../../../../docs/vectors/client-vectors.json", import.meta.url));

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a JSON document read by tests only
export type Vectors = any;

export function loadVectors(path = VECTOR_PATH): Vectors {
  return JSON.parse(readFileSync(path, "utf-8"));
}
