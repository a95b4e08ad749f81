/**
 * Is what a client received exactly what the model said? The bench model's answer to every
 * turn is known in advance (benchText), so a chunk lost, doubled, reordered or altered
 * anywhere between the emulator and the client shows as a mismatch.
 */

function around(text: string, at: number): string {
  return JSON.stringify(text.slice(Math.max(0, at - 8), at + 8));
}

/** Where and how `got` first differs from `expected`; undefined when they are equal. */
export function difference(expected: string, got: string): string | undefined {
  if (expected === got) return undefined;
  let at = 0;
  while (at < expected.length && at < got.length && expected[at] === got[at]) at++;
  const lengths =
    got.length === expected.length
      ? `${got.length} characters as expected`
      : `${got.length} characters instead of ${expected.length}`;
  return `${lengths}, first difference at ${at}: expected …${around(expected, at)}…, got …${around(got, at)}…`;
}

/**
 * Why a turn's text is wrong, or undefined when it is right: the `token` texts joined must be
 * exactly `expected`, and so must `turn-end.text` when the system sends one.
 */
export function textMismatch(
  expected: string,
  tokens: string,
  endText: string | undefined,
): string | undefined {
  const inTokens = difference(expected, tokens);
  if (inTokens) return `tokens: ${inTokens}`;
  const inEnd = endText === undefined ? undefined : difference(expected, endText);
  return inEnd ? `turn-end.text: ${inEnd}` : undefined;
}
