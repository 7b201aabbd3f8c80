/** The stand-in VFs' device plugin (dev/node/vf-device-plugin, Go): its go vet and go test in the jest run. */
import { join } from 'node:path';
import { repoRoot } from '../repo-root.ts';
import { goModuleTests } from '../../test/go-tests.ts';

describe("the stand-in VFs' device plugin (dev/node/vf-device-plugin)", () => {
  goModuleTests(join(repoRoot, 'dev', 'node', 'vf-device-plugin'), 2);
});
