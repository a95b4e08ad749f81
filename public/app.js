/**
 * The agentgate web page: one WebSocket (see docs/protocol.md), one conversation shown at a
 * time, its id in the URL hash. A reload loads the conversation with `history` and then
 * `subscribe`s; a reconnect resumes it with `subscribe {afterSeq: lastSeq}`.
 */
import { Connection, initialToken } from './connection.js';
import { conversationFromHash, setHash } from './hash.js';
import { Transcript } from './transcript.js';

const TURN_FRAMES = new Set([
  'turn-start',
  'token',
  'reasoning',
  'tool-start',
  'tool-end',
  'approval-request',
  'approval-result',
  'turn-end',
]);
const RETRY_MS = 2000;
const EMPTY = 'Ask something. Try “what time is it in Tokyo?” or “what is (12+30)*2?”.';

const $ = (id) => document.getElementById(id);
const ui = {
  status: $('status'),
  model: $('model'),
  newConversation: $('new-conversation'),
  tokenPanel: $('token-panel'),
  tokenForm: $('token-form'),
  token: $('token'),
  transcriptRoot: $('transcript'),
  composer: $('composer'),
  message: $('message'),
  send: $('send'),
  stop: $('stop'),
  conversation: $('conversation'),
};
const transcript = new Transcript(ui.transcriptRoot, { decide: sendApproval });
// A scrolling region must be reachable by keyboard to be scrolled (set here: linters
// flag tabindex on a non-interactive element in HTML).
ui.transcriptRoot.tabIndex = 0;

const state = {
  connected: false,
  /** `ready.conversationId` of the current socket, and whether a chat has used it. */
  freshId: null,
  freshUsed: false,
  /** The conversation shown; `exists` once it has had a turn (so it can be resumed). */
  conversationId: null,
  exists: false,
  /** Newest turn-frame seq rendered: the resume point. */
  lastSeq: 0,
  runningTurnId: null,
  /**
   * What the next answers mean. `load`: history, then subscribe, pending. `catch-up`: the
   * re-subscribe that replays a running turn from its start is pending. `resume`: a
   * subscribe with afterSeq is pending. `reload`: history after a replay_gap is pending.
   */
  phase: 'idle',
  /** While catching up: the running turn, and the seq up to which history already holds. */
  catchUp: null,
  lastSubscribed: null,
  /** Turn frames that arrive while `reload` waits for its history. */
  held: [],
  pendingRequestId: null,
  /** Approval cards whose answer is on its way, by the `approve` frame's requestId. */
  approvals: new Map(),
  /**
   * `subscribed.pendingApprovals` of the running turn, waiting to be shown once every frame
   * up to that subscribed's `lastSeq` is (the replay before it may show them already).
   */
  pendingApprovals: null,
  stopping: false,
  wantFresh: false,
};

const token = initialToken();
const connection = new Connection({
  token,
  onFrame: handleFrame,
  onStatus: (kind, text) => {
    state.connected = false;
    showStatus(kind, text);
    if (kind === 'auth') ui.tokenPanel.open = true;
    render();
  },
});
ui.token.value = token;

// ---- frames ------------------------------------------------------------------------

function handleFrame(frame) {
  if (TURN_FRAMES.has(frame.type) || (frame.type === 'error' && frame.turnId)) {
    onTurnFrame(frame);
  } else if (frame.type === 'ready') onReady(frame);
  else if (frame.type === 'history') onHistory(frame);
  else if (frame.type === 'subscribed') onSubscribed(frame);
  else if (frame.type === 'error') onError(frame);
  render();
}

function onReady(ready) {
  state.connected = true;
  state.freshId = ready.conversationId;
  state.freshUsed = false;
  state.pendingRequestId = null;
  state.stopping = false;
  // Answers sent on the old socket may not have arrived: their cards may answer again (the
  // replay of the resumed conversation settles those that did).
  for (const card of state.approvals.values()) {
    card.refused({ code: 'disconnected', message: 'The connection dropped: answer again.' });
  }
  state.approvals.clear();
  showStatus('online', ready.userId === 'anonymous' ? 'Connected' : `Connected as ${ready.userId}`);
  fillModels(ready.models);
  const hashId = state.conversationId === null ? conversationFromHash() : null;
  if (state.wantFresh) {
    showConversation(ready.conversationId);
  } else if (hashId) {
    load(hashId);
  } else if (state.phase === 'load' || state.phase === 'reload') {
    // The socket dropped while loading: load again.
    load(state.conversationId);
  } else if (state.exists) {
    state.phase = 'resume';
    connection.send({
      type: 'subscribe',
      conversationId: state.conversationId,
      afterSeq: state.lastSeq,
    });
  } else {
    // Nothing to resume: take this socket's fresh conversation.
    showConversation(ready.conversationId);
  }
  state.wantFresh = false;
}

function onHistory(frame) {
  if (frame.conversationId !== state.conversationId) return;
  transcript.clear(frame.messages.length ? '' : EMPTY);
  transcript.history(frame.messages);
  if (state.phase === 'load') {
    connection.send({ type: 'subscribe', conversationId: state.conversationId });
  } else if (state.phase === 'reload') {
    state.phase = 'live';
    showPendingApprovals();
    const held = state.held;
    state.held = [];
    for (const turnFrame of held) onTurnFrame(turnFrame);
  }
}

function onSubscribed(frame) {
  if (frame.conversationId !== state.conversationId) return;
  state.lastSubscribed = frame;
  state.pendingApprovals = pendingApprovalsOf(frame);
  if (state.phase === 'load') {
    state.exists = true;
    state.lastSeq = frame.lastSeq;
    state.runningTurnId = frame.runningTurnId;
    setHash(frame.conversationId);
    if (frame.runningTurnId) {
      // The running turn is not in history yet: replay what is retained and render only
      // frames newer than history (frames of that turn, or after it).
      const afterSeq = Math.max(0, frame.firstRetainedSeq - 1);
      state.catchUp = { turnId: frame.runningTurnId, historySeq: frame.lastSeq };
      state.phase = 'catch-up';
      connection.send({ type: 'subscribe', conversationId: frame.conversationId, afterSeq });
      state.lastSeq = afterSeq;
    } else {
      state.phase = 'live';
    }
  } else if (state.phase === 'catch-up' || state.phase === 'resume') {
    state.phase = 'live';
    if (frame.runningTurnId === null && state.lastSeq >= frame.lastSeq) state.runningTurnId = null;
  } else {
    // Subscribed by our own chat: frames from here on are new.
    state.lastSeq = Math.max(state.lastSeq, frame.lastSeq);
  }
  showPendingApprovals();
}

function pendingApprovalsOf(subscribed) {
  const requests = subscribed.pendingApprovals ?? [];
  return {
    untilSeq: subscribed.lastSeq,
    requests: requests.filter((request) => request.turnId === subscribed.runningTurnId),
  };
}

/**
 * Shows the cards a `subscribed` listed as pending, once the page is live and has rendered
 * every frame up to that subscribed's lastSeq, before any newer frame (which may decide
 * them). A card the replay showed already is not shown twice (TurnView.approvalRequest).
 */
function showPendingApprovals() {
  const pending = state.pendingApprovals;
  if (!pending || state.phase !== 'live' || state.lastSeq < pending.untilSeq) return;
  state.pendingApprovals = null;
  for (const request of pending.requests) transcript.turn(request.turnId).approvalRequest(request);
}

function onError(frame) {
  if (frame.requestId && frame.requestId === state.pendingRequestId) {
    state.pendingRequestId = null;
    transcript.notice(frame);
    return;
  }
  const card = frame.requestId ? state.approvals.get(frame.requestId) : undefined;
  if (card) {
    state.approvals.delete(frame.requestId);
    card.refused(frame);
    return;
  }
  if (frame.code === 'replay_gap' && state.lastSubscribed) {
    // Missed frames are gone: show the stored history, then go on live from lastSeq.
    state.phase = 'reload';
    state.held = [];
    state.lastSeq = state.lastSubscribed.lastSeq;
    state.runningTurnId = state.lastSubscribed.runningTurnId;
    // The history about to come clears the transcript: its pending cards come back after it.
    state.pendingApprovals = pendingApprovalsOf(state.lastSubscribed);
    connection.send({ type: 'history', conversationId: state.conversationId });
    return;
  }
  if (['load', 'resume', 'catch-up', 'reload'].includes(state.phase)) {
    // Loading or resuming failed. Gone (expired, deleted, another user's): start afresh.
    // A passing failure (rate_limited, unavailable): try again on a new socket.
    if (frame.retryable) {
      transcript.notice(frame);
      setTimeout(() => connection.reconnectNow(), RETRY_MS);
    } else {
      const missing = state.conversationId;
      showConversation(state.freshId);
      transcript.notice(`Conversation ${missing} could not be opened: ${frame.message}`);
    }
    return;
  }
  state.stopping = false;
  transcript.notice(frame);
}

function onTurnFrame(frame) {
  if (frame.conversationId !== state.conversationId) return;
  if (state.phase === 'reload') {
    state.held.push(frame);
    return;
  }
  // Frames sent before a pending replay are replayed again: wait for it.
  if (state.phase === 'catch-up' || state.phase === 'load') return;
  if (frame.seq <= state.lastSeq) return;
  state.lastSeq = frame.seq;
  showPendingApprovals();
  const catchUp = state.catchUp;
  if (catchUp && frame.turnId !== catchUp.turnId && frame.seq <= catchUp.historySeq) return;

  if (frame.type === 'turn-start') transcript.user(frame.userMessage.content);
  const turn = transcript.turn(frame.turnId);
  switch (frame.type) {
    case 'turn-start':
      state.runningTurnId = frame.turnId;
      state.exists = true;
      if (state.conversationId === state.freshId) state.freshUsed = true;
      setHash(state.conversationId);
      if (frame.requestId && frame.requestId === state.pendingRequestId) {
        state.pendingRequestId = null;
        ui.message.value = '';
      }
      break;
    case 'token':
      turn.text(frame.text);
      break;
    case 'reasoning':
      turn.reasoning(frame.text);
      break;
    case 'tool-start':
      turn.toolStart(frame);
      break;
    case 'tool-end':
      turn.toolEnd(frame);
      break;
    case 'approval-request':
      turn.approvalRequest(frame);
      break;
    case 'approval-result':
      turn.approvalResult(frame);
      break;
    case 'error':
      turn.error(frame);
      break;
    case 'turn-end':
      turn.end(frame);
      if (state.runningTurnId === frame.turnId) state.runningTurnId = null;
      if (catchUp?.turnId === frame.turnId) state.catchUp = null;
      state.stopping = false;
      break;
  }
}

// ---- conversations ------------------------------------------------------------------

function leaveCurrent() {
  if (state.conversationId && state.exists) {
    connection.send({ type: 'unsubscribe', conversationId: state.conversationId });
  }
  Object.assign(state, {
    exists: false,
    lastSeq: 0,
    runningTurnId: null,
    catchUp: null,
    lastSubscribed: null,
    held: [],
    pendingApprovals: null,
    stopping: false,
    phase: 'live',
  });
  state.approvals.clear();
}

/** Shows a conversation that has no turns yet (a socket's fresh one). */
function showConversation(id) {
  leaveCurrent();
  state.conversationId = id;
  setHash(null);
  transcript.clear(EMPTY);
}

/** Opens a stored conversation: history first, then subscribe (see onHistory/onSubscribed). */
function load(id) {
  leaveCurrent();
  state.conversationId = id;
  state.phase = 'load';
  transcript.clear('Loading conversation…');
  connection.send({ type: 'history', conversationId: id });
}

function newConversation() {
  if (!state.connected) return;
  if (!state.freshUsed && state.conversationId !== state.freshId) {
    showConversation(state.freshId);
  } else if (state.conversationId !== state.freshId || state.exists) {
    // This socket's fresh conversation is taken: a new socket brings a new one.
    leaveCurrent();
    state.wantFresh = true;
    connection.reconnectNow();
  }
  render();
  ui.message.focus();
}

// ---- composer and controls ----------------------------------------------------------

function sendChat() {
  const content = ui.message.value.trim();
  if (!content || !canChat()) return;
  const requestId = newRequestId();
  const frame = { type: 'chat', content, conversationId: state.conversationId, requestId };
  if (ui.model.value) frame.model = ui.model.value;
  if (connection.send(frame)) state.pendingRequestId = requestId;
  render();
}

/** Approve / Reject on a card; a refusal comes back as an `error` with the requestId. */
function sendApproval(card, { toolCallId, decision, reason }) {
  const requestId = newRequestId();
  const { conversationId } = state;
  const frame = { type: 'approve', conversationId, toolCallId, decision, requestId };
  if (reason) frame.reason = reason;
  if (!connection.send(frame)) return false;
  state.approvals.set(requestId, card);
  return true;
}

function newRequestId() {
  return `r${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`;
}

function canChat() {
  return (
    state.connected &&
    state.conversationId !== null &&
    state.runningTurnId === null &&
    state.pendingRequestId === null &&
    state.phase === 'live'
  );
}

function fillModels(models) {
  const previous = ui.model.value;
  // The region tells models apart only when they are not all in the same one.
  const regions = new Set(models.map((model) => model.region));
  ui.model.replaceChildren(
    ...models.map((model) => {
      const label = regions.size > 1 ? `${model.label} (${model.region})` : model.label;
      const option = new Option(label, model.id);
      option.title = model.id;
      option.defaultSelected = model.default;
      return option;
    }),
  );
  if (models.some((model) => model.id === previous)) ui.model.value = previous;
}

function showStatus(kind, text) {
  ui.status.dataset.state = kind;
  ui.status.textContent = text;
}

/** Brings the controls in line with the state. */
function render() {
  const busy = state.runningTurnId !== null || state.pendingRequestId !== null;
  const hadFocus = document.activeElement === ui.message;
  ui.message.disabled = !canChat();
  ui.send.disabled = !canChat();
  ui.stop.disabled = !state.connected || state.runningTurnId === null || state.stopping;
  ui.stop.textContent = state.stopping ? 'Stopping…' : 'Stop';
  ui.model.disabled = !state.connected;
  ui.newConversation.disabled = !state.connected;
  ui.transcriptRoot.setAttribute('aria-busy', String(busy));
  ui.conversation.textContent = state.conversationId ? `Conversation ${state.conversationId}` : '';
  if (!ui.message.disabled && (hadFocus || document.activeElement === document.body)) {
    ui.message.focus();
  }
}

ui.composer.addEventListener('submit', (event) => {
  event.preventDefault();
  sendChat();
});
ui.message.addEventListener('keydown', (event) => {
  if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    sendChat();
  }
});
ui.stop.addEventListener('click', () => {
  if (!state.runningTurnId) return;
  if (connection.send({ type: 'cancel', conversationId: state.conversationId })) {
    state.stopping = true;
  }
  render();
});
ui.newConversation.addEventListener('click', newConversation);
ui.tokenForm.addEventListener('submit', (event) => {
  event.preventDefault();
  ui.tokenPanel.open = false;
  connection.setToken(ui.token.value.trim());
});
addEventListener('hashchange', () => {
  const id = conversationFromHash();
  if (id && id !== state.conversationId && state.connected) load(id);
  render();
});

connection.connect();
render();
