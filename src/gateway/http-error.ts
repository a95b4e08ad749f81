import type { FastifyReply } from 'fastify';
import { errorBody, httpStatus, type ProtocolError } from '../protocol/errors.ts';

/** Answers an HTTP request with a protocol error: the table's status and `{error: body}`. */
export function sendHttpError(reply: FastifyReply, error: ProtocolError): FastifyReply {
  return reply.code(httpStatus(error.code)).send({ error: errorBody(error) });
}
