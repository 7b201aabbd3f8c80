/**
 * Every interleaving of a few CNI requests on the agent over the in-memory ports: each schedule issues
 * requests and lets blocked plugin calls finish one at a time in every order of the two, over 1 and 2
 * limiter slots. After each schedule every request must have been answered (no deadlock: the lock
 * order holds), the limiter must be idle, and what the fake plugins attached must be exactly what the
 * attachment cache records (nothing leaked, nothing forgotten).
 */
import type { CniRequest } from '../../lib/cni/request.ts';
import { callHandler } from '../doubles/memory-http.ts';
import { okPlugin, testAgent, type TestAgent } from '../test-agent.ts';
import { note, tally, type Tally } from './tally.ts';

type Pod = 'a' | 'b';
export type Op =
  | { readonly kind: 'ADD' | 'DEL' | 'CHECK'; readonly pod: Pod }
  | { readonly kind: 'GC'; readonly keep: readonly Pod[] };

export const allOps: readonly Op[] = [
  { kind: 'ADD', pod: 'a' },
  { kind: 'DEL', pod: 'a' },
  { kind: 'CHECK', pod: 'a' },
  { kind: 'ADD', pod: 'b' },
  { kind: 'DEL', pod: 'b' },
  { kind: 'GC', keep: ['b'] },
  { kind: 'GC', keep: [] },
];

export function describeOp(op: Op): string {
  return op.kind === 'GC' ? `GC[${op.keep.join(',')}]` : `${op.kind} ${op.pod}`;
}

/** I: issue the next request; S: let the oldest blocked plugin call finish. */
export type Schedule = readonly ('I' | 'S')[];

/** Schedules with `issues` I's (the first event is one) and at most maxSteps S's. */
export function schedules(issues: number, maxSteps: number): Schedule[] {
  const out: Schedule[] = [];
  const grow = (prefix: Array<'I' | 'S'>, i: number, s: number): void => {
    if (i === issues) out.push([...prefix]);
    if (i < issues) grow([...prefix, 'I'], i + 1, s);
    if (s < maxSteps && i > 0 && i <= issues) grow([...prefix, 'S'], i, s + 1);
  };
  grow([], 0, 0);
  return out.filter((schedule, index) => out.findIndex((o) => o.join('') === schedule.join('')) === index);
}

export interface Failure {
  readonly slots: number;
  readonly ops: string;
  readonly schedule: string;
  readonly problem: string;
}

async function drain(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
}

const netns = '/var/run/netns/test';

interface World {
  readonly t: TestAgent;
  /** Interfaces the fake plugins attached, by container. */
  readonly attached: Map<string, Set<string>>;
  /** Plugin calls waiting to be let go, oldest first. */
  readonly blocked: Array<() => void>;
  /** Whether plugin calls wait to be let go. */
  blocking: boolean;
}

/** The agent of one run: pods a and b with two delegates each, plugins that can be made to wait. */
function world(slots: number): World {
  const t = testAgent({ concurrency: slots, maxQueued: 100 });
  t.fs.put(
    '/etc/cni/net.d/10-default.conflist',
    JSON.stringify({ cniVersion: '1.1.0', name: 'podnet', plugins: [{ type: 'bridge' }] }),
  );
  t.fs.putNamespace(netns);
  t.addNad('extra', { cniVersion: '1.1.0', type: 'macvlan', master: 'eth9' });
  for (const pod of ['a', 'b']) t.addPod(pod, { 'k8s.v1.cni.cncf.io/networks': 'extra' });
  const w: World = { t, attached: new Map(), blocked: [], blocking: false };
  for (const plugin of ['bridge', 'macvlan']) {
    t.exec.register(`/opt/cni/bin/${plugin}`, async (call) => {
      if (w.blocking) await new Promise<void>((resolve) => w.blocked.push(resolve));
      const ifaces = w.attached.get(call.containerId) ?? new Set<string>();
      w.attached.set(call.containerId, ifaces);
      switch (call.command) {
        case 'ADD':
          ifaces.add(call.ifName);
          return okPlugin(call);
        case 'DEL':
          ifaces.delete(call.ifName);
          return {};
        case 'CHECK':
          return ifaces.has(call.ifName)
            ? {}
            : { code: 1, stdout: JSON.stringify({ code: 999, msg: `${call.ifName} is missing` }) };
        default:
          return {};
      }
    });
  }
  return w;
}

type Reply = { result: unknown } | { error: { code: number; msg: string } };

/** Sends op through the agent's HTTP handler, as the shim does. */
async function send(t: TestAgent, op: Op): Promise<Reply> {
  const answer = await callHandler(t.agent.handler, 'POST', '/cni', JSON.stringify(requestOf(t, op)));
  return JSON.parse(answer.body) as Reply;
}

function requestOf(t: TestAgent, op: Op): CniRequest {
  const config = { cniVersion: '1.1.0', name: 'multinet-cni-network', type: 'multinet-cni' };
  if (op.kind === 'GC') {
    return t.request('GC', {
      containerId: '',
      ifName: '',
      netns: '',
      args: '',
      config: {
        ...config,
        'cni.dev/valid-attachments': op.keep.map((pod) => ({ containerID: pod, ifname: 'eth0' })),
      },
    });
  }
  return t.request(op.kind, {
    containerId: op.pod,
    netns,
    args: `K8S_POD_NAMESPACE=default;K8S_POD_NAME=${op.pod}`,
    config,
  });
}

/** Runs one schedule of ops (pod a attached before it); returns what went wrong, or undefined. */
export async function runSchedule(
  slots: number,
  ops: readonly Op[],
  schedule: Schedule,
): Promise<string | undefined> {
  const w = world(slots);
  const { t } = w;
  await t.agent.start();
  const initial = await send(t, { kind: 'ADD', pod: 'a' });
  if (!('result' in initial)) return `the first ADD of a failed: ${JSON.stringify(initial)}`;
  w.blocking = true;
  const issued: Array<{ op: Op; settled: boolean; reply?: Reply }> = [];
  let next = 0;
  for (const event of schedule) {
    if (event === 'I') {
      const entry: { op: Op; settled: boolean; reply?: Reply } = { op: ops[next++]!, settled: false };
      issued.push(entry);
      void send(t, entry.op).then((reply) => {
        entry.settled = true;
        entry.reply = reply;
      });
    } else {
      w.blocked.shift()?.();
    }
    await drain();
  }
  w.blocking = false;
  for (const release of w.blocked.splice(0)) release();
  for (let round = 0; round < 20 && issued.some((p) => !p.settled); round++) await drain();
  const stuck = issued.filter((p) => !p.settled).map((p) => describeOp(p.op));
  if (stuck.length > 0) {
    return `never answered: ${stuck.join(', ')} (limiter ${JSON.stringify(t.agent.limiter.stats)})`;
  }
  const stats = t.agent.limiter.stats;
  if (stats.running !== 0 || stats.waiting !== 0) return `limiter not idle: ${JSON.stringify(stats)}`;
  for (const p of issued) {
    const error = p.reply && 'error' in p.reply ? p.reply.error : undefined;
    // The errors these requests can cause: CHECK of a container without a completed ADD (3), or of
    // an interface that is gone (the fake plugin's 999). Anything else is the agent's fault.
    if (error && error.code !== 3 && error.code !== 999) {
      return `${describeOp(p.op)} failed: ${JSON.stringify(error)}`;
    }
    if (!p.reply || (!('result' in p.reply) && !error)) return `${describeOp(p.op)}: no CNI reply`;
  }
  for (const pod of ['a', 'b']) {
    const live = [...(w.attached.get(pod) ?? [])].sort();
    const text = await t.fs.readFile(`/state/attachments/${pod}_eth0.json`).catch(() => undefined);
    const record = text
      ? (JSON.parse(text) as { complete: boolean; attachments: Array<{ ifName: string }> })
      : undefined;
    const recorded = (record?.attachments ?? []).map((a) => a.ifName).sort();
    if (live.some((ifName) => !recorded.includes(ifName))) {
      return `pod ${pod}: [${live.join(',')}] attached but [${recorded.join(',')}] recorded (a leak)`;
    }
    if (record?.complete && recorded.join() !== live.join()) {
      return `pod ${pod}: recorded complete as [${recorded.join(',')}] but [${live.join(',')}] attached`;
    }
  }
  return undefined;
}

export interface Exploration {
  readonly runs: number;
  readonly failures: readonly Failure[];
}

/** Every sequence of `length` ops from allOps, under every schedule with up to `maxSteps` steps, over 1 and 2 slots. */
export async function explore(
  length: number,
  maxSteps: number,
  slots: readonly number[] = [1, 2],
): Promise<Exploration> {
  const sequences: Op[][] = [[]];
  for (let i = 0; i < length; i++) {
    const longer = sequences.splice(0).flatMap((seq) => allOps.map((op) => [...seq, op]));
    sequences.push(...longer);
  }
  const failures: Failure[] = [];
  let runs = 0;
  for (const n of slots) {
    for (const ops of sequences) {
      for (const schedule of schedules(length, maxSteps)) {
        runs++;
        const problem = await runSchedule(n, ops, schedule);
        if (problem) {
          failures.push({
            slots: n,
            ops: ops.map(describeOp).join(' → '),
            schedule: schedule.join(''),
            problem,
          });
        }
      }
    }
  }
  return { runs, failures };
}

/** The exploration as the campaign counts it: a request never answered or a busy limiter is a hang, a mismatch a leak. */
export function exploration(result: Exploration): Tally {
  const out = tally();
  out.requests = result.runs;
  for (const f of result.failures) {
    const kind = /never answered|not idle/.test(f.problem)
      ? 'hangs'
      : /leak|recorded/.test(f.problem)
        ? 'leaks'
        : 'crashes';
    note(out, kind, `${f.slots} slot(s), ${f.ops}, schedule ${f.schedule}: ${f.problem}`);
  }
  return out;
}
