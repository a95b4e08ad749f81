/** How a process entry names what could not listen and how its user picks another port. */
export interface ListenContext {
  /** What failed to listen, as the sentence's subject: "agentgate", "the Bedrock emulator". */
  readonly what: string;
  /** The variable that sets the port: PORT, EMULATOR_PORT. */
  readonly variable: string;
  /** The command to run again with another port: `npm start`, `npm run demo`. */
  readonly command: string;
}

/**
 * Why a server could not listen, in one line a person can act on: the address, the cause,
 * and the command to run with another port. Undefined for errors that are not about the
 * address, which the caller reports as they are.
 */
export function listenProblem(error: unknown, context: ListenContext): string | undefined {
  const e = error as (NodeJS.ErrnoException & { address?: string; port?: number }) | undefined;
  if (typeof e?.code !== 'string') return undefined;
  const port = e.port === undefined ? '' : `:${e.port}`;
  const where = e.address ? `${e.address}${port}` : 'its address';
  const retry = `${context.variable}=${(e.port ?? 3000) + 1} ${context.command}`;
  switch (e.code) {
    case 'EADDRINUSE':
      return `${context.what} cannot listen on ${where}: another process is using that port. Stop it, or pick another port: ${retry}`;
    case 'EACCES':
      return `${context.what} may not listen on ${where}: ports below 1024 need privileges. Pick another port: ${retry}`;
    case 'EADDRNOTAVAIL':
      return `${context.what} cannot listen on ${where}: ${e.address} is not an address of this machine. Set HOST to one of its addresses, or to 127.0.0.1.`;
    default:
      return undefined;
  }
}

/**
 * Runs `listen`. When it fails for a reason a person can fix (see {@link listenProblem}),
 * writes that one line to stderr, runs `cleanUp` and exits 1; other failures are thrown.
 */
export async function listenOrExit<T>(
  listen: () => Promise<T>,
  context: ListenContext,
  cleanUp: () => Promise<void> = async () => {},
): Promise<T> {
  try {
    return await listen();
  } catch (error) {
    const problem = listenProblem(error, context);
    if (!problem) throw error;
    process.stderr.write(`${problem}\n`);
    await cleanUp();
    process.exit(1);
  }
}
