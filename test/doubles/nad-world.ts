/**
 * The world a NAD controller test is given: an in-memory API server, the informer cache it feeds when
 * the test says the watch delivered, a manual clock, recorded Events, and node reports as the agents
 * would write them. Tests wire `onDelivered` to the reconciler or the controller under test.
 */
import winston from 'winston';
import type { EventRecorder, EventType } from '../../platform/kube/events.ts';
import type { NadObject } from '../../platform/kube/informers.ts';
import type { NodeNetworkState } from '../../lib/node-state.ts';
import type { NadCache } from '../../controllers/written-cache.ts';
import type { NadStatus } from '../../controllers/nad-status.ts';
import { ManualScheduler } from './manual-scheduler.ts';
import { MemoryApi } from './memory-api.ts';
import { simulatedStatus, type SimulatedNodeOptions } from './simulated-agents.ts';

export const silentLog = winston.createLogger({
  transports: [new winston.transports.Console({ silent: true })],
});

export const nadPath = (ns: string, name: string): string =>
  `/apis/k8s.cni.cncf.io/v1/namespaces/${ns}/network-attachment-definitions/${name}`;

export const bridgeConfig = (subnet = '192.0.2.0/24'): string =>
  JSON.stringify({
    cniVersion: '1.0.0',
    type: 'bridge',
    bridge: 'br0',
    ipam: { type: 'host-local', subnet },
  });

export const macvlanConfig = JSON.stringify({
  cniVersion: '1.0.0',
  type: 'macvlan',
  master: 'eth0',
  ipam: { type: 'host-local', subnet: '198.51.100.0/24' },
});

/** The informer cache, fed from the memory API when the test says the watch delivered. */
class FakeNadCache implements NadCache {
  readonly objects = new Map<string, NadObject>();
  get(name: string, namespace?: string): NadObject | undefined {
    return this.objects.get(`${namespace}/${name}`);
  }
  list(): NadObject[] {
    return [...this.objects.values()];
  }
}

class RecordedEvents implements EventRecorder {
  readonly events: string[] = [];
  event(object: { name: string }, type: EventType, reason: string, message: string): void {
    this.events.push(`${object.name} ${type} ${reason}: ${message}`);
  }
}

export class NadWorld {
  readonly api = new MemoryApi();
  readonly cache = new FakeNadCache();
  readonly scheduler = new ManualScheduler(Date.parse('2026-03-01T00:00:00Z'));
  readonly events = new RecordedEvents();
  /** Called for each NAD the watch delivers (new or changed resourceVersion). */
  onDelivered: (nad: NadObject) => void = () => undefined;

  /** Creates a NAD in the API and delivers it to the cache. */
  create(name: string, config: string, namespace = 'ns', createdAt?: number): void {
    this.api.put(nadPath(namespace, name), {
      apiVersion: 'k8s.cni.cncf.io/v1',
      kind: 'NetworkAttachmentDefinition',
      metadata: {
        name,
        namespace,
        ...(createdAt !== undefined ? { creationTimestamp: new Date(createdAt).toISOString() } : {}),
      },
      spec: { config },
    });
    this.sync();
  }

  /** Delivers the API's current NADs to the cache, as the watch would. */
  sync(): void {
    for (const [path, object] of this.api.objects) {
      if (!path.includes('/network-attachment-definitions/')) continue;
      const nad = structuredClone(object) as unknown as NadObject;
      const key = `${nad.metadata.namespace}/${nad.metadata.name}`;
      if (this.cache.objects.get(key)?.metadata.resourceVersion === nad.metadata.resourceVersion) continue;
      this.cache.objects.set(key, nad);
      this.onDelivered(nad);
    }
  }

  /** A node's report of what it holds (all NADs in the cache unless given), timed now. */
  nodeState(
    name: string,
    options: SimulatedNodeOptions = {},
    nads: readonly NadObject[] = this.cache.list(),
  ): NodeNetworkState {
    return {
      apiVersion: 'multinet.io/v1alpha1',
      kind: 'NodeNetworkState',
      metadata: { name },
      status: simulatedStatus(name, nads, options, new Date(this.scheduler.now())),
    };
  }

  status(name: string, namespace = 'ns'): NadStatus {
    return this.api.get(nadPath(namespace, name))!.status as NadStatus;
  }

  patches(): number {
    return this.api.log.filter((l) => l.startsWith('PATCH')).length;
  }
}
