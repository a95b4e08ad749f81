/** The Bedrock Runtime emulator's public surface, for tests and the launcher. */

export { BENCH_TOOL, type BenchShape, benchReply, benchText } from './bench-script.ts';
export { BEDROCK_ERROR_STATUS, type BedrockErrorName } from './errors.ts';
export { DEFAULT_BLOCKED_MESSAGE } from './guardrails.ts';
export { Emulator, type StartOptions, startEmulator } from './server.ts';
export type {
  Block,
  ConverseRequestBody,
  EmulatorOptions,
  ErrorReply,
  GuardrailIntervention,
  GuardrailPolicy,
  MessageReply,
  Operation,
  ReasoningBlock,
  RecordedRequest,
  RedactedReasoningBlock,
  Reply,
  StopReason,
  StreamExceptionName,
} from './types.ts';
