/**
 * The agent's uninstall verdict against a real API server: a DaemonSet in place, replaced by one of
 * the same name, being deleted (foreground: no garbage collector runs here, so it stays with its
 * deletionTimestamp), and gone.
 */
import { eventually } from '../dev/eventually.ts';
import { createTestNamespace, testKubeConfig } from '../test/controlplane/test-cluster.ts';
import { silentLog } from '../test/doubles/cluster-helpers.ts';
import { KubeRestClient } from '../platform/kube/rest.ts';
import { OwnerWatch, ownerVerdict, type OwnerRef } from './owner-daemonset.ts';

let client: KubeRestClient;
let owner: OwnerRef;
const dsPath = (name?: string): string =>
  `/apis/apps/v1/namespaces/${owner.namespace}/daemonsets${name === undefined ? '' : `/${name}`}`;

function createDaemonSet(): Promise<{ metadata: { uid: string } }> {
  const labels = { app: 'multinet-agent' };
  return client.request({
    method: 'POST',
    path: dsPath(),
    body: {
      apiVersion: 'apps/v1',
      kind: 'DaemonSet',
      metadata: { name: owner.name },
      spec: {
        selector: { matchLabels: labels },
        template: {
          metadata: { labels },
          spec: { containers: [{ name: 'agent', image: 'multinet.local/multinet:test' }] },
        },
      },
    },
  });
}

async function ownerUid(): Promise<string | undefined> {
  const ds = await client.request<{ metadata: { uid?: string } }>({
    method: 'GET',
    path: dsPath(owner.name),
  });
  return ds.metadata.uid;
}

const verdict = (startUid: string | undefined) =>
  ownerVerdict(client, owner, startUid, AbortSignal.timeout(5000));

beforeAll(async () => {
  owner = { namespace: await createTestNamespace('owner-ds'), name: 'multinet-agent' };
  client = new KubeRestClient(testKubeConfig(), { fieldManager: 'multinet-test' });
});
afterAll(() => client.close());

describe("the agent's own DaemonSet tells an uninstall from a restart", () => {
  it('keeps the files while the DaemonSet is there, and when one of the same name replaced it', async () => {
    const created = await createDaemonSet();
    const uid = await ownerUid();
    expect(uid).toBe(created.metadata.uid);
    expect(await verdict(uid)).toEqual({
      removed: false,
      reason: `DaemonSet ${owner.namespace}/multinet-agent is still there (a restart, an upgrade or a drain)`,
    });

    await client.request({ method: 'DELETE', path: dsPath(owner.name) });
    const replaced = await createDaemonSet();
    const again = await verdict(uid);
    expect(again.removed).toBe(false);
    expect(again.reason).toContain(`was replaced (uid ${uid} → ${replaced.metadata.uid})`);
  });

  it('removes them while the DaemonSet is being deleted (foreground) and once it is gone', async () => {
    const uid = await ownerUid();
    await client.request({
      method: 'DELETE',
      path: dsPath(owner.name),
      body: { apiVersion: 'v1', kind: 'DeleteOptions', propagationPolicy: 'Foreground' },
    });
    const deleting = await verdict(uid);
    expect(deleting.removed).toBe(true);
    expect(deleting.reason).toMatch(/is being deleted \(since \d{4}-/);

    // Nothing collects it here: take the foreground finalizer off, as the garbage collector would.
    await client.request({
      method: 'PATCH',
      path: dsPath(owner.name),
      contentType: 'application/merge-patch+json',
      body: { metadata: { finalizers: null } },
    });
    expect(await verdict(uid)).toEqual({
      removed: true,
      reason: `DaemonSet ${owner.namespace}/multinet-agent is gone`,
    });
  });

  it('remembers a deletion it watched, so the verdict holds once the agent may no longer ask (helm deletes its RBAC too)', async () => {
    const created = await createDaemonSet();
    const watch = new OwnerWatch(client, owner, silentLog);
    watch.start();
    try {
      // While it is there, the watch has nothing to say and the read decides.
      await eventually(
        'the watch to have listed the DaemonSet',
        async () =>
          (await watch.verdict(AbortSignal.timeout(5000))).reason.includes('still there') ? true : undefined,
        10_000,
      );
      await client.request({ method: 'DELETE', path: dsPath(owner.name) });
      await eventually(
        'the watch to see the deletion without asking',
        async () => {
          const seen = await watch.verdict(AbortSignal.abort(new Error('no more access')));
          return seen.removed ? seen : undefined;
        },
        10_000,
      );
      expect(await watch.verdict(AbortSignal.abort(new Error('no more access')))).toEqual({
        removed: true,
        reason: `DaemonSet ${owner.namespace}/multinet-agent was deleted`,
      });
      expect(created.metadata.uid).toBeTruthy();
    } finally {
      await watch.stop();
    }
  });

  it('keeps them when the API server cannot be asked', async () => {
    const unreachable = await ownerVerdict(
      client,
      owner,
      undefined,
      AbortSignal.abort(new Error('timed out')),
    );
    expect(unreachable.removed).toBe(false);
    expect(unreachable.reason).toMatch(/^cannot read DaemonSet .*multinet-agent/);
  });
});
