/**
 * `SecureAIClient`: shaped like the openai SDK (`client.chat.completions.create`), plus `validate`,
 * device enrollment and renewal. Each call draws a fresh nonce (also the envelope's req_id) and a
 * fresh 32-byte resp_key, seals the request to the gateway's RSA key, signs it, sends it once, and
 * opens the answer only if it is the answer to this very request. See docs/sdk.md and docs/encryption.md.
 * `create({ ..., stream: true })` returns a `ChatStream` instead (chat-stream.ts, docs/protocol.md
 * "Streamed answers").
 */
import { fromUtf8, randomBytes, toBase64, utf8, type Bytes } from "./bytes.js";
import { ChatStream, findingTypes } from "./chat-stream.js";
import { importDeviceCredentials, type DeviceKey } from "./credentials.js";
import {
  errorForResponse,
  NetworkError,
  NotEnrolledError,
  PublicKeyMismatchError,
  ResponseRejectedError,
  BlockedError,
  UnavailableError,
} from "./errors.js";
import { MessageError } from "./esdk/message.js";
import { MemoryKeyStore, type KeyStore } from "./key-store.js";
import { checkKeyArn, importRsaPublicKey, pemToDer, RSA_ENCRYPTION_ALGORITHM, sealRequest, type RsaRequestKey } from "./request-envelope.js";
import { importResponseKey, openResponse } from "./response-envelope.js";
import { checkKeyId, DEFAULT_LIFETIME_SECONDS, newNonce, PROFILE_TAG, signRequest, type SigningKey } from "./signing.js";
import { DEFAULT_STREAM_LIMITS, STREAM_CONTENT_TYPE, StreamJudge, StreamOpener, type StreamLimits } from "./stream.js";
import type { ChatCompletion, ChatCompletionParams, ChatCompletionResult, PublicKeyDocument, ValidateParams, Verdict } from "./types.js";

export const ROUTES = {
  chat: "/v1/chat/completions",
  chatStream: "/v1/chat/completions/stream",
  validate: "/v1/validate",
  publicKey: "/v1/keys/public",
  devices: "/v1/devices",
  renew: "/v1/devices/renew",
} as const;
export const ENVELOPE_CONTENT_TYPE = "application/vnd.secure-ai.envelope";
export const JSON_CONTENT_TYPE = "application/json";
const DEFAULT_TIMEOUT_MS = 30_000;

export interface SecureAIClientOptions {
  /** The API's base URL including the stage, e.g. `https://abc123.execute-api.eu-west-1.amazonaws.com/prod`. */
  readonly baseUrl: string;
  /** Device credentials (enroll/renew); defaults to a MemoryKeyStore. */
  readonly keyStore?: KeyStore;
  /** A fixed signing key (an operator-issued client key) instead of device credentials. */
  readonly signingKey?: SigningKey;
  /** The pinned RSA public key (PEM) and/or its ARN; without both, GET /v1/keys/public is fetched once and checked against what is pinned. */
  readonly rsaPublicKeyPem?: string;
  readonly rsaKeyArn?: string;
  readonly fetch?: typeof fetch;
  /** Milliseconds since the epoch (tests). */
  readonly now?: () => number;
  /** Milliseconds for a call's answer; for a streamed answer, until its headers and then for each read of its body. */
  readonly timeoutMs?: number;
  readonly lifetimeSeconds?: number;
  /** Bounds of a streamed answer (defaults: 20,000 events, 8 MiB, 300 s for the whole body). */
  readonly streamLimits?: Partial<StreamLimits>;
}

/** `chat.completions.create`: the openai SDK's shape, a `ChatStream` with `stream: true`. */
export interface ChatCompletions {
  create(params: ChatCompletionParams & { readonly stream: true }): Promise<ChatStream>;
  create(params: ChatCompletionParams & { readonly stream?: false }): Promise<ChatCompletionResult>;
  create(params: ChatCompletionParams): Promise<ChatCompletionResult | ChatStream>;
}

interface Signer {
  readonly keyId: string;
  readonly clientId: string;
  readonly key: CryptoKey;
  readonly tag: string;
}

interface Call {
  readonly route: string;
  readonly reqId: string;
  readonly contentType: string;
  readonly accept: string;
  readonly body: Bytes;
  readonly authorization?: string;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export class SecureAIClient {
  readonly baseUrl: string;
  readonly chat: { readonly completions: ChatCompletions };
  private readonly keyStore: KeyStore;
  private readonly fixedKey: SigningKey | undefined;
  private readonly fetcher: typeof fetch;
  private readonly now: () => number;
  private readonly timeoutMs: number;
  private readonly lifetime: number;
  private readonly streamLimits: StreamLimits;
  private readonly pinnedPem: string | undefined;
  private readonly pinnedArn: string | undefined;
  private rsaKey: Promise<RsaRequestKey> | null = null;
  private renewing: Promise<DeviceKey> | null = null;

  constructor(options: SecureAIClientOptions) {
    const url = new URL(options.baseUrl);
    if (url.protocol !== "https:" && url.protocol !== "http:") {
      throw new TypeError("baseUrl must be an http(s) URL including the stage");
    }
    this.baseUrl = url.toString().replace(/\/+$/, "");
    this.keyStore = options.keyStore ?? new MemoryKeyStore();
    if (options.signingKey !== undefined) {
      checkKeyId(options.signingKey.keyId);
    }
    this.fixedKey = options.signingKey;
    this.fetcher = options.fetch ?? globalThis.fetch.bind(globalThis);
    this.now = options.now ?? Date.now;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.lifetime = options.lifetimeSeconds ?? DEFAULT_LIFETIME_SECONDS;
    this.streamLimits = { ...DEFAULT_STREAM_LIMITS, ...options.streamLimits };
    if (!Object.values(this.streamLimits).every((limit) => limit > 0)) {
      throw new RangeError("stream limits must be positive");
    }
    if (options.rsaKeyArn !== undefined) checkKeyArn(options.rsaKeyArn);
    if (options.rsaPublicKeyPem !== undefined) pemToDer(options.rsaPublicKeyPem);
    this.pinnedPem = options.rsaPublicKeyPem;
    this.pinnedArn = options.rsaKeyArn;
    const create = (params: ChatCompletionParams) => (params.stream === true ? this.createStream(params) : this.createCompletion(params));
    this.chat = { completions: { create: create as ChatCompletions["create"] } };
  }

  // ------------------------------------------------------------------------- enrollment

  /** Enroll this device (POST /v1/devices with the app's OIDC token); stores the key, returns its metadata. */
  async enroll(params: { appId: string; idToken: string }): Promise<DeviceKey["credentials"]> {
    const response = await this.post({
      route: ROUTES.devices,
      reqId: "",
      contentType: JSON_CONTENT_TYPE,
      accept: JSON_CONTENT_TYPE,
      body: utf8(JSON.stringify({ app_id: params.appId })),
      authorization: `Bearer ${params.idToken}`,
    });
    if (response.status !== 201) {
      throw response.ok ? new ResponseRejectedError("unexpected_status") : await errorForResponse(response);
    }
    const record = await this.credentialsFrom(response);
    await this.keyStore.save(record);
    return record.credentials;
  }

  /** Renew now (POST /v1/devices/renew, signed by the current key); stores and returns the next key's metadata. */
  async renew(): Promise<DeviceKey["credentials"]> {
    const current = await this.keyStore.load();
    if (current === null) {
      throw new NotEnrolledError("enroll this device first");
    }
    return (await this.renewFrom(current)).credentials;
  }

  /** Forget this device's key (sign-out). */
  async forget(): Promise<void> {
    await this.keyStore.delete();
  }

  private renewFrom(current: DeviceKey): Promise<DeviceKey> {
    this.renewing ??= (async () => {
      try {
        const signer = this.deviceSigner(current);
        const response = await this.signedPost(signer, {
          route: ROUTES.renew,
          reqId: newNonce(),
          contentType: JSON_CONTENT_TYPE,
          accept: JSON_CONTENT_TYPE,
          body: utf8("{}"),
        });
        if (response.status !== 200) {
          throw response.ok ? new ResponseRejectedError("unexpected_status") : await errorForResponse(response);
        }
        const next = await this.credentialsFrom(response);
        if (next.credentials.device_id !== current.credentials.device_id) {
          throw new ResponseRejectedError("another_device");
        }
        await this.keyStore.save(next);
        return next;
      } finally {
        this.renewing = null;
      }
    })();
    return this.renewing;
  }

  private async credentialsFrom(response: Response): Promise<DeviceKey> {
    try {
      return await importDeviceCredentials(await response.json());
    } catch {
      throw new ResponseRejectedError("malformed_credentials");
    }
  }

  private deviceSigner(record: DeviceKey): Signer {
    return { keyId: record.credentials.key_id, clientId: record.credentials.device_id, key: record.key, tag: record.credentials.signature_tag };
  }

  /** The key to sign with: the fixed one, or the device's, renewed first once `renew_after` has passed. */
  private async signer(): Promise<Signer> {
    if (this.fixedKey !== undefined) {
      const { keyId, key, tag } = this.fixedKey;
      return { keyId, key, tag: tag ?? PROFILE_TAG, clientId: keyId.slice(0, keyId.lastIndexOf(".")) };
    }
    let record = await this.keyStore.load();
    if (record === null) {
      throw new NotEnrolledError("enroll this device first");
    }
    const seconds = Math.floor(this.now() / 1000);
    if (seconds >= record.credentials.renew_after) {
      try {
        record = await this.renewFrom(record);
      } catch (error) {
        // Keep signing with a key that is still valid when only the network or the gateway failed.
        if (!(error instanceof UnavailableError) || seconds >= record.credentials.expires_at) {
          throw error;
        }
      }
    }
    if (seconds >= record.credentials.expires_at) {
      throw new NotEnrolledError("the device key has expired; enroll again");
    }
    return this.deviceSigner(record);
  }

  // ------------------------------------------------------------------------- the gateway's RSA key

  /** GET /v1/keys/public, as served (unsigned, not compared with any pin). */
  async publicKey(): Promise<PublicKeyDocument> {
    let response: Response;
    try {
      response = await this.fetcher(`${this.baseUrl}${ROUTES.publicKey}`, {
        method: "GET",
        headers: { Accept: JSON_CONTENT_TYPE },
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (error) {
      throw new NetworkError(error instanceof Error ? error.name : "error");
    }
    if (!response.ok) {
      throw await errorForResponse(response);
    }
    const document: unknown = await response.json().catch(() => null);
    if (!isObject(document)) {
      throw new ResponseRejectedError("malformed_public_key");
    }
    const { key_arn, key_spec, encryption_algorithm, public_key_pem, envelope_version } = document;
    if (typeof key_arn !== "string" || typeof key_spec !== "string" || typeof encryption_algorithm !== "string" || typeof public_key_pem !== "string") {
      throw new ResponseRejectedError("malformed_public_key");
    }
    if (encryption_algorithm !== RSA_ENCRYPTION_ALGORITHM) {
      throw new ResponseRejectedError("unsupported_encryption_algorithm");
    }
    return { key_arn, key_spec, encryption_algorithm, public_key_pem, envelope_version: typeof envelope_version === "string" ? envelope_version : "" };
  }

  private requestKey(): Promise<RsaRequestKey> {
    this.rsaKey ??= (async () => {
      if (this.pinnedPem !== undefined && this.pinnedArn !== undefined) {
        return { publicKey: await importRsaPublicKey(this.pinnedPem), keyArn: this.pinnedArn };
      }
      const served = await this.publicKey();
      let der: Bytes;
      try {
        checkKeyArn(served.key_arn);
        der = pemToDer(served.public_key_pem);
      } catch {
        throw new ResponseRejectedError("malformed_public_key");
      }
      if (this.pinnedPem !== undefined && toBase64(pemToDer(this.pinnedPem)) !== toBase64(der)) {
        throw new PublicKeyMismatchError("public_key");
      }
      if (this.pinnedArn !== undefined && served.key_arn !== this.pinnedArn) {
        throw new PublicKeyMismatchError("key_arn");
      }
      return { publicKey: await importRsaPublicKey(served.public_key_pem), keyArn: served.key_arn };
    })();
    // A failed fetch is not cached: the next call tries again.
    this.rsaKey.catch(() => {
      this.rsaKey = null;
    });
    return this.rsaKey;
  }

  // ------------------------------------------------------------------------- calls

  private async createCompletion(params: ChatCompletionParams): Promise<ChatCompletionResult> {
    const { reqId, payload } = await this.sealedExchange(ROUTES.chat, params);
    if (payload["req_id"] !== reqId) {
      throw new ResponseRejectedError("req_id_mismatch");
    }
    const completion = payload["completion"];
    const verdict = payload["verdict"];
    const usage = payload["usage"];
    if (!isObject(completion) || !Array.isArray(completion["choices"]) || !isObject(verdict) || !isObject(usage)) {
      throw new ResponseRejectedError("malformed_payload");
    }
    const typedVerdict = verdict as unknown as Verdict;
    if (typedVerdict.decision === "block") {
      throw new BlockedError(reqId, findingTypes(typedVerdict), typedVerdict);
    }
    return { ...(completion as unknown as ChatCompletion), req_id: reqId, verdict: typedVerdict, usage: usage as unknown as ChatCompletionResult["usage"] };
  }

  /** Screen a text (POST /v1/validate); sealed both ways when `encrypted`. */
  async validate(params: ValidateParams): Promise<Verdict> {
    const document: Record<string, unknown> = { text: params.text };
    if (params.policy_id !== undefined) document["policy_id"] = params.policy_id;
    if (params.schema !== undefined) document["schema"] = params.schema;
    if (params.encrypted === true) {
      return (await this.sealedExchange(ROUTES.validate, document)).payload as unknown as Verdict;
    }
    const signer = await this.signer();
    const response = await this.signedPost(signer, {
      route: ROUTES.validate,
      reqId: newNonce(),
      contentType: JSON_CONTENT_TYPE,
      accept: JSON_CONTENT_TYPE,
      body: utf8(JSON.stringify(document)),
    });
    if (!response.ok) {
      throw await errorForResponse(response);
    }
    if (!this.mediaTypeIs(response, JSON_CONTENT_TYPE)) {
      throw new ResponseRejectedError("not_json");
    }
    const verdict: unknown = await response.json().catch(() => null);
    if (!isObject(verdict)) {
      throw new ResponseRejectedError("malformed_payload");
    }
    return verdict as unknown as Verdict;
  }

  /**
   * A streamed completion (POST /v1/chat/completions/stream, `"stream": true` sealed in): refusals
   * before the first byte throw here, as for a buffered call; then the ChatStream reads the body.
   */
  private async createStream(params: ChatCompletionParams): Promise<ChatStream> {
    const controller = new AbortController();
    // Until the headers arrive the client's timeout; then ChatStream bounds each read and the whole body.
    const timer = setTimeout(() => {
      controller.abort(new DOMException("no answer within the timeout", "TimeoutError"));
    }, this.timeoutMs);
    let sent: { reqId: string; key: StreamOpener; response: Response };
    try {
      sent = await this.sealedCall(ROUTES.chatStream, { ...params, stream: true }, STREAM_CONTENT_TYPE, (bytes, reqId) => StreamOpener.create(bytes, reqId), controller.signal);
    } finally {
      clearTimeout(timer);
    }
    const { reqId, key, response } = sent;
    const abort = () => {
      controller.abort();
    };
    if (response.status !== 200 || !this.mediaTypeIs(response, STREAM_CONTENT_TYPE)) {
      abort();
      await response.body?.cancel().catch(() => undefined);
      throw new ResponseRejectedError(response.status !== 200 ? "unexpected_status" : "not_an_event_stream");
    }
    const judge = new StreamJudge(key, reqId, this.streamLimits);
    return new ChatStream(reqId, response, judge, abort, this.timeoutMs, this.streamLimits);
  }

  private async sealedExchange(route: string, request: unknown): Promise<{ reqId: string; payload: Record<string, unknown> }> {
    const { reqId, key: respKey, response } = await this.sealedCall(route, request, ENVELOPE_CONTENT_TYPE, (bytes) => importResponseKey(bytes));
    if (!this.mediaTypeIs(response, ENVELOPE_CONTENT_TYPE)) {
      throw new ResponseRejectedError("not_an_envelope");
    }
    let opened: Bytes;
    try {
      opened = await openResponse(new Uint8Array(await response.arrayBuffer()), respKey, reqId);
    } catch (error) {
      throw new ResponseRejectedError(error instanceof MessageError ? error.reason : "decrypt_failed");
    }
    let payload: unknown;
    try {
      payload = JSON.parse(fromUtf8(opened));
    } catch {
      payload = null;
    }
    if (!isObject(payload)) {
      throw new ResponseRejectedError("malformed_payload");
    }
    return { reqId, payload };
  }

  /**
   * Seal `request` with a fresh nonce (the req_id) and resp_key, sign and send it once. `importKey`
   * turns the resp_key into what opens the answer before its bytes are zeroed; an error status
   * throws its typed error.
   */
  private async sealedCall<K>(
    route: string,
    request: unknown,
    accept: string,
    importKey: (respKey: Bytes, reqId: string) => Promise<K>,
    signal?: AbortSignal,
  ): Promise<{ reqId: string; key: K; response: Response }> {
    const [signer, rsaKey] = await Promise.all([this.signer(), this.requestKey()]);
    const reqId = newNonce();
    const respKeyBytes = randomBytes(32);
    const plaintext = utf8(JSON.stringify({ resp_key: toBase64(respKeyBytes), request }));
    let key: K;
    try {
      key = await importKey(respKeyBytes, reqId);
    } finally {
      respKeyBytes.fill(0);
    }
    let body: Bytes;
    try {
      body = await sealRequest(rsaKey, { plaintext, clientId: signer.clientId, reqId, route });
    } finally {
      plaintext.fill(0);
    }
    const response = await this.signedPost(signer, { route, reqId, contentType: ENVELOPE_CONTENT_TYPE, accept, body }, signal);
    if (!response.ok) {
      throw await errorForResponse(response);
    }
    return { reqId, key, response };
  }

  private mediaTypeIs(response: Response, mediaType: string): boolean {
    return (response.headers.get("content-type") ?? "").split(";", 1)[0]?.trim().toLowerCase() === mediaType;
  }

  private async signedPost(signer: Signer, call: Call, signal?: AbortSignal): Promise<Response> {
    const created = Math.floor(this.now() / 1000);
    const signed = await signRequest(
      { method: "POST", url: `${this.baseUrl}${call.route}`, contentType: call.contentType, body: call.body },
      signer.key,
      { created, expires: created + this.lifetime, nonce: call.reqId, keyId: signer.keyId, tag: signer.tag },
    );
    return this.post(
      call,
      signed.url,
      {
        "Content-Digest": signed.contentDigest,
        "Signature-Input": signed.signatureInput,
        Signature: signed.signature,
      },
      signal,
    );
  }

  /** Send once: no retries, no redirects (a retry must be signed again with a new nonce). */
  private async post(call: Call, url = `${this.baseUrl}${call.route}`, extra: Record<string, string> = {}, signal = AbortSignal.timeout(this.timeoutMs)): Promise<Response> {
    const headers: Record<string, string> = { "Content-Type": call.contentType, Accept: call.accept, ...extra };
    if (call.authorization !== undefined) {
      headers["Authorization"] = call.authorization;
    }
    try {
      return await this.fetcher(url, {
        method: "POST",
        headers,
        body: call.body,
        redirect: "error",
        signal,
      });
    } catch (error) {
      throw new NetworkError(error instanceof Error ? error.name : "error");
    }
  }
}
