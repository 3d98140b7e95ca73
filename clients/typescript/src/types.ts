/** The wire shapes the client reads and writes (packages/protocol/.../wire/). Readers ignore unknown fields. */

export interface ChatMessage {
  readonly role: "system" | "developer" | "user" | "assistant";
  readonly content: string | readonly { readonly type: "text"; readonly text: string }[];
  readonly name?: string;
}

/** The OpenAI chat completion request subset the gateway forwards (unknown fields are a 400). */
export interface ChatCompletionParams {
  readonly model: string;
  readonly messages: readonly ChatMessage[];
  readonly max_tokens?: number;
  readonly max_completion_tokens?: number;
  readonly temperature?: number;
  readonly top_p?: number;
  readonly stop?: string | readonly string[];
  readonly seed?: number;
  readonly user?: string;
  /** `true` streams the answer (`create` then returns a `ChatStream`); see README, "Streamed answers". */
  readonly stream?: boolean;
  readonly response_format?: {
    readonly type: "text" | "json_object" | "json_schema";
    readonly json_schema?: { readonly name: string; readonly schema: Readonly<Record<string, unknown>>; readonly description?: string; readonly strict?: boolean };
  };
}

export type Decision = "allow" | "redact" | "block";

export interface Finding {
  readonly type: string;
  readonly detector: string;
  readonly span: readonly [number, number];
  readonly confidence: number;
  readonly sample?: string | null;
  readonly label?: string | null;
  readonly action: Decision;
}

export interface Verdict {
  readonly decision: Decision;
  readonly findings?: readonly Finding[];
  readonly findings_total?: number;
  readonly policy_id?: string | null;
  readonly policy_version?: number | null;
  readonly latency_ms?: Readonly<Record<string, number>>;
  readonly unavailable?: Readonly<Record<string, string>>;
  readonly failed_open?: readonly string[];
  readonly content_digest?: string | null;
  readonly redacted_text?: string | null;
}

export interface Usage {
  readonly prompt_tokens: number;
  readonly completion_tokens: number;
  readonly total_tokens: number;
}

export interface ChatCompletion {
  readonly id?: string | null;
  readonly object?: string | null;
  readonly created?: number | null;
  readonly model?: string | null;
  readonly choices: readonly {
    readonly index?: number | null;
    readonly message: { readonly role: string; readonly content: string | null };
    readonly finish_reason?: string | null;
  }[];
}

/** The OpenAI-shaped completion, plus the request id (the signature nonce), the verdict and the usage counted. */
export interface ChatCompletionResult extends ChatCompletion {
  readonly req_id: string;
  readonly verdict: Verdict;
  readonly usage: Usage;
}

/** What the final event of a streamed answer decrypts to (secure_ai_protocol/wire/stream.py). */
export interface StreamFinal {
  /** The last piece of text (possibly empty). */
  readonly delta: string;
  readonly req_id: string;
  /** The verdict on the whole answer (without `redacted_text`). */
  readonly verdict: Verdict;
  readonly usage: Usage | null;
  /** `stop`, `length`, or `content_filter` when blocked. */
  readonly finish_reason: string | null;
}

export interface ValidateParams {
  readonly text: string;
  readonly policy_id?: string;
  readonly schema?: Readonly<Record<string, unknown>>;
  /** Seal the request and the verdict like a completion (route /v1/validate). */
  readonly encrypted?: boolean;
}

export interface PublicKeyDocument {
  readonly key_arn: string;
  readonly key_spec: string;
  readonly encryption_algorithm: string;
  readonly public_key_pem: string;
  readonly envelope_version: string;
}
