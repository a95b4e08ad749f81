import {
  type BaseMessage,
  type StoredMessage as LcStoredMessage,
  mapChatMessagesToStoredMessages,
  mapStoredMessagesToChatMessages,
} from '@langchain/core/messages';
import type { StopReason } from '../protocol/frames.ts';
import type { StoredMessage } from './history-store.ts';

/** One history entry as stored: LangChain's own message serialisation plus our fields. */
export interface EncodedMessage {
  m: LcStoredMessage;
  at: string;
  turn: string;
  /** The turn's stop reason, when it was not `end_turn`. */
  stop?: StopReason;
}

export function encodeMessages(
  messages: readonly BaseMessage[],
  turnId: string,
  at: Date,
  stopReason?: StopReason,
): string[] {
  const stored = mapChatMessagesToStoredMessages([...messages]);
  const stop = stopReason === 'end_turn' ? undefined : stopReason;
  return stored.map((m) =>
    JSON.stringify({
      m,
      at: at.toISOString(),
      turn: turnId,
      ...(stop ? { stop } : {}),
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
  }));
}
