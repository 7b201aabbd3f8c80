/**
 * The anchor harness end to end (anchors project, root): Multus thick built from shared/anchors,
 * its daemon in a private mount namespace against the run's real kube-apiserver with a
 * ServiceAccount token of Multus' RBAC, a macvlan NAD and a Pod on its node, and ADD then DEL
 * through multus-shim for a netns created after the daemon started, as a runtime would.
 */
import { CoreV1Api, CustomObjectsApi, RbacAuthorizationV1Api } from '@kubernetes/client-node';
import { writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultCacheDir } from '../../dev/binaries.ts';
import { clusterOf } from '../../dev/controlplane/kubeconfig.ts';
import { networkStatusAnnotation } from '../../lib/annotations/keys.ts';
import { eventually } from '../../dev/eventually.ts';
import {
  createTestNamespace,
  testKubeConfig,
  testServiceAccount,
} from '../../test/controlplane/test-cluster.ts';
import { Lab, pluginDir, requireNetnsPrerequisites } from '../../test/netns/lab.ts';
import {
  ensureMultus,
  missingDaemonPrerequisites,
  multusClusterRules,
  podCniArgs,
  runMultusShim,
  startMultusDaemon,
  type MultusDaemon,
} from './multus.ts';

requireNetnsPrerequisites();
const missing = missingDaemonPrerequisites(process.env, process.getuid?.());
if (missing.length > 0) throw new Error(`Multus' daemon cannot run here; missing: ${missing.join('; ')}`);

const nadName = 'multus-macvlan';
const podName = 'multus-pod';

describe('Multus thick, run by the anchor harness against the real API server', () => {
  const kc = testKubeConfig();
  const core = kc.makeApiClient(CoreV1Api);
  const custom = kc.makeApiClient(CustomObjectsApi);
  let lab: Lab | undefined;
  let daemon: MultusDaemon | undefined;
  let namespace: string | undefined;
  let podUid: string;
  const onExit = (): void => daemon?.stopSync();

  beforeAll(async () => {
    process.on('exit', onExit);
    // Cached by .ci/run; a cold build takes minutes.
    const binaries = await ensureMultus({
      cacheDir: defaultCacheDir(process.env, homedir()),
      env: process.env,
      log: (line) => void process.stderr.write(`${line}\n`),
    });
    lab = new Lab('mus');
    // The default network: bridge + host-local, the bridge without an address on the host.
    writeFileSync(
      join(lab.confDir, '10-podnet.conflist'),
      JSON.stringify({
        cniVersion: '1.0.0',
        name: 'podnet',
        plugins: [
          {
            type: 'bridge',
            bridge: lab.bridge,
            isGateway: false,
            ipam: { type: 'host-local', subnet: '198.51.100.0/24', dataDir: lab.ipamDir },
          },
        ],
      }),
    );
    namespace = await createTestNamespace('multus');
    const account = await testServiceAccount(namespace, 'multus', { clusterRules: multusClusterRules });
    await custom.createNamespacedCustomObject({
      group: 'k8s.cni.cncf.io',
      version: 'v1',
      namespace,
      plural: 'network-attachment-definitions',
      body: {
        apiVersion: 'k8s.cni.cncf.io/v1',
        kind: 'NetworkAttachmentDefinition',
        metadata: { name: nadName, namespace },
        spec: { config: JSON.stringify(lab.seedMacvlanNad(nadName)) },
      },
    });
    const pod = await core.createNamespacedPod({
      namespace,
      body: {
        metadata: { name: podName, annotations: { 'k8s.v1.cni.cncf.io/networks': nadName } },
        spec: { nodeName: lab.nodeName, containers: [{ name: 'c', image: 'registry.invalid/none' }] },
      },
    });
    podUid = pod.metadata!.uid!;
    const { server, caPem } = clusterOf(kc);
    daemon = await startMultusDaemon({
      binaries,
      apiServer: { server, caPem, token: account.token },
      nodeName: lab.nodeName,
      confDir: lab.confDir,
      binDir: pluginDir,
      runDir: tmpdir(),
      env: process.env,
    });
  }, 600_000);

  afterAll(async () => {
    await daemon?.stop();
    await lab?.destroy();
    process.off('exit', onExit);
    if (namespace) {
      // No namespace controller runs here: delete what other tests' watchers would see, one by one.
      await custom
        .deleteNamespacedCustomObject({
          group: 'k8s.cni.cncf.io',
          version: 'v1',
          namespace,
          plural: 'network-attachment-definitions',
          name: nadName,
        })
        .catch(() => undefined);
      await core
        .deleteNamespacedPod({ name: podName, namespace, gracePeriodSeconds: 0 })
        .catch(() => undefined);
      const rbac = kc.makeApiClient(RbacAuthorizationV1Api);
      const clusterName = `${namespace}:multus`;
      await rbac.deleteClusterRoleBinding({ name: clusterName }).catch(() => undefined);
      await rbac.deleteClusterRole({ name: clusterName }).catch(() => undefined);
      await core.deleteNamespace({ name: namespace }).catch(() => undefined);
    }
  });

  it('generates 00-multus.conf that names the shim and the daemon socket', () => {
    const config = daemon!.config();
    expect(config).toMatchObject({ type: 'multus-shim', daemonSocketDir: daemon!.socketDir });
    expect(daemon!.pid).toBeGreaterThan(0);
  });

  it('attaches eth0 (default network) and net1 (macvlan NAD) with ADD, and removes both with DEL', async () => {
    // Created after the daemon started: its mount namespace must still see the new netns.
    const sandbox = lab!.newPod(undefined, podName);
    const request = {
      shim: daemon!.shim,
      config: daemon!.config(),
      containerId: sandbox.containerId,
      netns: sandbox.netnsPath,
      ifName: 'eth0',
      args: podCniArgs({
        namespace: namespace!,
        name: podName,
        uid: podUid,
        containerId: sandbox.containerId,
      }),
      cniPath: pluginDir,
    };

    const add = await runMultusShim({ ...request, command: 'ADD' });
    expect({ code: add.code, stderr: add.stderr }).toEqual({ code: 0, stderr: '' });
    expect(add.json).toMatchObject({ cniVersion: '0.3.1' });
    const byName = new Map(sandbox.interfaces().map((i) => [i.ifname, i.addresses]));
    expect([...byName.keys()].sort()).toEqual(['eth0', 'net1']);
    expect(byName.get('eth0')).toEqual([expect.stringMatching(/^198\.51\.100\.\d+\/24$/)]);
    expect(byName.get('net1')).toEqual([expect.stringMatching(/^192\.0\.2\.2(0\d|1[0-6])\/24$/)]);
    expect(lab!.leases('podnet')).toHaveLength(1);
    expect(lab!.leases(nadName)).toHaveLength(1);

    // Its RBAC suffices to write network-status: the pod shows both interfaces.
    const status = await eventually('network-status on the pod', async () => {
      const current = await core.readNamespacedPod({ name: podName, namespace: namespace! });
      return current.metadata?.annotations?.[networkStatusAnnotation];
    });
    const entries = JSON.parse(status) as Array<{ interface?: string; ips?: string[] }>;
    expect(entries.map((e) => e.interface)).toEqual(['eth0', 'net1']);

    const del = await runMultusShim({ ...request, command: 'DEL' });
    expect({ code: del.code, stderr: del.stderr }).toEqual({ code: 0, stderr: '' });
    expect(sandbox.interfaces()).toEqual([]);
    expect(lab!.leases('podnet')).toEqual([]);
    expect(lab!.leases(nadName)).toEqual([]);
  });
});
