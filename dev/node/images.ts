/**
 * The local node's images: built (or found in the cache) by dev/images/build.sh as OCI layouts, then
 * served to containerd by the local registry under the names pods use.
 */
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RegistryRepository } from './registry.ts';
import { OutputLines } from '../output-lines.ts';

export type ImageName = 'pause' | 'alpine' | 'multinet' | 'whereabouts' | 'multus';

export interface BuiltImage {
  readonly name: ImageName;
  /** The reference pods and the chart use, e.g. docker.io/library/alpine:latest. */
  readonly reference: string;
  readonly layoutDir: string;
}

export const imagesScript: string = fileURLToPath(new URL('../images/build.sh', import.meta.url));

/** Registry host name, repository path, and tag of a reference (docker.io defaults applied). */
export function splitReference(reference: string): { host: string; repository: string; tag: string } {
  const slash = reference.indexOf('/');
  const first = slash < 0 ? '' : reference.slice(0, slash);
  const hasHost = first.includes('.') || first.includes(':') || first === 'localhost';
  const host = hasHost ? first : 'docker.io';
  let rest = hasHost ? reference.slice(slash + 1) : reference;
  const colon = rest.lastIndexOf(':');
  const tag = colon > rest.lastIndexOf('/') ? rest.slice(colon + 1) : 'latest';
  if (colon > rest.lastIndexOf('/')) rest = rest.slice(0, colon);
  const repository = host === 'docker.io' && !rest.includes('/') ? `library/${rest}` : rest;
  return { host, repository, tag };
}

/** The registry repositories that serve `images`, and the registry host names to mirror. */
export function registryRepositories(images: readonly BuiltImage[]): {
  repositories: RegistryRepository[];
  hosts: string[];
} {
  const hosts = new Set<string>();
  const repositories = images.map((image) => {
    const { host, repository } = splitReference(image.reference);
    hosts.add(host);
    return { name: repository, layoutDir: image.layoutDir };
  });
  return { repositories, hosts: [...hosts] };
}

/** Runs build.sh for `names`; its progress goes to `log`, its result lines are parsed. */
export async function buildImages(
  names: readonly ImageName[],
  cacheDir: string,
  env: Readonly<Record<string, string | undefined>>,
  log: (line: string) => void,
  signal?: AbortSignal,
): Promise<BuiltImage[]> {
  const child = spawn('bash', [imagesScript, ...names], {
    env: { ...env, MULTINET_CACHE: cacheDir },
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(signal ? { signal } : {}),
  });
  let stdout = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
  const output = new OutputLines(log);
  child.stderr.on('data', output.write);
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (status) => resolve(status));
  });
  output.end();
  if (code !== 0) {
    throw new Error(
      `building the node's images with ${imagesScript} failed (exit ${String(code)})\n--- last lines ---\n${output.tail.join('\n')}`,
    );
  }
  const images: BuiltImage[] = [];
  for (const line of stdout.split('\n')) {
    const [name, reference, layoutDir] = line.trim().split(/\s+/);
    if (name && reference && layoutDir) images.push({ name: name as ImageName, reference, layoutDir });
  }
  for (const name of names) {
    if (!images.some((i) => i.name === name)) throw new Error(`${imagesScript} reported no ${name} image`);
  }
  for (const image of images) await checkLayoutHoldsTag(image);
  return images;
}

/** The layout build.sh reported must hold the reference's tag: what the registry serves is what pods name. */
async function checkLayoutHoldsTag(image: BuiltImage): Promise<void> {
  const { tag } = splitReference(image.reference);
  const index = JSON.parse(await readFile(join(image.layoutDir, 'index.json'), 'utf8')) as {
    manifests?: Array<{ annotations?: Record<string, string> }>;
  };
  const tags = (index.manifests ?? []).map((m) => m.annotations?.['org.opencontainers.image.ref.name']);
  if (!tags.includes(tag)) {
    throw new Error(
      `${imagesScript} reported ${image.reference} in ${image.layoutDir}, whose index holds ${JSON.stringify(tags)}`,
    );
  }
}
