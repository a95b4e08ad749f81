import { config as loadDotenv } from 'dotenv';
import { type Config, ConfigError, loadConfig } from './config.ts';

/**
 * Reads `.env` (when present) under the real environment, then validates it all. A bad
 * configuration ends the process with every problem on stderr. For process entries only.
 */
export function configFromProcess(): Config {
  loadDotenv({ quiet: true });
  try {
    return loadConfig(process.env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`agentgate: ${error.message}\n`);
    process.exit(1);
  }
}

/**
 * Start-up work that reads files named by the configuration (agents, tool modules, skills,
 * MCP servers): a ConfigError it throws ends the process as a bad variable does.
 */
export async function orExitOnConfigError<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`agentgate: ${error.message}\n`);
    process.exit(1);
  }
}
