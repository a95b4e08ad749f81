/**
 * What the kernel says about a process tree: CPU time and memory, read from /proc (Linux).
 * The benchmark measures a system as the processes it started and all their descendants,
 * so a helper process a server forks is counted with it.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';

/** Whether this machine has the /proc the measurements read. */
export function hasProc(): boolean {
  return existsSync('/proc/self/stat') && existsSync('/proc/self/status');
}

let ticksPerSecond: number | undefined;

/** USER_HZ: the unit of the CPU times in /proc/<pid>/stat (100 on every common Linux). */
function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    } catch {
      ticksPerSecond = 100;
    }
    if (!Number.isFinite(ticksPerSecond) || ticksPerSecond <= 0) ticksPerSecond = 100;
  }
  return ticksPerSecond;
}

interface Stat {
  ppid: number;
  /** utime + stime + cutime + cstime, in clock ticks. */
  ticks: number;
}

function readStat(pid: number): Stat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined; // gone
  }
  // The command name (field 2) may hold spaces and parentheses: fields start after the last ')'.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state): ppid is field 4, utime..cstime are fields 14..17.
  const at = (field: number) => Number(fields[field - 3]);
  return { ppid: at(4), ticks: at(14) + at(15) + at(16) + at(17) };
}

/** The roots and every living descendant of them. */
export function treePids(roots: readonly number[]): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid)) continue;
    const stat = readStat(pid);
    if (!stat) continue;
    const siblings = children.get(stat.ppid) ?? [];
    siblings.push(pid);
    children.set(stat.ppid, siblings);
  }
  const found = new Set<number>();
  const queue = [...roots];
  while (queue.length > 0) {
    const pid = queue.shift()!;
    if (found.has(pid)) continue;
    found.add(pid);
    queue.push(...(children.get(pid) ?? []));
  }
  return [...found];
}

/**
 * CPU time (user + system) the trees have used so far, in ms. A process's time includes
 * that of its children that have exited (cutime, cstime), so nothing a tree spent is lost
 * when one of its processes ends between two readings.
 */
export function treeCpuMs(roots: readonly number[]): number {
  let ticks = 0;
  for (const pid of treePids(roots)) ticks += readStat(pid)?.ticks ?? 0;
  return (ticks * 1000) / clockTicks();
}

function statusKb(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    return Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0);
  } catch {
    return 0;
  }
}

/** Resident memory of the trees now, in bytes. */
export function treeRssBytes(roots: readonly number[]): number {
  return treePids(roots).reduce((sum, pid) => sum + statusKb(pid, 'VmRSS') * 1024, 0);
}

/**
 * The sum of each process's own peak resident memory (VmHWM) in the trees, in bytes: the
 * kernel's exact peaks, which no sampling can miss. For several processes it can exceed the
 * peak of their sum, never fall below it.
 */
export function treePeakRssBytes(roots: readonly number[]): number {
  return treePids(roots).reduce((sum, pid) => sum + statusKb(pid, 'VmHWM') * 1024, 0);
}

/** The soft limit of open files of this process (children inherit it); undefined if unknown. */
export function openFilesLimit(): number | undefined {
  try {
    const limits = readFileSync('/proc/self/limits', 'utf8');
    const soft = /^Max open files\s+(\S+)/m.exec(limits)?.[1];
    if (soft === 'unlimited') return Number.POSITIVE_INFINITY;
    return soft === undefined ? undefined : Number(soft);
  } catch {
    return undefined;
  }
}
