/**
 * The local playground: the whole multinet system on this machine. A real control plane (built from
 * Go modules on first use), multinet's CRDs, the controller, the webhook (registered with the API
 * server) and one agent for a local "node" whose pods live in network namespaces, with Debian's CNI
 * plugins. Then the seed walkthrough: apply macvlan-conf, see a broken NAD rejected, create samplepod,
 * run its CNI ADD as a runtime would, and show the NAD's conditions, the pod's interfaces and its
 * network-status annotation.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readFile } from 'node:fs/promises';
import { CoreV1Api, CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import { networkStatusAnnotation } from '../lib/annotations/keys.ts';
import { errorMessage } from '../lib/errors.ts';
import { eventually, httpOk } from '../dev/eventually.ts';
import { installCrds } from '../dev/controlplane/crds.ts';
import { nadGroup, nadPlural, nadVersion } from '../lib/nad.ts';
import { startControlPlane, type ControlPlane } from '../dev/controlplane/controlplane.ts';
import { LocalNode, missingNetnsPrerequisites, type Pod } from '../dev/netns/local-node.ts';
import { freeLoopbackPort as freePort } from '../platform/nodejs/listen.ts';
import type { Kill } from '../lib/ports.ts';
import { startMultinet, type ManagedProcess } from '../dev/multinet-process.ts';
import { seedMacvlanNad, seedPod } from './seed.ts';
import { stepper } from './steps.ts';

export interface NetnsPlaygroundOptions {
  /** Cache root of the control-plane build (binaries in <cacheDir>/bin). */
  readonly cacheDir: string;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly signal: AbortSignal;
  /** The entry point's process.kill (the control plane's servers are stopped by process group). */
  readonly kill: Kill;
  readonly say: (line: string) => void;
  /** Run the walkthrough, clean up and return (for scripts); else keep running until the signal. */
  readonly once: boolean;
  /** Write the admin kubeconfig here once everything is ready. */
  readonly kubeconfigOut?: string | undefined;
  readonly writeKubeconfig: (path: string, text: string) => Promise<void>;
}

const namespace = 'default';

/** Runs the playground; returns true when every step succeeded. */
export async function runNetnsPlayground(options: NetnsPlaygroundOptions): Promise<boolean> {
  const { say, signal } = options;
  const missing = missingNetnsPrerequisites();
  if (missing.length > 0) {
    say(`the playground needs: ${missing.join('; ')}`);
    return false;
  }
  const logDir = mkdtempSync(join(tmpdir(), 'multinet-playground-'));
  let controlPlane: ControlPlane | undefined;
  let node: LocalNode | undefined;
  const processes: ManagedProcess[] = [];
  let pod: Pod | undefined;
  let ok = true;
  const step = stepper(say);
  try {
    controlPlane = await step('start kube-apiserver and etcd (built from Go modules on first use)', () =>
      startControlPlane({
        cacheDir: options.cacheDir,
        env: options.env,
        kill: options.kill,
        log: (line) => say(`    ${line}`),
        signal,
      }),
    );
    const kc: KubeConfig = controlPlane.kubeConfig();
    const kubeconfig = controlPlane.adminKubeconfigPath;
    await step('install the CRDs (NetworkAttachmentDefinition with status, NodeNetworkState)', () =>
      installCrds(kc),
    );
    const core = kc.makeApiClient(CoreV1Api);
    const custom = kc.makeApiClient(CustomObjectsApi);
    await core.createNamespace({ body: { metadata: { name: 'multinet' } } });

    await step('start the controller', async () => {
      const probe = await freePort();
      processes.push(
        startMultinet(
          'controller',
          [
            'controller',
            '--kubeconfig',
            kubeconfig,
            '--probe-listen',
            `127.0.0.1:${probe}`,
            '--log-format',
            'text',
          ],
          logDir,
        ),
      );
      await eventually('the controller to be ready', () => httpOk(`http://127.0.0.1:${probe}/readyz`), {
        signal,
        timeoutMs: 60_000,
      });
    });
    await step('start the admission webhook and register it with the API server', async () => {
      const [port, probe] = [await freePort(), await freePort()];
      processes.push(
        startMultinet(
          'webhook',
          [
            'webhook',
            '--kubeconfig',
            kubeconfig,
            '--namespace',
            'multinet',
            '--listen',
            `127.0.0.1:${port}`,
            '--probe-listen',
            `127.0.0.1:${probe}`,
            '--register',
            '--log-format',
            'text',
          ],
          logDir,
        ),
      );
      await eventually('the webhook to be ready', () => httpOk(`http://127.0.0.1:${probe}/readyz`), {
        signal,
        timeoutMs: 60_000,
      });
    });
    node = new LocalNode('play');
    const localNode = node;
    await step(
      `start the node agent for node "${localNode.nodeName}" (pods are network namespaces on this machine)`,
      async () => {
        await localNode.startAgent(['--log-format', 'text'], kubeconfig);
        await eventually(
          'the NodeNetworkState of the node',
          async () =>
            (await custom.getClusterCustomObject({
              group: 'multinet.io',
              version: 'v1alpha1',
              plural: 'nodenetworkstates',
              name: localNode.nodeName,
            })) as object,
          { signal, timeoutMs: 60_000 },
        );
      },
    );
    if (options.kubeconfigOut) {
      await options.writeKubeconfig(options.kubeconfigOut, await readFile(kubeconfig, 'utf8'));
      say(`  admin kubeconfig written to ${options.kubeconfigOut}`);
    }

    const nad = seedMacvlanNad(localNode);
    await step("apply the seed's macvlan-conf NAD (master: the node's veth, subnet 192.0.2.0/24)", () =>
      custom.createNamespacedCustomObject({
        group: nadGroup,
        version: nadVersion,
        namespace,
        plural: nadPlural,
        body: nad,
      }),
    );
    const conditions = await step('wait for the controller to mark it Ready', () =>
      eventually(
        'macvlan-conf to be Ready',
        async () => {
          const current = (await custom.getNamespacedCustomObject({
            group: nadGroup,
            version: nadVersion,
            namespace,
            plural: nadPlural,
            name: 'macvlan-conf',
          })) as {
            status?: {
              conditions?: Array<{ type: string; status: string; reason: string; message: string }>;
            };
          };
          const list = current.status?.conditions ?? [];
          return list.some((c) => c.type === 'Ready' && c.status === 'True') ? list : undefined;
        },
        { signal, timeoutMs: 60_000 },
      ),
    );
    for (const c of conditions) say(`    ${c.type}=${c.status} (${c.reason}) ${c.message}`);

    await step('apply a broken NAD and see the webhook reject it', async () => {
      const broken = JSON.parse(JSON.stringify(nad)) as typeof nad;
      broken.metadata.name = 'macvlan-broken';
      broken.spec.config = broken.spec.config.replace('"rangeEnd":"192.0.2.216"', '"rangeEnd":"192.0.3.216"');
      try {
        await custom.createNamespacedCustomObject({
          group: nadGroup,
          version: nadVersion,
          namespace,
          plural: nadPlural,
          body: broken,
        });
      } catch (err) {
        const body = (err as { body?: unknown }).body;
        const message =
          typeof body === 'string'
            ? ((JSON.parse(body) as { message?: string }).message ?? body)
            : errorMessage(err);
        say(`    rejected: ${message}`);
        return;
      }
      throw new Error('the broken NAD was admitted');
    });

    const created = await step('create samplepod on the node', async () => {
      const body = seedPod(localNode.nodeName);
      return core.createNamespacedPod({ namespace, body });
    });
    pod = localNode.newPod(undefined, 'samplepod');
    const sandbox = pod;
    const env = {
      ...sandbox.env(),
      CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=${namespace};K8S_POD_NAME=samplepod;K8S_POD_INFRA_CONTAINER_ID=${sandbox.containerId};K8S_POD_UID=${created.metadata!.uid!}`,
    };
    await step("run the pod's CNI ADD as the container runtime would", () =>
      eventually(
        'a successful ADD',
        () => {
          const out = localNode.runShim('ADD', env);
          if (out.code !== 0) throw new Error(out.stdout.trim() || out.stderr.trim());
          return Promise.resolve(out);
        },
        { signal, timeoutMs: 30_000 },
      ),
    );
    say("  the pod's interfaces:");
    for (const iface of sandbox.interfaces())
      say(`    ${iface.ifname.padEnd(6)} ${iface.addresses.join(' ')}`);
    const status = await eventually(
      'network-status on the pod',
      async () =>
        (await core.readNamespacedPod({ name: 'samplepod', namespace })).metadata?.annotations?.[
          networkStatusAnnotation
        ],
      { signal, timeoutMs: 60_000 },
    );
    say(`  ${networkStatusAnnotation}:`);
    for (const line of status.split('\n')) say(`    ${line}`);
    say('');
    say(`kubeconfig: ${options.kubeconfigOut ?? kubeconfig}`);
    say(
      `  KUBECONFIG=${options.kubeconfigOut ?? kubeconfig} ${join(options.cacheDir, 'bin', 'kubectl')} get net-attach-def -o wide`,
    );
    say(`logs: ${logDir} (removed on a clean exit)`);

    if (!options.once) {
      say('running; press Ctrl-C to stop everything and clean up');
      await new Promise<void>((resolve) => {
        if (signal.aborted) resolve();
        signal.addEventListener('abort', () => resolve(), { once: true });
      });
    } else {
      await step("DEL the pod's networks", async () => {
        const out = localNode.runShim('DEL', env);
        if (out.code !== 0) throw new Error(out.stdout);
        if (sandbox.interfaces().length > 0) throw new Error('interfaces are left in the pod');
        await core.deleteNamespacedPod({ name: 'samplepod', namespace });
      });
    }
  } catch (err) {
    ok = false;
    if (!signal.aborted) say(`the playground stopped: ${errorMessage(err)}; logs in ${logDir}`);
  } finally {
    say('cleaning up (processes, network namespaces, links, temp dirs)');
    for (const p of processes) {
      if (p.exitStatus() !== null)
        say(`  ${p.name} had exited with ${String(p.exitStatus())}; see ${p.logFile}`);
    }
    await Promise.all(processes.map((p) => p.stop()));
    await node?.destroy();
    await controlPlane?.stop();
    if (ok) rmSync(logDir, { recursive: true, force: true });
  }
  return ok;
}
