/**
 * The seed manifests (examples/seed, from a public Multus deployment guide) as the playground
 * applies them: the NAD's master (eth0) and subnet (192.168.1.0/24) are swapped for the local node's
 * veth and 192.0.2.0/24, so nothing leaves this machine; everything else is as in the guide.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { V1Pod } from '@kubernetes/client-node';
import yaml from 'js-yaml';
import { repoRoot, type LocalNode } from '../dev/netns/local-node.ts';

export const seedDir = join(repoRoot, 'examples', 'seed');

export interface SeedNad {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string };
  spec: { config: string };
}

/** The seed NAD's config with its master and subnet swapped (and optionally a host-local dataDir). */
export function seedMacvlanConfig(nad: SeedNad, master: string, dataDir?: string): Record<string, unknown> {
  const config = JSON.parse(nad.spec.config) as { master: string; ipam: Record<string, unknown> };
  return {
    ...config,
    master,
    ipam: {
      ...config.ipam,
      subnet: '192.0.2.0/24',
      rangeStart: '192.0.2.200',
      rangeEnd: '192.0.2.216',
      gateway: '192.0.2.1',
      ...(dataDir ? { dataDir } : {}),
    },
  };
}

export function seedMacvlanNad(node: LocalNode): SeedNad {
  const nad = yaml.load(readFileSync(join(seedDir, 'macvlan-conf.nad.yaml'), 'utf8')) as SeedNad;
  return { ...nad, spec: { config: JSON.stringify(seedMacvlanConfig(nad, node.master, node.ipamDir)) } };
}

export function seedPod(nodeName: string, file = 'samplepod.yaml'): V1Pod {
  const pod = yaml.load(readFileSync(join(seedDir, file), 'utf8')) as V1Pod;
  return { ...pod, spec: { ...pod.spec!, nodeName } };
}
