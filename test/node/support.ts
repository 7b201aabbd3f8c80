/**
 * What the node tier's files share: the machine check, a node started for a test file (waiting for
 * another file's node to stop: one runs per machine), and readers of what pods and IPAM show.
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { defaultCacheDir } from '../../dev/binaries.ts';
import { startKubeNode, type KubeNode, type KubeNodeOptions } from '../../dev/node/kube-node.ts';
import { podNetwork } from '../../dev/node/node-config.ts';
import type { LocalRunOptions } from '../../dev/node/local-run.ts';
import { checkNodeHost } from '../../dev/node/prerequisites.ts';
import { listenTcp } from '../../platform/nodejs/listen.ts';
import { networkStatusAnnotation } from '../../lib/annotations/keys.ts';
import { readFixture } from '../fixtures.ts';

export const cacheDir = defaultCacheDir(process.env, homedir());

/** Fails the file loudly when this machine cannot host the node, naming what to install. */
export async function requireNodeHost(): Promise<void> {
  const check = await checkNodeHost({ uid: process.getuid?.(), path: process.env.PATH });
  if (!check.ok) {
    throw new Error(
      `the node tier cannot run on this machine; missing:\n  - ${check.missing.join('\n  - ')}`,
    );
  }
}

/** What a local run takes from this process (a test file is an entry point); it waits for another run. */
export function testRunOptions(): LocalRunOptions {
  return {
    cacheDir,
    env: process.env,
    uid: process.getuid?.(),
    pid: process.pid,
    kill: (pid, signal) => process.kill(pid, signal),
    listen: (server) => listenTcp(server, '127.0.0.1', 0),
    waitForOtherNodeMs: 30 * 60_000,
  };
}

export function startTestNode(options: Partial<KubeNodeOptions> = {}): Promise<KubeNode> {
  return startKubeNode({ ...testRunOptions(), ...options });
}

/** eth0's address from the default network (the node's share of the pod network, not the gateway's). */
export const podAddress = /^198\.51\.100\.([2-9]|[1-9]\d|1[01]\d|12[0-5])\/25$/;
/** net1's from the seed's macvlan-conf on the node (range 192.0.2.200-216). */
export const macvlanAddress = /^192\.0\.2\.2(0\d|1[0-6])\/24$/;

/** The IPv4 address of an interface in `ip -4 a` output. */
export function ipv4(text: string, ifname: string): string | undefined {
  return new RegExp(`^\\d+: ${ifname}[@:][\\s\\S]*?inet (\\d+\\.\\d+\\.\\d+\\.\\d+/\\d+)`, 'm').exec(
    text,
  )?.[1];
}

/** Addresses host-local holds in a lease dir (but the one reserved for the node's API gateway). */
export function leases(dir: string): string[] {
  return existsSync(dir)
    ? readdirSync(dir).filter((f) => /^\d+\.\d+\.\d+\.\d+$/.test(f) && f !== podNetwork.apiGateway.host)
    : [];
}

/**
 * The seed samplepod's network-status, checked against the seed's shape: eth0 of the default network
 * `defaultNetwork` at `eth0`, then net1 of macvlan-conf at `net1`, with every field the seed's
 * reference status has.
 */
export async function expectSeedNetworkStatus(
  node: KubeNode,
  defaultNetwork: string,
  eth0: string | undefined,
  net1: string | undefined,
): Promise<void> {
  const out = await node.kubectl([
    'get',
    'pod',
    'samplepod',
    '-o',
    `jsonpath={.metadata.annotations.${networkStatusAnnotation.replace(/\./g, '\\.')}}`,
  ]);
  expect(out.code).toBe(0);
  const status = JSON.parse(out.stdout) as Array<Record<string, unknown>>;
  const reference = JSON.parse(readFixture('seed', 'network-status.reference.json')) as Array<
    Record<string, unknown>
  >;
  expect(status).toHaveLength(2);
  expect(status[0]).toMatchObject({
    name: defaultNetwork,
    interface: 'eth0',
    ips: [eth0!.split('/')[0]],
    default: true,
    dns: {},
  });
  expect(status[1]).toMatchObject({
    name: 'default/macvlan-conf',
    interface: 'net1',
    ips: [net1!.split('/')[0]],
    dns: {},
  });
  expect(Object.keys(status[1]!)).toEqual(expect.arrayContaining(Object.keys(reference[1]!)));
}

export interface ProcessRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a program as a user would from a shell (its own environment only), without blocking the test. */
export function runProcess(
  file: string,
  args: readonly string[],
  env: Record<string, string | undefined>,
): Promise<ProcessRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { env: env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}
