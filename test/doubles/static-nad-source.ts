/** A NadSource over a fixed set of objects (the benchmark's server, tests, a file-based playground). */
import type { NadObject } from '../../platform/kube/informers.ts';
import type { NadSource } from '../../webhooks/nad-catalog.ts';

export class StaticNadSource implements NadSource {
  private readonly byKey = new Map<string, NadObject>();

  constructor(objects: Iterable<NadObject> = []) {
    for (const object of objects) this.put(object);
  }

  put(object: NadObject): void {
    this.byKey.set(`${object.metadata.namespace ?? 'default'}/${object.metadata.name}`, object);
  }

  get(name: string, namespace = 'default'): NadObject | undefined {
    return this.byKey.get(`${namespace}/${name}`);
  }

  list(namespace?: string): readonly NadObject[] {
    const all = [...this.byKey.values()];
    return namespace === undefined
      ? all
      : all.filter((o) => (o.metadata.namespace ?? 'default') === namespace);
  }
}
