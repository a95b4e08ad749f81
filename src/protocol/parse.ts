import { describeIssues } from './describe-issues.ts';
import { ProtocolError } from './errors.ts';
import { CLIENT_FRAME_TYPES, ClientFrame, MAX_REQUEST_ID_CHARS } from './frames.ts';

export type ParseResult =
  | { ok: true; frame: ClientFrame }
  | { ok: false; error: ProtocolError; requestId?: string };

/**
 * The one parser of client frames. Text whose first non-blank character is `{` or `[` is
 * JSON and must be an object; any other non-blank text is the `wscat` shorthand for a chat.
 * Size is checked first, in UTF-8 bytes, so an over-size frame, binary or text, is never
 * parsed and always answered with `frame_too_large`.
 */
export function parseClientFrame(
  data: Buffer | string,
  isBinary: boolean,
  maxFrameBytes: number,
): ParseResult {
  const bytes = typeof data === 'string' ? Buffer.byteLength(data) : data.length;
  if (bytes > maxFrameBytes) {
    return fail('frame_too_large', `Frame is ${bytes} bytes; the limit is ${maxFrameBytes}.`);
  }
  if (isBinary) return fail('bad_frame', 'Binary frames are not accepted; send UTF-8 text.');
  const text = typeof data === 'string' ? data : data.toString('utf8');
  const trimmed = text.trim();
  if (trimmed === '') return fail('bad_frame', 'Blank frames are not accepted.');
  if (trimmed[0] !== '{' && trimmed[0] !== '[') {
    return validateFrame({ type: 'chat', content: trimmed });
  }
  let value: unknown;
  try {
    value = JSON.parse(trimmed);
  } catch {
    return fail('bad_frame', 'Frame is not valid JSON.');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return fail('bad_frame', 'A JSON frame must be an object.');
  }
  return validateFrame(value as Record<string, unknown>);
}

/**
 * Validates a frame that arrived as a JavaScript object rather than text (the HTTP
 * adapters build chat frames from their protocols' bodies): the same checks and messages
 * as a parsed frame, size aside.
 */
export function validateFrame(value: Record<string, unknown>): ParseResult {
  const requestId =
    typeof value.requestId === 'string' && value.requestId.length <= MAX_REQUEST_ID_CHARS
      ? value.requestId
      : undefined;
  if (typeof value.type !== 'string') {
    return fail('bad_frame', 'Frame needs a string field "type".', requestId);
  }
  if (!CLIENT_FRAME_TYPES.has(value.type)) {
    return fail('unknown_type', `Unknown frame type "${value.type}".`, requestId);
  }
  const parsed = ClientFrame.safeParse(value);
  if (!parsed.success) {
    const schema = ClientFrame.options.find((option) => option.shape.type.value === value.type);
    return fail('bad_frame', describeIssues(parsed.error, schema ?? ClientFrame), requestId);
  }
  return { ok: true, frame: parsed.data };
}

function fail(
  code: 'bad_frame' | 'frame_too_large' | 'unknown_type',
  message: string,
  requestId?: string,
): ParseResult {
  return { ok: false, error: new ProtocolError(code, message), requestId };
}
