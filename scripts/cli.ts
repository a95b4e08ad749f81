/** What the command-line scripts share: their options, or a clear exit. */

/** A mistake on the command line: the script names it and exits 2. */
export class UsageError extends Error {}

/**
 * The script's options from `process.argv`, or its usage printed on `--help` (exit 0), or
 * its mistake with a pointer to `--help` (exit 2). `parse` throws UsageError for a mistake.
 */
export function optionsOrExit<T>(
  script: string,
  parse: (argv: string[]) => T | 'help',
  usage: () => string,
): T {
  try {
    const options = parse(process.argv.slice(2));
    if (options !== 'help') return options;
    process.stdout.write(usage());
    process.exit(0);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`${script}: ${error.message} See npm run ${script} -- --help\n`);
    process.exit(2);
  }
}
