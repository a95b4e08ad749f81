/**
 * Writes one answer: an HTTP error, a Converse JSON body, or a paced ConverseStream event stream
 * that may fail or hang part-way. Every wait ends when `signal` aborts (client gone or emulator
 * closing), so nothing outlives its connection.
 */

import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  defaultErrorMessage,
  errorTypeHeader,
  httpErrorName,
  statusOf,
  streamExceptionName,
} from './errors.ts';
import { encodeEvent, encodeException } from './event-stream.ts';
import { converseBody, type PlanContext, planReply, streamEvents } from './reply-plan.ts';
import type { MessageReply } from './types.ts';

/** What both `http.ServerResponse` and `http2.Http2ServerResponse` offer. */
export interface ResponseLike {
  writeHead(status: number, headers: Record<string, string>): unknown;
  write(chunk: Uint8Array): boolean;
  end(body?: string): unknown;
  readonly headersSent: boolean;
}

export interface Answer {
  res: ResponseLike;
  signal: AbortSignal;
  /** Called with the status as the response head is written. */
  onStatus: (status: number) => void;
  /** Called as the response is ended by the emulator (not by the client going away). */
  onEnd: () => void;
}

function end(answer: Answer, body?: string): void {
  answer.onEnd();
  answer.res.end(body);
}

function head(answer: Answer, status: number, contentType: string): void {
  answer.onStatus(status);
  answer.res.writeHead(status, { 'content-type': contentType, 'x-amzn-requestid': randomUUID() });
}

/** An error as Bedrock sends it: status, `x-amzn-errortype`, `{"message"}`. */
export function sendError(answer: Answer, name: string, message?: string): void {
  const code = statusOf(name);
  answer.onStatus(code);
  answer.res.writeHead(code, {
    'content-type': 'application/json',
    'x-amzn-errortype': errorTypeHeader(name),
    'x-amzn-requestid': randomUUID(),
  });
  end(answer, JSON.stringify({ message: message ?? defaultErrorMessage(name) }));
}

/** Resolves when the client goes away or the emulator closes; the answer is then dropped. */
async function hang(signal: AbortSignal): Promise<void> {
  if (!signal.aborted) await once(signal, 'abort');
}

/** Resolves false when aborted during the pause. */
async function pause(ms: number, signal: AbortSignal): Promise<boolean> {
  if (ms <= 0) return !signal.aborted;
  try {
    await sleep(ms, undefined, { signal });
    return true;
  } catch (error) {
    if (signal.aborted) return false;
    throw error;
  }
}

/** Converse: the whole message as JSON, after as long as streaming it would take. */
export async function sendConverse(
  answer: Answer,
  reply: MessageReply,
  context: PlanContext,
  delayMs: number,
): Promise<void> {
  const started = Date.now();
  const plan = planReply(reply, context);
  if (reply.hangAfterEvents !== undefined) return hang(answer.signal);
  const eventCount = streamEvents(plan, 0).length;
  const wait = (reply.firstEventDelayMs ?? 0) + delayMs * (eventCount - 1);
  if (!(await pause(wait, answer.signal))) return;
  if (reply.failAfterEvents) {
    const { exception, message } = reply.failAfterEvents;
    sendError(answer, httpErrorName(exception), message);
    return;
  }
  head(answer, 200, 'application/json');
  end(answer, JSON.stringify(converseBody(plan, Date.now() - started)));
}

/** ConverseStream: event-stream messages, paced, optionally failing or hanging part-way. */
export async function sendStream(
  answer: Answer,
  reply: MessageReply,
  context: PlanContext,
  delayMs: number,
): Promise<void> {
  const plan = planReply(reply, context);
  const firstEventDelayMs = reply.firstEventDelayMs ?? 0;
  const events = streamEvents(plan, Math.max(1, firstEventDelayMs + delayMs * 2));
  // Counts past the end mean "after the last event".
  const hangAt =
    reply.hangAfterEvents === undefined
      ? undefined
      : Math.min(reply.hangAfterEvents, events.length);
  const failAt = reply.failAfterEvents && Math.min(reply.failAfterEvents.events, events.length);
  head(answer, 200, 'application/vnd.amazon.eventstream');
  for (let i = 0; i <= events.length; i++) {
    if (hangAt === i) return hang(answer.signal);
    if (failAt === i && reply.failAfterEvents) {
      const { exception, message } = reply.failAfterEvents;
      const text = message ?? defaultErrorMessage(httpErrorName(exception));
      answer.res.write(encodeException(streamExceptionName(exception), text));
      break;
    }
    const event = events[i];
    if (!event) break;
    if (!(await pause(i === 0 ? firstEventDelayMs : delayMs, answer.signal))) return;
    answer.res.write(encodeEvent(event));
  }
  end(answer);
}
