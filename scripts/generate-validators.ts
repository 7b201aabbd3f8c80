/**
 * `npm run build:validators`: writes lib/generated/validators.ts (ajv's code for every schema of
 * lib/schema-catalog.ts, see lib/schema-compiler.ts) atomically, and only when its text changed.
 * `npm run build`, `npm run jest` and `npm ci` (prepare) run it; the file is a build output, never
 * committed.
 */
import { mkdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { validatorSchemas } from '../lib/schema-catalog.ts';
import { validatorModule } from '../lib/schema-compiler.ts';
import { writeFileAtomic } from '../platform/nodejs/fs.ts';

const target = join(dirname(fileURLToPath(import.meta.url)), '..', 'lib', 'generated', 'validators.ts');
const text = validatorModule(validatorSchemas);
const current = await readFile(target, 'utf8').catch(() => undefined);
if (current !== text) {
  await mkdir(dirname(target), { recursive: true });
  await writeFileAtomic(target, text, 0o644, { fsync: false });
}
