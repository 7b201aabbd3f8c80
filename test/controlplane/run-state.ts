/**
 * The control plane of the current jest run, shared between globalSetup and globalTeardown (they run
 * in the same process, but jest may load them as separate module instances, hence globalThis).
 */
import type { ControlPlane } from '../../dev/controlplane/controlplane.ts';

/** The environment variable that carries the admin kubeconfig path to the test workers. */
export const kubeconfigEnv = 'MULTINET_TEST_KUBECONFIG';

const key = Symbol.for('multinet.test.controlPlane');
type Holder = { [key]?: ControlPlane };

export function setRunningControlPlane(controlPlane: ControlPlane): void {
  (globalThis as Holder)[key] = controlPlane;
}

export function takeRunningControlPlane(): ControlPlane | undefined {
  const controlPlane = (globalThis as Holder)[key];
  delete (globalThis as Holder)[key];
  return controlPlane;
}
