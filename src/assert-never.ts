/** Ends a switch that covers every case: the compiler fails here when a case is added. */
export function assertNever(value: never): never {
  throw new Error(`Unexpected value: ${JSON.stringify(value)}`);
}
