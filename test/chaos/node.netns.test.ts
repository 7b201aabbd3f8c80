/**
 * The chaos tier on a real node (the netns project: root, real namespaces, plugins, the agent process
 * and the Go shim), at small scale: SIGKILL mid-ADD, restarts while the generated config is read,
 * concurrent pods, malformed requests on the socket. `npm run chaos` runs them at full scale.
 */
import { requireNetnsPrerequisites, type Lab } from '../netns/lab.ts';
import { chaosLab, concurrentPods, crashMidAdd, malformedOnSocket, restartsWhileReading } from './node.ts';
import { Random } from './random.ts';

requireNetnsPrerequisites();

const args = ['--delegate-timeout', '20'];

describe('the agent under faults on a real node', () => {
  let lab: Lab;

  beforeAll(async () => {
    lab = chaosLab('chaos');
    await lab.startAgent(args);
  });

  afterAll(async () => {
    await lab.destroy();
  });

  it('leaks no interface, lease, record or temp file when SIGKILLed during ADDs', async () => {
    const result = await crashMidAdd(lab, new Random(1), 4, args);
    expect(result.problems).toEqual([]);
    expect(result.requests).toBe(8);
  });

  it('never shows a missing or partial generated config while it restarts and rewrites it', async () => {
    const result = await restartsWhileReading(lab, 4, args);
    expect(result.problems).toEqual([]);
    expect(result.versions).toBe(2); // it was rewritten: both versions were read
    expect(result.reads).toBeGreaterThan(100);
  });

  it('attaches 20 concurrent pods through the shim and leaves nothing after their DELs', async () => {
    const result = await concurrentPods(lab, 20);
    expect(result.problems).toEqual([]);
  });

  it('answers malformed requests on its socket with CNI replies, never a reset, and stays up', async () => {
    const result = await malformedOnSocket(lab, new Random(2), 600);
    expect(result.problems).toEqual([]);
    expect(await lab.stopAgent('SIGTERM')).toBe(0);
    await lab.startAgent(args);
  });
});
