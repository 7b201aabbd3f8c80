/**
 * Installs multinet's CRDs (crds/*.yaml, the source of truth the chart also takes them from) with
 * server-side apply and waits until the API server serves them. For tests and the local playground;
 * clusters get the CRDs from the Helm chart.
 */
import { readdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { V1CustomResourceDefinition } from '@kubernetes/client-node';
import yaml from 'js-yaml';
import type { KubeAccess } from '../../platform/kube/kubeconfig.ts';
import { contentTypes, KubeRestClient } from '../../platform/kube/rest.ts';
import { eventually } from '../eventually.ts';

const crdDir = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'crds');

export async function readCrds(dir: string = crdDir): Promise<V1CustomResourceDefinition[]> {
  const names = (await readdir(dir)).filter((n) => n.endsWith('.yaml')).sort();
  return Promise.all(
    names.map(async (n) => yaml.load(await readFile(join(dir, n), 'utf8')) as V1CustomResourceDefinition),
  );
}

export async function installCrds(kc: KubeAccess, dir: string = crdDir, timeoutMs = 30_000): Promise<void> {
  const rest = new KubeRestClient(kc, { qps: 0, fieldManager: 'multinet' });
  const crds = await readCrds(dir);
  const path = (crd: V1CustomResourceDefinition): string =>
    `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${crd.metadata!.name!}`;
  try {
    for (const crd of crds) {
      await rest.request({
        method: 'PATCH',
        path: path(crd),
        query: { force: 'true' },
        body: crd,
        contentType: contentTypes.apply,
      });
    }
    const established = async (crd: V1CustomResourceDefinition): Promise<boolean> => {
      const current = await rest.request<V1CustomResourceDefinition>({ method: 'GET', path: path(crd) });
      return (
        current.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True') ?? false
      );
    };
    const everyOne = async (): Promise<boolean> => (await Promise.all(crds.map(established))).every(Boolean);
    await eventually(`CRDs ${crds.map((c) => c.metadata!.name!).join(', ')} to be established`, everyOne, {
      timeoutMs,
      intervalMs: 100,
    });
  } finally {
    rest.close();
  }
}
