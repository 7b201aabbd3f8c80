/** Small helpers for the controller's cluster tests (not used by the product). */
import { randomBytes } from 'node:crypto';
import type { KubeConfig } from '@kubernetes/client-node';
import winston from 'winston';
import { eventually } from '../../dev/eventually.ts';
import type { NadObject } from '../../platform/kube/informers.ts';
import type { KubeRequester } from '../../platform/kube/rest.ts';
import { nadApiVersion, nadGroup, nadKind, nadPlural, nadVersion } from '../../lib/nad.ts';
import type { ControllerSettings } from '../../controllers/manager.ts';
import { findCondition, type Condition, type NadStatus } from '../../controllers/nad-status.ts';

export const silentLog = winston.createLogger({
  transports: [new winston.transports.Console({ silent: true })],
});

/** A name unique to this run, for cluster-scoped objects (NodeNetworkStates) and label values. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${randomBytes(3).toString('hex')}`;
}

function nadPath(namespace: string, name?: string): string {
  const base = `/apis/${nadGroup}/${nadVersion}/namespaces/${namespace}/${nadPlural}`;
  return name === undefined ? base : `${base}/${name}`;
}

export function createNad(
  rest: KubeRequester,
  namespace: string,
  name: string,
  config: object,
): Promise<NadObject> {
  return rest.request<NadObject>({
    method: 'POST',
    path: nadPath(namespace),
    body: {
      apiVersion: nadApiVersion,
      kind: nadKind,
      metadata: { name },
      spec: { config: JSON.stringify(config) },
    },
  });
}

export async function updateNadConfig(
  rest: KubeRequester,
  namespace: string,
  name: string,
  config: object,
): Promise<NadObject> {
  const current = await rest.request<NadObject>({ method: 'GET', path: nadPath(namespace, name) });
  return rest.request<NadObject>({
    method: 'PUT',
    path: nadPath(namespace, name),
    body: { ...current, spec: { config: JSON.stringify(config) } },
  });
}

async function readNad(rest: KubeRequester, namespace: string, name: string): Promise<NadObject> {
  return rest.request<NadObject>({ method: 'GET', path: nadPath(namespace, name) });
}

export function statusOf(nad: NadObject): NadStatus | undefined {
  return nad.status as unknown as NadStatus | undefined;
}

export function conditionOf(nad: NadObject, type: string): Condition | undefined {
  return findCondition(nad.status, type);
}

export { eventually };

/** Waits until the NAD's status satisfies `predicate`, and returns the NAD. */
export function nadWhere(
  rest: KubeRequester,
  namespace: string,
  name: string,
  what: string,
  predicate: (nad: NadObject) => boolean,
  timeoutMs?: number,
): Promise<NadObject> {
  let last: NadObject | undefined;
  return eventually(
    `${namespace}/${name}: ${what}`,
    async () => {
      last = await readNad(rest, namespace, name);
      return predicate(last) ? last : undefined;
    },
    timeoutMs,
  ).catch((err: unknown) => {
    throw new Error(`${String(err)}; status was ${JSON.stringify(last?.status)}`, { cause: err });
  });
}

/** Controller settings for a cluster test: one test namespace, and only the nodes that test labels as its own. */
export function testControllerSettings(
  kubeConfig: KubeConfig,
  namespace: string,
  runLabel: string,
  instance: string,
): ControllerSettings {
  return {
    kubeConfig,
    log: silentLog,
    workers: 2,
    staleAfterMs: 180_000,
    qps: 50,
    burst: 100,
    namespaces: [namespace],
    nodeSelector: `multinet.test/run=${runLabel}`,
    instance,
    processMetrics: false,
  };
}
