/**
 * The Go CNI shim (cni/) against the real agent, as the runtime runs it: every CNI version's result
 * shape, the agent's errors passed through, requests the agent refuses told apart from an agent that
 * is away, the wait for an agent that is away (and comes back), DEL while it is away, and the
 * installed binary running with nothing from the host.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { supportedCniVersions } from '../../lib/cni/version.ts';
import { shimPath, spawnerPath } from '../../dev/netns/local-node.ts';
import {
  Lab,
  pluginDir,
  requireNetnsPrerequisites,
  shimInBackground,
  type Pod,
  type ShimOutcome,
} from './lab.ts';

requireNetnsPrerequisites();

function interfaceNames(pod: Pod): string[] {
  return pod
    .interfaces()
    .map((i) => i.ifname)
    .sort();
}

describe('the Go CNI shim with the real agent', () => {
  let lab: Lab;

  beforeAll(async () => {
    lab = new Lab('shim');
    lab.writeNad('macvlan-conf', lab.seedMacvlanNad());
    await lab.startAgent(['--delegate-timeout', '3']);
  });

  afterAll(async () => {
    await lab.destroy();
  });

  it('answers VERSION itself, in the version asked, with the versions the agent speaks', async () => {
    await lab.stopAgent('SIGTERM');
    try {
      for (const [stdin, version] of [
        [{}, '1.0.0'],
        [{ cniVersion: '0.4.0' }, '0.4.0'],
        [{ cniVersion: '7.0.0' }, '1.1.0'],
      ] as const) {
        const out = lab.runShim('VERSION', {}, stdin);
        expect(out.code).toBe(0);
        expect(out.json).toEqual({ cniVersion: version, supportedVersions: [...supportedCniVersions] });
      }
    } finally {
      await lab.startAgent(['--delegate-timeout', '3']);
    }
  });

  it.each([...supportedCniVersions])(
    'attaches a pod asked for in CNI %s and answers in that version',
    (version) => {
      const pod = lab.newPod('macvlan-conf');
      const add = pod.cni('ADD', { cniVersion: version });
      expect(add.stderr).toBe('');
      expect(add.code).toBe(0);
      const result = add.json as { cniVersion: string; ips: Array<{ address: string; version?: string }> };
      expect(result.cniVersion).toBe(version);
      expect(result.ips[0]!.address).toMatch(/^198\.51\.100\.\d+\/24$/);
      if (version.startsWith('0.')) expect(result.ips[0]!.version).toBe('4');
      else expect(result.ips[0]).not.toHaveProperty('version');
      expect(interfaceNames(pod)).toEqual(['eth0', 'net1']);
      const del = pod.cni('DEL', { cniVersion: version });
      expect({ code: del.code, stdout: del.stdout }).toEqual({ code: 0, stdout: '' });
      expect(pod.interfaces()).toEqual([]);
    },
  );

  it.each([
    ['a missing CNI_CONTAINERID', 'ADD', { CNI_CONTAINERID: '' }, 4, 'CNI_CONTAINERID is required for ADD'],
    [
      'an unknown CNI_COMMAND',
      'MOVE',
      {},
      4,
      'CNI_COMMAND must be one of ADD, DEL, CHECK, STATUS, GC, VERSION',
    ],
    [
      'an interface name with a slash',
      'ADD',
      { CNI_IFNAME: 'a/b' },
      4,
      `CNI_IFNAME "a/b" must not contain '/'`,
    ],
  ])("passes on the agent's error for %s, in the request's version", (_what, command, env, code, msg) => {
    const pod = lab.newPod(undefined);
    const out = lab.runShim(command, { ...pod.env(), ...env }, { cniVersion: '0.4.0' });
    expect(out.code).toBe(1);
    expect(out.json).toEqual({ cniVersion: '0.4.0', code, msg: expect.stringContaining(msg) });
  });

  it("reports a pod whose network is missing with the agent's message", () => {
    const pod = lab.newPod('nowhere');
    const add = pod.cni('ADD');
    expect(add.code).toBe(1);
    expect(add.json).toMatchObject({
      cniVersion: '1.0.0',
      code: 7,
      msg: expect.stringContaining('"default/nowhere"'),
    });
  });

  it('refuses stdin that is not a JSON object with code 6', () => {
    const pod = lab.newPod(undefined);
    const run = spawnSync(shimPath(), [], {
      input: 'not json',
      env: { ...pod.env(), CNI_COMMAND: 'ADD', CNI_PATH: pluginDir },
      encoding: 'utf8',
    });
    expect(run.status).toBe(1);
    expect(JSON.parse(run.stdout)).toMatchObject({ code: 6 });
  });

  it("tells a request the agent refused (too large) from an agent that is away: no wait, the agent's reason", () => {
    const pod = lab.newPod(undefined);
    const started = Date.now();
    const add = pod.cni('ADD', { agentWaitSeconds: 30, padding: 'x'.repeat(2 * 1024 * 1024) });
    expect(add.code).toBe(1);
    expect(add.json).toMatchObject({
      code: 6,
      msg: expect.stringContaining('the agent accepts at most 1048576'),
    });
    expect(add.stdout).not.toContain('is the multinet agent running');
    // A refused request is not retried: the answer comes long before the 30 s an absent agent gets.
    expect(Date.now() - started).toBeLessThan(15_000);
  });

  it('makes ADD wait a bounded time for an agent that is away, and DEL of an unknown container succeed at once', async () => {
    const pod = lab.newPod(undefined);
    await lab.stopAgent('SIGTERM');
    try {
      const started = Date.now();
      const add = pod.cni('ADD', { agentWaitSeconds: 1 });
      expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
      expect(add.code).toBe(1);
      expect(add.json).toMatchObject({
        cniVersion: '1.0.0',
        code: 11,
        msg: expect.stringContaining(`the multinet agent is not reachable at ${lab.socket} (waited 1 s)`),
      });
      const del = pod.cni('DEL', { agentWaitSeconds: 30 });
      expect({ code: del.code, stdout: del.stdout }).toEqual({ code: 0, stdout: '' });
    } finally {
      await lab.startAgent(['--delegate-timeout', '3']);
    }
  });

  it('makes DEL of a container the agent recorded wait for the agent, and finish once it is back', async () => {
    const pod = lab.newPod('macvlan-conf');
    expect(pod.cni('ADD').code).toBe(0);
    await lab.stopAgent('SIGKILL');
    let del: Promise<ShimOutcome> | undefined;
    try {
      const away = pod.cni('DEL', { agentWaitSeconds: 1 });
      expect(away.code).toBe(1);
      expect(away.json).toMatchObject({ code: 11, msg: expect.stringContaining('not reachable') });
      expect(interfaceNames(pod)).toEqual(['eth0', 'net1']);
      del = shimInBackground(lab, 'DEL', pod.env(), { agentWaitSeconds: 60 });
    } finally {
      await lab.startAgent(['--delegate-timeout', '3']);
    }
    const done = await del;
    expect({ code: done.code, stdout: done.stdout }).toEqual({ code: 0, stdout: '' });
    expect(pod.interfaces()).toEqual([]);
  });

  it('makes ADD wait for an agent that comes back, then attach', async () => {
    const pod = lab.newPod('macvlan-conf');
    await lab.stopAgent('SIGTERM');
    let add: Promise<ShimOutcome> | undefined;
    try {
      add = shimInBackground(lab, 'ADD', pod.env(), { agentWaitSeconds: 60 });
    } finally {
      await lab.startAgent(['--delegate-timeout', '3']);
    }
    const done = await add;
    expect(done.code).toBe(0);
    expect(done.json).toMatchObject({ cniVersion: '1.0.0' });
    expect(interfaceNames(pod)).toEqual(['eth0', 'net1']);
    expect(pod.cni('DEL').code).toBe(0);
  });

  it('is installed by the agent atomically, only when changed, and runs with nothing from the host', async () => {
    await lab.stopAgent('SIGTERM');
    const args = ['--delegate-timeout', '3', '--shim-source', shimPath(), '--shim-dir', lab.binDir];
    await lab.startAgent(args);
    const installed = join(lab.binDir, 'multinet-cni');
    expect(statSync(installed).mode & 0o777).toBe(0o755);
    expect(readFileSync(installed).equals(readFileSync(shimPath()))).toBe(true);
    const before = statSync(installed).mtimeMs;
    await lab.stopAgent('SIGTERM');
    await lab.startAgent(args);
    expect(statSync(installed).mtimeMs).toBe(before);
    // An empty root holding only the shim: no libc, no loader, no Node.js.
    const root = mkdtempSync(join(tmpdir(), 'multinet-emptyroot-'));
    try {
      copyFileSync(installed, join(root, 'multinet-cni'));
      const version = spawnSync('/usr/sbin/chroot', [root, '/multinet-cni'], {
        input: '{"cniVersion":"0.4.0"}',
        env: { CNI_COMMAND: 'VERSION' },
        encoding: 'utf8',
      });
      expect(version.stderr).toBe('');
      expect(version.status).toBe(0);
      expect(JSON.parse(version.stdout)).toMatchObject({ cniVersion: '0.4.0' });
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('the plugin spawner, as built for the image, runs with nothing from the host as well', () => {
    const root = mkdtempSync(join(tmpdir(), 'multinet-emptyroot-'));
    try {
      copyFileSync(spawnerPath(), join(root, 'multinet-spawner'));
      // With its request stream closed at once, it has nothing to spawn and ends cleanly.
      const run = spawnSync('/usr/sbin/chroot', [root, '/multinet-spawner'], { input: '', env: {} });
      expect(run.stderr.toString()).toBe('');
      expect(run.status).toBe(0);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
