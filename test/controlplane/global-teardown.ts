/** jest globalTeardown of the `controlplane` project: stops the control plane global-setup.ts started. */
import { kubeconfigEnv, takeRunningControlPlane } from './run-state.ts';

export default async function globalTeardown(): Promise<void> {
  const controlPlane = takeRunningControlPlane();
  if (!controlPlane) return;
  await controlPlane.stop();
  delete process.env[kubeconfigEnv];
}
