/**
 * Scheduling priority of the process's helper threads. A hook call's CPU is split between the event loop
 * (one thread: parsing, rules, cards, the response) and helper threads: libuv's pool, which checks each
 * client JWT's ES384 signature, and V8's background threads (garbage collection, compilation). On a small
 * machine every one of those helpers that is woken competes with the event loop for a core as an equal,
 * and the event loop, which every call needs, is the one that limits throughput and adds latency.
 *
 * A nice value above 0 on the helpers (Linux keeps a nice value per thread) makes the kernel favour the
 * event loop when both want a core; the helpers still run whenever a core is free, so no work waits on a
 * helper that cannot get a core. Raising a nice value needs no privilege. Threads created later (worker
 * threads) are created by the event loop thread and inherit its priority.
 */
import { randomFill } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';

export interface HelperThreadsResult {
  /** Threads given the nice value. */
  threads: number;
  /** Why nothing was done, when nothing was. */
  skipped?: 'disabled' | 'not-linux';
}

/**
 * Gives every thread of this process except the event loop (the main thread, whose id is the process id)
 * the nice value `nice` (1 to 19; 0 leaves them alone). libuv starts its whole pool on first use, so the
 * pool is started first; threads that end meanwhile or refuse are skipped.
 */
export async function deprioritizeHelperThreads(nice: number): Promise<HelperThreadsResult> {
  if (nice === 0) return { threads: 0, skipped: 'disabled' };
  const tasks = `/proc/${process.pid}/task`;
  if (process.platform !== 'linux' || !fs.existsSync(tasks)) return { threads: 0, skipped: 'not-linux' };
  await new Promise<void>((resolve) => randomFill(Buffer.alloc(1), () => resolve()));
  let threads = 0;
  for (const entry of fs.readdirSync(tasks)) {
    const tid = Number(entry);
    if (!Number.isInteger(tid) || tid === process.pid) continue;
    try {
      os.setPriority(tid, nice);
      threads++;
    } catch {
      // The thread ended between listing and renicing, or the system refused: it keeps its priority.
    }
  }
  return { threads };
}
