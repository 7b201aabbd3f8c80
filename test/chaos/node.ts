/**
 * The campaign's experiments on a real node: the agent as a process (bin/multinet agent, standalone),
 * real network namespaces, the real bridge, macvlan and host-local plugins, the Go shim as the runtime
 * runs it. Each experiment counts crashes, leaks and hangs (tally.ts); `leftovers` is what a node must
 * not keep once every pod had its DEL. Since issue 27 also: rolling updates with a surge (two agents on
 * one socket), ADDs into a full state dir, and the agent's memory after DELs of unknown containers.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, renameSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { attachmentCacheFile } from '../../lib/cni/request.ts';
import { eventually } from '../../dev/eventually.ts';
import { freeLoopbackPort } from '../../platform/nodejs/listen.ts';
import { postCni } from '../doubles/cni-socket.ts';
import { Lab, pluginDir, shimInBackground, type Pod, type ShimOutcome } from '../netns/lab.ts';
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
  // The bridge exists once a pod had its ADD (a run without pods has none, and nothing on it).
  const bridge = spawnSync('ip', ['-j', 'link', 'show', 'master', lab.bridge], { encoding: 'utf8' });
  const ports = (bridge.status === 0 ? JSON.parse(bridge.stdout || '[]') : []) as unknown[];
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

/** The agent's resident memory in MB (VmRSS). */
export function agentRssMb(lab: Lab): number {
  const status = readFileSync(`/proc/${lab.agentPid}/status`, 'utf8');
  return Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? NaN) / 1024;
}

/**
 * Rolling updates with a surge, `rounds` times: while pods are ADDed, a second agent starts on the same
 * socket, probe port and state dir, takes them over, and the first one is stopped (SIGTERM) once the
 * second is ready, as a DaemonSet with maxSurge: 1 does it. The socket must reach the new agent after
 * the old one stopped, every ADD must succeed, and the DELs must leave nothing. The agent must be
 * running when called; it runs with agentArgs afterwards.
 */
export async function rollingUpdates(lab: Lab, rounds: number, agentArgs: readonly string[]): Promise<Tally> {
  const out = tally();
  const port = await freeLoopbackPort();
  const serving = join(lab.dir, 'serving');
  const args = [...agentArgs, '--probe-listen', `127.0.0.1:${port}`, '--serving-file', serving];
  const servedBy = (): string | undefined => {
    try {
      return readFileSync(serving, 'utf8').trim();
    } catch {
      return undefined;
    }
  };
  await stop(lab, 'SIGTERM', out);
  await lab.startAgent(args);
  const ready = async (): Promise<boolean> =>
    (await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined))?.status === 200;
  try {
    for (let round = 0; round < rounds; round++) {
      const podList = Array.from({ length: 4 }, (_, i) => lab.newPod(chaosNetwork, `surge${round}x${i}`));
      const adds = podList.map((pod) => runShim(lab, 'ADD', pod, out));
      const old = await lab.startSuccessor(args);
      // The old agent hands the probe port over once it sees its socket replaced; the new one writes its
      // serving file (the chart's startup probe) once it serves socket and port.
      const handedOver = await eventually(
        'the new agent to be ready on the probe port and to name itself in the serving file',
        async () => (await ready()) && servedBy() === String(lab.agentPid),
        20_000,
      ).catch((err: unknown) => note(out, 'hangs', `round ${round}: ${String(err)}`));
      const code = await old.stop('SIGTERM');
      if (code !== 0) note(out, 'crashes', `round ${round}: the old agent exited ${String(code)}`);
      if (servedBy() !== String(lab.agentPid))
        note(out, 'crashes', `round ${round}: the old agent's stop took the serving file (${servedBy()})`);
      if (handedOver && !(await ready()))
        note(out, 'crashes', `round ${round}: not ready after the old agent stopped`);
      const after = lab.newPod(chaosNetwork, `surge${round}after`);
      podList.push(after);
      adds.push(runShim(lab, 'ADD', after, out));
      (await Promise.all(adds)).forEach((add, i) => {
        if (add && add.code !== 0)
          note(out, 'crashes', `round ${round}: ADD of ${podList[i]!.name}: ${add.stdout}`);
      });
      for (const pod of podList) {
        const del = await runShim(lab, 'DEL', pod, out);
        if (del && del.code !== 0)
          note(out, 'leaks', `round ${round}: DEL of ${pod.name} failed: ${del.stdout}`);
      }
      for (const left of leftovers(lab, podList)) note(out, 'leaks', `round ${round}: ${left}`);
    }
  } finally {
    await lab.stopAgent('SIGTERM');
    await lab.startAgent(agentArgs);
  }
  return out;
}

/**
 * ADDs with the state dir full, `rounds` times: a tmpfs mounted on it, filled up to its last page
 * (odd rounds: to the last byte), so that the record before the pod's second delegate (odd rounds:
 * its first) cannot be written. The ADD must fail with a CNI error that names the record's file and
 * leave nothing behind (no interface, lease, record or temp file); once there is room again the pod's
 * ADD and DEL must succeed. The agent must be running when called; it runs with agentArgs afterwards.
 */
export async function fullStateDir(lab: Lab, rounds: number, agentArgs: readonly string[]): Promise<Tally> {
  const out = tally();
  await stop(lab, 'SIGTERM', out);
  lab.mountTmpfs(lab.stateDir, '256k');
  try {
    await lab.startAgent(agentArgs);
    for (let round = 0; round < rounds; round++) {
      const pod = lab.newPod(chaosNetwork, `full${round}`);
      const filler = join(lab.stateDir, 'filler');
      const { bavail, bsize } = statfsSync(lab.stateDir);
      const room = round % 2 === 0 ? bsize : 0;
      writeFileSync(filler, Buffer.alloc(Math.max(0, bavail * bsize - room)));
      const add = await runShim(lab, 'ADD', pod, out);
      const record = attachmentCacheFile(lab.stateDir, pod.containerId, 'eth0');
      if (add && (add.code === 0 || !add.stdout.includes(`cannot write ${record}: ENOSPC`)))
        note(out, 'crashes', `round ${round}: ADD into a full state dir: ${add.stdout}`);
      for (const left of leftovers(lab, [pod])) note(out, 'leaks', `round ${round} (full): ${left}`);
      rmSync(filler);
      const retry = await runShim(lab, 'ADD', pod, out);
      if (retry && retry.code !== 0)
        note(out, 'crashes', `round ${round}: ADD with room again: ${retry.stdout}`);
      const del = await runShim(lab, 'DEL', pod, out);
      if (del && del.code !== 0) note(out, 'leaks', `round ${round}: DEL failed: ${del.stdout}`);
      for (const left of leftovers(lab, [pod])) note(out, 'leaks', `round ${round}: ${left}`);
    }
  } finally {
    await lab.stopAgent('SIGTERM');
    lab.unmount(lab.stateDir);
    await lab.startAgent(agentArgs);
  }
  return out;
}

/**
 * `count` DELs of containers the agent never saw (unknown pods, no records), 16 at a time on its
 * socket, as a hostile local client or a runtime cleaning up after a wiped state dir sends them:
 * every answer must succeed. Returns the agent's RSS before and after (MB).
 */
export async function unknownDels(
  lab: Lab,
  count: number,
): Promise<Tally & { readonly rssBefore: number; readonly rssAfter: number }> {
  const out = tally();
  const rssBefore = agentRssMb(lab);
  let sent = 0;
  await inBatches(count, 16, async () => {
    const id = `unknown${sent++}`;
    out.requests++;
    const body = JSON.stringify({
      command: 'DEL',
      containerId: id,
      netns: `/run/netns/${lab.prefix}-${id}`,
      ifName: 'eth0',
      args: `IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=${id};K8S_POD_INFRA_CONTAINER_ID=${id};K8S_POD_UID=uid-${id}`,
      path: pluginDir,
      config: { cniVersion: '1.0.0', name: 'multinet-cni-network', type: 'multinet-cni' },
    });
    try {
      const answer = await within(postCni(lab.socket, body), 60_000, () => undefined);
      if (!answer) note(out, 'hangs', `DEL of ${id} unanswered`);
      else if (answer.text !== '{"result":null}') note(out, 'crashes', `DEL of ${id}: ${answer.text}`);
    } catch (err) {
      note(out, 'crashes', `DEL of ${id}: the connection failed: ${String(err)}`);
    }
  });
  for (const left of leftovers(lab)) note(out, 'leaks', left);
  return { ...out, rssBefore, rssAfter: agentRssMb(lab) };
}
