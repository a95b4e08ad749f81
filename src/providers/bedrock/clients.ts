import http from 'node:http';
import https from 'node:https';
import { BedrockRuntimeClient } from '@aws-sdk/client-bedrock-runtime';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import type { AwsCredentialIdentityProvider } from '@smithy/types';

export interface ClientSettings {
  readonly credentials: AwsCredentialIdentityProvider;
  readonly maxAttempts: number;
  readonly endpoint: string | undefined;
  readonly profile: string | undefined;
}

/**
 * One BedrockRuntimeClient per (region, profile, endpoint), created on first use and shared
 * by every turn, so credentials are resolved once per client and connections are pooled.
 *
 * The SDK's default handler for Bedrock Runtime is HTTP/2 with one isolated session per
 * event stream: every ConverseStream call would open a new TCP (and TLS) connection.
 * Converse and ConverseStream work over HTTP/1.1, so a keep-alive agent lets sequential
 * calls reuse a connection; aborting a call destroys only that call's socket.
 */
export class BedrockClients {
  readonly #settings: ClientSettings;
  readonly #clients = new Map<string, BedrockRuntimeClient>();
  readonly #agents = {
    httpAgent: new http.Agent({ keepAlive: true, maxSockets: 64 }),
    httpsAgent: new https.Agent({ keepAlive: true, maxSockets: 64 }),
  };

  constructor(settings: ClientSettings) {
    this.#settings = settings;
  }

  get(region: string): BedrockRuntimeClient {
    const { endpoint, profile } = this.#settings;
    const key = JSON.stringify([region, profile ?? null, endpoint ?? null]);
    let client = this.#clients.get(key);
    if (!client) {
      client = new BedrockRuntimeClient({
        region,
        credentials: this.#settings.credentials,
        maxAttempts: this.#settings.maxAttempts,
        ...(endpoint ? { endpoint } : {}),
        requestHandler: new NodeHttpHandler({ ...this.#agents, connectionTimeout: 5_000 }),
      });
      this.#clients.set(key, client);
    }
    return client;
  }

  /** Closes every pooled connection. Idempotent. */
  destroy(): void {
    for (const client of this.#clients.values()) client.destroy();
    this.#clients.clear();
    this.#agents.httpAgent.destroy();
    this.#agents.httpsAgent.destroy();
  }
}
