/**
 * The Go shim's own checks in the jest run, so that they count in the CI summary: `go vet` and
 * `go test -json` over cni/, one jest test per Go test (failing with that test's output). And the
 * few constants the shim must share with the agent, compared with their TypeScript source of truth.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { agentFlagDefaults } from '../cli/agent-flags.ts';
import { cniEndpoint, cniVersionHeader, defaultSocketPath, defaultStateDir } from '../lib/cni/request.ts';
import { latestCniVersion, supportedCniVersions } from '../lib/cni/version.ts';

const dir = dirname(fileURLToPath(import.meta.url));

interface GoEvent {
  readonly Action: string;
  readonly Test?: string;
  readonly Output?: string;
}

function go(...args: string[]): { status: number | null; stdout: string; stderr: string; missing: boolean } {
  const run = spawnSync('go', args, {
    cwd: dir,
    encoding: 'utf8',
    env: { ...process.env, CGO_ENABLED: '0' },
  });
  return {
    status: run.status,
    stdout: run.stdout ?? '',
    stderr: run.stderr ?? '',
    missing: run.error !== undefined && 'code' in run.error && run.error.code === 'ENOENT',
  };
}

const vet = go('vet', './...');
const goTest = go('test', '-json', './...');
const events = goTest.stdout
  .split('\n')
  .filter((line) => line.startsWith('{'))
  .map((line) => JSON.parse(line) as GoEvent);
const tests = new Map<string, { action: string; output: string }>();
for (const event of events) {
  if (!event.Test) continue;
  const entry = tests.get(event.Test) ?? { action: 'run', output: '' };
  if (event.Action === 'output') entry.output += event.Output ?? '';
  else entry.action = event.Action;
  tests.set(event.Test, entry);
}

describe('the Go shim (cni/)', () => {
  it('has Go to build and test it', () => {
    expect(vet.missing ? 'Go is not installed: apt-get install golang-go, or Go 1.26 from go.dev' : '').toBe(
      '',
    );
  });

  it('passes go vet', () => {
    expect(`${vet.stdout}${vet.stderr}`.trim()).toBe('');
    expect(vet.status).toBe(0);
  });

  it('builds its tests and all of them pass', () => {
    const failed = [...tests].filter(([, t]) => t.action !== 'pass').map(([name]) => name);
    expect({ status: goTest.status, failed, stderr: goTest.stderr.trim() }).toEqual({
      status: 0,
      failed: [],
      stderr: '',
    });
    expect(tests.size).toBeGreaterThan(10);
  });

  it.each([...tests.keys()])('go test: %s', (name) => {
    const result = tests.get(name)!;
    if (result.action !== 'pass') throw new Error(`${name}: ${result.action}\n${result.output}`);
  });

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
    expect(/defaultAgentWait\s*=\s*(\d+) \* time\.Second/.exec(source)?.[1]).toBe(
      String(agentFlagDefaults.agentWait),
    );
  });
});
