/**
 * What the client throws, mirroring the Python SDK (packages/client/.../errors.py): one root, a class
 * per thing a caller can act on. Messages carry the status, the gateway's generic code and API
 * Gateway's request id, never a secret, a key, a signature or request/answer content.
 * No call is ever retried automatically: a retry would re-send a spent nonce (a 401 replay).
 */

export class SecureAIError extends Error {
  override name = "SecureAIError";
}

/** The gateway answered with an error status. */
export class ApiError extends SecureAIError {
  override name = "ApiError";
  constructor(
    readonly status: number,
    readonly code: string | null = null,
    readonly requestId: string | null = null,
  ) {
    super(`${status} ${code ?? "error"}${requestId ? ` (request id ${requestId})` : ""}`);
  }
}

/** 400, 406 or 413: malformed request, an Accept without the envelope type, unknown OpenAI field, envelope refused, too large. */
export class BadRequestError extends ApiError {
  override name = "BadRequestError";
}

/** 401 or 403: the gateway refused who is asking. */
export class RefusedError extends ApiError {
  override name = "RefusedError";
}

/** 401: signature, key, clock window or a replayed nonce. */
export class UnauthorizedError extends RefusedError {
  override name = "UnauthorizedError";
}

/** 403: missing scope, model not allowed, revoked key or device. */
export class ForbiddenError extends RefusedError {
  override name = "ForbiddenError";
}

/** 409 from enrollment: the user already has as many devices as the app allows. */
export class DeviceLimitError extends ApiError {
  override name = "DeviceLimitError";
  constructor(
    status: number,
    code: string | null,
    requestId: string | null,
    readonly limit: number | null,
  ) {
    super(status, code, requestId);
  }
}

/** 429: a budget is spent or the model is rate limited. */
export class QuotaExceededError extends ApiError {
  override name = "QuotaExceededError";
  constructor(
    status: number,
    code: string | null,
    requestId: string | null,
    readonly retryAfterSeconds: number | null,
  ) {
    super(status, code, requestId);
  }
}

/** 5xx: the gateway failed closed (503), or the model failed (502, 504). Retry later with backoff. */
export class UnavailableError extends ApiError {
  override name = "UnavailableError";
}

/** 502 or 504: the model provider failed or timed out. */
export class UpstreamError extends UnavailableError {
  override name = "UpstreamError";
}

/** No answer (connection refused, aborted, timed out): status 0. The request may have arrived. */
export class NetworkError extends UnavailableError {
  override name = "NetworkError";
  constructor(readonly kind: string) {
    super(0, "network_error", null);
    this.message = `no answer from the gateway (${kind})`;
  }
}

/**
 * Screening blocked the answer: nothing of it left the gateway. For a streamed answer it is thrown
 * at the end of the stream, after the deltas the gateway screened and released before the block;
 * nothing after them left the gateway.
 */
export class BlockedError extends SecureAIError {
  override name = "BlockedError";
  constructor(
    readonly reqId: string,
    /** The finding types that blocked it, sorted (`["secret"]`). */
    readonly categories: readonly string[],
    readonly verdict: unknown,
  ) {
    super(`screening blocked the answer (${categories.join(", ") || "policy"})`);
  }
}

/** A 2xx answer the client refused: not an envelope, not for this request, under another key, malformed. */
export class ResponseRejectedError extends SecureAIError {
  override name = "ResponseRejectedError";
  constructor(readonly reason: string) {
    super(`the gateway's response was refused (${reason})`);
  }
}

/**
 * A streamed answer (200, `text/event-stream`) the client stopped trusting mid-way, as the Python
 * SDK's `StreamBroken`. `reason` is the protocol's: `stream_order` (a gap, a reordering, a
 * duplicate), `stream_tampered` (not this request's event at this position with this finality),
 * `stream_truncated` (the body ended before the final event, or inside an event),
 * `stream_after_final`, `stream_event` (a malformed event or an overlong line); or the client's own:
 * `stream_too_large` (over its limits), `req_id_mismatch` (the final event names another request),
 * `malformed_payload`. Deltas already yielded were authentic and in order, but the answer is
 * incomplete and has no verdict: retract what was shown of it.
 */
export class StreamBrokenError extends ResponseRejectedError {
  override name = "StreamBrokenError";
}

/** The served RSA public key or its ARN is not the pinned one. */
export class PublicKeyMismatchError extends SecureAIError {
  override name = "PublicKeyMismatchError";
  constructor(readonly reason: string) {
    super(`the gateway's RSA public key does not match the pinned one (${reason})`);
  }
}

/** No device credentials: enroll first (or they expired). */
export class NotEnrolledError extends SecureAIError {
  override name = "NotEnrolledError";
}

const ERROR_CODE = /^[a-z][a-z0-9_]{0,63}$/;
const REQUEST_ID = /^[A-Za-z0-9-]{1,64}$/;
const RETRY_AFTER = /^[0-9]{1,9}$/;

/** The typed error for an error response; reads the JSON body's `error` (and `limit` for 409). */
export async function errorForResponse(response: Response): Promise<ApiError> {
  const { status } = response;
  const document: unknown = await response.json().catch(() => null);
  const fields = typeof document === "object" && document !== null ? (document as Record<string, unknown>) : {};
  const rawCode = fields["error"];
  const code = typeof rawCode === "string" && ERROR_CODE.test(rawCode) ? rawCode : null;
  const rawId = response.headers.get("x-amzn-requestid");
  const requestId = rawId !== null && REQUEST_ID.test(rawId) ? rawId : null;
  if (status === 400 || status === 406 || status === 413) return new BadRequestError(status, code, requestId);
  if (status === 401) return new UnauthorizedError(status, code, requestId);
  if (status === 403) return new ForbiddenError(status, code, requestId);
  // The only 409 the gateway answers is enrollment's device limit; its code may be the generic `conflict`.
  if (status === 409) {
    const limit = fields["limit"];
    return new DeviceLimitError(status, code, requestId, typeof limit === "number" && Number.isInteger(limit) ? limit : null);
  }
  if (status === 429) {
    const retryAfter = (response.headers.get("retry-after") ?? "").trim();
    return new QuotaExceededError(status, code, requestId, RETRY_AFTER.test(retryAfter) ? Number(retryAfter) : null);
  }
  if (status === 502 || status === 504) return new UpstreamError(status, code, requestId);
  if (status >= 500) return new UnavailableError(status, code, requestId);
  return new ApiError(status, code, requestId);
}
