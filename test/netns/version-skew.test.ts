/**
 * Version skew on one node (an upgrade rolling out, a shim left by another install): the previous
 * release's CNI shim, built from git history, against this agent, and this shim against the previous
 * release's agent, each attaching and detaching a real pod (eth0 and the seed's macvlan in a real network
 * namespace, no lease left); and a shim of a wire protocol the agent does not serve failing at once with
 * a message that names both versions (Multus v4.3.1's shim waited out its timeout on every pod instead).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { shimPath } from '../../dev/go-programs.ts';
import { multinetVersion } from '../../platform/version.ts';
import {
  buildPreviousShim,
  buildShimAs,
  previousCheckout,
  previousReleaseCommit,
} from '../previous-release.ts';
import { Lab, requireNetnsPrerequisites, type Pod } from './lab.ts';
import { eventually } from '../../dev/eventually.ts';

requireNetnsPrerequisites();

const work = mkdtempSync(join(tmpdir(), 'multinet-skew-'));
let lab: Lab;

beforeAll(() => {
  lab = new Lab('skew');
  lab.writeNad('macvlan-conf', lab.seedMacvlanNad());
});

afterAll(async () => {
  await lab?.destroy();
  rmSync(work, { recursive: true, force: true });
});

function names(pod: Pod): string[] {
  return pod
    .interfaces()
    .map((i) => i.ifname)
    .sort();
}

/** ADD then DEL of a pod on the seed's macvlan through `shim`: both networks attached, then nothing left. */
function attachAndDetach(shim: string): void {
  const pod = lab.newPod('macvlan-conf');
  const add = lab.runShim('ADD', pod.env(), undefined, shim);
  expect({ code: add.code, stderr: add.stderr, error: add.json?.msg }).toEqual({
    code: 0,
    stderr: '',
    error: undefined,
  });
  expect(names(pod)).toEqual(['eth0', 'net1']);
  expect(lab.leases('macvlan-conf')).toHaveLength(1);
  const del = lab.runShim('DEL', pod.env(), undefined, shim);
  expect({ code: del.code, stdout: del.stdout }).toEqual({ code: 0, stdout: '' });
  expect(pod.interfaces()).toEqual([]);
  expect([...lab.leases('macvlan-conf'), ...lab.leases('podnet')]).toEqual([]);
}

describe(`the previous release's shim (${previousReleaseCommit}, built from git history) against this agent`, () => {
  let shim: string;

  beforeAll(async () => {
    shim = buildPreviousShim(work);
    await lab.startAgent(['--delegate-timeout', '5']);
  }, 300_000);

  afterAll(async () => {
    await lab.stopAgent('SIGTERM');
  });

  it('attaches and detaches a pod', () => attachAndDetach(shim));

  it('is told apart by the agent: a shim that names no version', async () => {
    const skew = /another multinet release than the agent.*older than version headers/;
    await eventually('the agent to log the skew', () => skew.test(lab.log), { timeoutMs: 5000 });
  });
});

describe(`this shim against the previous release's agent (${previousReleaseCommit}, built from git history)`, () => {
  beforeAll(async () => {
    const previous = previousCheckout(work);
    // The previous release had no plugin spawner (--spawner): it forks its plugins itself.
    await lab.startAgent(['--delegate-timeout', '5'], undefined, { command: [previous], spawner: false });
  }, 300_000);

  afterAll(async () => {
    await lab.stopAgent('SIGTERM');
  });

  it('attaches and detaches a pod', () => attachAndDetach(shimPath()));
});

describe('a shim of a wire protocol the agent does not serve', () => {
  let shim: string;

  beforeAll(async () => {
    shim = buildShimAs(work, '9.9.9', 2);
    await lab.startAgent(['--delegate-timeout', '5']);
  }, 300_000);

  afterAll(async () => {
    await lab.stopAgent('SIGTERM');
  });

  it('fails at once with "try again later", naming both versions, and attaches nothing', () => {
    const pod = lab.newPod('macvlan-conf');
    const started = Date.now();
    const add = lab.runShim('ADD', pod.env(), { cniVersion: '0.4.0' }, shim);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(add.code).toBe(1);
    expect(add.json).toEqual({
      cniVersion: '0.4.0',
      code: 11,
      msg: expect.stringContaining(
        `multinet-cni 9.9.9 speaks wire protocol 2; the multinet agent ${multinetVersion} on this node serves protocol 1`,
      ),
    });
    expect(pod.interfaces()).toEqual([]);
    expect(lab.leases('macvlan-conf')).toEqual([]);
  });
});
