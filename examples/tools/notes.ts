import { tool } from '@langchain/core/tools';
import { z } from 'zod';
import type { AgentgateToolMetadata, ToolModuleExport } from '../../src/tools/plugin.ts';

// The demo's tool that needs approval: harmless, so that a newcomer can see the approval
// card with nothing at stake. `npm run demo` loads it (unless TOOL_MODULES says otherwise):
//   try "save a note: buy milk", then Approve or Reject on the page (or with wscat).
// Notes live in this process's memory; a real module would write them somewhere.

const notes: { text: string; savedAt: string }[] = [];

const saveNote = tool(
  async ({ text }) => {
    notes.push({ text, savedAt: new Date().toISOString() });
    return `Saved note ${notes.length}: "${text}".`;
  },
  {
    name: 'save_note',
    description: 'Keeps a short note for the user. A person approves each note first.',
    schema: z.object({ text: z.string().min(1).max(500).describe('The note to keep') }),
    metadata: { requiresApproval: true } satisfies AgentgateToolMetadata,
  },
);

const listNotes = tool(async () => (notes.length ? notes : 'No notes yet.'), {
  name: 'list_notes',
  description: 'Lists the notes kept so far.',
  schema: z.object({}),
});

export default [saveNote, listNotes] satisfies ToolModuleExport;
