/**
 * The proof that multinet serves the node's pods: a pod with only the default network is Running with the
 * network-status the agent wrote (so the runtime called the shim and the agent ran the delegates), and is
 * deleted again.
 */
import type { CoreV1Api } from '@kubernetes/client-node';
import { networkStatusAnnotation } from '../../lib/annotations/keys.ts';
import { eventually } from '../eventually.ts';

/** A pod with only the default network: Running with network-status from the agent, then deleted. */
export async function proveAPodGetsItsNetwork(
  core: CoreV1Api,
  signal: AbortSignal | undefined,
): Promise<void> {
  const namespace = 'default';
  const name = 'multinet-probe';
  const wait = { ...(signal ? { signal } : {}), timeoutMs: 90_000 };
  await core.createNamespacedPod({
    namespace,
    body: {
      metadata: { name },
      spec: {
        terminationGracePeriodSeconds: 0,
        containers: [
          {
            name: 'probe',
            image: 'docker.io/library/alpine:latest',
            imagePullPolicy: 'IfNotPresent',
            command: ['/bin/sleep', '3600'],
          },
        ],
      },
    },
  });
  await eventually(
    'the probe pod to run with its network-status',
    async () => {
      const pod = await core.readNamespacedPod({ name, namespace });
      const running = pod.status?.phase === 'Running';
      return running && pod.metadata?.annotations?.[networkStatusAnnotation] ? true : undefined;
    },
    wait,
  );
  await core.deleteNamespacedPod({ name, namespace });
  await eventually(
    'the probe pod to be gone',
    async () => {
      try {
        await core.readNamespacedPod({ name, namespace });
        return undefined;
      } catch {
        return true;
      }
    },
    wait,
  );
}
