import { expect, it } from 'vitest';
import { EventQueue } from '../../src/agent/event-queue.ts';

async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const items: T[] = [];
  for await (const item of iterable) items.push(item);
  return items;
}

it('drains in order what was pushed before, during and right before the end', async () => {
  const queue = new EventQueue<number>();
  queue.push([1, 2]);
  const done = (async () => {
    await Promise.resolve();
    queue.push([3]);
    await new Promise((resolve) => setTimeout(resolve, 5));
    queue.push([4, 5]);
  })();
  expect(await collect(queue.drain(done))).toEqual([1, 2, 3, 4, 5]);
});

it('throws the producer failure only after what was pushed before it', async () => {
  const queue = new EventQueue<string>();
  const done = (async () => {
    await new Promise((resolve) => setTimeout(resolve, 5));
    queue.push(['a', 'b']);
    throw new Error('model failed');
  })();
  const seen: string[] = [];
  await expect(
    (async () => {
      for await (const item of queue.drain(done)) seen.push(item);
    })(),
  ).rejects.toThrow('model failed');
  expect(seen).toEqual(['a', 'b']);
});
