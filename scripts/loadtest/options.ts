import { isIP } from 'node:net';
import { parseArgs } from 'node:util';
import { UsageError } from '../cli.ts';

/** What a run is asked to do, once the command line is checked. */
export interface Options {
  url: URL;
  clients: number;
  turns: number;
  durationS: number;
  token: string | undefined;
  pid: number | undefined;
  json: boolean;
}

interface OptionSpec {
  readonly type: 'string' | 'boolean';
  readonly short?: string;
  readonly default?: string;
  /** How the value is shown in the help: `<n>`. */
  readonly value?: string;
  /** A count from 1 to this. */
  readonly max?: number;
  readonly help: string;
}

/** Every option, once: parseArgs, the checks and `--help` all read this table. */
export const OPTIONS = {
  url: {
    type: 'string',
    default: 'ws://127.0.0.1:3000/v1/ws',
    value: '<ws url>',
    help: 'gateway endpoint',
  },
  clients: { type: 'string', default: '50', value: '<n>', max: 2000, help: 'WebSocket clients' },
  turns: {
    type: 'string',
    default: '5',
    value: '<n>',
    max: 1000,
    help: 'turns per client, one after another',
  },
  duration: {
    type: 'string',
    default: '60',
    value: '<s>',
    max: 3600,
    help: 'stop after this many seconds; running turns count as timeout',
  },
  token: { type: 'string', value: '<key>', help: 'sent as Authorization: Bearer <key>' },
  pid: {
    type: 'string',
    value: '<pid>',
    help: "the gateway's process id: its memory (RSS) is sampled every 250 ms",
  },
  'allow-remote': {
    type: 'boolean',
    help: 'permit a gateway that is not on this machine (off: loopback hosts only)',
  },
  json: { type: 'boolean', help: 'print the summary as JSON' },
  help: { type: 'boolean', short: 'h', help: 'print this help' },
} as const satisfies Record<string, OptionSpec>;

/** The text `--help` prints. */
export function usage(): string {
  const rows = Object.entries(OPTIONS as Record<string, OptionSpec>).map(([name, spec]) => {
    const flag = `${spec.short ? `-${spec.short}, ` : '    '}--${name}${spec.value ? ` ${spec.value}` : ''}`;
    const notes = [spec.max && `1–${spec.max}`, spec.default && `default ${spec.default}`];
    const note = notes.filter(Boolean).join(', ');
    return `  ${flag.padEnd(24)} ${spec.help}${note ? ` (${note})` : ''}`;
  });
  return `Usage: npm run loadtest -- [options]

N WebSocket clients against a running gateway, each chatting M turns one after another in
its own conversation. Prints turns/s, time to first token, turn duration, frames/s, errors
by code and (with --pid) the gateway's memory. Exit code 1 unless every planned turn ends.

Start the gateway first: \`npm run demo\` serves it out of the box. Against \`npm start\`,
every client is the same user, so raise MAX_SOCKETS_PER_USER and MAX_TURNS_PER_USER above
--clients (or the refusals show as rate_limited and closed_1013).

Options:
${rows.join('\n')}

Example:
  npm run loadtest -- --clients 50 --turns 5 --pid "$(lsof -ti tcp:3000 -sTCP:LISTEN)"
`;
}

/** A problem with the command line: said in one line, then exit code 2. */

function count(name: string, raw: string, max: number): number {
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1 || value > max) {
    throw new UsageError(`--${name} must be a whole number from 1 to ${max}, not "${raw}".`);
  }
  return value;
}

/** Loopback only, unless asked: a load test aimed at someone else's server is an attack. */
function isLoopback(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '');
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  if (isIP(host) === 6) return host === '::1' || host.startsWith('::ffff:127.');
  return false;
}

/** The checked options, or 'help' when asked for it. Throws UsageError. */
export function parseOptions(argv: string[]): Options | 'help' {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({ args: argv, options: OPTIONS, strict: true }));
  } catch (error) {
    // parseArgs explains at length how to pass a positional "--x"; the first sentence is enough.
    const first = (error as Error).message.split('. ')[0]?.replace(/\.$/, '');
    throw new UsageError(`${first}.`);
  }
  if (values.help) return 'help';
  const text = (name: keyof typeof OPTIONS) => values[name] as string;
  let url: URL;
  try {
    url = new URL(text('url'));
  } catch {
    throw new UsageError(`--url is not a URL: ${text('url')}`);
  }
  if (url.protocol !== 'ws:' && url.protocol !== 'wss:') {
    throw new UsageError('--url must be ws:// or wss://.');
  }
  if (!values['allow-remote'] && !isLoopback(url.hostname)) {
    throw new UsageError(
      `${url.hostname} is not a loopback address; pass --allow-remote if it is yours.`,
    );
  }
  const pid = values.pid as string | undefined;
  return {
    url,
    clients: count('clients', text('clients'), OPTIONS.clients.max),
    turns: count('turns', text('turns'), OPTIONS.turns.max),
    durationS: count('duration', text('duration'), OPTIONS.duration.max),
    token: values.token as string | undefined,
    pid: pid === undefined ? undefined : count('pid', pid, 2 ** 22),
    json: values.json === true,
  };
}
