/**
 * `ChatStream`: a streamed answer as an async iterable of text deltas, then its verdict.
 *
 *   const stream = await client.chat.completions.create({ model, messages, stream: true });
 *   for await (const delta of stream) render(delta);
 *   stream.verdict.decision; stream.usage; stream.finishReason;
 *
 * The body (fetch's `response.body`, a ReadableStream in Node 20 and browsers) is read as it
 * arrives and fed to a StreamJudge (stream.ts): every event is opened, in order, before its text is
 * yielded. Whether the answer is complete is known only at the end: a gap, a reordering, a
 * duplicate, a tampered or foreign event, a body that ends without the final event, or anything after
 * it throws StreamBrokenError where it is seen, and the stream then has no verdict. A blocked answer
 * throws BlockedError once the final event opened and the body ended, after the deltas released
 * before the block (as the buffered `create` throws it); its verdict and usage stay readable.
 */
import { BlockedError, NetworkError } from "./errors.js";
import type { StreamJudge, StreamLimits } from "./stream.js";
import type { StreamFinal, Usage, Verdict } from "./types.js";

/** The distinct finding types of a verdict, sorted (`BlockedError.categories`). */
export function findingTypes(verdict: Verdict): string[] {
  const findings: readonly { readonly type: string }[] = verdict.findings ?? [];
  return [...new Set(findings.map((finding) => finding.type))].sort();
}

export class ChatStream implements AsyncIterable<string> {
  private readonly reader: ReadableStreamDefaultReader<Uint8Array> | null;
  private readonly deadline: number;
  private readonly deltas: AsyncGenerator<string, void, undefined>;
  private readonly released: string[] = [];
  private result: StreamFinal | null = null;
  private closed = false;

  /** @internal Built by `SecureAIClient` once the gateway answered 200 `text/event-stream`. */
  constructor(
    /** The request's id (its signature nonce), which the final event names. */
    readonly reqId: string,
    response: Response,
    private readonly judge: StreamJudge,
    private readonly abort: () => void,
    private readonly readTimeoutMs: number,
    limits: Pick<StreamLimits, "timeoutMs">,
  ) {
    this.reader = response.body?.getReader() ?? null;
    this.deadline = performance.now() + limits.timeoutMs;
    this.deltas = this.run();
  }

  /** The deltas, in order; iterate once. Breaking out of the loop closes the stream. */
  [Symbol.asyncIterator](): AsyncGenerator<string, void, undefined> {
    return this.deltas;
  }

  /** True once the final event opened and the body ended after it: the answer is complete. */
  get finished(): boolean {
    return this.result !== null;
  }

  /** The final event (verdict, usage, finish reason), or null until the stream has finished. */
  get final(): StreamFinal | null {
    return this.result;
  }

  /** The verdict on the whole answer; throws until the stream has finished (or when it failed). */
  get verdict(): Verdict {
    return this.finalOrThrow().verdict;
  }

  /** The token usage, when the gateway reports it; throws until the stream has finished. */
  get usage(): Usage | null {
    return this.finalOrThrow().usage;
  }

  /** `stop`, `length`, or `content_filter` when blocked; throws until the stream has finished. */
  get finishReason(): string | null {
    return this.finalOrThrow().finish_reason;
  }

  /** Every delta yielded so far, joined (screened and released, also before a block). */
  get text(): string {
    return this.released.join("");
  }

  /** Stop reading and release the connection; nothing more is yielded. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.abort();
    await this.reader?.cancel().catch(() => undefined);
  }

  private isClosed(): boolean {
    return this.closed;
  }

  private finalOrThrow(): StreamFinal {
    if (this.result === null) {
      throw new Error("the stream has not finished: iterate it to the end first (or it failed)");
    }
    return this.result;
  }

  private async *run(): AsyncGenerator<string, void, undefined> {
    try {
      for (;;) {
        const chunk = await this.read();
        if (this.isClosed()) return; // close() was called: end quietly, with no verdict
        if (chunk === undefined) break;
        for await (const delta of this.judge.feed(chunk)) {
          this.released.push(delta);
          yield delta;
          if (this.isClosed()) return;
        }
      }
      const final = this.judge.end();
      if (final.delta !== "") {
        this.released.push(final.delta);
        yield final.delta;
      }
      this.result = final;
      if (final.verdict.decision === "block") {
        throw new BlockedError(this.reqId, findingTypes(final.verdict), final.verdict);
      }
    } finally {
      await this.close();
    }
  }

  /** The next piece of body, or undefined at its end; each read within the client's timeout, all within the stream's. */
  private async read(): Promise<Uint8Array | undefined> {
    if (this.reader === null || this.closed) return undefined;
    const left = this.deadline - performance.now();
    // Checked before each read too: a body that keeps arriving never waits on the timer.
    if (left <= 0) throw new NetworkError("stream_timeout");
    const remaining = Math.min(this.readTimeoutMs, left);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        reject(new NetworkError("stream_timeout"));
      }, remaining);
    });
    try {
      const { done, value } = await Promise.race([this.reader.read(), timedOut]);
      return done ? undefined : value;
    } catch (error) {
      if (error instanceof NetworkError) throw error;
      if (this.isClosed()) return undefined;
      throw new NetworkError(error instanceof Error ? error.name : "error");
    } finally {
      clearTimeout(timer);
    }
  }
}
