/**
 * The stand-in VFs' CNI plugin "vf" (dev/node/vf-cni, Go): its go vet and go test in the jest run, in
 * this tier because its test moves a real link into a real network namespace and back (root).
 */
import { join } from 'node:path';
import { repoRoot } from '../../dev/repo-root.ts';
import { goModuleTests } from '../go-tests.ts';

describe('the stand-in VFs\' CNI plugin "vf" (dev/node/vf-cni)', () => {
  goModuleTests(join(repoRoot, 'dev', 'node', 'vf-cni'), 2);
});
