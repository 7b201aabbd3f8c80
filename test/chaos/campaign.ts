/**
 * The hardening campaign at full scale (`npm run chaos -- --rounds 50 --requests 100000`): every
 * interleaving of three requests over 1 and 2 slots; `--requests` malformed requests on the in-memory
 * ports and a tenth of them on a real agent's socket; on a real node (root) `--rounds` SIGKILLs
 * mid-ADD, twice as many restarts while the generated config is read, `--pods` concurrent pods, a fifth
 * of `--rounds` rolling updates with a surge and as many ADDs into a full state dir, and `--dels` DELs
 * of unknown containers. One line per experiment, then `RESULT crashes=0 leaks=0 hangs=0 requests=N
 * rss_mb_after=M` (the agent's RSS after the DELs of unknown containers); exit 1 on any problem.
 * `--seed` repeats a run.
 */
import { parseArgs } from 'node:util';
import { requireNetnsPrerequisites } from '../netns/lab.ts';
import { exploration, explore } from './interleavings.ts';
import { malformedInMemory } from './malformed.ts';
import {
  chaosLab,
  concurrentPods,
  crashMidAdd,
  fullStateDir,
  malformedOnSocket,
  restartsWhileReading,
  rollingUpdates,
  unknownDels,
} from './node.ts';
import { Random } from './random.ts';
import { add, resultLine, tally, type Tally } from './tally.ts';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '50' },
    requests: { type: 'string', default: '100000' },
    pods: { type: 'string', default: '200' },
    dels: { type: 'string', default: '9000' },
    seed: { type: 'string', default: String(Date.now() % 1_000_000) },
  },
});
const count = (name: 'rounds' | 'requests' | 'pods' | 'dels'): number => {
  const n = Number(values[name]);
  if (!Number.isInteger(n) || n < 0) throw new Error(`--${name} must be a whole number, got ${values[name]}`);
  return n;
};
const rounds = count('rounds');
const requests = count('requests');
const podCount = count('pods');
const delCount = count('dels');
const surges = Math.ceil(rounds / 5);
const seed = Number(values.seed);
requireNetnsPrerequisites();

const total = tally();
const report = (name: string, result: Tally, extra = ''): void => {
  add(total, result);
  console.log(
    `${name}: crashes=${result.crashes} leaks=${result.leaks} hangs=${result.hangs} requests=${result.requests}${extra}`,
  );
  for (const problem of result.problems) console.log(`  ${problem}`);
};
const timed = async <T>(run: () => Promise<T>): Promise<[T, string]> => {
  const start = performance.now();
  const result = await run();
  return [result, ` (${((performance.now() - start) / 1000).toFixed(1)} s)`];
};

console.log(
  `chaos campaign: --rounds ${rounds} --requests ${requests} --pods ${podCount} --dels ${delCount} --seed ${seed}`,
);
const figures: Record<string, string> = {};
const [interleavings, t1] = await timed(() => explore(3, 3));
report('interleavings of 3 requests over 1-2 slots (in memory)', exploration(interleavings), t1);
const [memory, t2] = await timed(() => malformedInMemory(new Random(seed), requests));
report('malformed requests (in memory)', memory, `${t2} answers ${JSON.stringify(memory.answers)}`);

const args = ['--delegate-timeout', '20'];
const lab = chaosLab('chaos');
try {
  await lab.startAgent(args);
  const [crash, t3] = await timed(() => crashMidAdd(lab, new Random(seed + 1), rounds, args));
  report(`SIGKILL mid-ADD x${rounds} (real node)`, crash, t3);
  const [restarts, t4] = await timed(() => restartsWhileReading(lab, 2 * rounds, args));
  report(
    `restarts x${2 * rounds} while reading the generated config (real node)`,
    restarts,
    `${t4} reads=${restarts.reads} versions=${restarts.versions}`,
  );
  const [many, t5] = await timed(() => concurrentPods(lab, podCount));
  report(`${podCount} concurrent pods through the shim (real node)`, many, t5);
  const socketRequests = Math.ceil(requests / 10);
  const [socket, t6] = await timed(() => malformedOnSocket(lab, new Random(seed + 2), socketRequests));
  report('malformed requests on the socket (real node)', socket, t6);
  const [surge, t7] = await timed(() => rollingUpdates(lab, surges, args));
  report(`rolling updates with a surge x${surges} (real node)`, surge, t7);
  const [full, t8] = await timed(() => fullStateDir(lab, surges, args));
  report(`ADDs into a full state dir x${surges} (real node)`, full, t8);
  const [dels, t9] = await timed(() => unknownDels(lab, delCount));
  figures.rss_mb_after = dels.rssAfter.toFixed(1);
  report(
    `${delCount} DELs of unknown containers (real node)`,
    dels,
    `${t9} rss_mb_before=${dels.rssBefore.toFixed(1)} rss_mb_after=${figures.rss_mb_after}`,
  );
  const code = await lab.stopAgent('SIGTERM');
  if (code !== 0)
    report('the agent at the end', { ...tally(), crashes: 1, problems: [`exit ${String(code)}`] });
} finally {
  await lab.destroy();
}
console.log(resultLine(total, figures));
process.exitCode = total.crashes + total.leaks + total.hangs > 0 ? 1 : 0;
