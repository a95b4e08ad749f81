/**
 * agentgate's client library (`agentgate/client`): one module for the web page, the load
 * test and users' code. It runs in browsers and in Node (pass `ws` as `WebSocket` on Node
 * 20) and imports nothing at run time. docs/client.md describes the API.
 */
export {
  backoffDelay,
  Client,
  type ClientEvents,
  type ConnectionState,
  type ConnectOptions,
  connect,
  type ReconnectOptions,
  type StateChange,
} from './client.ts';
export { AgentgateError, type ClientErrorCode, type CloseInfo } from './errors.ts';
export type * from './frames.ts';
export { isTurnFrame, TURN_FRAME_TYPES } from './frames.ts';
export type { TokenPlacement, WebSocketConstructor, WebSocketLike } from './socket.ts';
export type { ChatOptions, Turn } from './turn.ts';
export type { Resync, SubscribeOptions, Watch, WatchItem } from './watch.ts';
