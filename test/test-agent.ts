/**
 * Builds an agent on in-memory ports for unit tests: fake plugins in /opt/cni/bin, a conf dir with a
 * default network, NADs and pods as files. Not used by the product.
 */
import winston from 'winston';
import { CniError } from '../lib/cni/error.ts';
import type { CniRequest } from '../lib/cni/request.ts';
import {
  FakeClock,
  MemoryExec,
  MemoryFs,
  fakeResult,
  type FakePlugin,
  type PluginCall,
} from './doubles/memory-ports.ts';
import { createAgent, type Agent, type AgentDeps, type AgentOptions } from '../agent/agent.ts';
import type { PodDeviceSource } from '../agent/devices.ts';
import { StandaloneSource } from '../agent/standalone-source.ts';
import type { NetworkSource, PodInfo } from '../agent/network-source.ts';
import type { NetworkStatus } from '../lib/network-status.ts';

export const silentLog = winston.createLogger({
  transports: [new winston.transports.Console({ silent: true })],
});

export interface TestAgent {
  readonly agent: Agent;
  readonly fs: MemoryFs;
  readonly exec: MemoryExec;
  readonly clock: FakeClock;
  /** Plugin calls other than VERSION, as "COMMAND plugin ifName". */
  calls(): string[];
  request(command: CniRequest['command'], overrides?: Partial<CniRequest>): CniRequest;
  addNad(name: string, config: object, namespace?: string, annotations?: Record<string, string>): void;
  addPod(name: string, annotations: Record<string, string>, namespace?: string): void;
  /** The pod as the informer would tell hot-plug about it (the pod file's annotations). */
  pod(name: string, namespace?: string): Promise<PodInfo>;
  /** Events posted about pods ("Reason message"), and the network-status writes with what they announced. */
  readonly events: string[];
  readonly published: Array<{
    readonly statuses: readonly NetworkStatus[];
    readonly added?: readonly string[];
  }>;
}

let address = 10;

/** A plugin that answers ADD with one sandbox interface and a fresh address in 192.0.2.0/24. */
export const okPlugin: FakePlugin = (call: PluginCall) => {
  if (call.command !== 'ADD') return {};
  const prev = call.stdin.prevResult as Record<string, unknown> | undefined;
  if (prev) return { stdout: JSON.stringify({ ...prev, cniVersion: call.stdin.cniVersion }) };
  address = address >= 250 ? 10 : address + 1;
  return { stdout: fakeResult(String(call.stdin.cniVersion), call.ifName, `192.0.2.${address}/24`) };
};

export function testAgent(
  options: Partial<AgentOptions> = {},
  fs = new MemoryFs(),
  exec = new MemoryExec(fs),
  observer?: AgentDeps['observer'],
  podDevices?: PodDeviceSource,
  claims?: AgentDeps['claims'],
): TestAgent {
  for (const plugin of ['bridge', 'macvlan', 'tuning', 'host-local', 'ptp']) {
    if (!fs.files.has(`/opt/cni/bin/${plugin}`)) exec.register(`/opt/cni/bin/${plugin}`, okPlugin);
  }
  if (!fs.files.has('/etc/cni/net.d/10-default.conflist')) {
    fs.put(
      '/etc/cni/net.d/10-default.conflist',
      JSON.stringify({
        cniVersion: '1.0.0',
        name: 'podnet',
        plugins: [{ type: 'bridge', capabilities: { portMappings: true } }],
      }),
    );
  }
  const clock = new FakeClock();
  const files = new StandaloneSource(fs, { nadDir: '/nads', podDir: '/pods', stateDir: '/state' }, silentLog);
  const events: string[] = [];
  const published: TestAgent['published'] = [];
  // The standalone source, with what the agent tells the API (Events, status writes) recorded.
  const source: NetworkSource = {
    getPod: (ref) => files.getPod(ref),
    getNetwork: (namespace, name) => files.getNetwork(namespace, name),
    publishStatus: async (pod, statuses, containerId, announce) => {
      published.push({ statuses, ...(announce ? { added: announce.added } : {}) });
      await files.publishStatus(pod, statuses, containerId);
    },
    withdrawStatus: (pod, containerId) => files.withdrawStatus(pod, containerId),
    sweep: () => files.sweep(),
    podEvent: (_pod, _type, reason, message) => void events.push(`${reason} ${message}`),
  };
  const agent = createAgent(
    {
      confDir: '/etc/cni/net.d',
      binDirs: ['/opt/cni/bin'],
      stateDir: '/state',
      socketPath: '/run/multinet/agent.sock',
      confFileName: '00-multinet.conflist',
      shimName: 'multinet-cni',
      network: {
        defaultNetworks: [],
        namespaceIsolation: false,
        globalNamespaces: [],
        systemNamespaces: ['kube-system'],
      },
      delegateTimeoutMs: 5000,
      agentWaitSeconds: 30,
      readinessTimeoutMs: 2000,
      concurrency: 4,
      maxQueued: 10,
      ipPath: '/sbin/ip',
      nsenterPath: '/usr/bin/nsenter',
      pluginEnv: { PATH: '/usr/bin' },
      resyncMs: 60_000,
      ...options,
    },
    {
      fs,
      exec,
      clock,
      log: silentLog,
      source,
      watchDir: () => () => undefined,
      ...(observer ? { observer } : {}),
      ...(podDevices ? { podDevices } : {}),
      ...(claims ? { claims } : {}),
    },
  );
  return {
    agent,
    fs,
    exec,
    clock,
    calls: () => exec.calls.map((c) => `${c.command} ${c.plugin} ${c.ifName}`),
    request: (command, overrides = {}) => ({
      command,
      containerId: 'c1',
      netns: '/var/run/netns/test',
      ifName: 'eth0',
      args: 'K8S_POD_NAMESPACE=default;K8S_POD_NAME=samplepod;K8S_POD_INFRA_CONTAINER_ID=c1;K8S_POD_UID=u1',
      path: '/opt/cni/bin',
      config: { cniVersion: '1.0.0', name: 'multinet-cni-network', type: 'multinet-cni' },
      ...overrides,
    }),
    addNad: (name, config, namespace = 'default', annotations) =>
      fs.put(
        `/nads/${namespace}-${name}.yaml`,
        JSON.stringify({
          apiVersion: 'k8s.cni.cncf.io/v1',
          kind: 'NetworkAttachmentDefinition',
          metadata: { name, namespace, ...(annotations ? { annotations } : {}) },
          spec: { config: JSON.stringify(config) },
        }),
      ),
    events,
    published,
    pod: async (name, namespace = 'default') => {
      const pod = await files.getPod({ namespace, name, uid: 'u1' });
      if (!pod) throw new Error(`no pod file for ${namespace}/${name}`);
      return pod;
    },
    addPod: (name, annotations, namespace = 'default') =>
      fs.put(
        `/pods/${namespace}-${name}.yaml`,
        JSON.stringify({
          apiVersion: 'v1',
          kind: 'Pod',
          metadata: { name, namespace, uid: 'u1', annotations },
        }),
      ),
  };
}

/** What a promise rejects with, which must be a CniError (a test fails otherwise). */
export async function rejection(promise: Promise<unknown>): Promise<CniError> {
  try {
    await promise;
  } catch (err) {
    expect(err).toBeInstanceOf(CniError);
    return err as CniError;
  }
  throw new Error('expected a CNI error');
}
