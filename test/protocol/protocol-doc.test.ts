import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { CLOSE_CODES } from '../../src/protocol/errors.ts';
import {
  CLIENT_FRAME_TYPES,
  ServerFrame,
  StopReason,
  TurnFrame,
} from '../../src/protocol/frames.ts';
import { codeSpans, readDoc, section, tableRows } from '../helpers/docs.ts';

const protocol = readDoc('protocol.md');

/** The first backticked name of each row of a table: the thing the row documents. */
function documented(heading: string, header: readonly string[]): string[] {
  return tableRows(section(protocol, heading), header).map(([first = '']) => {
    const [name] = codeSpans(first);
    if (name === undefined) throw new Error(`a row of "${heading}" names nothing: ${first}`);
    return name;
  });
}

/** The `type` literals of a frame schema, through unions and discriminated unions alike. */
function typesOf(schema: z.ZodType): string[] {
  if (schema instanceof z.ZodUnion) return schema.options.flatMap((o) => typesOf(o as z.ZodType));
  if (schema instanceof z.ZodObject) {
    const type = schema.shape.type;
    if (type instanceof z.ZodLiteral && typeof type.value === 'string') return [type.value];
  }
  throw new Error('a frame schema without a string literal `type`');
}

const sorted = (names: Iterable<string>) => [...new Set(names)].sort();

describe('docs/protocol.md against the frame schemas', () => {
  it('documents exactly the client → server frame types the parser accepts', () => {
    const names = documented('Client → server', ['type', 'fields', 'effect']);
    expect(names.length).toBeGreaterThanOrEqual(6);
    expect(sorted(names)).toEqual(sorted(CLIENT_FRAME_TYPES));
    expect(names).toHaveLength(new Set(names).size);
  });

  it('documents exactly the server → client frame types of ServerFrame', () => {
    const names = documented('Server → client', ['type', 'fields']);
    expect(names).toContain('ready');
    expect(sorted(names)).toEqual(sorted(typesOf(ServerFrame)));
    expect(names).toHaveLength(new Set(names).size);
  });

  it('lists exactly the turn frames in "Asking something"', () => {
    const names = documented('Asking something', ['frame', 'what it means']);
    expect(sorted(names)).toEqual(sorted(typesOf(TurnFrame)));
  });

  it('documents exactly the stop reasons of StopReason', () => {
    const names = documented('Asking something', ['stopReason', 'meaning']);
    expect(names).toContain('end_turn');
    expect(sorted(names)).toEqual(sorted(StopReason.options));
  });

  it('documents only close codes the gateway defines', () => {
    const rows = tableRows(section(protocol, 'Close codes'), ['code', 'when']);
    const codes = rows.map(([code = '']) => Number(code));
    expect(codes).toEqual(expect.arrayContaining([1001, 1009, 1013]));
    const defined: number[] = Object.values(CLOSE_CODES);
    expect(codes.filter((code) => !defined.includes(code))).toEqual([]);
  });
});
