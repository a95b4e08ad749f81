import { afterEach, describe, expect, it } from 'vitest';
import { ClientConversationId } from '../../src/gateway/sse-adapters.ts';
import { CONVERSATION_ID, conversationFromHash } from '../../web/src/hash.ts';

const globals = globalThis as { location?: { hash: string } };
afterEach(() => {
  delete globals.location;
});

function fromHash(hash: string): string | null {
  globals.location = { hash };
  return conversationFromHash();
}

describe('the conversation id in the URL hash', () => {
  it('opens every id the gateway issues or accepts from clients', () => {
    expect(fromHash('#c_3Vx-9aZ')).toBe('c_3Vx-9aZ');
    // AI SDK chat ids and AG-UI thread ids may carry dots and colons.
    expect(fromHash('#thread.2026-11-29')).toBe('thread.2026-11-29');
    expect(fromHash(`#${encodeURIComponent('tenant:42:chat')}`)).toBe('tenant:42:chat');
  });

  it('ignores what is not an id', () => {
    expect(fromHash('')).toBeNull();
    expect(fromHash('#.hidden')).toBeNull();
    expect(fromHash('#a/b')).toBeNull();
    expect(fromHash('#%E0%A4%A')).toBeNull();
    expect(fromHash(`#${'x'.repeat(201)}`)).toBeNull();
  });

  it('follows the gateway rule for client-made ids', () => {
    const samples = [
      'c_1',
      'a.b',
      'a:b',
      ':a',
      '.a',
      'a b',
      'a{b}',
      'x'.repeat(200),
      'x'.repeat(201),
    ];
    for (const id of samples) {
      expect(CONVERSATION_ID.test(id), id).toBe(ClientConversationId.safeParse(id).success);
    }
  });
});
