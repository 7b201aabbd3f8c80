/**
 * Malformed CNI requests, as an attacker or a broken runtime would send them to the agent's socket:
 * valid requests with fields swapped for hostile values (paths that climb out of the state dir, plugin
 * types that name other binaries, wrong types, huge and deeply nested values), and bodies that are no
 * request at all. Every answer must be a CNI reply (a result or a CNI error with a code and a message);
 * on the in-memory ports also: only the registered plugins ran, nothing was written outside the
 * agent's dirs, and after a DEL of every container nothing is attached.
 */
import type { ExecRequest, ExecResult } from '../../lib/ports.ts';
import { callHandler } from '../doubles/memory-http.ts';
import { MemoryExec, MemoryFs } from '../doubles/memory-ports.ts';
import { okPlugin, testAgent } from '../test-agent.ts';
import type { Random } from './random.ts';
import { inBatches, note, tally, within, type Tally } from './tally.ts';

const hostile = [
  '',
  '.',
  '..',
  '../../../escaped',
  '/../../../escaped',
  'a/b',
  'x\u0000y',
  'é\u202e',
  ' ',
  'eth0\n',
  'x'.repeat(300),
];
/** The containers, interfaces and pods valid requests name. */
export const containers = ['c1', 'c2', 'c3', 'c4'];
export const interfaces = ['eth0', 'net1'];
export const pods = ['p1', 'p2', 'p3'];
export const memoryNetns = '/var/run/netns/chaos';

function deep(depth: number): unknown {
  let v: unknown = 1;
  for (let i = 0; i < depth; i++) v = [v];
  return v;
}

function junk(r: Random): unknown {
  switch (r.int(9)) {
    case 0:
      return null;
    case 1:
      return r.int(1e9) - 5e8;
    case 2:
      return r.chance(0.5);
    case 3:
      return [r.pick(hostile)];
    case 4:
      return { [r.pick(hostile)]: r.pick(hostile) };
    case 5:
      return deep(1 + r.int(200));
    case 6:
      return r.string('abc/.\\"{}[]:;=$`', 40);
    default:
      return r.pick(hostile);
  }
}

/** A well-formed request for the chaos world: pods p1..p3 with an extra network. */
function validRequest(r: Random, netnsOf: (containerId: string) => string): Record<string, unknown> {
  const containerId = r.pick(containers);
  return {
    command: r.pick(['ADD', 'ADD', 'DEL', 'CHECK', 'STATUS', 'GC']),
    containerId,
    netns: netnsOf(containerId),
    ifName: 'eth0',
    args: `K8S_POD_NAMESPACE=default;K8S_POD_NAME=${r.pick(pods)};K8S_POD_INFRA_CONTAINER_ID=${containerId}`,
    path: '/opt/cni/bin',
    config: {
      cniVersion: r.pick(['0.3.1', '0.4.0', '1.0.0', '1.1.0']),
      name: 'multinet-cni-network',
      type: 'multinet-cni',
    },
  };
}

/** One request body: mostly a valid request with one to three fields made hostile. */
export function malformedBody(r: Random, netnsOf: (containerId: string) => string): string | Buffer {
  const roll = r.int(100);
  if (roll < 3) return Buffer.from(Array.from({ length: r.int(200) }, () => r.int(256)));
  if (roll < 5) return r.pick(['', '{', '[]', 'null', '"x"', '{"command":', '{}']);
  if (roll < 6)
    return JSON.stringify({ ...validRequest(r, netnsOf), padding: 'x'.repeat(1024 * 1024 + r.int(1000)) });
  const request = validRequest(r, netnsOf);
  const config = request.config as Record<string, unknown>;
  for (let n = 1 + r.int(3); n > 0; n--) {
    switch (r.int(14)) {
      case 0:
        request.command = r.pick(['add', 'VERSION', 'DELETE', '', 'ADD ', junk(r)]);
        break;
      case 1:
        request.containerId = r.pick([...hostile, junk(r)]);
        break;
      case 2:
        request.ifName = r.pick([...hostile, 'net1', 'eth0.1', junk(r)]);
        break;
      case 3:
        request.netns = r.pick(['/etc/passwd', '/', 'relative/ns', '/proc/1/ns/net/../../..', '', junk(r)]);
        break;
      case 4:
        request.args = `K8S_POD_NAMESPACE=${r.pick(['default', ...hostile])};K8S_POD_NAME=${r.pick([...pods, ...hostile])}`;
        break;
      case 5:
        request.args = r.pick([
          '',
          ';;;',
          '=;=',
          'K8S_POD_NAME',
          `IgnoreUnknown=1;${r.string('=;ab', 20)}`,
          junk(r),
        ]);
        break;
      case 6:
        config.type = r.pick(['../../bin/sh', '/bin/sh', 'sh', 'bridge', '', junk(r)]);
        break;
      case 7:
        config.cniVersion = r.pick(['9.9.9', '', '0.1.0', junk(r)]);
        break;
      case 8:
        config.name = junk(r);
        break;
      case 9:
        request.config = r.pick([null, [], 'text', deep(100), junk(r)]);
        break;
      case 10:
        config['cni.dev/valid-attachments'] = r.pick([
          [],
          junk(r),
          [{ containerID: r.pick(containers), ifname: 'eth0' }],
          [{ containerID: r.pick(hostile), ifname: r.pick(hostile) }],
        ]);
        request.command = 'GC';
        break;
      case 11:
        config.runtimeConfig = { portMappings: junk(r), ips: [junk(r)], mac: junk(r) };
        break;
      case 12:
        request.path = r.pick(['', '/tmp', junk(r)]);
        break;
      default:
        delete request[r.pick(['command', 'containerId', 'netns', 'ifName', 'args', 'config'])];
    }
  }
  return JSON.stringify(request);
}

/** A DEL of every container, interface and pod valid requests name: after them nothing may be attached. */
export function cleanupDels(netnsOf: (containerId: string) => string): string[] {
  return containers.flatMap((containerId) =>
    interfaces.flatMap((ifName) =>
      pods.map((pod) =>
        JSON.stringify({
          command: 'DEL',
          containerId,
          netns: netnsOf(containerId),
          ifName,
          args: `K8S_POD_NAMESPACE=default;K8S_POD_NAME=${pod};K8S_POD_INFRA_CONTAINER_ID=${containerId}`,
          path: '/opt/cni/bin',
          config: { cniVersion: '1.0.0', name: 'multinet-cni-network', type: 'multinet-cni' },
        }),
      ),
    ),
  );
}

/** What is wrong with an answer to POST /cni, or undefined when it is a CNI reply. */
export function cniAnswerProblem(status: number, text: string): string | undefined {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return `HTTP ${status}, not JSON: ${text.slice(0, 120)}`;
  }
  if (status !== 200) return `HTTP ${status}: ${text.slice(0, 120)}`;
  const reply = body as { result?: unknown; error?: { code?: unknown; msg?: unknown } };
  const keys = Object.keys(reply);
  if (keys.length !== 1 || (keys[0] !== 'result' && keys[0] !== 'error'))
    return `not a CNI reply: ${text.slice(0, 120)}`;
  if (reply.error !== undefined) {
    const { code, msg } = reply.error;
    if (!Number.isInteger(code) || typeof msg !== 'string' || msg === '')
      return `not a CNI error: ${text.slice(0, 120)}`;
  }
  return undefined;
}

const pluginFiles = ['bridge', 'macvlan', 'tuning', 'host-local', 'ptp'].map((p) => `/opt/cni/bin/${p}`);
const agentDirs = ['/state/', '/etc/cni/net.d/', '/opt/cni/bin/', '/nads/', '/pods/', '/run/multinet/'];

/** An Exec that records every file it was asked to run. */
class RecordingExec extends MemoryExec {
  readonly files = new Set<string>();
  override run(request: ExecRequest): Promise<ExecResult> {
    this.files.add(request.file);
    return super.run(request);
  }
}

/** `count` malformed requests through the agent's HTTP handler on the in-memory ports, `parallel` at a time. */
export async function malformedInMemory(
  r: Random,
  count: number,
  parallel = 32,
): Promise<Tally & { readonly answers: Record<string, number>; readonly pluginCalls: number }> {
  const out = tally();
  const answers: Record<string, number> = {};
  const fs = new MemoryFs();
  const exec = new RecordingExec(fs);
  const t = testAgent({ concurrency: 2, maxQueued: 64 }, fs, exec);
  const attached = new Set<string>();
  for (const file of pluginFiles) {
    exec.register(file, (call) => {
      const key = `${call.containerId}/${call.ifName}`;
      if (call.command === 'ADD') attached.add(key);
      if (call.command === 'DEL') attached.delete(key);
      return okPlugin(call);
    });
  }
  fs.putNamespace(memoryNetns);
  t.addNad('extra', { cniVersion: '1.0.0', type: 'macvlan', master: 'eth9' });
  t.addNad('evil', { cniVersion: '1.0.0', type: '../../bin/sh' });
  t.addPod('p1', { 'k8s.v1.cni.cncf.io/networks': 'extra' });
  t.addPod('p2', { 'k8s.v1.cni.cncf.io/networks': 'evil,extra' });
  t.addPod('p3', { 'k8s.v1.cni.cncf.io/networks': '[{"name":"extra","interface":"../../x"}]' });
  await t.agent.start();
  const send = async (body: string | Buffer): Promise<void> => {
    out.requests++;
    let answer;
    try {
      answer = await within(callHandler(t.agent.handler, 'POST', '/cni', body), 30_000, () => undefined);
    } catch (err) {
      note(out, 'crashes', `the handler threw: ${String(err)}`);
      return;
    }
    if (!answer) return note(out, 'hangs', `no answer to ${String(body).slice(0, 200)}`);
    const problem = cniAnswerProblem(answer.status, answer.body);
    if (problem) return note(out, 'crashes', `${problem} (request ${String(body).slice(0, 200)})`);
    const reply = JSON.parse(answer.body) as { error?: { code: number } };
    const kind = reply.error ? `error ${reply.error.code}` : 'result';
    answers[kind] = (answers[kind] ?? 0) + 1;
  };
  await inBatches(count, parallel, () => send(malformedBody(r, () => memoryNetns)));
  // A DEL of every container the requests could have attached leaves nothing attached.
  for (const del of cleanupDels(() => memoryNetns)) await send(del);
  for (const key of attached) note(out, 'leaks', `${key} still attached after its DEL`);
  for (const path of fs.files.keys()) {
    if (/^\/state\/(attachments|network-status)\//.test(path))
      note(out, 'leaks', `${path} left after every DEL`);
  }
  for (const file of exec.files) {
    if (!pluginFiles.includes(file)) note(out, 'leaks', `ran ${file}, which is no registered plugin`);
  }
  for (const path of fs.files.keys()) {
    if (!agentDirs.some((dir) => path.startsWith(dir)) && path !== memoryNetns) {
      note(out, 'leaks', `wrote ${path}, outside the agent's dirs`);
    }
  }
  const stats = t.agent.limiter.stats;
  if (stats.running !== 0 || stats.waiting !== 0)
    note(out, 'hangs', `limiter not idle: ${JSON.stringify(stats)}`);
  t.agent.stop();
  return { ...out, answers, pluginCalls: exec.calls.length };
}
