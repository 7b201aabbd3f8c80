/**
 * What a component's memory stands on: the same `node` with the same NODE_OPTIONS, measured idle, with
 * the built-in modules every Kubernetes client loads, and with the component's own modules imported
 * from the image's code (dist/app) but nothing run. Each step is a fresh process that imports, says
 * "ready" on stdout, and is measured (/proc) and killed.
 */
import { dirname, join } from 'node:path';
import { imageEntry } from './chart-process.ts';
import { memory, type Memory } from './proc.ts';
import { startReadyNode } from './ready-node.ts';

export interface FloorStep {
  readonly label: string;
  readonly memory: Memory;
}

const builtins = ['node:https', 'node:net', 'node:crypto', 'node:child_process', 'node:fs/promises'];

async function measureImports(specifiers: readonly string[], nodeOptions: string): Promise<Memory> {
  const script = `${specifiers.map((s) => `await import(${JSON.stringify(s)});`).join(' ')} process.stdout.write('ready\\n'); setInterval(() => {}, 60_000);`;
  const { child, exited } = await startReadyNode(
    `node importing ${specifiers.join(', ') || 'nothing'}`,
    ['--input-type=module', '-e', script],
    { PATH: process.env.PATH, NODE_ENV: 'production', NODE_OPTIONS: nodeOptions },
  );
  try {
    return memory(child.pid!);
  } finally {
    child.kill('SIGKILL');
    await exited;
  }
}

/** Idle node, + the built-ins, + these modules of dist/app (paths relative to it). */
export async function memoryFloor(modules: readonly string[], nodeOptions: string): Promise<FloorStep[]> {
  const app = dirname(dirname(imageEntry));
  const own = modules.map((m) => join(app, m));
  return [
    { label: 'node', memory: await measureImports([], nodeOptions) },
    {
      label: `+ ${builtins.map((b) => b.slice(5)).join(', ')}`,
      memory: await measureImports(builtins, nodeOptions),
    },
    { label: `+ ${modules.join(', ')}`, memory: await measureImports([...builtins, ...own], nodeOptions) },
  ];
}

export function describeFloor(steps: readonly FloorStep[]): string {
  return steps
    .map(
      (s) =>
        `${s.label} ${s.memory.hwmMb.toFixed(1)} MB (anon ${s.memory.anonMb.toFixed(1)}, file ${s.memory.fileMb.toFixed(1)})`,
    )
    .join(' → ');
}
