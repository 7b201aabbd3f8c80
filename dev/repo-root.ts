/** The root of this checkout (or of the image's /app): where bin/, charts/ and examples/ are. */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot: string = join(dirname(fileURLToPath(import.meta.url)), '..');
