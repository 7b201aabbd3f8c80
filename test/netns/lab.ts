/**
 * Tests that act as the container runtime use the playground's LocalNode as their lab; anything a
 * test leaves behind is removed when the test process exits.
 */
import { LocalNode } from '../../playground/local-node.ts';

export {
  LocalNode as Lab,
  pluginDir,
  repoRoot,
  requireNetnsPrerequisites,
} from '../../playground/local-node.ts';
export type { Pod, ShimOutcome, IpAddressInfo } from '../../playground/local-node.ts';

process.on('exit', () => LocalNode.destroyAllSync());
