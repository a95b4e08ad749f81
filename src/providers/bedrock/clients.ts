import { AsyncResource } from 'node:async_hooks';
import http from 'node:http';
import https from 'node:https';
import { BedrockRuntimeClient } from '@aws-sdk/client-bedrock-runtime';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import type { AwsCredentialIdentityProvider } from '@smithy/types';
import { useGuardContent } from './guardrails.ts';

export interface ClientSettings {
  readonly credentials: AwsCredentialIdentityProvider;
  readonly maxAttempts: number;
  readonly endpoint: string | undefined;
  readonly profile: string | undefined;
  /** Default {@link STALLED_STREAM_MS}. */
  readonly stalledStreamMs?: number;
}

/**
 * A streamed call whose socket is silent this long has stalled: it fails. A socket's idle timer is
 * refreshed as data arrives, at next to no cost, unlike ChatBedrockConverse's own
 * per-chunk watchdog (a timer and two promises per stream event), which is turned off.
 */
export const STALLED_STREAM_MS = 60_000;

/**
 * One BedrockRuntimeClient per (region, profile, endpoint), created on first use and shared
 * by every turn, so credentials are resolved once per client and connections are pooled.
 *
 * The SDK's default handler for Bedrock Runtime is HTTP/2 with one isolated session per
 * event stream: every ConverseStream call would open a new TCP (and TLS) connection.
 * Converse and ConverseStream work over HTTP/1.1, so a keep-alive agent lets sequential
 * calls reuse a connection; aborting a call destroys only that call's socket.
 *
 * Clients are made, and called, in the async context this object was made in (start-up),
 * not in the turn that first needs them. What the SDK creates once and keeps for the
 * client's life (config file reads, credential and agent promises, retry state) holds the
 * AsyncLocalStorage context it was created in, and LangChain's context of a turn holds the
 * turn's whole agent state: the first turn, however large, would stay in memory for good.
 */
export class BedrockClients {
  readonly #settings: ClientSettings;
  readonly #clients = new Map<string, BedrockRuntimeClient>();
  readonly #scope = new AsyncResource('agentgate.BedrockClients');
  // No cap on sockets: an HTTP/1.1 stream holds its socket for the whole answer, so a cap
  // queues a turn behind others' answers, and the SDK's connection timeout, which starts
  // before a socket is free, then fails it as unreachable. What bounds the calls is the
  // turns a process runs (per-user limits, worker concurrency).
  readonly #agents = {
    httpAgent: new http.Agent({ keepAlive: true }),
    httpsAgent: new https.Agent({ keepAlive: true }),
  };

  constructor(settings: ClientSettings) {
    this.#settings = settings;
  }

  /**
   * The client for `region`'s calls of one kind: streamed calls fail once their socket has
   * been silent for {@link STALLED_STREAM_MS}; Converse calls, silent until the whole answer
   * is written, are not cut short (AWS advises read timeouts of up to an hour for them).
   */
  get(region: string, calls: 'stream' | 'converse' = 'stream'): BedrockRuntimeClient {
    const { endpoint, profile } = this.#settings;
    const key = JSON.stringify([region, calls, profile ?? null, endpoint ?? null]);
    let client = this.#clients.get(key);
    if (!client) {
      client = this.#scope.runInAsyncScope(() => this.#create(region, calls));
      this.#clients.set(key, client);
    }
    return client;
  }

  #create(region: string, calls: 'stream' | 'converse'): BedrockRuntimeClient {
    const { endpoint } = this.#settings;
    const client = new BedrockRuntimeClient({
      region,
      credentials: this.#settings.credentials,
      maxAttempts: this.#settings.maxAttempts,
      ...(endpoint ? { endpoint } : {}),
      requestHandler: new NodeHttpHandler({
        ...this.#agents,
        connectionTimeout: 5_000,
        ...(calls === 'stream'
          ? { socketTimeout: this.#settings.stalledStreamMs ?? STALLED_STREAM_MS }
          : {}),
      }),
    });
    useGuardContent(client);
    const send = client.send.bind(client) as (...args: unknown[]) => Promise<unknown>;
    client.send = ((...args: unknown[]) =>
      this.#scope.runInAsyncScope(() => send(...args))) as typeof client.send;
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
