/** The real Clock port. */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Clock, Scheduler } from '../../lib/ports.ts';

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: async (ms, signal) => {
    await sleep(ms, undefined, signal ? { signal } : undefined);
  },
};

/** The real Scheduler port: wall-clock time and setTimeout. */
export const realScheduler: Scheduler = {
  now: () => Date.now(),
  setTimer: (callback, ms) => {
    const timer = setTimeout(callback, ms);
    return { cancel: () => clearTimeout(timer) };
  },
};
