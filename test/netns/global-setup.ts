/**
 * jest globalSetup of the `netns` project (an entry point): builds the Go CNI shim
 * (dist/shim/multinet-cni, from cni/) and the agent's plugin spawner (dist/spawner/multinet-spawner,
 * from spawner/) once, before the tests install and run them.
 */
import { shimPath, spawnerPath } from '../../dev/netns/local-node.ts';

export default function globalSetup(): void {
  shimPath();
  spawnerPath();
}
