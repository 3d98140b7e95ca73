/** RFC 9530 Content-Digest with sha-256, as the Python SDK sends it: `sha-256=:<base64>:`. */
import { toBase64 } from "./bytes.js";

export async function contentDigest(body: Uint8Array<ArrayBuffer>): Promise<string> {
  const digest = new Uint8Array(await globalThis.crypto.subtle.digest("SHA-256", body));
  return `sha-256=:${toBase64(digest)}:`;
}
