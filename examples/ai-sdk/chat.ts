/**
 * Chats with agentgate through the Vercel AI SDK's own client code (`DefaultChatTransport`
 * and `readUIMessageStream`, what `useChat` uses in a browser), from a terminal.
 *
 *   npm run demo                                      # in another terminal
 *   npx tsx examples/ai-sdk/chat.ts "what is (12+30)*2?"
 *
 * AGENTGATE_URL (default http://127.0.0.1:3000) and AGENTGATE_TOKEN (when the gateway has
 * auth) say where to go; CHAT_ID continues a conversation (a new one is made otherwise).
 * A tool that needs approval (the demo's `save a note: buy milk`) is approved by the
 * script, as a person pressing "approve" in a `useChat` page would.
 */
import { randomUUID } from 'node:crypto';
import { DefaultChatTransport, readUIMessageStream, type UIMessage, type UIMessageChunk } from 'ai';

const base = process.env.AGENTGATE_URL ?? 'http://127.0.0.1:3000';
const token = process.env.AGENTGATE_TOKEN;
const chatId = process.env.CHAT_ID ?? randomUUID();
const question = process.argv.slice(2).join(' ') || 'what is (12+30)*2?';

const transport = new DefaultChatTransport<UIMessage>({
  api: `${base}/v1/ai-sdk/chat`,
  ...(token ? { headers: { authorization: `Bearer ${token}` } } : {}),
  // agentgate keeps the history: send only the newest message, so requests stay small.
  prepareSendMessagesRequest: ({ id, messages, body }) => ({
    body: { ...body, id, messages: messages.slice(-1) },
  }),
});

/** Prints a message as it grows: new text as it streams, each tool call as it changes. */
async function show(stream: ReadableStream<UIMessageChunk>, message?: UIMessage) {
  const textOf = (m: UIMessage) => m.parts.map((p) => (p.type === 'text' ? p.text : '')).join('');
  let printed = message ? textOf(message) : '';
  const toolStates = new Map<string, string>(
    (message?.parts ?? []).flatMap((p) =>
      p.type === 'dynamic-tool' ? [[p.toolCallId, p.state] as const] : [],
    ),
  );
  let last: UIMessage | undefined;
  for await (const snapshot of readUIMessageStream({
    stream,
    ...(message ? { message } : {}),
    onError: (error) => process.stdout.write(`\n[error] ${String(error)}\n`),
  })) {
    last = snapshot;
    for (const part of snapshot.parts) {
      if (part.type !== 'dynamic-tool' || toolStates.get(part.toolCallId) === part.state) continue;
      toolStates.set(part.toolCallId, part.state);
      const detail =
        part.state === 'output-available'
          ? ` → ${String(part.output)}`
          : part.state === 'output-error'
            ? ` → ${part.errorText}`
            : ` ${JSON.stringify(part.input)}`;
      process.stdout.write(`\n[${part.toolName}: ${part.state}]${detail}\n`);
    }
    const text = textOf(snapshot);
    if (text.startsWith(printed)) process.stdout.write(text.slice(printed.length));
    printed = text;
  }
  return last;
}

const user: UIMessage = {
  id: randomUUID(),
  role: 'user',
  parts: [{ type: 'text', text: question }],
};
process.stdout.write(`conversation ${chatId}\n> ${question}\n`);
let answer = await show(
  await transport.sendMessages({
    chatId,
    messages: [user],
    trigger: 'submit-message',
    messageId: undefined,
    abortSignal: undefined,
  }),
);

// A request for approval ends the response; the answer goes back as useChat sends it.
for (;;) {
  const waiting = answer?.parts.filter(
    (p) => p.type === 'dynamic-tool' && p.state === 'approval-requested',
  );
  if (!answer || !waiting?.length) break;
  const approved: UIMessage = {
    ...answer,
    parts: answer.parts.map((p) =>
      p.type === 'dynamic-tool' && p.state === 'approval-requested'
        ? { ...p, state: 'approval-responded', approval: { id: p.approval.id, approved: true } }
        : p,
    ),
  };
  process.stdout.write('\n[approved]\n');
  answer = await show(
    await transport.sendMessages({
      chatId,
      messages: [user, approved],
      trigger: 'submit-message',
      messageId: approved.id,
      abortSignal: undefined,
    }),
    approved,
  );
}
const metadata = answer?.metadata as { stopReason?: string; usage?: object } | undefined;
process.stdout.write(
  `\n(${metadata?.stopReason ?? 'no end'}; usage ${JSON.stringify(metadata?.usage)})\n`,
);
