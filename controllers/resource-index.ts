/**
 * Which nodes advertise which extended resources (Node status.allocatable > 0): what a NAD with a
 * resourceName needs somewhere for its pods to be scheduled. Kept from the Node watch; a change tells
 * which resources went from advertised nowhere to somewhere or back, so only their NADs are requeued.
 */
import { wholeQuantity } from '../lib/devices.ts';
import type { NodeObject } from '../platform/kube/informers.ts';

export class ResourceIndex {
  /** Node name -> resource -> allocatable count (> 0 only). */
  private readonly byNode = new Map<string, ReadonlyMap<string, number>>();
  /** Resource -> how many nodes advertise it. */
  private readonly nodeCounts = new Map<string, number>();

  /** How many nodes advertise the resource. */
  advertisedBy(resource: string): number {
    return this.nodeCounts.get(resource) ?? 0;
  }

  /** Records a node; returns the resources now advertised by no node that were before, or the reverse. */
  upsert(node: NodeObject): Set<string> {
    const advertised = new Map<string, number>();
    for (const [name, value] of Object.entries(node.status?.allocatable ?? {})) {
      const count = wholeQuantity(value);
      if (count !== undefined && count > 0) advertised.set(name, count);
    }
    return this.replace(node.metadata.name, advertised);
  }

  remove(name: string): Set<string> {
    return this.replace(name, new Map());
  }

  private replace(name: string, next: ReadonlyMap<string, number>): Set<string> {
    const before = this.byNode.get(name) ?? new Map<string, number>();
    if (next.size > 0) this.byNode.set(name, next);
    else this.byNode.delete(name);
    const flipped = new Set<string>();
    for (const resource of new Set([...before.keys(), ...next.keys()])) {
      const delta = (next.has(resource) ? 1 : 0) - (before.has(resource) ? 1 : 0);
      if (delta === 0) continue;
      const was = this.nodeCounts.get(resource) ?? 0;
      const now = was + delta;
      if (now > 0) this.nodeCounts.set(resource, now);
      else this.nodeCounts.delete(resource);
      if ((was === 0) !== (now === 0)) flipped.add(resource);
    }
    return flipped;
  }
}
