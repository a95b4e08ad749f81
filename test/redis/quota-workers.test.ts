/**
 * BEDROCK_MAX_CONCURRENCY across processes: three workers share one bound through Redis, so
 * a burst of turns never has more calls in flight at Bedrock (the emulator) than the bound,
 * and every turn completes, waiting its turn instead of being throttled.
 */
import { describe, expect, it } from 'vitest';
import { TestClient } from '../helpers/ws-client.ts';
import { useProcessRig, type WorkerProcess } from './processes.ts';

const HAIKU = 'anthropic.claude-3-5-haiku-20241022-v1:0';
const WORKERS = 3;
const TURNS_PER_WORKER = 20;
const BOUND = 4;

const rig = useProcessRig({
  env: {
    BEDROCK_MODEL_ARNS: HAIKU,
    BEDROCK_MAX_CONCURRENCY: String(BOUND),
    MAX_TURNS_PER_USER: '100',
    MAX_SOCKETS_PER_USER: '100',
    // Each worker holds at most its share of the burst: all three run turns at once.
    WORKER_CONCURRENCY: String(TURNS_PER_WORKER),
  },
});

describe('a concurrency bound shared by worker processes', () => {
  it(`${WORKERS} workers × ${TURNS_PER_WORKER} concurrent turns never exceed ${BOUND} calls in flight, and all complete`, async () => {
    rig.showLogsOnFailure();
    const [gateway, ...workers] = await Promise.all([
      rig.gateway('gateway'),
      ...Array.from({ length: WORKERS }, (_, i) => rig.worker(`worker-${i + 1}`)),
    ]);
    // Bedrock's own quota is the bound: a call past it would be throttled, and fail the turn.
    rig.emulator.setConcurrencyQuota(HAIKU, BOUND);
    const turns = WORKERS * TURNS_PER_WORKER;
    rig.emulator.enqueue(
      ...Array.from({ length: turns }, (_, i) => ({
        blocks: [{ text: `Answer number ${i}.` }],
        delayMs: 5,
        chunkChars: 2,
      })),
    );
    const clients = await Promise.all(
      Array.from({ length: turns }, () => TestClient.connect(gateway!.wsUrl)),
    );
    try {
      const started = Date.now();
      const ends = await Promise.all(
        clients.map(async (client, i) => {
          const frames = await client.chat(`question ${i}`, {}, 60_000);
          return frames.find((f) => f.type === 'turn-end');
        }),
      );
      const elapsed = Date.now() - started;
      expect(ends.map((e) => e?.stopReason)).toEqual(Array(turns).fill('end_turn'));
      expect(rig.emulator.peakInFlight(HAIKU)).toBe(BOUND);
      // Every worker ran some of the turns, and counted the waits of its calls.
      const counts = await Promise.all(
        (workers as WorkerProcess[]).map(async (w) => {
          const text = await (await fetch(`${w.metricsUrl}/metrics`)).text();
          const match = /agentgate_bedrock_quota_wait_seconds_count\{model="[^"]+"\} (\d+)/.exec(
            text,
          );
          return Number(match?.[1] ?? 0);
        }),
      );
      console.log(`quota: ${turns} turns in ${elapsed} ms, calls per worker ${counts.join(', ')}`);
      expect(counts.reduce((a, b) => a + b, 0)).toBe(turns);
      expect(counts.filter((n) => n > 0)).toHaveLength(WORKERS);
    } finally {
      await Promise.all(clients.map((c) => c.close()));
    }
  }, 120_000);
});
