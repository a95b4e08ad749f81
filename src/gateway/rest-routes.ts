import type { FastifyInstance, FastifyReply } from 'fastify';
import type { ChatModels } from '../agent/chat-models.ts';
import { ProtocolError } from '../protocol/errors.ts';
import type { Conversations } from './conversations.ts';
import { sendHttpError } from './http-error.ts';
import { decodeCursor, encodeCursor } from './list-cursor.ts';
import { type ProbeDeps, registerProbeRoutes } from './probe-routes.ts';

export interface RestDeps extends ProbeDeps {
  readonly models: ChatModels;
  readonly conversations: Conversations;
}

/** Conversations per page of `GET /v1/conversations`: by default, and at most. */
export const LIST_LIMIT = { default: 20, max: 100 } as const;

/** `/health`, `/ready`, `/metrics`, `/v1/models` and the conversation routes. */
export function registerRestRoutes(app: FastifyInstance, deps: RestDeps): void {
  registerProbeRoutes(app, deps);

  app.get('/v1/models', async () => ({
    models: deps.models.entries.map((m, i) => ({
      id: m.id,
      label: m.label,
      region: m.region,
      kind: m.kind,
      default: i === 0,
    })),
  }));

  app.get<{ Querystring: { limit?: unknown; before?: unknown } }>(
    '/v1/conversations',
    async (request, reply) => {
      const { limit: rawLimit, before: rawBefore } = request.query;
      const limit = rawLimit === undefined ? LIST_LIMIT.default : wholeNumber(rawLimit);
      if (limit === undefined || limit < 1 || limit > LIST_LIMIT.max) {
        return sendHttpError(
          reply,
          new ProtocolError(
            'bad_frame',
            `limit must be a whole number from 1 to ${LIST_LIMIT.max}.`,
          ),
        );
      }
      const before = typeof rawBefore === 'string' ? decodeCursor(rawBefore) : undefined;
      if (rawBefore !== undefined && !before) {
        return sendHttpError(
          reply,
          new ProtocolError('bad_frame', 'before must be the next cursor of a previous page.'),
        );
      }
      try {
        const page = await deps.conversations.list(request.userId, {
          limit,
          ...(before ? { before } : {}),
        });
        return {
          conversations: page.conversations,
          next: page.next ? encodeCursor(page.next) : null,
        };
      } catch (error) {
        return sendError(reply, error);
      }
    },
  );

  app.get<{ Params: { id: string }; Querystring: { limit?: string } }>(
    '/v1/conversations/:id/messages',
    async (request, reply) => {
      const limit = request.query.limit === undefined ? undefined : Number(request.query.limit);
      if (limit !== undefined && (!Number.isInteger(limit) || limit < 1)) {
        return sendHttpError(
          reply,
          new ProtocolError('bad_frame', 'limit must be a whole number ≥ 1.'),
        );
      }
      try {
        await deps.conversations.access(request.userId, request.params.id);
        const messages = await deps.conversations.history(request.params.id, limit);
        return { conversationId: request.params.id, messages };
      } catch (error) {
        return sendError(reply, error);
      }
    },
  );

  app.delete<{ Params: { id: string } }>('/v1/conversations/:id', async (request, reply) => {
    try {
      await deps.conversations.access(request.userId, request.params.id);
      await deps.conversations.delete(request.params.id);
      return reply.code(204).send();
    } catch (error) {
      return sendError(reply, error);
    }
  });
}

/** A query value of digits only (`10`, not `1e1`, ` 10` or `10&limit=11`); else undefined. */
function wholeNumber(value: unknown): number | undefined {
  return typeof value === 'string' && /^[0-9]{1,6}$/.test(value) ? Number(value) : undefined;
}

/** Another user's conversation is not revealed to exist over REST: forbidden is 404. */
function sendError(reply: FastifyReply, error: unknown) {
  if (!(error instanceof ProtocolError)) throw error;
  return sendHttpError(
    reply,
    error.code === 'forbidden' ? new ProtocolError('not_found', 'No such conversation.') : error,
  );
}
