/**
 * The harness itself, on control planes of its own: restarting the API server keeps the data, stop()
 * leaves no process or temp dir behind, and a failed start says why.
 */
import { CoreV1Api } from '@kubernetes/client-node';
import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, symlink } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultCacheDir } from '../../dev/binaries.ts';
import { startControlPlane, type ControlPlaneOptions } from '../../dev/controlplane/controlplane.ts';

let tmpRoot: string;
let options: ControlPlaneOptions;
beforeEach(async () => {
  tmpRoot = await mkdtemp(join(tmpdir(), 'multinet-harness-test-'));
  // globalSetup already built what was missing.
  options = {
    cacheDir: defaultCacheDir(process.env, homedir()),
    build: false,
    tmpRoot,
    kill: (pid, signal) => process.kill(pid, signal),
  };
});
afterEach(async () => {
  await rm(tmpRoot, { recursive: true, force: true });
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The servers are the only processes whose command line names the temp dir. */
function pidsOf(dir: string): number[] {
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(dir);
      } catch {
        return false;
      }
    })
    .map(Number);
}

/** Local addresses ("127.0.0.1:2379") of the TCP sockets that the processes `pids` listen on. */
function listeningAddresses(pids: readonly number[]): string[] {
  const inodes = new Set<string>();
  for (const pid of pids) {
    for (const fd of readdirSync(`/proc/${pid}/fd`)) {
      try {
        const match = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
        if (match) inodes.add(match[1]!);
      } catch {
        // closed meanwhile
      }
    }
  }
  const addresses: string[] = [];
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of readFileSync(table, 'utf8').split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      const [local, state, inode] = [fields[1], fields[3], fields[9]];
      if (!local || state !== '0A' || !inode || !inodes.has(inode)) continue; // 0A: LISTEN
      const [hex, port] = local.split(':') as [string, string];
      const address =
        hex.length === 8
          ? (hex.match(/../g) ?? [])
              .reverse()
              .map((b) => parseInt(b, 16))
              .join('.')
          : `[ipv6 ${hex}]`;
      addresses.push(`${address}:${parseInt(port, 16)}`);
    }
  }
  return addresses;
}

test('restartApiServer keeps the data; stop() ends both servers and removes the temp dir', async () => {
  const cp = await startControlPlane(options);
  let stopped = false;
  try {
    expect(cp.serverUrl).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(cp.dir.startsWith(tmpRoot)).toBe(true);
    const pids = pidsOf(cp.dir);
    expect(pids.length).toBe(2);
    // etcd's client and peer ports and the API server's secure port, all on 127.0.0.1 only.
    const listening = listeningAddresses(pids);
    expect(listening).toHaveLength(3);
    for (const address of listening) expect(address).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(listening).toContain(`127.0.0.1:${new URL(cp.serverUrl).port}`);
    expect(listening).toContain(`127.0.0.1:${new URL(cp.etcdUrl).port}`);

    const namespace = await cp.createNamespace('restart');
    await cp
      .kubeConfig()
      .makeApiClient(CoreV1Api)
      .createNamespacedConfigMap({ namespace, body: { metadata: { name: 'kept' }, data: { x: '1' } } });
    await cp.restartApiServer();
    const read = await cp
      .kubeConfig()
      .makeApiClient(CoreV1Api)
      .readNamespacedConfigMap({ namespace, name: 'kept' });
    expect(read.data).toEqual({ x: '1' });

    const sa = await cp.serviceAccountToken(namespace, 'reader', {
      rules: [{ apiGroups: [''], resources: ['configmaps'], verbs: ['get'] }],
    });
    const viaToken = await sa
      .kubeConfig()
      .makeApiClient(CoreV1Api)
      .readNamespacedConfigMap({ namespace, name: 'kept' });
    expect(viaToken.data).toEqual({ x: '1' });

    const after = pidsOf(cp.dir);
    await cp.stop();
    stopped = true;
    expect(after.filter(alive)).toEqual([]);
    expect(await readdir(tmpRoot)).toEqual([]);
    await cp.stop(); // a second stop is harmless
  } finally {
    if (!stopped) await cp.stop();
  }
}, 60_000);

test('a failed start names the server, shows its log and cleans up', async () => {
  const start = startControlPlane({ ...options, apiServerArgs: ['--no-such-flag=1'] });
  await expect(start).rejects.toThrow(/the control plane did not start: kube-apiserver exited with code 1/);
  await expect(start).rejects.toThrow(/last lines of the kube-apiserver log[^]*unknown flag: --no-such-flag/);
  expect(await readdir(tmpRoot)).toEqual([]);
  expect(pidsOf(tmpRoot)).toEqual([]);
}, 60_000);

test('missing binaries are a clear error when building is off', async () => {
  await expect(startControlPlane({ ...options, binDir: join(tmpRoot, 'nothing-here') })).rejects.toThrow(
    /control-plane binaries not found: .*nothing-here\/kube-apiserver/,
  );
  await expect(startControlPlane({ ...options, cacheDir: join(tmpRoot, 'empty-cache') })).rejects.toThrow(
    /binaries not found: .*; build them with: bash .*build\.sh/,
  );
});

test('without Go, building says what to install', async () => {
  const bin = join(tmpRoot, 'bin-without-go');
  await mkdir(bin);
  await symlink(existsSync('/bin/bash') ? '/bin/bash' : '/usr/bin/bash', join(bin, 'bash'));
  const lines: string[] = [];
  const start = startControlPlane({
    ...options,
    cacheDir: join(tmpRoot, 'empty-cache'),
    build: true,
    env: { PATH: bin, HOME: tmpRoot },
    log: (line) => lines.push(line),
  });
  await expect(start).rejects.toThrow(/failed \(exit code 1\)\.\nInstall Go >= 1\.26/);
  await expect(start).rejects.toThrow(/Go is not installed/);
  expect(lines.some((line) => line.includes('building them with'))).toBe(true);
});
