/**
 * The agentgate web page. It talks to the gateway through the project's client library
 * (src/client: one socket, reconnects, resumes every watched conversation with `afterSeq`)
 * and shows one conversation at a time, its id in the URL hash. Opening a stored
 * conversation loads its `history`, and replays a turn still running from its start; every
 * turn frame after that comes from one watch of the conversation, whichever tab sent the
 * chat. The sidebar lists the user's conversations (conversations.ts).
 */

import {
  AgentgateError,
  type ChatOptions,
  Client,
  type PendingApproval,
  type ReadyFrame,
  type StateChange,
  type TurnFrame,
  type Watch,
  type WatchItem,
} from '../../src/client/index.ts';
import { Api } from './api.ts';
import { ConversationList } from './conversations.ts';
import { byId } from './dom.ts';
import type { Usage } from './format.ts';
import { conversationFromHash, setHash } from './hash.ts';
import { initialToken, saveToken } from './token.ts';
import { type StoredMessage, Transcript } from './transcript.ts';

const EMPTY = 'Ask something. Try “what time is it in Tokyo?” or “what is (12+30)*2?”.';
const RETRY_MS = 2000;

const ui = {
  status: byId('status'),
  model: byId<HTMLSelectElement>('model'),
  agent: byId<HTMLSelectElement>('agent'),
  sidebarToggle: byId<HTMLButtonElement>('sidebar-toggle'),
  backdrop: byId<HTMLButtonElement>('drawer-backdrop'),
  newConversation: byId<HTMLButtonElement>('new-conversation'),
  tokenPanel: byId<HTMLDetailsElement>('token-panel'),
  tokenForm: byId<HTMLFormElement>('token-form'),
  token: byId<HTMLInputElement>('token'),
  transcriptRoot: byId('transcript'),
  composer: byId<HTMLFormElement>('composer'),
  message: byId<HTMLTextAreaElement>('message'),
  send: byId<HTMLButtonElement>('send'),
  stop: byId<HTMLButtonElement>('stop'),
  conversation: byId('conversation'),
};

const transcript = new Transcript(ui.transcriptRoot, (answer) => {
  if (!shown) return Promise.reject(new Error('No conversation is shown.'));
  return client.approve(shown.id, answer.toolCallId, answer.decision, answer.reason);
});
// A scrolling region must be reachable by keyboard to be scrolled (set here: linters
// flag tabindex on a non-interactive element in HTML).
ui.transcriptRoot.tabIndex = 0;

const list = new ConversationList(
  {
    list: byId('conversation-list'),
    more: byId<HTMLButtonElement>('more-conversations'),
    status: byId('list-status'),
  },
  {
    open(id) {
      closeDrawer();
      if (id !== shown?.id && connected) void openStored(id);
    },
    deleted(id) {
      if (id === shown?.id) newConversation();
    },
    changed: () => render(),
  },
);

/**
 * The conversation shown. Async steps check `closed` after each await: the person may have
 * switched to another conversation meanwhile.
 */
class Shown {
  readonly id: string;
  watch: Watch | null = null;
  closed = false;
  /** `loading` until history and the replay of a running turn are in; then `live`. */
  phase: 'loading' | 'live' = 'loading';
  /** Turns drawn from history: their frames (in a replay) are not drawn again. */
  historyTurns = new Set<string>();
  /** Newest seq taken from the watch. */
  lastSeq = 0;
  runningTurnId: string | null = null;
  /** It has had a turn (so `chat.agent` no longer chooses its agent). */
  hasTurns = false;
  /** Its agent, once a turn-start or the list says. */
  agent: string | null = null;
  stopping = false;
  /**
   * `subscribed.pendingApprovals` of the running turn: shown once every frame up to that
   * subscribed's lastSeq is (the replay before it may show them already), before newer ones.
   */
  pending: { untilSeq: number; requests: PendingApproval[] } | null = null;

  constructor(id: string) {
    this.id = id;
  }

  close(): void {
    this.closed = true;
    this.watch?.unsubscribe();
    this.watch = null;
  }
}

let token = initialToken();
ui.token.value = token;
let client: Client;
let connected = false;
let shown: Shown | null = null;
/** The chat sent and not yet started (its turn-start clears the box) or refused. */
let pendingChat: { requestId: string; conversationId: string } | null = null;
/** Conversations this page saw a turn of: a `ready` conversation that has one is used. */
const used = new Set<string>();

// ---- the connection -------------------------------------------------------------------

function wsUrl(): string {
  return `${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}/v1/ws`;
}

/** A new client (on start, a new token, or for a new conversation): the old one closes. */
function startClient(): void {
  void client?.close();
  connected = false;
  const next = new Client({ url: wsUrl(), ...(token ? { token } : {}) });
  client = next;
  list.setApi(new Api(token));
  next.on('state', (change) => {
    if (client === next) onState(change);
  });
  next.on('error', (error) => {
    if (client === next) transcript.notice(error);
  });
}

function onState(change: StateChange): void {
  connected = change.state === 'open';
  switch (change.state) {
    case 'connecting':
      showStatus('connecting', 'Connecting…');
      break;
    case 'reconnecting':
      showStatus(
        'offline',
        `Disconnected — retrying in ${Math.ceil((change.delayMs ?? 0) / 1000)} s`,
      );
      break;
    case 'open':
      onOpen(client.ready);
      break;
    case 'closed': {
      const code = change.error?.code;
      if (code === 'unauthorized') {
        showStatus('auth', token ? 'The token was refused' : 'This gateway needs a token');
        ui.tokenPanel.open = true;
      } else if (code === 'forbidden') {
        showStatus('auth', 'The gateway refuses pages from this origin');
      } else if (change.error) {
        showStatus('offline', `Disconnected: ${change.error.message}`);
      }
      break;
    }
  }
  render();
}

function onOpen(ready: ReadyFrame): void {
  showStatus('online', ready.userId === 'anonymous' ? 'Connected' : `Connected as ${ready.userId}`);
  fillModels(ready);
  fillAgents(ready);
  void list.refresh();
  if (!shown) {
    const hashId = conversationFromHash();
    if (hashId) void openStored(hashId);
    else showFresh(ready.conversationId);
  } else if (!shown.hasTurns && shown.phase === 'live' && shown.id !== ready.conversationId) {
    // Nothing happened in the conversation shown: take this session's fresh one.
    showFresh(ready.conversationId);
  }
}

// ---- conversations ----------------------------------------------------------------------

function replaceShown(id: string): Shown {
  shown?.close();
  pendingChat = null;
  const next = new Shown(id);
  shown = next;
  list.setCurrent(id);
  return next;
}

/** Shows a conversation that has no turn yet (a session's `ready` one). */
function showFresh(id: string, notice?: string): void {
  const view = replaceShown(id);
  setHash(null);
  list.setCurrent(null);
  transcript.clear(EMPTY);
  if (notice) transcript.notice(notice);
  view.phase = 'live';
  const watch = client.subscribe(id);
  view.watch = watch;
  void consume(view, watch);
  render();
}

/**
 * Opens a stored conversation: subscribe (to learn where it stands), then its history;
 * a turn still running is not in history yet, so it is replayed from the oldest frame the
 * gateway retains, and frames of turns history holds are skipped.
 */
async function openStored(id: string): Promise<void> {
  const view = replaceShown(id);
  transcript.clear('Loading conversation…');
  render();
  try {
    let watch = client.subscribe(id);
    view.watch = watch;
    let subscribed = await watch.subscribed;
    const messages = (await client.history(id)) as StoredMessage[];
    if (view.closed) return;
    // Where the watch's frames start: after `lastSeq`, or from the replay's `afterSeq`.
    let from = subscribed.lastSeq;
    if (subscribed.runningTurnId) {
      watch.unsubscribe();
      from = Math.max(0, subscribed.firstRetainedSeq - 1);
      watch = client.subscribe(id, { afterSeq: from });
      view.watch = watch;
      subscribed = await watch.subscribed;
      if (view.closed) return;
      from = Math.min(from, subscribed.lastSeq);
    }
    transcript.clear(messages.length ? '' : EMPTY);
    transcript.history(messages);
    view.historyTurns = new Set(messages.map((message) => message.turnId));
    view.hasTurns = messages.length > 0 || subscribed.lastSeq > 0;
    view.runningTurnId = subscribed.runningTurnId;
    view.lastSeq = from;
    view.pending = {
      untilSeq: subscribed.lastSeq,
      requests: subscribed.pendingApprovals.filter((r) => r.turnId === subscribed.runningTurnId),
    };
    view.agent = list.entry(id)?.agent ?? null;
    if (view.hasTurns) used.add(id);
    view.phase = 'live';
    setHash(id);
    showPendingApprovals(view);
    render();
    void consume(view, watch);
  } catch (error) {
    if (view.closed) return;
    cannotOpen(view, error);
  }
}

/** A conversation that cannot be opened or watched any more: start afresh, or try again. */
function cannotOpen(view: Shown, error: unknown): void {
  const e = error instanceof AgentgateError ? error : undefined;
  // The client stopped (closed, or the token was refused): its state says why.
  if (e?.code === 'connection_closed' || client.state === 'closed') return;
  if (e?.retryable) {
    transcript.notice(e);
    setTimeout(() => {
      if (shown === view && connected) void openStored(view.id);
    }, RETRY_MS);
    return;
  }
  const why = error instanceof Error ? error.message : String(error);
  showFresh(client.ready.conversationId, `Conversation ${view.id} could not be opened: ${why}`);
}

/** Draws what the watch delivers until it ends or fails. */
async function consume(view: Shown, watch: Watch): Promise<void> {
  try {
    for await (const item of watch) {
      if (view.closed || view.watch !== watch) return;
      onItem(view, item);
      // A token changes no control: only the text, which draws itself.
      if (item.type !== 'token') render();
    }
  } catch (error) {
    if (view.closed || view.watch !== watch) return;
    cannotOpen(view, error);
    render();
  }
}

function onItem(view: Shown, item: WatchItem): void {
  if (item.type === 'resync') {
    // Frames were lost (the gateway no longer had them): draw the stored history again.
    transcript.clear(item.messages.length ? '' : EMPTY);
    transcript.history(item.messages as StoredMessage[]);
    view.historyTurns = new Set(item.messages.map((message) => message.turnId));
    if (item.lastSeq !== undefined) view.lastSeq = item.lastSeq;
    return;
  }
  onTurnFrame(view, item);
}

function onTurnFrame(view: Shown, frame: TurnFrame): void {
  if (view.pending && frame.seq > view.pending.untilSeq) showPendingApprovals(view);
  view.lastSeq = Math.max(view.lastSeq, frame.seq);
  if (!view.historyTurns.has(frame.turnId)) drawTurnFrame(view, frame);
  showPendingApprovals(view);
}

function drawTurnFrame(view: Shown, frame: TurnFrame): void {
  if (frame.type === 'turn-start') transcript.user(frame.userMessage.content);
  const turn = transcript.turn(frame.turnId);
  switch (frame.type) {
    case 'turn-start':
      view.runningTurnId = frame.turnId;
      view.hasTurns = true;
      view.agent = frame.agent;
      used.add(view.id);
      setHash(view.id);
      list.setCurrent(view.id);
      if (pendingChat && frame.requestId === pendingChat.requestId) {
        pendingChat = null;
        ui.message.value = '';
      }
      void list.refresh();
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
    case 'turn-end': {
      // `costUsd` is priced by gateways that know the model's prices; shown when present.
      const extra = frame as { usage: Usage; costUsd?: number };
      turn.end({ ...frame, usage: extra.usage, costUsd: extra.costUsd });
      if (view.runningTurnId === frame.turnId) view.runningTurnId = null;
      view.stopping = false;
      void list.refresh();
      break;
    }
  }
}

/** Shows the cards `subscribed` listed as waiting, once the frames before them are drawn. */
function showPendingApprovals(view: Shown): void {
  const pending = view.pending;
  if (!pending || view.phase !== 'live' || view.lastSeq < pending.untilSeq) return;
  view.pending = null;
  for (const request of pending.requests) transcript.turn(request.turnId).approvalRequest(request);
}

/** Shows a conversation with no turn: this session's fresh one, or a new session's. */
function newConversation(): void {
  closeDrawer();
  if (!connected) return;
  const freshId = client.ready.conversationId;
  if (!used.has(freshId)) {
    if (shown?.id !== freshId) showFresh(freshId);
  } else {
    // This session's fresh conversation is taken: a new session brings a new one.
    shown?.close();
    shown = null;
    setHash(null);
    list.setCurrent(null);
    transcript.clear(EMPTY);
    startClient();
  }
  render();
  ui.message.focus();
}

// ---- composer and controls ----------------------------------------------------------------

function canChat(): boolean {
  return (
    connected &&
    shown !== null &&
    shown.phase === 'live' &&
    shown.runningTurnId === null &&
    pendingChat === null
  );
}

function sendChat(): void {
  const content = ui.message.value.trim();
  if (!content || !canChat() || !shown) return;
  const view = shown;
  const options: ChatOptions = { conversationId: view.id };
  if (ui.model.value) options.model = ui.model.value;
  if (!view.hasTurns && ui.agent.value) options.agent = ui.agent.value;
  const turn = client.chat(content, options);
  const chat = { requestId: turn.requestId, conversationId: view.id };
  pendingChat = chat;
  let started = false;
  turn.turnId.then(
    () => {
      started = true;
      if (pendingChat === chat) {
        pendingChat = null;
        ui.message.value = '';
      }
      render();
    },
    () => {},
  );
  turn.end.catch((error: unknown) => {
    if (started || pendingChat !== chat) return;
    pendingChat = null;
    if (!(error instanceof AgentgateError) || error.code !== 'connection_closed') {
      transcript.notice(
        error instanceof AgentgateError
          ? error
          : { code: 'internal', message: String(error), hints: [] },
      );
    }
    render();
  });
  render();
}

function stopTurn(): void {
  if (!shown?.runningTurnId || !connected) return;
  const view = shown;
  view.stopping = true;
  client.cancel(view.id).catch((error: unknown) => {
    view.stopping = false;
    if (error instanceof AgentgateError) transcript.notice(error);
    render();
  });
  render();
}

function fillModels(ready: ReadyFrame): void {
  const previous = ui.model.value;
  // The region tells models apart only when they are not all in the same one.
  const regions = new Set(ready.models.map((model) => model.region));
  ui.model.replaceChildren(
    ...ready.models.map((model) => {
      const label = regions.size > 1 ? `${model.label} (${model.region})` : model.label;
      const option = new Option(label, model.id);
      option.title = model.id;
      option.defaultSelected = model.default;
      return option;
    }),
  );
  if (ready.models.some((model) => model.id === previous)) ui.model.value = previous;
}

function fillAgents(ready: ReadyFrame): void {
  const previous = ui.agent.value;
  ui.agent.replaceChildren(
    ...ready.agents.map((agent) => {
      const option = new Option(agent.id, agent.id);
      option.title = agent.description;
      option.defaultSelected = agent.default;
      return option;
    }),
  );
  if (ready.agents.some((agent) => agent.id === previous)) ui.agent.value = previous;
}

/**
 * The agent picker chooses the agent of a conversation's first turn; afterwards it shows
 * the conversation's agent, which later chats cannot change (docs/protocol.md).
 */
function renderAgent(): void {
  const view = shown;
  const fixed = view?.hasTurns ? (view.agent ?? list.entry(view.id)?.agent ?? null) : null;
  ui.agent.querySelector('option[data-unlisted]')?.remove();
  if (view?.hasTurns) {
    if (fixed && ![...ui.agent.options].some((option) => option.value === fixed)) {
      const option = new Option(fixed, fixed);
      option.dataset.unlisted = '';
      ui.agent.append(option);
    }
    if (fixed) ui.agent.value = fixed;
    ui.agent.disabled = true;
    ui.agent.title = fixed ? `This conversation's agent: ${fixed}` : "This conversation's agent";
  } else {
    ui.agent.disabled = !connected;
    ui.agent.title = 'The agent of this conversation (chosen by its first message)';
  }
}

function showStatus(kind: string, text: string): void {
  ui.status.dataset.state = kind;
  ui.status.textContent = text;
}

/** Brings the controls in line with the state. */
function render(): void {
  const running = shown?.runningTurnId ?? null;
  const busy = running !== null || pendingChat !== null;
  const hadFocus = document.activeElement === ui.message;
  const chat = canChat();
  ui.message.disabled = !chat;
  ui.send.disabled = !chat;
  ui.stop.disabled = !connected || running === null || shown?.stopping === true;
  ui.stop.textContent = shown?.stopping ? 'Stopping…' : 'Stop';
  ui.model.disabled = !connected;
  ui.newConversation.disabled = !connected;
  renderAgent();
  ui.transcriptRoot.setAttribute('aria-busy', String(busy));
  ui.conversation.textContent = shown ? `Conversation ${shown.id}` : '';
  if (!ui.message.disabled && (hadFocus || document.activeElement === document.body)) {
    ui.message.focus();
  }
}

// ---- the drawer (narrow screens) ------------------------------------------------------------

function openDrawer(): void {
  document.body.dataset.drawer = 'open';
  ui.sidebarToggle.setAttribute('aria-expanded', 'true');
  byId('new-conversation').focus();
}

function closeDrawer(): void {
  if (document.body.dataset.drawer !== 'open') return;
  delete document.body.dataset.drawer;
  ui.sidebarToggle.setAttribute('aria-expanded', 'false');
}

// ---- wiring ---------------------------------------------------------------------------------

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
ui.stop.addEventListener('click', stopTurn);
ui.newConversation.addEventListener('click', newConversation);
ui.sidebarToggle.addEventListener('click', () => {
  if (document.body.dataset.drawer === 'open') closeDrawer();
  else openDrawer();
});
ui.backdrop.addEventListener('click', closeDrawer);
addEventListener('keydown', (event) => {
  if (event.key === 'Escape') closeDrawer();
});
ui.tokenForm.addEventListener('submit', (event) => {
  event.preventDefault();
  ui.tokenPanel.open = false;
  token = ui.token.value.trim();
  saveToken(token);
  startClient();
  render();
});
addEventListener('hashchange', () => {
  const id = conversationFromHash();
  if (id && id !== shown?.id && connected) void openStored(id);
  render();
});
document.addEventListener('visibilitychange', () => {
  if (document.visibilityState === 'visible' && connected) void list.refresh();
});

startClient();
render();
