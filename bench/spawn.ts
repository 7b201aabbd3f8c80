/**
 * `npm run bench:spawn`: what starting a process costs a Node process, by how much anonymous memory it
 * holds. The agent runs every delegate plugin through platform/nodejs/exec.ts (child_process.spawn, i.e.
 * libuv, which forks on Linux: the kernel copies the parent's page tables and write-protects its pages),
 * so each MB the agent holds makes each plugin run slower. This runs `/bin/true` through that same
 * exec, 200 times at each ballast of touched anonymous memory (0, 25, 50, 100 MB, on top of this
 * process' own), and through the agent's plugin spawner (platform/nodejs/spawner-exec.ts: the small Go
 * process the agent keeps as its child forks instead, so the agent's size does not matter) at each
 * ballast, beside bash's fork+exec and Python's subprocess (vfork) of the same executable, which do
 * not copy. Last line:
 *
 *   RESULT spawn_ms_0mb=<median> spawn_ms_100mb=<median> ms_per_mb=<slope> spawner_ms_0mb=<median>
 *          spawner_ms_100mb=<median> bash_ms=<mean> python_ms=<median or n/a>
 */
import { spawnSync } from 'node:child_process';
import { spawnerPath } from '../dev/go-programs.ts';
import type { Exec } from '../lib/ports.ts';
import { createLogger } from '../platform/log.ts';
import { nodeExec } from '../platform/nodejs/exec.ts';
import { SpawnerExec } from '../platform/nodejs/spawner-exec.ts';
import { memory } from './proc.ts';
import { median } from './stats.ts';

const runs = 200;
const truePath = '/bin/true';
const exec = nodeExec();
const spawner = new SpawnerExec({
  file: spawnerPath(),
  fallback: exec,
  log: createLogger({ level: 'warn', format: 'text', stream: process.stderr }),
});
if (!(await spawner.start())) throw new Error('the spawner did not start (see the log above)');

const anonMb = (): number => memory(process.pid).anonMb;

async function medianRun(through: Exec): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < runs + 20; i++) {
    const started = performance.now();
    const result = await through.run({ file: truePath, env: {}, stdin: '', timeoutMs: 10_000 });
    if (result.code !== 0) throw new Error(`${truePath} exited with ${String(result.code)}`);
    if (i >= 20) times.push(performance.now() - started);
  }
  return median(times);
}

function bashMeanMs(): number {
  const script = `s=$(date +%s%N); for i in $(seq ${runs}); do ${truePath}; done; e=$(date +%s%N); echo $(( (e - s) / ${runs} ))`;
  const out = spawnSync('bash', ['-c', script], { encoding: 'utf8' });
  if (out.status !== 0) throw new Error(`bash failed: ${out.stderr}`);
  return Number(out.stdout.trim()) / 1e6;
}

function pythonMedianMs(): number | undefined {
  const script = `import subprocess,time
t=[]
for i in range(${runs}+20):
    s=time.perf_counter(); subprocess.run(['${truePath}'],stdin=subprocess.PIPE,stdout=subprocess.PIPE,stderr=subprocess.PIPE); t.append((time.perf_counter()-s)*1000)
t=sorted(t[20:]); print(t[len(t)//2])`;
  const out = spawnSync('python3', ['-c', script], { encoding: 'utf8' });
  if (out.error || out.status !== 0) return undefined;
  return Number(out.stdout.trim());
}

const ballast: Buffer[] = [];
const rows: Array<{ ballastMb: number; anonMb: number; ms: number; spawnerMs: number }> = [];
for (const target of [0, 25, 50, 100]) {
  while (ballast.length < target) ballast.push(Buffer.alloc(1 << 20, 1));
  const ms = await medianRun(exec);
  const spawnerMs = await medianRun(spawner);
  rows.push({ ballastMb: target, anonMb: anonMb(), ms, spawnerMs });
  console.log(
    `with ${target} MB ballast, RssAnon ${anonMb().toFixed(1)} MB: node spawn (platform/nodejs/exec.ts) median ${ms.toFixed(2)} ms, through the spawner (platform/nodejs/spawner-exec.ts) ${spawnerMs.toFixed(2)} ms`,
  );
}
const spawnerMemory = memory(spawner.pid!);
console.log(
  `the spawner: VmRSS ${spawnerMemory.rssMb.toFixed(1)} MB (anon ${spawnerMemory.anonMb.toFixed(1)}, file ${spawnerMemory.fileMb.toFixed(1)}), VmHWM ${spawnerMemory.hwmMb.toFixed(1)} MB`,
);
await spawner.stop();
const first = rows[0]!;
const last = rows[rows.length - 1]!;
const perMb = (last.ms - first.ms) / (last.anonMb - first.anonMb);
const bash = bashMeanMs();
const python = pythonMedianMs();
console.log(`bash fork+exec of ${truePath}: mean ${bash.toFixed(2)} ms`);
console.log(
  python === undefined
    ? 'python3 subprocess: not measured (python3 is not installed)'
    : `python3 subprocess (vfork) of ${truePath}: median ${python.toFixed(2)} ms`,
);
console.log(`each MB of the spawning process' anonymous memory adds ${perMb.toFixed(3)} ms to a spawn`);
console.log(
  `RESULT spawn_ms_0mb=${first.ms.toFixed(2)} spawn_ms_100mb=${last.ms.toFixed(2)} ms_per_mb=${perMb.toFixed(3)} spawner_ms_0mb=${first.spawnerMs.toFixed(2)} spawner_ms_100mb=${last.spawnerMs.toFixed(2)} bash_ms=${bash.toFixed(2)} python_ms=${python === undefined ? 'n/a' : python.toFixed(2)}`,
);
