/**
 * The REST routes the page calls beside its socket (docs/protocol.md "HTTP routes"): the
 * conversation list and delete. The token goes as a Bearer header; an error is the
 * protocol's `{error: {code, message, retryable}}`, thrown as an ApiError.
 */

/** One conversation of `GET /v1/conversations`. */
export interface ConversationEntry {
  id: string;
  title: string;
  model: string;
  agent: string | null;
  createdAt: string;
  updatedAt: string;
  runningTurnId: string | null;
}

export interface ConversationPage {
  conversations: ConversationEntry[];
  /** The cursor of the next (older) page, or null on the last one. */
  next: string | null;
}

/** A refused or failed REST call, with the protocol's error code when the gateway sent one. */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;

  constructor(status: number, code: string, message: string) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
  }
}

export class Api {
  readonly #token: string;

  constructor(token: string) {
    this.#token = token;
  }

  /** The caller's conversations, newest activity first; `before`: a previous page's `next`. */
  async conversations(before?: string | null, limit = 50): Promise<ConversationPage> {
    const query = new URLSearchParams({ limit: String(limit) });
    if (before) query.set('before', before);
    const response = await this.#fetch(`/v1/conversations?${query}`);
    return (await response.json()) as ConversationPage;
  }

  /** Deletes a conversation; `turn_in_progress` (409) while one of its turns runs. */
  async deleteConversation(id: string): Promise<void> {
    await this.#fetch(`/v1/conversations/${encodeURIComponent(id)}`, { method: 'DELETE' });
  }

  async #fetch(path: string, init: RequestInit = {}): Promise<Response> {
    const headers: Record<string, string> = this.#token
      ? { authorization: `Bearer ${this.#token}` }
      : {};
    let response: Response;
    try {
      response = await fetch(path, { ...init, headers });
    } catch (error) {
      throw new ApiError(
        0,
        'network',
        `The gateway cannot be reached: ${(error as Error).message}`,
      );
    }
    if (response.ok) return response;
    let body: { error?: { code?: string; message?: string } } = {};
    try {
      body = (await response.json()) as typeof body;
    } catch {
      // Not the gateway's JSON (a proxy's page): the status says enough.
    }
    throw new ApiError(
      response.status,
      body.error?.code ?? `http_${response.status}`,
      body.error?.message ?? `The gateway answered ${response.status}.`,
    );
  }
}
