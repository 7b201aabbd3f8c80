import { networkConfigFrom } from './cni/config.ts';
import {
  defaultStaleAfterSeconds,
  heartbeatOf,
  isEligible,
  problemOnNode,
  reportedProblems,
  sortProblems,
} from './node-state.ts';

describe('node eligibility (one rule for the controller and the webhook)', () => {
  const now = Date.parse('2026-01-01T00:10:00Z');
  const at = (time: string | undefined): number =>
    heartbeatOf({ status: time === undefined ? undefined : ({ heartbeatTime: time } as never) });
  const staleAfterMs = defaultStaleAfterSeconds * 1000;

  it('counts a node whose agent reported within --stale-after', () => {
    expect(isEligible(at('2026-01-01T00:07:00Z'), now, staleAfterMs)).toBe(true);
    expect(isEligible(at('2026-01-01T00:06:59Z'), now, staleAfterMs)).toBe(false);
  });

  it('never counts a report without a usable heartbeat', () => {
    expect(isEligible(at('yesterday'), now, staleAfterMs)).toBe(false);
    expect(isEligible(at(undefined), now, staleAfterMs)).toBe(false);
  });
});

describe("a node's problems with a NAD (one rule for the agent's report and the tests' simulated agents)", () => {
  const subject = { namespace: 'default', name: 'macvlan-conf', configHash: 'h1' };
  const config = networkConfigFrom({ cniVersion: '1.0.0', type: 'macvlan', master: 'eth0' }, 'macvlan-conf');

  it('names the missing plugins and interfaces, and nothing on a node that has them', () => {
    expect(
      problemOnNode(subject, config, { plugins: new Set(['bridge']), interfaces: new Set() }, '/x'),
    ).toEqual({
      ...subject,
      missingPlugins: ['macvlan'],
      missingInterfaces: ['eth0'],
    });
    const ok = { plugins: new Set(['macvlan']), interfaces: new Set(['eth0']) };
    expect(problemOnNode(subject, config, ok, '/x')).toBeUndefined();
  });

  it('reports a NAD without spec.config and without a conf-dir file of its name', () => {
    expect(problemOnNode(subject, undefined, {}, '/etc/cni/net.d')).toEqual({
      ...subject,
      error: 'spec.config is empty and /etc/cni/net.d has no CNI config named "macvlan-conf"',
    });
  });

  it('sorts by NAD key in code-unit order, as the agent writes them', () => {
    const problems = ['default/b', 'default/B', 'apps/a'].map((key) => {
      const [namespace, name] = key.split('/') as [string, string];
      return { namespace, name, configHash: '' };
    });
    expect(sortProblems(problems).map((p) => `${p.namespace}/${p.name}`)).toEqual([
      'apps/a',
      'default/B',
      'default/b',
    ]);
  });

  it('reads a report leniently: entries without a namespace and name are left out', () => {
    const read = reportedProblems({
      status: { problems: [{ ...subject, error: 'x' }, { name: 'no-namespace' }, null] } as never,
    });
    expect([...read.keys()]).toEqual(['default/macvlan-conf']);
  });
});
