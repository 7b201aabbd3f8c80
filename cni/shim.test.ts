/**
 * The Go shim's own checks in the jest run (test/go-tests.ts: go vet, go test, one jest test per Go
 * test). And the few constants the shim must share with the agent, compared with their TypeScript
 * source of truth.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { agentFlagDefaults } from '../cli/agent-flags.ts';
import { spawnSync } from 'node:child_process';
import {
  agentVersionHeader,
  cniEndpoint,
  cniVersionHeader,
  defaultSocketPath,
  defaultStateDir,
  protocolHeader,
  shimVersionHeader,
  wireProtocol,
} from '../lib/cni/request.ts';
import { shimPath } from '../dev/go-programs.ts';
import { multinetVersion } from '../platform/version.ts';
import { latestCniVersion, supportedCniVersions } from '../lib/cni/version.ts';
import { goModuleTests } from '../test/go-tests.ts';

const dir = dirname(fileURLToPath(import.meta.url));

describe('the Go shim (cni/)', () => {
  goModuleTests(dir, 11);

  it('speaks the CNI versions, defaults, endpoint and header the agent has', () => {
    const source =
      readFileSync(join(dir, 'shim.go'), 'utf8') + readFileSync(join(dir, 'transport.go'), 'utf8');
    const constant = (name: string): string | undefined =>
      new RegExp(`\\b${name}\\s*=\\s*"([^"]*)"`).exec(source)?.[1];
    const versions = /supportedVersions = \[\]string\{([^}]*)\}/.exec(source)?.[1];
    expect(versions?.split(',').map((v) => v.trim().replace(/"/g, ''))).toEqual([...supportedCniVersions]);
    expect(constant('latestVersion')).toBe(latestCniVersion);
    expect(constant('defaultSocketPath')).toBe(defaultSocketPath);
    expect(constant('defaultStateDir')).toBe(defaultStateDir);
    expect(constant('endpoint')).toBe(cniEndpoint);
    expect(constant('versionHeader')?.toLowerCase()).toBe(cniVersionHeader);
    expect(constant('shimVersionHeader')?.toLowerCase()).toBe(shimVersionHeader);
    expect(constant('agentVersionHeader')?.toLowerCase()).toBe(agentVersionHeader);
    expect(constant('protocolHeader')?.toLowerCase()).toBe(protocolHeader);
    expect(constant('protocol')).toBe(String(wireProtocol));
    expect(/defaultAgentWait\s*=\s*(\d+) \* time\.Second/.exec(source)?.[1]).toBe(
      String(agentFlagDefaults.agentWaitSeconds),
    );
  });

  it("is built as multinet's version (package.json), which `multinet-cni --version` prints", () => {
    const run = spawnSync(shimPath(), ['--version'], { encoding: 'utf8' });
    expect({ status: run.status, stdout: run.stdout }).toEqual({
      status: 0,
      stdout: `multinet-cni ${multinetVersion} protocol ${wireProtocol}\n`,
    });
  });
});
