/** Who signed a request, read from its SigV4 `Authorization` header (the signature is not checked). */

interface SigV4Scope {
  accessKeyId: string | undefined;
  region: string | undefined;
  service: string | undefined;
}

// AWS4-HMAC-SHA256 Credential=AKID/20261124/us-east-1/bedrock/aws4_request, SignedHeaders=…, Signature=…
const CREDENTIAL = /Credential=([^/,\s]+)\/\d{8}\/([^/,\s]+)\/([^/,\s]+)\/aws4_request/;

export function parseAuthorization(header: string | undefined): SigV4Scope {
  const match = header === undefined ? null : CREDENTIAL.exec(header);
  return { accessKeyId: match?.[1], region: match?.[2], service: match?.[3] };
}
