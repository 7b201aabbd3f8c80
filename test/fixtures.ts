/** Paths and readers for the test fixtures (files under test/fixtures/). */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const fixturesDir = join(dirname(fileURLToPath(import.meta.url)), 'fixtures');
export const seedDir = join(fixturesDir, 'seed');

export function fixturePath(...parts: string[]): string {
  return join(fixturesDir, ...parts);
}

export function readFixture(...parts: string[]): string {
  return readFileSync(fixturePath(...parts), 'utf8');
}
