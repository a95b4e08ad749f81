import { describe, expect, expectTypeOf, it } from 'vitest';
import type { z } from 'zod';
import type * as Client from '../../src/client/frames.ts';
import { TURN_FRAME_TYPES } from '../../src/client/frames.ts';
import { ERROR_CODES, type ErrorCode } from '../../src/protocol/errors.ts';
import * as Protocol from '../../src/protocol/frames.ts';

type Infer<T extends z.ZodType> = z.infer<T>;

// The client writes the protocol's frames out as plain types (no zod in a browser bundle).
// These hold them equal to the gateway's schemas: `tsc --noEmit` (npm test) fails on a drift.
describe('the client frame types', () => {
  it('are the types of the protocol schemas, frame by frame', () => {
    expectTypeOf<Client.ErrorCode>().toEqualTypeOf<ErrorCode>();
    expectTypeOf<Client.ChatFrame>().toEqualTypeOf<Infer<typeof Protocol.ChatFrame>>();
    expectTypeOf<Client.SubscribeFrame>().toEqualTypeOf<Infer<typeof Protocol.SubscribeFrame>>();
    expectTypeOf<Client.UnsubscribeFrame>().toEqualTypeOf<
      Infer<typeof Protocol.UnsubscribeFrame>
    >();
    expectTypeOf<Client.CancelFrame>().toEqualTypeOf<Infer<typeof Protocol.CancelFrame>>();
    expectTypeOf<Client.HistoryRequestFrame>().toEqualTypeOf<
      Infer<typeof Protocol.HistoryRequestFrame>
    >();
    expectTypeOf<Client.ApproveFrame>().toEqualTypeOf<Infer<typeof Protocol.ApproveFrame>>();
    expectTypeOf<Client.PingFrame>().toEqualTypeOf<Infer<typeof Protocol.PingFrame>>();
    expectTypeOf<Client.ClientFrame>().toEqualTypeOf<Protocol.ClientFrame>();

    expectTypeOf<Client.TurnStartFrame>().toEqualTypeOf<Infer<typeof Protocol.TurnStartFrame>>();
    expectTypeOf<Client.TokenFrame>().toEqualTypeOf<Infer<typeof Protocol.TokenFrame>>();
    expectTypeOf<Client.ReasoningFrame>().toEqualTypeOf<Infer<typeof Protocol.ReasoningFrame>>();
    expectTypeOf<Client.ToolStartFrame>().toEqualTypeOf<Infer<typeof Protocol.ToolStartFrame>>();
    expectTypeOf<Client.ToolEndFrame>().toEqualTypeOf<Infer<typeof Protocol.ToolEndFrame>>();
    expectTypeOf<Client.ApprovalRequestFrame>().toEqualTypeOf<
      Infer<typeof Protocol.ApprovalRequestFrame>
    >();
    expectTypeOf<Client.ApprovalResultFrame>().toEqualTypeOf<
      Infer<typeof Protocol.ApprovalResultFrame>
    >();
    expectTypeOf<Client.TurnEndFrame>().toEqualTypeOf<Infer<typeof Protocol.TurnEndFrame>>();
    expectTypeOf<Client.TurnErrorFrame>().toEqualTypeOf<Infer<typeof Protocol.TurnErrorFrame>>();
    expectTypeOf<Client.TurnFrame>().toEqualTypeOf<Protocol.TurnFrame>();

    expectTypeOf<Client.ErrorFrame>().toEqualTypeOf<Infer<typeof Protocol.ErrorFrame>>();
    expectTypeOf<Client.ReadyFrame>().toEqualTypeOf<Infer<typeof Protocol.ReadyFrame>>();
    expectTypeOf<Client.SubscribedFrame>().toEqualTypeOf<Infer<typeof Protocol.SubscribedFrame>>();
    expectTypeOf<Client.HistoryMessage>().toEqualTypeOf<Protocol.HistoryMessage>();
    expectTypeOf<Client.HistoryFrame>().toEqualTypeOf<Infer<typeof Protocol.HistoryFrame>>();
    expectTypeOf<Client.PongFrame>().toEqualTypeOf<Infer<typeof Protocol.PongFrame>>();
    expectTypeOf<Client.ServerFrame>().toEqualTypeOf<Protocol.ServerFrame>();
    expectTypeOf<Client.StopReason>().toEqualTypeOf<Protocol.StopReason>();
    expectTypeOf<Client.ApprovalDecision>().toEqualTypeOf<Protocol.ApprovalDecision>();
    expectTypeOf<Client.Usage>().toEqualTypeOf<Protocol.Usage>();
    expectTypeOf<Client.ModelInfo>().toEqualTypeOf<Protocol.ModelInfo>();
    expectTypeOf<Client.AgentInfo>().toEqualTypeOf<Protocol.AgentInfo>();
    expectTypeOf<Client.PendingApproval>().toEqualTypeOf<Protocol.PendingApproval>();
  });

  it('name every turn frame type the schemas have (the error frame aside)', () => {
    const schemaTypes = Protocol.TurnFrame.options.map((o) => o.shape.type.value);
    expect([...TURN_FRAME_TYPES].sort()).toEqual(schemaTypes.filter((t) => t !== 'error').sort());
    // The type-level ErrorCode list above is checked by tsc; this keeps the table honest too.
    const codes: Record<Client.ErrorCode, true> = Object.fromEntries(
      Object.keys(ERROR_CODES).map((c) => [c, true]),
    ) as Record<Client.ErrorCode, true>;
    expect(Object.keys(codes).sort()).toEqual(Object.keys(ERROR_CODES).sort());
  });
});
