/**
 * jest globalSetup of the `netns` project (an entry point): builds the Go CNI shim
 * (dist/shim/multinet-cni, from cni/) once, before the tests install and run it.
 */
import { shimPath } from '../../dev/netns/local-node.ts';

export default function globalSetup(): void {
  shimPath();
}
