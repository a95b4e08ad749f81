/**
 * What the emulator answers when no reply is queued: a small, deterministic demo model that
 * calls `current_time` for time questions, `calculator` for arithmetic, loads the `sql` skill
 * and queries the demo shop for questions about its data (sql-demo.ts), calls `save_note`
 * (which needs approval) for "save a note: …", answers the tool results, and otherwise chats.
 * With extended thinking on (for a model that has it) each reply starts with a short, signed
 * reasoning block. A request with a `guardrailConfig` is blocked by its guardrail (a word
 * policy on "forbidden") when the text the guardrail assesses has that word: as Bedrock's,
 * the `guardContent` blocks when the request has any, otherwise every message's text.
 */

import { createHash } from 'node:crypto';
import { assessedText } from './guardrails.ts';
import {
  answerFromResult,
  DATA_QUESTION,
  isLoadSql,
  queryFor,
  sqlSkillLoaded,
  succeeded,
  useOf,
} from './sql-demo.ts';
import type { ConverseRequestBody, MessageReply, WireContentBlock, WireMessage } from './types.ts';

/** Pause between demo deltas when the emulator has no `paceMs`: a model's typing speed. */
const DEMO_PACE_MS = 20;

const CITY_ZONES: [RegExp, string][] = [
  [/\btokyo\b/i, 'Asia/Tokyo'],
  [/\blondon\b/i, 'Europe/London'],
  [/\bparis\b/i, 'Europe/Paris'],
  [/\bnew york\b/i, 'America/New_York'],
  [/\bsydney\b/i, 'Australia/Sydney'],
];

// Runs of digits, operators, dots, parentheses and spaces; kept only if an operator joins operands.
const EXPRESSION_RUN = /[\d.()+\-*/^%\s]+/g;
const HAS_OPERATION = /[\d)]\s*[-+*/^%]\s*[\d(.]/;

function offeredTools(body: ConverseRequestBody): Set<string> {
  return new Set((body.toolConfig?.tools ?? []).flatMap((tool) => tool.toolSpec?.name ?? []));
}

/** What the model reads of a message: its text, guarded text included. */
function textOf(message: WireMessage | undefined): string {
  return (message?.content ?? [])
    .flatMap((block) => {
      const text = block.text ?? block.guardContent?.text?.text;
      return typeof text === 'string' ? [text] : [];
    })
    .join(' ')
    .trim();
}

function resultText(block: WireContentBlock): string {
  return (block.toolResult?.content ?? [])
    .map((item) => item.text ?? JSON.stringify(item.json))
    .join(' ')
    .trim();
}

/** Deterministic, so a replayed conversation gets the same ids. */
function demoToolUseId(body: ConverseRequestBody): string {
  const digest = createHash('sha256').update(JSON.stringify(body.messages)).digest('base64url');
  return `tooluse_${digest.slice(0, 22)}`;
}

function findExpression(text: string): string | undefined {
  const runs = (text.match(EXPRESSION_RUN) ?? []).map((run) => run.trim());
  return runs.filter((run) => HAS_OPERATION.test(run)).sort((a, b) => b.length - a.length)[0];
}

/** The text of the conversation's last user message that is not only tool results. */
function questionOf(messages: WireMessage[]): string {
  return textOf(messages.findLast((m) => m.role === 'user' && textOf(m) !== ''));
}

function sqlQuery(body: ConverseRequestBody, question: string, text: string): MessageReply {
  return {
    blocks: [
      { text },
      {
        toolUse: {
          toolUseId: demoToolUseId(body),
          name: 'sql_query',
          input: { query: queryFor(question) },
        },
      },
    ],
  };
}

/**
 * The data-question steps after a tool result: the sql skill loaded → query the data (when
 * sql_query is offered); undefined when the result is not one of those steps.
 */
function continueDataQuestion(
  body: ConverseRequestBody,
  messages: WireMessage[],
  last: WireMessage,
): MessageReply | undefined {
  const question = questionOf(messages);
  const loaded = (last.content ?? []).some(
    (block) => succeeded(block) && isLoadSql(useOf(messages.at(-2), block)),
  );
  if (loaded && offeredTools(body).has('sql_query') && DATA_QUESTION.test(question)) {
    return sqlQuery(body, question, 'Let me query the shop data.');
  }
  return undefined;
}

function answerToolResults(messages: WireMessage[], last: WireMessage): MessageReply {
  const previous = messages.at(-2);
  const sentences = (last.content ?? []).flatMap((block) => {
    if (!block.toolResult) return [];
    const use = useOf(previous, block);
    const result = resultText(block);
    // @langchain/aws does not send a result's status: an error is known by its text too.
    const failed = block.toolResult.status === 'error' || result.startsWith('Error:');
    if (use?.name === 'save_note') {
      return [
        failed
          ? `I did not save the note. ${result.replace(/^Error: /, '')}`
          : 'I saved your note.',
      ];
    }
    if (failed) return [`The ${use?.name ?? 'tool'} failed: ${result}`];
    if (use?.name === 'current_time') {
      const time = /T?(\d{2}:\d{2}:\d{2})/.exec(result)?.[1];
      const zone = (use.input as { timezone?: string } | undefined)?.timezone ?? 'UTC';
      if (time) return [`It is ${time} in ${zone}.`];
    }
    if (use?.name === 'sql_query') {
      const answer = answerFromResult(result);
      if (answer) return [answer];
    }
    if (use?.name === 'calculator') {
      const value = /-?\d+(\.\d+)?(e[-+]?\d+)?/i.exec(result)?.[0];
      if (value) return [`The answer is ${value}.`];
    }
    return [`The ${use?.name ?? 'tool'} tool returned: ${result.slice(0, 200)}.`];
  });
  return { blocks: [{ text: sentences.join(' ') || 'Done.' }] };
}

/** "save a note: buy milk", "remember this note: …": the note is what follows. */
const NOTE_REQUEST = /\b(?:save|keep|remember|take)\b[^:]*?\bnote\b\s*:?\s*(.+)$/i;

function chat(text: string): string {
  const quoted = text.length > 120 ? `${text.slice(0, 117)}...` : text;
  return (
    `You said: "${quoted}". I am the Bedrock emulator, answering in place of a real model. ` +
    'Ask me for the time in Tokyo, to calculate (12+30)*2, which product sold best last month, or to save a note: buy milk, to see a tool call.'
  );
}

const FORBIDDEN = /\bforbidden\b/i;

/** A line of reasoning about the reply it goes before. */
function reasoningFor(reply: MessageReply, afterTools: boolean): string {
  const use = reply.blocks.find((block) => 'toolUse' in block);
  if (use && 'toolUse' in use) return `This needs ${use.toolUse.name}; I will call it.`;
  return afterTools ? 'The tool results are in; I can answer now.' : 'I can answer this directly.';
}

/**
 * The demo reply to a request; `paceMs` overrides the realistic pause between events, and
 * `thinking` (extended thinking on, for a model that has it) starts the reply with reasoning.
 */
export function defaultReply(
  body: ConverseRequestBody,
  paceMs?: number,
  thinking = false,
): MessageReply {
  const reply = demoReply(body, paceMs ?? DEMO_PACE_MS);
  const last = (body.messages ?? []).findLast((message) => message.role === 'user');
  if (body.guardrailConfig !== undefined && FORBIDDEN.test(assessedText(body))) {
    return { ...reply, guardrail: { policy: { word: 'forbidden' } } };
  }
  if (!thinking) return reply;
  const afterTools = last?.content?.some((block) => block.toolResult) ?? false;
  return { ...reply, blocks: [{ reasoning: reasoningFor(reply, afterTools) }, ...reply.blocks] };
}

function demoReply(body: ConverseRequestBody, delayMs: number): MessageReply {
  const messages = body.messages ?? [];
  const last = messages.findLast((message) => message.role === 'user');
  if (last && messages.at(-1) === last && last.content?.some((block) => block.toolResult)) {
    const next = continueDataQuestion(body, messages, last) ?? answerToolResults(messages, last);
    return { ...next, delayMs };
  }
  const text = textOf(last);
  const tools = offeredTools(body);
  const note = NOTE_REQUEST.exec(text)?.[1]?.trim();
  if (tools.has('save_note') && note) {
    return {
      blocks: [
        { text: 'I will save that note once you approve it.' },
        { toolUse: { toolUseId: demoToolUseId(body), name: 'save_note', input: { text: note } } },
      ],
      delayMs,
    };
  }
  if (DATA_QUESTION.test(text)) {
    if (tools.has('load_skill') && !sqlSkillLoaded(messages)) {
      return {
        blocks: [
          { text: 'Let me load the SQL skill.' },
          {
            toolUse: { toolUseId: demoToolUseId(body), name: 'load_skill', input: { name: 'sql' } },
          },
        ],
        delayMs,
      };
    }
    if (tools.has('sql_query')) {
      return { ...sqlQuery(body, text, 'Let me query the shop data.'), delayMs };
    }
  }
  if (tools.has('current_time') && /\btime\b/i.test(text)) {
    const zone = CITY_ZONES.find(([city]) => city.test(text))?.[1];
    return {
      blocks: [
        { text: 'Let me check the time.' },
        {
          toolUse: {
            toolUseId: demoToolUseId(body),
            name: 'current_time',
            input: zone ? { timezone: zone } : {},
          },
        },
      ],
      delayMs,
    };
  }
  const expression = findExpression(text);
  if (tools.has('calculator') && expression) {
    return {
      blocks: [
        { text: 'Let me calculate that.' },
        { toolUse: { toolUseId: demoToolUseId(body), name: 'calculator', input: { expression } } },
      ],
      delayMs,
    };
  }
  return { blocks: [{ text: chat(text || 'nothing') }], delayMs };
}
