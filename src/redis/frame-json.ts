import { type PublishedFrame, toPublished } from '../bus/frame-bus.ts';
import type { TurnEvent, TurnFrame } from '../protocol/frames.ts';

// A seq no conversation reaches; it marks where the real seq goes in the JSON.
const PLACEHOLDER = Number.MAX_SAFE_INTEGER;
const MARKER = `"seq":${PLACEHOLDER}`;

/** A frame's JSON cut around its seq, so that Redis can splice in the seq it allocates. */
export interface FrameTemplate {
  /** JSON up to and including `"seq":`. */
  readonly head: string;
  /** JSON after the seq. */
  readonly tail: string;
  readonly frame: TurnFrame;
}

/**
 * Builds the frame once, with toPublished, and cuts its JSON at the seq. Inside a JSON
 * string a quote is always escaped, so `"seq":` with bare quotes is a key; toPublished
 * writes the frame's own seq before any field of the event, so the first one is ours.
 */
export function frameTemplate(
  conversationId: string,
  turnId: string,
  event: TurnEvent,
): FrameTemplate {
  const { frame, json } = toPublished(conversationId, turnId, PLACEHOLDER, event);
  const at = json.indexOf(MARKER);
  if (at < 0) throw new Error('toPublished wrote no seq field.');
  return { head: json.slice(0, at + '"seq":'.length), tail: json.slice(at + MARKER.length), frame };
}

/** The published frame once Redis has allocated its seq. */
export function withSeq(template: FrameTemplate, seq: number): PublishedFrame {
  return {
    frame: { ...template.frame, seq } as TurnFrame,
    json: `${template.head}${seq}${template.tail}`,
  };
}

/** A frame as read back from Redis (log or channel): parsed once, its JSON kept as is. */
export function parsePublished(json: string): PublishedFrame {
  return { frame: JSON.parse(json) as TurnFrame, json };
}
