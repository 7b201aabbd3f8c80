/**
 * The chaos tier on the in-memory ports (in the unit project, so in every CI run): the deadlock
 * interleavings, malformed CNI requests and fuzzed AdmissionReviews at small scale. `npm run chaos`
 * and `npm run chaos:webhook` run the same experiments at full scale. Seeded: a failure names its seed.
 */
import { exploration, explore } from './interleavings.ts';
import { malformedInMemory } from './malformed.ts';
import { Random } from './random.ts';
import { fuzzWebhook } from './webhook-fuzz.ts';

const seed = 15;

it('answers every interleaving of two requests (ADD, DEL, CHECK, GC) over 1 and 2 slots, leaking nothing', async () => {
  const result = exploration(await explore(2, 2));
  expect(result.problems).toEqual([]);
  expect(result.requests).toBe(2 * 7 * 7 * 6); // slots x ops x ops x schedules: the space was walked
});

// The campaign's deadlock needs three requests (e.g. ADD a, ADD a, GC[b] on one slot): the agent before
// the lock-order fix (main at 821a4d1) hangs in 322 of these schedules.
it('answers every interleaving of three requests with up to two plugin steps', async () => {
  const result = exploration(await explore(3, 2));
  expect(result.problems).toEqual([]);
  expect(result.requests).toBeGreaterThan(6000);
});

it(`answers malformed CNI requests with CNI replies, runs only real plugins, writes only its dirs (seed ${seed})`, async () => {
  const result = await malformedInMemory(new Random(seed), 3000);
  expect(result.problems).toEqual([]);
  expect({ crashes: result.crashes, leaks: result.leaks, hangs: result.hangs }).toEqual({
    crashes: 0,
    leaks: 0,
    hangs: 0,
  });
  // The fuzz reached both sides: requests that attached through plugins, and refusals.
  expect(result.answers.result).toBeGreaterThan(100);
  expect(result.pluginCalls).toBeGreaterThan(100);
  expect(Object.keys(result.answers).filter((k) => k.startsWith('error')).length).toBeGreaterThanOrEqual(3);
});

it(`answers every fuzzed AdmissionReview with an AdmissionReview, anything else with a Status (seed ${seed})`, async () => {
  const result = await fuzzWebhook(new Random(seed), 3000);
  expect(result.problems).toEqual([]);
  expect({ crashes: result.crashes, invalid: result.invalid, hangs: result.hangs }).toEqual({
    crashes: 0,
    invalid: 0,
    hangs: 0,
  });
  expect(result.verdicts).toMatchObject({
    allowed: expect.any(Number),
    'denied 403': expect.any(Number),
    'HTTP 400': expect.any(Number),
  });
});
