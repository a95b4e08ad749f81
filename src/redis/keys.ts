/** Key prefix of every agentgate key and channel in Redis, unless configured otherwise. */
export const DEFAULT_KEY_PREFIX = 'agentgate:';

/**
 * How long a turn holds its conversation without a sign of life. The worker running the
 * turn renews it every heartbeat and with every frame, so it only lapses when nobody runs
 * the turn: the gateway died before queuing it, or no worker is alive at all.
 */
export const DEFAULT_TURN_LEASE_MS = 60_000;

/**
 * The keys of one conversation. All share the hash tag `{<id>}`, so every key a script
 * touches for one conversation lives in one Redis Cluster slot.
 */
export interface ConversationKeys {
  /** Hash: id, owner, model, title, createdAt, updatedAt. */
  readonly meta: string;
  /** List of encoded history entries (message-codec), oldest first. */
  readonly messages: string;
  /** Set of committed turn ids: a turn commits once. */
  readonly turns: string;
  /** Marker that the conversation was deleted (with the conversation's time to live). */
  readonly deleted: string;
  /** Counter: seq of the newest turn frame. */
  readonly seq: string;
  /** Stream of turn frames, entry id `<seq>-0`, capped in entries and in bytes. */
  readonly frames: string;
  /** Counter: bytes of frame JSON in `frames`, kept by the frame scripts. */
  readonly frameBytes: string;
  /** String: the running turn's id, with a lease (PX). */
  readonly running: string;
  /** Set of turn ids that have sent `turn-end`: nothing of theirs is accepted after it. */
  readonly ended: string;
  /** Set of turn ids cancelled before a worker took them. */
  readonly cancelled: string;
  /** Pub/Sub channel of live frames (not a key). */
  readonly live: string;
  /** Hash: tool call id → an approval request (JSON) still waiting for its answer. */
  readonly approvals: string;
  /** List holding the answer to one approval request, until its turn takes it. */
  approvalAnswer(toolCallId: string): string;
}

/**
 * The keys of one user. A user's key cannot share the hash slot of their conversations
 * (each has its own), so it is never written in a conversation's script: it is updated in
 * a command of its own after the conversation's write, and readers check every entry
 * against the conversation itself (see RedisHistoryStore).
 */
export interface UserKeys {
  /**
   * Sorted set: the user's conversations that had a turn, scored by their last activity
   * (ms since the epoch). Its time to live is the conversations', refreshed on activity.
   */
  readonly conversations: string;
}

/** Keys shared by every conversation: the job stream and its neighbours. */
export interface QueueKeys {
  /** Stream of turn jobs, read by the `workers` consumer group. */
  readonly jobs: string;
  /** Stream of parked jobs (delivered too many times). */
  readonly dead: string;
  /** Pub/Sub channel of cancellations (not a key). */
  readonly control: string;
  /** Sorted set of workers, scored by their last heartbeat (Redis server time, ms). */
  readonly workers: string;
}

/**
 * The keys of one call quota key (a model; see RedisCallQuota). All share the hash tag
 * `{<key>}`, so every quota script touches one Redis Cluster slot. Each lapses by itself
 * once nobody holds or waits for a slot.
 */
export interface QuotaKeys {
  /** Sorted set: lease ids holding a slot, scored by lease expiry (Redis server time, ms). */
  readonly holders: string;
  /** Sorted set: ids of waiting calls, scored by their ticket (first come, first served). */
  readonly waiters: string;
  /** Sorted set: ids of waiting calls, scored by when they count as gone (server time, ms). */
  readonly alive: string;
  /** Counter: the newest ticket handed out. */
  readonly ticket: string;
  /** String: the bound lowered by throttling, with PX; absent while `max` holds. */
  readonly lowered: string;
  /** String with PX: set by a halving; a throttle while it lives does not halve again. */
  readonly halved: string;
}

/** Checks a prefix once: braces in it would move every key's hash tag. */
export function checkPrefix(prefix: string): string {
  if (/[{}]/.test(prefix)) throw new Error(`Redis key prefix "${prefix}" must not contain { or }.`);
  return prefix;
}

export function conversationKeys(prefix: string, conversationId: string): ConversationKeys {
  const base = `${prefix}{${conversationId}}:`;
  return {
    meta: `${base}meta`,
    messages: `${base}messages`,
    turns: `${base}turns`,
    deleted: `${base}deleted`,
    seq: `${base}seq`,
    frames: `${base}frames`,
    frameBytes: `${base}frame-bytes`,
    running: `${base}running`,
    ended: `${base}ended`,
    cancelled: `${base}cancelled`,
    live: `${base}live`,
    approvals: `${base}approvals`,
    approvalAnswer: (toolCallId) => `${base}approval:${toolCallId}`,
  };
}

/**
 * The keys of user `userId`. The key is unique per user whatever characters the id holds
 * (fixed text around it); the braces only pick its Cluster slot.
 */
export function userKeys(prefix: string, userId: string): UserKeys {
  return { conversations: `${prefix}user:{${userId}}:conversations` };
}

export function queueKeys(prefix: string): QueueKeys {
  return {
    jobs: `${prefix}jobs`,
    dead: `${prefix}jobs:dead`,
    control: `${prefix}control`,
    workers: `${prefix}workers`,
  };
}

/** The keys of quota key `key` (a model id); unique whatever characters it holds. */
export function quotaKeys(prefix: string, key: string): QuotaKeys {
  const base = `${prefix}quota:{${key}}:`;
  return {
    holders: `${base}holders`,
    waiters: `${base}waiters`,
    alive: `${base}alive`,
    ticket: `${base}ticket`,
    lowered: `${base}lowered`,
    halved: `${base}halved`,
  };
}

/** Pub/Sub channel (not a key) on which a freed slot is announced; the message is its key. */
export function quotaChannel(prefix: string): string {
  return `${prefix}quota:released`;
}
