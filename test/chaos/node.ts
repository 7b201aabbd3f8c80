/**
 * The campaign's experiments on a real node: the agent as a process (bin/multinet agent, standalone),
 * real network namespaces, the real bridge, macvlan and host-local plugins, the Go shim as the runtime
 * runs it. Each experiment counts crashes, leaks and hangs (tally.ts); `leftovers` is what a node must
 * not keep once every pod had its DEL.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { postCni } from '../doubles/cni-socket.ts';
import { Lab, shimInBackground, type Pod, type ShimOutcome } from '../netns/lab.ts';
import { cleanupDels, cniAnswerProblem, containers, malformedBody, pods } from './malformed.ts';
import type { Random } from './random.ts';
import { inBatches, note, tally, within, type Tally } from './tally.ts';

/** The NAD every chaos pod selects: macvlan on the lab's master, 240 addresses. */
export const chaosNetwork = 'chaos';

export function chaosLab(name: string): Lab {
  const lab = new Lab(name);
  lab.writeNad(chaosNetwork, {
    ...lab.seedMacvlanNad(chaosNetwork),
    ipam: {
      type: 'host-local',
      subnet: '203.0.113.0/24',
      rangeStart: '203.0.113.10',
      rangeEnd: '203.0.113.250',
      dataDir: lab.ipamDir,
    },
  });
  return lab;
}

function files(dir: string): string[] {
  try {
    return readdirSync(dir, { recursive: true, encoding: 'utf8' });
  } catch {
    return [];
  }
}

/** What the node still holds for pods that all had their DEL: leases, bridge ports, records, temp files. */
export function leftovers(lab: Lab, podList: readonly Pod[] = []): string[] {
  const found: string[] = [];
  for (const network of ['podnet', chaosNetwork]) {
    const leases = lab.leases(network);
    if (leases.length > 0) found.push(`${network} leases ${leases.join(',')}`);
  }
  const ports = JSON.parse(
    execFileSync('ip', ['-j', 'link', 'show', 'master', lab.bridge], { encoding: 'utf8' }) || '[]',
  ) as unknown[];
  if (ports.length > 0) found.push(`${ports.length} veths still on ${lab.bridge}`);
  const records = files(join(lab.stateDir, 'attachments'));
  if (records.length > 0) found.push(`attachment records ${records.join(',')}`);
  const statuses = files(join(lab.stateDir, 'network-status'));
  if (statuses.length > 0) found.push(`network-status files ${statuses.join(',')}`);
  for (const [dir, names] of [
    [lab.stateDir, files(lab.stateDir)],
    [lab.confDir, files(lab.confDir)],
  ] as const) {
    const temps = names.filter((n) => n.endsWith('.tmp'));
    if (temps.length > 0) found.push(`temp files in ${dir}: ${temps.join(',')}`);
  }
  for (const pod of podList) {
    const left = pod.interfaces();
    if (left.length > 0) found.push(`${pod.name} still has ${left.map((i) => i.ifname).join(',')}`);
  }
  return found;
}

/** Stops the agent; a crash when it had ended on its own (SIGKILL gives null, SIGTERM 0). */
async function stop(lab: Lab, signal: 'SIGTERM' | 'SIGKILL', out: Tally): Promise<void> {
  const code = await lab.stopAgent(signal);
  if (signal === 'SIGKILL' ? code !== null : code !== 0) {
    note(out, 'crashes', `the agent had ended by itself (exit ${String(code)}):\n${lab.log.slice(-2000)}`);
  }
}

function shimProblem(outcome: ShimOutcome): string | undefined {
  if (outcome.json === undefined)
    return outcome.code === 0 && outcome.stdout === ''
      ? undefined
      : `shim printed no JSON: ${outcome.stdout} ${outcome.stderr}`;
  return undefined;
}

const shimBound = 90_000;

function runShim(lab: Lab, command: string, pod: Pod, out: Tally): Promise<ShimOutcome | undefined> {
  out.requests++;
  return within(shimInBackground(lab, command, pod.env(), {}), shimBound, () => {
    note(out, 'hangs', `${command} of ${pod.name} unanswered after ${shimBound / 1000} s`);
    return undefined;
  });
}

/**
 * SIGKILLs the agent while a pod's ADD runs (at a random moment: before, inside or after the
 * delegates), restarts it, DELs the pod: nothing may stay behind, and every shim run must print a CNI
 * answer. The agent must be running when called; it is running afterwards.
 */
export async function crashMidAdd(
  lab: Lab,
  r: Random,
  rounds: number,
  agentArgs: readonly string[],
): Promise<Tally> {
  const out = tally();
  for (let round = 0; round < rounds; round++) {
    const pod = lab.newPod(chaosNetwork, `crash${round}`);
    const add = runShim(lab, 'ADD', pod, out);
    // When to crash is the experiment's variable (a fault injection, not a synchronization).
    await new Promise((resolve) => setTimeout(resolve, r.int(250)));
    await stop(lab, 'SIGKILL', out);
    const added = await add;
    const problem = added && shimProblem(added);
    if (problem) note(out, 'crashes', `ADD of ${pod.name}: ${problem}`);
    await lab.startAgent(agentArgs);
    const del = await runShim(lab, 'DEL', pod, out);
    if (del && (del.code !== 0 || del.stdout !== ''))
      note(out, 'leaks', `DEL of ${pod.name} failed: ${del.stdout}`);
    for (const left of leftovers(lab, [pod])) note(out, 'leaks', `round ${round}: ${left}`);
  }
  return out;
}

/**
 * Restarts the agent (SIGKILL and SIGTERM in turn) while the generated config is read as fast as
 * possible; between restarts the default network changes, so that each start rewrites the config.
 * Every read must find it whole. The agent must be running when called; it is running afterwards.
 */
export async function restartsWhileReading(
  lab: Lab,
  restarts: number,
  agentArgs: readonly string[],
): Promise<Tally & { readonly reads: number; readonly versions: number }> {
  const out = tally();
  const generated = join(lab.confDir, '00-multinet.conflist');
  const defaultFile = join(lab.confDir, '10-podnet.conflist');
  const original = JSON.parse(readFileSync(defaultFile, 'utf8')) as {
    plugins: Array<Record<string, unknown>>;
  };
  let reading = true;
  let reads = 0;
  const seen = new Set<string>();
  const reader = (async () => {
    while (reading) {
      reads++;
      let text: string;
      try {
        text = await readFile(generated, 'utf8');
      } catch (err) {
        note(out, 'leaks', `read ${reads}: the generated config is missing (${String(err)})`);
        continue;
      }
      try {
        const conf = JSON.parse(text) as { plugins?: Array<{ type?: string }> };
        if (conf.plugins?.[0]?.type !== 'multinet-cni') throw new Error('no multinet-cni plugin');
        seen.add(text);
      } catch (err) {
        note(
          out,
          'leaks',
          `read ${reads}: the generated config is partial (${String(err)}): ${JSON.stringify(text.slice(0, 100))}`,
        );
      }
    }
  })();
  try {
    for (let i = 0; i < restarts; i++) {
      await stop(lab, i % 2 === 0 ? 'SIGKILL' : 'SIGTERM', out);
      const plugin = {
        ...original.plugins[0],
        ...(i % 2 === 0 ? { capabilities: { portMappings: true } } : {}),
      };
      const temp = join(lab.dir, 'podnet.tmp');
      writeFileSync(temp, JSON.stringify({ ...original, plugins: [plugin] }));
      renameSync(temp, defaultFile);
      await lab.startAgent(agentArgs);
      out.requests++;
    }
  } finally {
    reading = false;
    await reader;
  }
  return { ...out, reads, versions: seen.size };
}

/** `count` pods ADDed at once through the shim, then DELeted at once: all attached, nothing left. */
export async function concurrentPods(lab: Lab, count: number, round = 0): Promise<Tally> {
  const out = tally();
  const podList = Array.from({ length: count }, (_, i) => lab.newPod(chaosNetwork, `many${round}x${i}`));
  const adds = await Promise.all(podList.map((pod) => runShim(lab, 'ADD', pod, out)));
  adds.forEach((add, i) => {
    const pod = podList[i]!;
    if (!add) return;
    if (add.code !== 0) return note(out, 'crashes', `ADD of ${pod.name} failed: ${add.stdout}`);
    const names = pod
      .interfaces()
      .map((n) => n.ifname)
      .sort()
      .join(',');
    if (names !== 'eth0,net1') note(out, 'crashes', `${pod.name} has [${names}], not eth0 and net1`);
  });
  const leased = lab.leases(chaosNetwork).length;
  if (leased !== count) note(out, 'crashes', `${leased} ${chaosNetwork} leases for ${count} pods`);
  const dels = await Promise.all(podList.map((pod) => runShim(lab, 'DEL', pod, out)));
  dels.forEach((del, i) => {
    if (del && del.code !== 0) note(out, 'leaks', `DEL of ${podList[i]!.name} failed: ${del.stdout}`);
  });
  for (const left of leftovers(lab, podList)) note(out, 'leaks', left);
  return out;
}

/**
 * `count` malformed requests on the real agent's socket (real plugins behind it), `parallel` at a time;
 * then a DEL of every container they could have attached: every answer a CNI reply (never a reset),
 * nothing left, nothing written outside the lab's dir, the agent alive.
 */
export async function malformedOnSocket(lab: Lab, r: Random, count: number, parallel = 16): Promise<Tally> {
  const out = tally();
  lab.writeNad('evil', { cniVersion: '1.0.0', type: '../../bin/sh' });
  const [p1, p2, p3] = pods;
  for (const [name, networks] of [
    [p1, chaosNetwork],
    [p2, `evil,${chaosNetwork}`],
    [p3, `[{"name":"${chaosNetwork}","interface":"../../x"}]`],
  ] as const) {
    lab.newPod(networks, name);
  }
  const netns = new Map(containers.map((id) => [id, lab.newPod(undefined, `ns-${id}`)]));
  const netnsOf = (id: string): string => netns.get(id)?.netnsPath ?? '/run/netns/none';
  const send = async (body: string | Buffer): Promise<void> => {
    out.requests++;
    try {
      const answer = await within(postCni(lab.socket, body), 60_000, () => undefined);
      if (!answer) return note(out, 'hangs', `no answer to ${String(body).slice(0, 200)}`);
      const problem = cniAnswerProblem(answer.status, answer.text);
      if (problem) note(out, 'crashes', `${problem} (request ${String(body).slice(0, 200)})`);
    } catch (err) {
      note(out, 'crashes', `the connection failed: ${String(err)} (request ${String(body).slice(0, 200)})`);
    }
  };
  await inBatches(count, parallel, () => send(malformedBody(r, netnsOf)));
  for (const del of cleanupDels(netnsOf)) await send(del);
  for (const left of leftovers(lab, [...netns.values()])) note(out, 'leaks', left);
  const escaped = [...files(lab.dir), ...readdirSync(tmpdir())].filter((n) => n.includes('escaped'));
  if (escaped.length > 0) note(out, 'leaks', `files outside the state dir: ${escaped.join(',')}`);
  return out;
}
