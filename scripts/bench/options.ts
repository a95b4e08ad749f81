import { parseArgs } from 'node:util';
import { UsageError } from '../cli.ts';

/** The systems a run can compare, in the order they run. */
export const SYSTEMS = ['floor', 'embedded', 'redis'] as const;
export type SystemName = (typeof SYSTEMS)[number];

/** What a run is asked to do, once the command line is checked. */
export interface Options {
  systems: SystemName[];
  clients: number;
  turns: number;
  warmup: number;
  chunks: number;
  chunkChars: number;
  chunkDelayMs: number;
  firstChunkMs: number;
  /** Worker processes of the Redis system; undefined: one per 32 clients (a worker's limit). */
  workers: number | undefined;
  timeoutS: number;
  json: string | undefined;
  quick: boolean;
  scale: boolean;
  scaleSystem: 'embedded' | 'redis';
  scaleSockets: number;
  scaleChunks: number;
  scaleChunkDelayMs: number;
  idleSockets: number;
}

interface OptionSpec {
  readonly type: 'string' | 'boolean';
  readonly short?: string;
  /** The reference conditions' value. */
  readonly default?: string;
  /** What --quick sets instead, unless the option is given. */
  readonly quick?: string;
  readonly value?: string;
  /** A whole number in this range. */
  readonly range?: readonly [number, number];
  readonly help: string;
}

/** Every option, once: parseArgs, the checks and `--help` all read this table. */
export const OPTIONS = {
  systems: {
    type: 'string',
    default: SYSTEMS.join(','),
    value: '<list>',
    help: 'systems to run, in this order: floor, embedded, redis (redis needs REDIS_URL)',
  },
  clients: {
    type: 'string',
    default: '100',
    quick: '3',
    value: '<n>',
    range: [1, 5000],
    help: 'concurrent WebSocket clients (C)',
  },
  turns: {
    type: 'string',
    default: '3',
    quick: '1',
    value: '<n>',
    range: [1, 1000],
    help: 'measured turns per client, one after another (T)',
  },
  warmup: {
    type: 'string',
    default: '1',
    value: '<n>',
    range: [0, 100],
    help: 'turns per client before measuring (not counted)',
  },
  chunks: {
    type: 'string',
    default: '200',
    quick: '20',
    value: '<n>',
    range: [1, 100_000],
    help: 'text deltas per answer',
  },
  'chunk-chars': {
    type: 'string',
    default: '4',
    value: '<n>',
    range: [1, 10_000],
    help: 'characters per text delta',
  },
  'chunk-delay': {
    type: 'string',
    default: '5',
    value: '<ms>',
    range: [0, 10_000],
    help: 'pause between stream events of a model reply',
  },
  'first-chunk': {
    type: 'string',
    default: '50',
    value: '<ms>',
    range: [0, 60_000],
    help: "pause before each model reply's first event (time to first token)",
  },
  workers: {
    type: 'string',
    value: '<n>',
    range: [1, 64],
    help: 'worker processes of the redis system (default: one per 32 clients)',
  },
  timeout: {
    type: 'string',
    default: '600',
    value: '<s>',
    range: [1, 7200],
    help: 'hard stop of one measured phase; turns still running count as timeout',
  },
  json: { type: 'string', value: '<file>', help: 'also write the results as JSON to this file' },
  quick: {
    type: 'boolean',
    help: 'a small smoke run: --clients 3 --turns 1 --chunks 20 (--scale: 20 sockets of 10 chunks, 200 idle)',
  },
  scale: {
    type: 'boolean',
    help: 'the scale mode instead: streaming sockets checked for every invariant, then idle sockets',
  },
  'scale-system': {
    type: 'string',
    default: 'embedded',
    value: '<name>',
    help: 'system of the scale mode: embedded or redis',
  },
  'scale-sockets': {
    type: 'string',
    default: '1000',
    quick: '20',
    value: '<n>',
    range: [1, 5000],
    help: 'scale mode: sockets each running one streaming turn at once',
  },
  'scale-chunks': {
    type: 'string',
    default: '50',
    quick: '10',
    value: '<n>',
    range: [1, 100_000],
    help: 'scale mode: text deltas per answer',
  },
  'scale-chunk-delay': {
    type: 'string',
    default: '100',
    value: '<ms>',
    range: [0, 10_000],
    help: 'scale mode: pause between stream events (100: ~10 chunks a second)',
  },
  'idle-sockets': {
    type: 'string',
    default: '10000',
    quick: '200',
    value: '<n>',
    range: [1, 15_000],
    help: 'scale mode: idle sockets whose memory is measured',
  },
  help: { type: 'boolean', short: 'h', help: 'print this help' },
} as const satisfies Record<string, OptionSpec>;

type Name = keyof typeof OPTIONS;

/** The text `--help` prints. */
export function usage(): string {
  const rows = Object.entries(OPTIONS as Record<string, OptionSpec>).map(([name, spec]) => {
    const flag = `${spec.short ? `-${spec.short}, ` : '    '}--${name}${spec.value ? ` ${spec.value}` : ''}`;
    const notes = [spec.default !== undefined && `default ${spec.default}`];
    const note = notes.filter(Boolean).join(', ');
    return `  ${flag.padEnd(30)} ${spec.help}${note ? ` (${note})` : ''}`;
  });
  return `Usage: npm run bench -- [options]

Compares agentgate with the floor, a minimal relay of the same Bedrock client, under the
same load: the Bedrock emulator, the systems and the load generator each run in their own
processes. Per system it prints the server's CPU per 1,000 chunks, time to first token,
turn time, peak memory, bytes per chunk, errors and text mismatches, and the ratios to
the floor. Exit code 1 when a turn failed or any text was not exactly as sent.

The defaults are the reference conditions: 100 clients × 3 turns after 1 warm-up turn, a
tool round trip in every turn, then 200 chunks of 4 characters 5 ms apart, 50 ms to the
first. The redis system needs Redis at REDIS_URL (default redis://127.0.0.1:6379); skip it
with --systems floor,embedded.

Options:
${rows.join('\n')}

Examples:
  npm run bench
  npm run bench -- --quick --systems floor,embedded
  npm run bench -- --scale --json /tmp/scale.json
`;
}

/** A problem with the command line: said in one line, then exit code 2. */

function whole(name: string, raw: string, [min, max]: readonly [number, number]): number {
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new UsageError(`--${name} must be a whole number from ${min} to ${max}, not "${raw}".`);
  }
  return value;
}

function systemsOf(raw: string): SystemName[] {
  const names = raw.split(',').map((name) => name.trim());
  const unknown = names.find((name) => !(SYSTEMS as readonly string[]).includes(name));
  if (unknown !== undefined) {
    throw new UsageError(`--systems takes ${SYSTEMS.join(', ')}; "${unknown}" is none of them.`);
  }
  if (new Set(names).size !== names.length) throw new UsageError('--systems names one twice.');
  // Always in the reference order: the floor first, so that ratios have their base.
  return SYSTEMS.filter((name) => names.includes(name));
}

/** The checked options, or 'help' when asked for it. Throws UsageError. */
export function parseOptions(argv: string[]): Options | 'help' {
  let values: Record<string, string | boolean | undefined>;
  try {
    // Defaults are applied below, not by parseArgs: --quick must tell given from defaulted.
    const options = Object.fromEntries(
      Object.entries(OPTIONS as Record<string, OptionSpec>).map(([name, spec]) => [
        name,
        spec.short ? { type: spec.type, short: spec.short } : { type: spec.type },
      ]),
    );
    ({ values } = parseArgs({ args: argv, options, strict: true }));
  } catch (error) {
    // parseArgs explains at length how to pass a positional "--x"; the first sentence is enough.
    const first = (error as Error).message.split('. ')[0]?.replace(/\.$/, '');
    throw new UsageError(`${first}.`);
  }
  if (values.help) return 'help';
  const quick = values.quick === true;
  /** The value given, else --quick's, else the reference default. */
  const raw = (name: Name): string | undefined => {
    const spec: OptionSpec = OPTIONS[name];
    const given = values[name];
    if (typeof given === 'string') return given;
    return (quick ? spec.quick : undefined) ?? spec.default;
  };
  const num = (name: Name): number => {
    const spec: OptionSpec = OPTIONS[name];
    return whole(name, raw(name) ?? '', spec.range ?? [0, 0]);
  };
  const scaleSystem = raw('scale-system');
  if (scaleSystem !== 'embedded' && scaleSystem !== 'redis') {
    throw new UsageError(`--scale-system must be embedded or redis, not "${scaleSystem}".`);
  }
  const workers = raw('workers');
  return {
    systems: systemsOf(raw('systems') ?? ''),
    clients: num('clients'),
    turns: num('turns'),
    warmup: num('warmup'),
    chunks: num('chunks'),
    chunkChars: num('chunk-chars'),
    chunkDelayMs: num('chunk-delay'),
    firstChunkMs: num('first-chunk'),
    workers: workers === undefined ? undefined : whole('workers', workers, OPTIONS.workers.range),
    timeoutS: num('timeout'),
    json: values.json as string | undefined,
    quick,
    scale: values.scale === true,
    scaleSystem,
    scaleSockets: num('scale-sockets'),
    scaleChunks: num('scale-chunks'),
    scaleChunkDelayMs: num('scale-chunk-delay'),
    idleSockets: num('idle-sockets'),
  };
}
