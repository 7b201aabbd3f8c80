/**
 * A Go module's own checks in the jest run, so that they count in the CI summary: `go vet` and
 * `go test -json` over the module, one jest test per Go test (failing with that test's output), and a
 * test that fails loudly, saying what to install, when Go is missing. Call it inside a describe().
 */
import { spawnSync } from 'node:child_process';

interface GoEvent {
  readonly Action: string;
  readonly Test?: string;
  readonly Output?: string;
}

function go(
  dir: string,
  args: string[],
): { status: number | null; stdout: string; stderr: string; missing: boolean } {
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

/** Registers the module's checks as jest tests; `minTests`: fewer Go tests than this is a failure. */
export function goModuleTests(dir: string, minTests: number): void {
  const vet = go(dir, ['vet', './...']);
  const goTest = go(dir, ['test', '-json', './...']);
  const tests = new Map<string, { action: string; output: string }>();
  for (const line of goTest.stdout.split('\n')) {
    if (!line.startsWith('{')) continue;
    const event = JSON.parse(line) as GoEvent;
    if (!event.Test) continue;
    const entry = tests.get(event.Test) ?? { action: 'run', output: '' };
    if (event.Action === 'output') entry.output += event.Output ?? '';
    else entry.action = event.Action;
    tests.set(event.Test, entry);
  }

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
    expect(tests.size).toBeGreaterThanOrEqual(minTests);
  });

  it.each([...tests.keys()])('go test: %s', (name) => {
    const result = tests.get(name)!;
    if (result.action !== 'pass') throw new Error(`${name}: ${result.action}\n${result.output}`);
  });
}
