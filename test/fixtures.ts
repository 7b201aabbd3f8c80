/**
 * Paths and readers for the test fixtures (files under test/fixtures/). The seed manifests are the
 * project's examples (examples/seed, from a public Multus guide): `fixturePath('seed', ...)` reads them.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const fixturesDir = join(dirname(fileURLToPath(import.meta.url)), 'fixtures');
export const seedDir = join(dirname(fileURLToPath(import.meta.url)), '..', 'examples', 'seed');

export function fixturePath(...parts: string[]): string {
  const [first, ...rest] = parts;
  return first === 'seed' ? join(seedDir, ...rest) : join(fixturesDir, ...parts);
}

export function readFixture(...parts: string[]): string {
  return readFileSync(fixturePath(...parts), 'utf8');
}
