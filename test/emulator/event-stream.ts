/**
 * The AWS event-stream framing of ConverseStream responses, encoded with the same codec the SDK
 * decodes with, so a framing mistake here shows up as a decoding error in the client.
 */

import { EventStreamCodec } from '@smithy/eventstream-codec';

const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder();

// The codec takes its UTF-8 helpers as arguments; these are @smithy/util-utf8's contract.
const codec = new EventStreamCodec(
  (bytes: Uint8Array) => utf8Decoder.decode(bytes),
  (text: string) => utf8Encoder.encode(text),
);

/** One ConverseStream event before encoding: `:event-type` and its JSON payload. */
export interface StreamEvent {
  type: string;
  payload: Record<string, unknown>;
}

/** An event message: `:message-type` `event`, JSON body. */
export function encodeEvent(event: StreamEvent): Uint8Array {
  return codec.encode({
    headers: {
      ':message-type': { type: 'string', value: 'event' },
      ':event-type': { type: 'string', value: event.type },
      ':content-type': { type: 'string', value: 'application/json' },
    },
    body: utf8Encoder.encode(JSON.stringify(event.payload)),
  });
}

/** An exception message, e.g. `modelStreamErrorException`, that ends the stream. */
export function encodeException(exceptionType: string, message: string): Uint8Array {
  return codec.encode({
    headers: {
      ':message-type': { type: 'string', value: 'exception' },
      ':exception-type': { type: 'string', value: exceptionType },
      ':content-type': { type: 'string', value: 'application/json' },
    },
    body: utf8Encoder.encode(JSON.stringify({ message })),
  });
}
