import { describe, expect, it } from 'vitest';
import { checkTurn } from '../helpers/invariants.ts';
import { TestClient } from '../helpers/ws-client.ts';
import { useProcessRig } from './processes.ts';

// A skill's tools are offered from its load_skill call on, in that conversation: derived
// from the stored history, so the next turn, run by another worker process, offers them too.

const rig = useProcessRig();

describe('skills across worker processes', () => {
  it('offers the SQL tools after load_skill, and again on the next turn in another worker', async () => {
    rig.showLogsOnFailure();
    const { emulator } = rig;
    const offered = (index: number) =>
      (emulator.requests[index]?.body?.toolConfig?.tools ?? []).map((t) => t.toolSpec?.name);
    const gateway = await rig.gateway('gateway');
    const first = await rig.worker('worker-1');
    const client = await TestClient.connect(gateway.wsUrl);

    emulator.enqueue(
      {
        blocks: [{ toolUse: { toolUseId: 'tu_load', name: 'load_skill', input: { name: 'sql' } } }],
      },
      { blocks: [{ text: 'The SQL skill is loaded.' }] },
    );
    const loading = checkTurn(await client.chat('load the sql skill', {}, 30_000));
    expect(loading.end.stopReason).toBe('end_turn');
    const loaded = client.frames.find((f) => f.type === 'tool-end' && f.toolCallId === 'tu_load');
    expect(loaded).toMatchObject({ isError: false, output: expect.stringContaining('sql_query') });
    expect(offered(0)).toContain('load_skill');
    expect(offered(0)).not.toContain('sql_query');
    expect(offered(1)).toEqual(
      expect.arrayContaining(['list_tables', 'describe_table', 'sql_query']),
    );

    await first.stop();
    await rig.worker('worker-2');
    emulator.enqueue(
      {
        blocks: [
          {
            toolUse: {
              toolUseId: 'tu_q',
              name: 'sql_query',
              input: { query: 'SELECT 6 * 7 AS answer' },
            },
          },
        ],
      },
      { blocks: [{ text: 'It is 42.' }] },
    );
    const next = await client.chat('ask the database', {}, 30_000);
    checkTurn(next);
    expect(offered(2)).toEqual(expect.arrayContaining(['sql_query']));
    expect(next.find((f) => f.type === 'tool-end')).toMatchObject({
      toolCallId: 'tu_q',
      isError: false,
      output: expect.stringContaining('42'),
    });
    await client.close();
  }, 90_000);
});
