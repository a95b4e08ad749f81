import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Emulator, startEmulator } from '../emulator/index.ts';
import { startGateway, type TestGateway } from '../helpers/gateway.ts';
import { checkStored, checkTurn } from '../helpers/invariants.ts';

// The demo's approval: `npm run demo` loads examples/tools/notes.ts, whose save_note needs
// approval, and the emulator's script calls it for "save a note: …".

let emulator: Emulator;
let gw: TestGateway;
beforeAll(async () => {
  emulator = await startEmulator({ paceMs: 0 });
  gw = await startGateway({ TOOL_MODULES: 'examples/tools/notes.ts' }, emulator);
});
afterAll(async () => {
  await gw.close();
  await emulator.close();
});

describe("the demo's save_note", () => {
  it.each([
    ['approve', 'I saved your note.', false],
    ['reject', 'I did not save the note. anonymous rejected this call of save_note', true],
  ])('asks first, then, on %s, answers as the user decided', async (decision, said, isError) => {
    const client = await gw.connect();
    const turn = client.chat('save a note: buy milk');
    const request = await client.next((f) => f.type === 'approval-request');
    expect(request).toMatchObject({ name: 'save_note', input: { text: 'buy milk' } });
    client.send({
      type: 'approve',
      conversationId: request.conversationId,
      toolCallId: request.toolCallId,
      decision,
    });
    const frames = await turn;
    checkTurn(frames);
    await checkStored(client, frames);
    expect(frames.find((f) => f.type === 'tool-end')).toMatchObject({ name: 'save_note', isError });
    expect(frames.at(-1)!.text).toContain(said);
  });
});
