// Seal a request the way the client does (fresh data key, message id, OAEP seed) to the vectors' RSA key,
// and print it as JSON for tests/protocol/test_client_vectors.py, which opens it with the gateway's code.
import { argv, stdout } from "node:process";

import { randomBytes, toBase64, utf8 } from "../src/bytes.js";
import { importRsaPublicKey, sealRequest } from "../src/request-envelope.js";
import { newNonce } from "../src/signing.js";
import { loadVectors } from "../test/load-vectors.js";

const vectors = loadVectors(argv[2]);
const reqId = newNonce();
const plaintext = utf8(
  JSON.stringify({
    resp_key: toBase64(randomBytes(32)),
    request: { model: "gpt-4o-mini", messages: [{ role: "user", content: `Héllo from TypeScript ${"x".repeat(9000)}` }], max_tokens: 50 },
  }),
);
const plaintextB64 = toBase64(plaintext);
const message = await sealRequest(
  { publicKey: await importRsaPublicKey(vectors.rsa.public_key_pem as string), keyArn: vectors.rsa.key_arn as string },
  { plaintext, clientId: vectors.request_envelope.inputs.client_id as string, reqId, route: "/v1/chat/completions" },
);
stdout.write(JSON.stringify({ req_id: reqId, plaintext_b64: plaintextB64, message_b64: toBase64(message) }));
