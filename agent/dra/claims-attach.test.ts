/**
 * The networks of a pod's ResourceClaims in the sandbox's ADD: after the annotation's networks, named as
 * the claim's config says (or the next netN), in network-status, reported for the claims' status, kept
 * out of hot-plug, detached by DEL; a claim's NAD is subject to namespace isolation as the annotation's.
 */
import { networksAnnotation } from '../../lib/annotations/keys.ts';
import { deviceName, type ClaimDeviceRef } from '../../lib/dra.ts';
import type { CniResult } from '../../lib/cni/result.ts';
import { MemoryExec, MemoryFs } from '../../test/doubles/memory-ports.ts';
import { okPlugin, rejection, silentLog, testAgent, type TestAgent } from '../../test/test-agent.ts';
import { ClaimStore } from './claim-store.ts';

interface Reported {
  readonly attached: Array<{ claim: ClaimDeviceRef; ifName: string; result: CniResult }>;
  /** The pod each attached entry was reported for. */
  readonly attachedPods: string[];
  readonly detached: ClaimDeviceRef[];
}

/** The pod `name` (samplepod) with a claim made from a template, and `networks` in its annotation. */
function podWithClaims(fs: MemoryFs, networks: string, namespace = 'default', name = 'samplepod'): void {
  fs.put(
    `/pods/${namespace}-${name}.yaml`,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name,
        namespace,
        uid: name === 'samplepod' ? 'u1' : `uid-${name}`,
        annotations: { [networksAnnotation]: networks },
      },
      spec: { resourceClaims: [{ name: 'nets', resourceClaimTemplateName: 'storage-nets' }] },
      status: { resourceClaimStatuses: [{ name: 'nets', resourceClaimName: 'samplepod-nets-x7k2q' }] },
    }),
  );
}

async function setup(
  parameters: Record<string, unknown>[],
  nadNamespace = 'default',
  isolation = false,
): Promise<{
  t: TestAgent;
  reported: Reported;
}> {
  const fs = new MemoryFs();
  const exec = new MemoryExec(fs);
  for (const plugin of ['bridge', 'macvlan', 'ipvlan']) exec.register(`/opt/cni/bin/${plugin}`, okPlugin);
  const store = new ClaimStore(fs, '/state', silentLog);
  await store.load();
  await store.save({
    version: 1,
    claim: { namespace: 'default', name: 'samplepod-nets-x7k2q', uid: 'claim-1' },
    devices: parameters.map((p, i) => ({
      request: `r${i}`,
      pool: 'node-1',
      device: deviceName(nadNamespace, i === 0 ? 'storage' : 'backup'),
      shareID: `share-${i}`,
      network: `${nadNamespace}/${i === 0 ? 'storage' : 'backup'}`,
      parameters: p,
    })),
  });
  const reported: Reported = { attached: [], attachedPods: [], detached: [] };
  const t = testAgent(
    isolation
      ? {
          network: {
            defaultNetworks: [],
            namespaceIsolation: true,
            globalNamespaces: [],
            systemNamespaces: [],
          },
        }
      : {},
    fs,
    exec,
    undefined,
    undefined,
    {
      networksOf: (pod) => store.networksOf(pod),
      attached: (pod, attachments) => {
        reported.attached.push(...attachments);
        reported.attachedPods.push(...attachments.map(() => pod.name));
      },
      detached: (_pod, claims) => void reported.detached.push(...claims),
    },
  );
  t.addNad('macvlan-conf', { cniVersion: '1.0.0', type: 'macvlan', master: 'eth9' });
  t.addNad('storage', { cniVersion: '1.0.0', type: 'ipvlan', master: 'storage0' }, nadNamespace);
  t.addNad('backup', { cniVersion: '1.0.0', type: 'bridge' }, nadNamespace);
  await t.agent.start();
  return { t, reported };
}

describe("a pod's ResourceClaims in its sandbox's ADD", () => {
  it("attaches the claims' networks after the annotation's, as the claim's config names them or as the next netN, and reports them for the claim's status", async () => {
    const { t, reported } = await setup([{ interface: 'storage' }, {}]);
    podWithClaims(t.fs, 'macvlan-conf');
    await t.agent.attacher.handle(t.request('ADD'));
    expect(t.calls()).toEqual([
      'ADD bridge eth0',
      'ADD macvlan net1',
      'ADD ipvlan storage',
      'ADD bridge net3',
    ]);
    expect(t.published.at(-1)!.statuses.map((s) => [s.name, s.interface])).toEqual([
      ['podnet', 'eth0'],
      ['default/macvlan-conf', 'net1'],
      ['default/storage', 'storage'],
      ['default/backup', 'net3'],
    ]);
    expect(
      reported.attached.map((a) => [a.claim.request, a.claim.shareID, a.ifName, a.result.ips?.[0]?.address]),
    ).toEqual([
      ['r0', 'share-0', 'storage', expect.stringMatching(/^192\.0\.2\.\d+\/24$/)],
      ['r1', 'share-1', 'net3', expect.stringMatching(/^192\.0\.2\.\d+\/24$/)],
    ]);
    // The status's addresses are those network-status lists (with their prefix).
    expect(reported.attached[0]!.result.ips![0]!.address.split('/')[0]).toBe(
      t.published.at(-1)!.statuses[2]!.ips![0],
    );
    // Hot-plug changes what the annotation selects, never what the claims gave.
    podWithClaims(t.fs, '');
    t.exec.calls.length = 0;
    expect(await t.agent.hotPlug.converge(await t.pod('samplepod'))).toBe('changed');
    expect(t.calls()).toEqual(['DEL macvlan net1']);
    t.exec.calls.length = 0;
    await t.agent.attacher.handle(t.request('DEL'));
    expect(t.calls()).toEqual(['DEL bridge net3', 'DEL ipvlan storage', 'DEL bridge eth0']);
    expect(reported.detached.map((c) => c.request)).toEqual(['r0', 'r1']);
  });

  it('keeps the status of a claim two pods share while one of them still holds it: the DEL of the first reports the other', async () => {
    const { t, reported } = await setup([{}]);
    podWithClaims(t.fs, '');
    podWithClaims(t.fs, '', 'default', 'samplepod-2');
    const second = {
      containerId: 'c2',
      args: 'K8S_POD_NAMESPACE=default;K8S_POD_NAME=samplepod-2;K8S_POD_INFRA_CONTAINER_ID=c2;K8S_POD_UID=uid-samplepod-2',
    };
    await t.agent.attacher.handle(t.request('ADD'));
    await t.agent.attacher.handle(t.request('ADD', second));
    expect(reported.attachedPods).toEqual(['samplepod', 'samplepod-2']);
    await t.agent.attacher.handle(t.request('DEL'));
    expect(reported.detached).toEqual([]);
    expect(reported.attachedPods.at(-1)).toBe('samplepod-2');
    expect(reported.attached.at(-1)!.result.ips?.[0]?.address).toBe(
      reported.attached[1]!.result.ips?.[0]?.address,
    );
    await t.agent.attacher.handle(t.request('DEL', second));
    expect(reported.detached.map((c) => c.request)).toEqual(['r0']);
  });

  it("passes the claim's ips and mac to the plugin as capability arguments, as the annotation's would be", async () => {
    const { t } = await setup([{ ips: ['203.0.113.7/24'], mac: 'c2:b0:57:49:47:f1' }]);
    t.addNad(
      'storage',
      { cniVersion: '1.0.0', type: 'ipvlan', master: 'storage0', capabilities: { ips: true, mac: true } },
      'default',
    );
    podWithClaims(t.fs, '');
    await t.agent.attacher.handle(t.request('ADD'));
    const call = t.exec.calls.find((c) => c.plugin === 'ipvlan' && c.command === 'ADD')!;
    expect(call.stdin.runtimeConfig).toEqual({ ips: ['203.0.113.7/24'], mac: 'c2:b0:57:49:47:f1' });
  });

  it('fails the ADD, naming the claim, when its NAD is in a namespace the pod may not use, or its interface name is taken', async () => {
    const isolated = await setup([{}], 'other', true);
    podWithClaims(isolated.t.fs, '');
    const refused = await rejection(isolated.t.agent.attacher.handle(isolated.t.request('ADD')));
    expect(refused.message).toMatch(
      /resourceClaims "samplepod-nets-x7k2q" request "r0": namespace isolation is on/,
    );
    const taken = await setup([{ interface: 'net1' }]);
    podWithClaims(taken.t.fs, 'macvlan-conf');
    const clash = await rejection(taken.t.agent.attacher.handle(taken.t.request('ADD')));
    expect(clash.message).toMatch(
      /interface "net1" is already taken by networks\[0] "default\/macvlan-conf"/,
    );
    expect(taken.t.calls()).toEqual([]);
  });
});
