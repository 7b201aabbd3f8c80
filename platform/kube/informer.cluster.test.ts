/**
 * The informer on a real API server: it fills its cache, sees changes, and keeps working after the
 * API server restarts; a watch from a compacted resourceVersion gets 410 Gone. This file starts its
 * own control plane, since it restarts it and compacts its etcd.
 */
import { homedir } from 'node:os';
import { CustomObjectsApi } from '@kubernetes/client-node';
import winston from 'winston';
import { defaultCacheDir } from '../../dev/binaries.ts';
import { startControlPlane, type ControlPlane } from '../../dev/controlplane/controlplane.ts';
import { installCrds } from '../../dev/controlplane/crds.ts';
import { nadInformer } from './informers.ts';
import { isGone, KubeApiError, KubeRestClient, type WatchEvent } from './rest.ts';
import { eventually } from '../../dev/eventually.ts';

const log = winston.createLogger({ transports: [new winston.transports.Console({ silent: true })] });

describe('ResilientInformer', () => {
  let cp: ControlPlane;

  beforeAll(async () => {
    cp = await startControlPlane({
      kill: (pid, signal) => process.kill(pid, signal),
      cacheDir: defaultCacheDir(process.env, homedir()),
      env: process.env,
      log: () => undefined,
    });
    await installCrds(cp.kubeConfig());
  }, 120_000);

  afterAll(async () => {
    await cp?.stop();
  });

  it('syncs, follows changes, and survives an API server restart', async () => {
    const kc = cp.kubeConfig();
    const api = kc.makeApiClient(CustomObjectsApi);
    const nad = (name: string): object => ({
      apiVersion: 'k8s.cni.cncf.io/v1',
      kind: 'NetworkAttachmentDefinition',
      metadata: { name },
      spec: { config: '{"cniVersion":"1.0.0","type":"bridge"}' },
    });
    const create = (name: string): Promise<unknown> =>
      api.createNamespacedCustomObject({
        group: 'k8s.cni.cncf.io',
        version: 'v1',
        namespace: 'default',
        plural: 'network-attachment-definitions',
        body: nad(name),
      });
    await create('before');
    const client = new KubeRestClient(kc);
    const informer = nadInformer(client, log);
    const added: string[] = [];
    informer.on('add', (o) => added.push(o.metadata.name));
    await informer.start();
    try {
      expect(informer.synced).toBe(true);
      expect(informer.cache.list().map((o) => o.metadata.name)).toEqual(['before']);
      await create('during');
      await eventually('the add of "during"', () => added.includes('during'));
      await cp.restartApiServer();
      await create('after');
      await eventually(
        'the add of "after" after the restart',
        () => informer.cache.get('after', 'default') !== undefined,
        60_000,
      );
      expect(
        informer.cache
          .list()
          .map((o) => o.metadata.name)
          .sort(),
      ).toEqual(['after', 'before', 'during']);
    } finally {
      await informer.stop();
      client.close();
    }
  }, 120_000);

  it('reports 410 Gone for a watch from a resourceVersion etcd has compacted away', async () => {
    const client = new KubeRestClient(cp.kubeConfig());
    const path = '/api/v1/namespaces/default/configmaps';
    try {
      await client.request({ method: 'POST', path, body: { metadata: { name: 'compacted' } } });
      const { metadata } = await client.request<{ metadata: { resourceVersion: string } }>({
        method: 'GET',
        path,
      });
      const compaction = await fetch(`${cp.etcdUrl}/v3/kv/compaction`, {
        method: 'POST',
        body: JSON.stringify({ revision: metadata.resourceVersion, physical: true }),
      });
      expect(compaction.status).toBe(200);
      const events: WatchEvent[] = [];
      const outcome = await client
        .watch(path, { resourceVersion: '2' }, (e) => events.push(e), AbortSignal.timeout(20_000))
        .then(
          () => events.find((e) => e.type === 'ERROR')?.object,
          (err: unknown) => err,
        );
      expect(isGone(outcome instanceof KubeApiError ? outcome : KubeApiError.fromStatus(500, outcome))).toBe(
        true,
      );
    } finally {
      client.close();
    }
  }, 60_000);
});
