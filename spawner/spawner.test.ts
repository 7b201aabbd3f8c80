/**
 * The plugin spawner's own checks in the jest run (go vet, go test), and the constants it shares with
 * the agent compared with their TypeScript source of truth (lib/spawner-protocol.ts, lib/ports.ts).
 * The agent's side of the protocol runs against the built spawner in platform/nodejs/spawner-exec.test.ts.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { maxExecOutputBytes } from '../lib/ports.ts';
import { maxSpawnerFrameBytes, spawnerProtocolVersion } from '../lib/spawner-protocol.ts';
import { goModuleTests } from '../test/go-tests.ts';

const dir = dirname(fileURLToPath(import.meta.url));

describe('the plugin spawner (spawner/)', () => {
  goModuleTests(dir, 12);

  it('speaks the protocol version, frame size and output limit the agent has', () => {
    const source = readFileSync(join(dir, 'spawner.go'), 'utf8');
    expect(/\bprotocolVersion\s*=\s*(\d+)/.exec(source)?.[1]).toBe(String(spawnerProtocolVersion));
    const product = (name: string): number =>
      (new RegExp(`\\b${name}\\s*=\\s*([\\d* ]+)\\n`).exec(source)?.[1] ?? 'NaN')
        .split('*')
        .reduce((total, factor) => total * Number(factor), 1);
    expect(product('maxOutputBytes')).toBe(maxExecOutputBytes);
    expect(product('maxFrameBytes')).toBe(maxSpawnerFrameBytes);
  });
});
