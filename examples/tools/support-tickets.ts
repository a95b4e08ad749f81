import { tool } from '@langchain/core/tools';
import { z } from 'zod';
import type { AgentgateToolMetadata, ToolModuleExport } from '../../src/tools/plugin.ts';

// An example tool module: copy it, then name it in TOOL_MODULES, e.g.
//   TOOL_MODULES=examples/tools/support-tickets.ts npm start
// Its tickets live in this file; a real module would call a ticket system instead.

interface Ticket {
  id: string;
  title: string;
  status: 'open' | 'closed';
  note?: string;
}

const TICKETS = new Map<string, Ticket>(
  [
    { id: 'T-1001', title: 'Cannot log in after password reset', status: 'open' },
    { id: 'T-1002', title: 'Invoice shows the wrong currency', status: 'open' },
    { id: 'T-1003', title: 'Export to CSV times out', status: 'closed', note: 'Fixed in 2.4.1' },
  ].map((ticket): [string, Ticket] => [ticket.id, ticket as Ticket]),
);

const ticketId = z
  .string()
  .regex(/^T-\d{4}$/, 'a ticket id such as T-1001')
  .describe('The ticket id, e.g. T-1001');

/** Reads a ticket. A thrown error reaches the model as an error result, which it can explain. */
const lookupTicket = tool(
  async ({ id }) => {
    const ticket = TICKETS.get(id);
    if (!ticket) throw new Error(`There is no ticket ${id}.`);
    return ticket; // not a string: the model receives it as JSON
  },
  {
    name: 'lookup_ticket',
    description: 'Looks a support ticket up by its id: title, status and closing note.',
    schema: z.object({ id: ticketId }),
  },
);

/** Changes a ticket, so a person approves each call first. */
const closeTicket = tool(
  async ({ id, note }) => {
    const ticket = TICKETS.get(id);
    if (!ticket) throw new Error(`There is no ticket ${id}.`);
    if (ticket.status === 'closed') return `Ticket ${id} was already closed.`;
    ticket.status = 'closed';
    ticket.note = note;
    return `Closed ticket ${id}.`;
  },
  {
    name: 'close_ticket',
    description: 'Closes a support ticket with a note saying how it was resolved.',
    schema: z.object({
      id: ticketId,
      note: z.string().min(1).max(500).describe('How the ticket was resolved'),
    }),
    metadata: { requiresApproval: true, timeoutMs: 10_000 } satisfies AgentgateToolMetadata,
  },
);

export default [lookupTicket, closeTicket] satisfies ToolModuleExport;
