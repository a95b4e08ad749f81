import type { ChatModels } from '../agent/chat-models.ts';
import { ConfigError } from '../config/config.ts';
import type { AgentInfo } from '../protocol/frames.ts';
import { type AgentDefinition, readAgentsFile } from './agents-file.ts';

/** The agent every chat gets when there is no AGENTS_FILE. */
export const DEFAULT_AGENT: AgentDefinition = {
  id: 'default',
  description: 'A general assistant with every tool and skill of this gateway.',
};

/**
 * The agents this gateway offers, as every process knows them (gateways need no more to
 * admit a chat; workers build what runs them from the same definitions).
 */
export class AgentCatalog {
  readonly definitions: readonly AgentDefinition[];
  readonly default: AgentDefinition;
  /** The file they came from, for messages; undefined for the built-in default. */
  readonly file: string | undefined;

  constructor(definitions: readonly AgentDefinition[], defaultId: string, file?: string) {
    this.definitions = definitions;
    this.default = definitions.find((a) => a.id === defaultId) ?? definitions[0]!;
    this.file = file;
  }

  /**
   * The agents of AGENTS_FILE, or the one default agent. A model an agent names must be
   * one of the configured models.
   */
  static async load(file: string | undefined, models: ChatModels): Promise<AgentCatalog> {
    if (file === undefined) return new AgentCatalog([DEFAULT_AGENT], DEFAULT_AGENT.id);
    const contents = await readAgentsFile(file);
    const problems = contents.agents.flatMap((agent) =>
      agent.model === undefined || models.find(agent.model)
        ? []
        : [
            `AGENTS_FILE ${file}: agent "${agent.id}", field model: "${agent.model}" is not one of the configured models (${models.entries.map((m) => m.id).join(', ')})`,
          ],
    );
    if (problems.length > 0) throw new ConfigError(problems);
    return new AgentCatalog(contents.agents, contents.defaultId, file);
  }

  /** The agent with this id; the default when `id` is undefined. */
  find(id: string | undefined): AgentDefinition | undefined {
    return id === undefined ? this.default : this.definitions.find((a) => a.id === id);
  }

  /** `ready.agents`. */
  info(): AgentInfo[] {
    return this.definitions.map((a) => ({
      id: a.id,
      description: a.description,
      default: a === this.default,
    }));
  }

  /** Names the agent's field in a start-up problem. */
  where(agent: AgentDefinition, field: string): string {
    return `${this.file ? `AGENTS_FILE ${this.file}: ` : ''}agent "${agent.id}", field ${field}`;
  }
}
