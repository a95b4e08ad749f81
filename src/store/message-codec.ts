import {
  AIMessage,
  type BaseMessage,
  type StoredMessage as LcStoredMessage,
  mapChatMessagesToStoredMessages,
  mapStoredMessagesToChatMessages,
} from '@langchain/core/messages';
import type { StopReason, Usage } from '../protocol/frames.ts';
import type { StoredMessage, TurnOutcome } from './history-store.ts';

/** One history entry as stored: LangChain's own message serialisation plus our fields. */
export interface EncodedMessage {
  m: LcStoredMessage;
  at: string;
  turn: string;
  /** The turn's stop reason, when it was not `end_turn`. */
  stop?: StopReason;
  /** The turn's usage, on its last assistant message only (no cache counts if stored before them). */
  u?: Omit<Usage, CacheCounts> & Partial<Pick<Usage, CacheCounts>>;
}

type CacheCounts = 'cacheReadInputTokens' | 'cacheWriteInputTokens';

export function encodeMessages(
  messages: readonly BaseMessage[],
  turnId: string,
  at: Date,
  outcome?: TurnOutcome,
): string[] {
  const stored = mapChatMessagesToStoredMessages([...messages]);
  const stop = outcome?.stopReason === 'end_turn' ? undefined : outcome?.stopReason;
  const usage = outcome?.usage;
  const usageAt = usage ? messages.findLastIndex((m) => AIMessage.isInstance(m)) : -1;
  return stored.map((m, i) =>
    JSON.stringify({
      m,
      at: at.toISOString(),
      turn: turnId,
      ...(stop ? { stop } : {}),
      ...(usage && i === usageAt ? { u: usage } : {}),
    } satisfies EncodedMessage),
  );
}

export function decodeMessages(encoded: readonly string[]): StoredMessage[] {
  const entries = encoded.map((e) => JSON.parse(e) as EncodedMessage);
  const messages = mapStoredMessagesToChatMessages(entries.map((e) => e.m));
  return entries.map((e, i) => ({
    message: messages[i]!,
    createdAt: e.at,
    turnId: e.turn,
    ...(e.stop ? { stopReason: e.stop } : {}),
    // Entries stored before prompt caching have no cache counts: none were read or written.
    ...(e.u ? { usage: { cacheReadInputTokens: 0, cacheWriteInputTokens: 0, ...e.u } } : {}),
  }));
}
