/**
 * The profile's canonical query (docs/protocol.md §5): RFC 3986 percent-encoding of every byte but
 * the unreserved ones, upper-case hex, pairs sorted by encoded name then value, joined with `&`.
 */
import { utf8 } from "./bytes.js";

const UNRESERVED = /[A-Za-z0-9\-._~]/;

function percentEncode(text: string): string {
  let out = "";
  for (const byte of utf8(text)) {
    const character = String.fromCharCode(byte);
    out += byte < 0x80 && UNRESERVED.test(character) ? character : `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return out;
}

function compare(first: string, second: string): number {
  // Encoded strings are ASCII, so UTF-16 code unit order is byte order.
  return first < second ? -1 : first > second ? 1 : 0;
}

export function canonicalQuery(pairs: Iterable<readonly [string, string]>): string {
  const encoded = Array.from(pairs, ([name, value]) => [percentEncode(name), percentEncode(value)] as const);
  encoded.sort((a, b) => compare(a[0], b[0]) || compare(a[1], b[1]));
  return encoded.map(([name, value]) => `${name}=${value}`).join("&");
}

/** The pairs of a URL's query, decoded as a form (`+` is a space), as the Python SDK decodes them. */
export function queryPairs(url: URL): [string, string][] {
  return [...url.searchParams.entries()];
}
