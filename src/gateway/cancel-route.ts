import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { ClientConversationId, type SseAdapters } from './sse-adapters.ts';
import type { TurnStreams } from './turn-streams.ts';

/** `POST` here cancels the conversation's running turn, for clients with no socket. */
export const CANCEL_ROUTE = '/v1/conversations/:id/cancel';

/** The optional body: `turnId` cancels only that turn (not one started after it). */
const CancelRequest = z.strictObject({ turnId: z.string().min(1).max(200).optional() }).optional();

/**
 * `POST /v1/conversations/:id/cancel`: the WebSocket `cancel` frame over HTTP, so that an
 * AI SDK `stop()` or an AG-UI abort can stop the turn and not only close its stream (which
 * never cancels). 202 `{conversationId, turnId}` when a running turn was asked to stop (its
 * streams then end as cancelled), 204 when none runs (or not the `turnId` given). It is an
 * adapter route: the same auth, origin checks, CORS and rate limit as the streams it stops.
 */
export function registerCancelRoute(
  app: FastifyInstance,
  adapters: SseAdapters,
  streams: TurnStreams,
): void {
  app.post<{ Params: { id: string } }>(
    CANCEL_ROUTE,
    adapters.routeOptions,
    async (request, reply) => {
      try {
        const conversationId = adapters.parse(
          ClientConversationId,
          request.params.id,
          'a conversation id',
        );
        const body = adapters.parse(CancelRequest, request.body, 'a cancel request');
        const turnId = await streams.cancel(request.userId, conversationId, body?.turnId);
        if (turnId === undefined) return reply.code(204).send();
        return reply.code(202).send({ conversationId, turnId });
      } catch (error) {
        return adapters.refuse(reply, error);
      }
    },
  );
}
