/** The real Clock port. */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Clock } from '../../lib/ports.ts';

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: async (ms, signal) => {
    await sleep(ms, undefined, signal ? { signal } : undefined);
  },
};
