// The gateway's side of a streamed answer, for tests only: seals events as secure_ai_protocol's
// StreamSealer does (stream-vectors.json holds the reference output). Pure WebCrypto.
import { toBase64Url, utf8, type Bytes } from "../src/bytes.js";
import { chunkAad, chunkNonce, streamKeyMaterial } from "../src/stream.js";

/** One event on the wire: `id`, `event`, `data` (base64url, unpadded), then a blank line. */
export function sseEvent(seq: number, kind: string, ciphertext: Uint8Array): string {
  return `id: ${seq}\nevent: ${kind}\ndata: ${toBase64Url(ciphertext)}\n\n`;
}

export class TestStreamSealer {
  private next = 0;

  private constructor(
    private readonly key: CryptoKey,
    private readonly baseNonce: Bytes,
    readonly reqId: string,
  ) {}

  static async create(respKey: Uint8Array<ArrayBuffer>, reqId: string): Promise<TestStreamSealer> {
    const { key, baseNonce } = await streamKeyMaterial(respKey, reqId);
    return new TestStreamSealer(await crypto.subtle.importKey("raw", key, "AES-GCM", false, ["encrypt"]), baseNonce, reqId);
  }

  /** The ciphertext (with its tag) of chunk `seq`. */
  async encrypt(plaintext: string | Uint8Array<ArrayBuffer>, seq: number, final: boolean): Promise<Bytes> {
    const data = typeof plaintext === "string" ? utf8(plaintext) : plaintext;
    const sealed = await crypto.subtle.encrypt({ name: "AES-GCM", iv: chunkNonce(this.baseNonce, seq), additionalData: chunkAad(this.reqId, seq, final), tagLength: 128 }, this.key, data);
    return new Uint8Array(sealed);
  }

  /** The next event carrying `plaintext` (UTF-8 JSON), as the gateway writes it. */
  async seal(plaintext: string, final = false): Promise<string> {
    const seq = this.next;
    this.next += 1;
    return sseEvent(seq, final ? "final" : "chunk", await this.encrypt(plaintext, seq, final));
  }

  /** A whole stream: one chunk per delta, then the final event with `final`'s fields. */
  async stream(deltas: readonly string[], final: Record<string, unknown>): Promise<string> {
    let body = "";
    for (const delta of deltas) body += await this.seal(JSON.stringify({ delta }));
    return body + (await this.seal(JSON.stringify({ delta: "", req_id: this.reqId, usage: null, finish_reason: "stop", ...final }), true));
  }
}
