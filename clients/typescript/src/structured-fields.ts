/**
 * The few RFC 8941 serialisations the signing profile emits, in canonical form. Parsing is never
 * needed on the client (it only writes these headers), so this replaces a structured-fields library.
 */
import { toBase64 } from "./bytes.js";

const PRINTABLE = /^[\x20-\x7e]*$/;
const KEY = /^[a-z*][a-z0-9_\-.*]*$/;

/** An sf-string: printable ASCII, `"` and `\` escaped. */
export function sfString(value: string): string {
  if (!PRINTABLE.test(value)) {
    throw new TypeError("a structured field string must be printable ASCII");
  }
  return `"${value.replace(/[\\"]/g, (character) => `\\${character}`)}"`;
}

/** An sf-integer (the profile uses non-negative integers only). */
export function sfInteger(value: number): string {
  if (!Number.isSafeInteger(value) || value < 0 || value > 999_999_999_999_999) {
    throw new RangeError("a structured field integer must be 0..999999999999999");
  }
  return String(value);
}

export function sfKey(value: string): string {
  if (!KEY.test(value)) {
    throw new TypeError("not a structured field key");
  }
  return value;
}

export function sfByteSequence(value: Uint8Array): string {
  return `:${toBase64(value)}:`;
}

/** An inner list of strings with parameters, in the given order: `("a" "b");k=v;...`. */
export function sfInnerList(items: readonly string[], params: readonly (readonly [string, string | number])[]): string {
  const list = `(${items.map(sfString).join(" ")})`;
  const rendered = params.map(([name, value]) => `;${sfKey(name)}=${typeof value === "number" ? sfInteger(value) : sfString(value)}`);
  return list + rendered.join("");
}
