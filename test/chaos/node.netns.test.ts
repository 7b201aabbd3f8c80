/**
 * The chaos tier on a real node (the netns project: root, real namespaces, plugins, the agent process
 * and the Go shim), at small scale: SIGKILL mid-ADD, restarts while the generated config is read,
 * concurrent pods, malformed requests on the socket, rolling updates with a surge, ADDs into a full
 * state dir, DELs of unknown containers. `npm run chaos` runs them at full scale.
 */
import { requireNetnsPrerequisites, type Lab } from '../netns/lab.ts';
import { freeLoopbackPort } from '../../platform/nodejs/listen.ts';
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

  it('hands over socket and probe port in rolling updates with a surge: every ADD succeeds, nothing is left', async () => {
    const result = await rollingUpdates(lab, 2, args);
    expect(result.problems).toEqual([]);
    expect(result.requests).toBe(2 * 10); // 5 ADDs and 5 DELs a round
  });

  it('rolls back an ADD into a full state dir, naming the file it could not write', async () => {
    const result = await fullStateDir(lab, 2, args);
    expect(result.problems).toEqual([]);
  });

  it('keeps its young generation at its bound through 1,500 DELs of unknown containers', async () => {
    const port = await freeLoopbackPort();
    await lab.stopAgent('SIGTERM');
    await lab.startAgent([...args, '--probe-listen', `127.0.0.1:${port}`]);
    const youngGenerationMb = async (): Promise<number> => {
      const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      const line = /^multinet_agent_nodejs_heap_space_size_total_bytes\{space="new"\} (\d+)/m.exec(metrics);
      return Number(line?.[1]) / 2 ** 20;
    };
    const result = await unknownDels(lab, 1500);
    expect(result.problems).toEqual([]);
    // Node's default lets V8 grow it to 128 MB under such a burst, and keep it (issue 27).
    expect(await youngGenerationMb()).toBeLessThanOrEqual(3);
    await lab.stopAgent('SIGTERM');
    await lab.startAgent(args);
  });
});
