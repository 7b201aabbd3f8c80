/**
 * `npm run bench:cni` (root): the time multinet adds to a pod's CNI ADD+DEL. For each of N pods (a
 * real network namespace; default network bridge + host-local, one macvlan network), ADD+DEL through
 * the installed shim and the agent, and ADD+DEL of the same delegates executed directly, alternating
 * which goes first. Then a burst of 200 concurrent ADDs straight at the agent's socket, for its peak
 * memory. Last line: RESULT added_p50_ms=<x> added_p99_ms=<y> ratio_p50=<r>
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import {
  LocalNode as Lab,
  pluginDir,
  repoRoot,
  requireNetnsPrerequisites,
  type Pod,
} from '../playground/local-node.ts';

const pods = Number(process.argv[2] ?? 200);
const burst = Number(process.argv[3] ?? 200);

function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

function timed(fn: () => void): number {
  const start = performance.now();
  fn();
  return performance.now() - start;
}

function must(
  what: string,
  run: { status: number | null; stdout: string | Buffer; stderr: string | Buffer },
): void {
  if (run.status !== 0)
    throw new Error(`${what} failed (${String(run.status)}): ${String(run.stdout)} ${String(run.stderr)}`);
}

function plugin(
  type: string,
  command: string,
  env: Record<string, string>,
  config: object,
): ReturnType<typeof spawnSync> {
  return spawnSync(join(pluginDir, type), [], {
    input: JSON.stringify(config),
    env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', CNI_COMMAND: command, CNI_PATH: pluginDir, ...env },
    encoding: 'utf8',
  });
}

function rssPeakMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)![1]) / 1024;
}

function post(socket: string, body: object): Promise<{ result?: unknown; error?: { msg: string } }> {
  const text = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        socketPath: socket,
        path: '/cni',
        method: 'POST',
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve(
            JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
              result?: unknown;
              error?: { msg: string };
            },
          ),
        );
      },
    );
    req.on('error', reject);
    req.end(text);
  });
}

/** One CNI request straight at the agent's socket, for a pod of the lab (no shim process). */
function agentCall(
  lab: Lab,
  pod: Pod,
  command: 'ADD' | 'DEL',
): Promise<{ result?: unknown; error?: { msg: string } }> {
  const conf = lab.generatedConfig();
  const config = { ...conf.plugins[0], name: conf.name, cniVersion: conf.cniVersion };
  return post(lab.socket, {
    command,
    containerId: pod.containerId,
    netns: pod.netnsPath,
    ifName: 'eth0',
    args: pod.env().CNI_ARGS,
    path: pluginDir,
    config,
  });
}

async function main(): Promise<void> {
  requireNetnsPrerequisites();
  if (!existsSync(join(repoRoot, 'dist', 'shim', 'multinet-cni')))
    must(
      'building the shim',
      spawnSync('bash', [join(repoRoot, 'scripts', 'build-shim.sh')], { encoding: 'utf8' }),
    );
  const lab = new Lab('bench');
  try {
    const macvlan = {
      ...lab.seedMacvlanNad(),
      ipam: { type: 'host-local', subnet: '192.0.2.0/24', dataDir: lab.ipamDir },
    };
    lab.writeNad('macvlan-conf', macvlan);
    await lab.startAgent(['--log-level', 'warn']);
    const defaultConf = JSON.parse(readFileSync(join(lab.confDir, '10-podnet.conflist'), 'utf8')) as {
      cniVersion: string;
      name: string;
      plugins: object[];
    };
    const bridge = { ...defaultConf.plugins[0], cniVersion: defaultConf.cniVersion, name: defaultConf.name };
    const direct: number[] = [];
    const multinet: number[] = [];
    const socket: number[] = [];
    process.stderr.write(`bench:cni: ${pods} pods, default network (bridge) + 1 macvlan network each\n`);
    for (let i = 0; i < pods; i++) {
      const pod = lab.newPod('macvlan-conf');
      const env = pod.env();
      const runDirect = (): Promise<void> => {
        direct.push(
          timed(() => {
            must('bridge ADD', plugin('bridge', 'ADD', env, bridge));
            must('macvlan ADD', plugin('macvlan', 'ADD', { ...env, CNI_IFNAME: 'net1' }, macvlan));
            must('macvlan DEL', plugin('macvlan', 'DEL', { ...env, CNI_IFNAME: 'net1' }, macvlan));
            must('bridge DEL', plugin('bridge', 'DEL', env, bridge));
          }),
        );
        return Promise.resolve();
      };
      const runMultinet = (): Promise<void> => {
        multinet.push(
          timed(() => {
            const add = pod.cni('ADD');
            if (add.code !== 0) throw new Error(`multinet ADD failed: ${add.stdout}`);
            const del = pod.cni('DEL');
            if (del.code !== 0) throw new Error(`multinet DEL failed: ${del.stdout}`);
          }),
        );
        return Promise.resolve();
      };
      const runSocket = async (): Promise<void> => {
        const start = performance.now();
        const add = await agentCall(lab, pod, 'ADD');
        if (add.error) throw new Error(`agent ADD failed: ${add.error.msg}`);
        const del = await agentCall(lab, pod, 'DEL');
        if (del.error) throw new Error(`agent DEL failed: ${del.error.msg}`);
        socket.push(performance.now() - start);
      };
      // Rotate the order so no path always runs first (warm caches, IPAM state).
      const order = [runDirect, runMultinet, runSocket];
      for (let k = 0; k < 3; k++) await order[(i + k) % 3]!();
      if ((i + 1) % 50 === 0) process.stderr.write(`  ${i + 1}/${pods}\n`);
    }
    const d50 = percentile(direct, 50);
    const d99 = percentile(direct, 99);
    const m50 = percentile(multinet, 50);
    const m99 = percentile(multinet, 99);
    process.stdout.write(`direct   ADD+DEL: p50 ${d50.toFixed(1)} ms  p99 ${d99.toFixed(1)} ms\n`);
    process.stdout.write(
      `multinet ADD+DEL: p50 ${m50.toFixed(1)} ms  p99 ${m99.toFixed(1)} ms (through the shim)\n`,
    );
    process.stdout.write(
      `agent    ADD+DEL: p50 ${percentile(socket, 50).toFixed(1)} ms  p99 ${percentile(socket, 99).toFixed(1)} ms (straight at the agent's socket, no shim process)\n`,
    );

    // A burst straight at the agent: every request queued at once, the limiter bounds the work.
    const agentPid = lab.agentPid!;
    const before = rssPeakMb(agentPid);
    const burstPods = Array.from({ length: burst }, (_, i) => lab.newPod(undefined, `burst${i}`));
    const started = performance.now();
    const replies = await Promise.all(burstPods.map((p) => agentCall(lab, p, 'ADD')));
    const burstSeconds = (performance.now() - started) / 1000;
    const failed = replies.filter((r) => r.error);
    if (failed.length > 0)
      throw new Error(`${failed.length} burst ADDs failed, e.g. ${failed[0]!.error!.msg}`);
    const peak = rssPeakMb(agentPid);
    await Promise.all(burstPods.map((p) => agentCall(lab, p, 'DEL')));
    process.stdout.write(
      `burst: ${burst} concurrent ADDs in ${burstSeconds.toFixed(1)} s; agent peak RSS ${before.toFixed(0)} MB before, ${peak.toFixed(0)} MB after\n`,
    );
    process.stdout.write(
      `BURST adds=${burst} seconds=${burstSeconds.toFixed(1)} agent_peak_rss_mb=${peak.toFixed(0)}\n`,
    );
    process.stdout.write(
      `RESULT added_p50_ms=${(m50 - d50).toFixed(1)} added_p99_ms=${(m99 - d99).toFixed(1)} ratio_p50=${(m50 / d50).toFixed(2)}\n`,
    );
  } finally {
    await lab.destroy();
  }
}

await main();
