import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';

/** A loopback port nothing listens on (it was free a moment ago). */
export async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** A temporary HOME holding the given ~/.aws files, set for the duration of `fn`. */
export async function withHome<T>(
  files: Record<string, string>,
  fn: (home: string) => Promise<T>,
): Promise<T> {
  const home = mkdtempSync(path.join(os.tmpdir(), 'agentgate-home-'));
  mkdirSync(path.join(home, '.aws'));
  for (const [name, text] of Object.entries(files)) {
    writeFileSync(path.join(home, '.aws', name), text);
  }
  const saved = process.env.HOME;
  process.env.HOME = home;
  try {
    return await fn(home);
  } finally {
    process.env.HOME = saved;
  }
}

/** A log destination that keeps every line. */
export function captureLogs() {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      lines.push(String(chunk));
      done();
    },
  });
  return { lines, sink };
}
