import { computeNadStatus, type StatusInput } from './nad-status.ts';
import { ResourceIndex } from './resource-index.ts';

const vf = 'multinet.dev/vf';
const node = (name: string, allocatable: Record<string, string>): Parameters<ResourceIndex['upsert']>[0] => ({
  metadata: { name },
  status: { allocatable },
});

describe('ResourceIndex', () => {
  it('counts the nodes advertising each resource and says when one goes from none to some and back', () => {
    const index = new ResourceIndex();
    expect(index.upsert(node('a', { [vf]: '4', cpu: '2' }))).toEqual(new Set([vf, 'cpu']));
    expect(index.upsert(node('b', { [vf]: '2' }))).toEqual(new Set());
    expect(index.advertisedBy(vf)).toBe(2);
    expect(index.upsert(node('a', { [vf]: '0', cpu: '2' }))).toEqual(new Set());
    expect(index.advertisedBy(vf)).toBe(1);
    expect(index.remove('b')).toEqual(new Set([vf]));
    expect(index.advertisedBy(vf)).toBe(0);
    expect(index.remove('nobody')).toEqual(new Set());
  });
});

describe('the status of a device network', () => {
  const input: StatusInput = {
    generation: 1,
    previous: undefined,
    verdict: { accepted: true, pluginType: 'host-device', warnings: [] },
    hash: 'h',
    nodes: [{ name: 'node-a', holds: true }],
    problems: undefined,
    staleNodes: [],
    staleAfterMs: 180_000,
    now: new Date('2026-01-02T03:04:05Z'),
  };
  const summary = (status: ReturnType<typeof computeNadStatus>): Record<string, string> =>
    Object.fromEntries(status.conditions.map((c) => [c.type, `${c.status} ${c.reason}: ${c.message}`]));

  it('is Degraded, naming the resource, while no node advertises it', () => {
    const status = computeNadStatus({ ...input, resource: { name: vf, advertisedBy: 0 } });
    const missing =
      'no node advertises resource "multinet.dev/vf" (Node status.allocatable), so pods of this network cannot be scheduled: is its device plugin running?';
    expect(summary(status)).toEqual({
      Accepted: 'True Valid: the CNI config is valid',
      Ready: `False ResourceNotAdvertised: usable on 0/1 nodes: ${missing}`,
      Degraded: `True ResourceNotAdvertised: ${missing}`,
    });
    expect(status.nodes).toBe('0/1');
  });

  it('is Ready once a node advertises it', () => {
    const status = computeNadStatus({ ...input, resource: { name: vf, advertisedBy: 1 } });
    expect(summary(status).Ready).toBe('True Ready: usable on all 1 node');
    expect(summary(status).Degraded).toMatch(/^False AsExpected/);
  });
});
