import { spawn } from 'node:child_process';
import WebSocket from 'ws';
import { startEmulator } from './test/emulator/index.ts';

const REDIS_PORT = 6391;
const redisArgs = [
  '--port',
  String(REDIS_PORT),
  '--bind',
  '127.0.0.1',
  '--save',
  '',
  '--appendonly',
  'no',
  '--dir',
  '/tmp/repro',
];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const startRedis = () => spawn('redis-server', redisArgs, { stdio: 'ignore' });
let redis = startRedis();
await sleep(500);
const emulator = await startEmulator({ paceMs: 0 });
const env = {
  ...process.env,
  REDIS_URL: `redis://127.0.0.1:${REDIS_PORT}`,
  AWS_ENDPOINT_URL_BEDROCK_RUNTIME: emulator.url,
  AWS_ACCESS_KEY_ID: 'x',
  AWS_SECRET_ACCESS_KEY: 'y',
  AWS_EC2_METADATA_DISABLED: 'true',
  LOG_LEVEL: 'error',
  PORT: '3201',
};
const gw = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
  env: { ...env, RUN_WORKER: 'false' },
  stdio: 'inherit',
});
const wk = spawn(process.execPath, ['--import', 'tsx', 'src/worker.ts'], { env, stdio: 'inherit' });
await sleep(6000);

function client(): Promise<{ ws: WebSocket; frames: any[]; ready: any }> {
  return new Promise((resolve) => {
    const ws = new WebSocket('ws://127.0.0.1:3201/v1/ws');
    const frames: any[] = [];
    ws.on('message', (d) => {
      const f = JSON.parse(String(d));
      frames.push({ ...f, at: Date.now() });
      if (f.type === 'ready') resolve({ ws, frames, ready: f });
    });
    ws.on('close', (code) => frames.push({ type: 'closed', code, at: Date.now() }));
  });
}
const until = async (c: { frames: any[] }, test: (f: any) => boolean, ms = 60_000) => {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const f = c.frames.find(test);
    if (f) return f;
    await sleep(50);
  }
  return undefined;
};
const show = (f: any) =>
  `${f.type}${f.seq ? ` seq ${f.seq}` : ''}${f.code ? ` ${f.code}` : ''}${f.stopReason ? ` ${f.stopReason}` : ''}`;

// Item 2: a 10 s turn, Redis killed 2 s in and back without its data.
const long = Array.from({ length: 200 }, (_, i) => `w${i % 10} `).join('');
emulator.enqueue({ blocks: [{ text: long }], chunkChars: 4, delayMs: 50 });
const a = await client();
const b = await client();
b.ws.send(JSON.stringify({ type: 'subscribe', conversationId: a.ready.conversationId }));
a.ws.send(JSON.stringify({ type: 'chat', content: 'a long answer please' }));
await sleep(2000);
redis.kill('SIGKILL');
const killedAt = Date.now();
console.log('item 2: Redis killed 2 s into the turn');
await sleep(1500);
redis = startRedis();
const endA = await until(a, (f) => f.type === 'turn-end');
const endB = await until(b, (f) => f.type === 'turn-end');
console.log(
  `  socket A: ${a.frames.slice(-3).map(show).join(', ')}; turn-end ${endA ? `${((endA.at - killedAt) / 1000).toFixed(1)} s after the kill` : 'NEVER'}`,
);
console.log(
  `  socket B: ${b.frames.slice(-3).map(show).join(', ')}; turn-end ${endB ? `${((endB.at - killedAt) / 1000).toFixed(1)} s after the kill` : 'NEVER'}`,
);
await sleep(4000);
a.ws.send(JSON.stringify({ type: 'chat', content: 'and now?' }));
const lost = await until(a, (f) => f.type === 'error' && f.code === 'not_found', 10_000);
console.log(`  same conversation again: ${lost ? `error ${lost.code}` : 'no not_found'}`);
emulator.enqueue({ blocks: [{ text: 'Fresh.' }] });
const c = await client();
c.ws.send(JSON.stringify({ type: 'chat', content: 'new one' }));
const endC = await until(c, (f) => f.type === 'turn-end', 10_000);
console.log(
  `  new conversation: ${endC ? `turn-end ${endC.stopReason} "${endC.text}"` : 'failed'}`,
);

// Item 3: three turns, FLUSHALL, chat again in the same conversation, subscribe afterSeq 50.
const d = await client();
const e = await client();
e.ws.send(JSON.stringify({ type: 'subscribe', conversationId: d.ready.conversationId }));
for (const text of ['One.', 'Two.', 'Three.']) {
  emulator.enqueue({ blocks: [{ text }] });
  const n = d.frames.filter((f) => f.type === 'turn-end').length;
  d.ws.send(JSON.stringify({ type: 'chat', content: `say ${text}` }));
  await until(d, () => d.frames.filter((f) => f.type === 'turn-end').length > n);
}
const lastSeq = Math.max(...d.frames.map((f) => f.seq ?? 0));
spawn('redis-cli', ['-p', String(REDIS_PORT), 'FLUSHALL']);
await sleep(500);
const beforeD = d.frames.length;
d.ws.send(JSON.stringify({ type: 'chat', content: 'say four' }));
const four = await until(
  d,
  (f) => d.frames.indexOf(f) >= beforeD && (f.type === 'error' || f.type === 'turn-start'),
  10_000,
);
const f2 = await client();
f2.ws.send(
  JSON.stringify({ type: 'subscribe', conversationId: d.ready.conversationId, afterSeq: 50 }),
);
const sub = await until(f2, (f) => f.type === 'error' || f.type === 'subscribed', 10_000);
console.log(
  `item 3: 3 turns (seq reached ${lastSeq}), FLUSHALL; chat again: ${show(four)} (${four?.message}); subscribe afterSeq 50: ${show(sub)}`,
);

for (const x of [a, b, c, d, e, f2]) x.ws.close();
gw.kill('SIGTERM');
wk.kill('SIGTERM');
redis.kill('SIGKILL');
await emulator.close();
await sleep(1000);
process.exit(0);
