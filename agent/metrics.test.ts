import { createAgentMetrics } from './metrics.ts';
import { okPlugin, testAgent } from '../test/test-agent.ts';
import { MemoryExec, MemoryFs } from '../test/doubles/memory-ports.ts';

/** The value of one series in the exposition text, or undefined. */
function series(text: string, line: string): number | undefined {
  const found = text.split('\n').find((l) => l.startsWith(`${line} `));
  return found === undefined ? undefined : Number(found.slice(line.length + 1));
}

test('each delegate run is timed by command and plugin, and failures are counted by outcome', async () => {
  const metrics = createAgentMetrics({ inFlight: () => 0 }, false);
  const fs = new MemoryFs();
  const exec = new MemoryExec(fs);
  exec.register('/opt/cni/bin/macvlan', (call) =>
    call.command === 'ADD' ? { code: null, timedOut: true } : okPlugin(call),
  );
  const t = testAgent({}, fs, exec, metrics);
  t.addNad('macvlan-conf', { cniVersion: '1.0.0', type: 'macvlan', master: 'eth9' });
  t.addPod('samplepod', { 'k8s.v1.cni.cncf.io/networks': 'macvlan-conf' });
  await t.agent.start();
  await expect(t.agent.attacher.handle(t.request('ADD'))).rejects.toThrow(/did not finish ADD/);
  // The rollback DELs the timed-out delegate too, then the default network.
  expect(t.calls()).toEqual(['ADD bridge eth0', 'ADD macvlan net1', 'DEL macvlan net1', 'DEL bridge eth0']);

  const text = await metrics.registry.metrics();
  const count = (command: string, plugin: string): number | undefined =>
    series(text, `multinet_agent_delegate_duration_seconds_count{command="${command}",plugin="${plugin}"}`);
  expect(count('VERSION', 'bridge')).toBe(1);
  expect(count('ADD', 'bridge')).toBe(1);
  expect(count('ADD', 'macvlan')).toBe(1);
  expect(count('DEL', 'bridge')).toBe(1);
  expect(count('DEL', 'macvlan')).toBe(1);
  expect(count('CHECK', 'bridge')).toBeUndefined();
  expect(
    series(text, 'multinet_agent_delegate_failures_total{command="ADD",plugin="macvlan",outcome="timeout"}'),
  ).toBe(1);
  expect(text).not.toMatch(/multinet_agent_delegate_failures_total\{command="ADD",plugin="bridge"/);
});

test('requests and network-status writes have their own duration series', async () => {
  const metrics = createAgentMetrics({ inFlight: () => 2 }, false);
  metrics.request('ADD', 'ok', 0.03);
  metrics.statusWrite('ok', 0.004);
  metrics.statusWrite('error', 0.2);
  const text = await metrics.registry.metrics();
  expect(series(text, 'multinet_agent_cni_requests_total{command="ADD",outcome="ok"}')).toBe(1);
  expect(
    series(text, 'multinet_agent_network_status_write_duration_seconds_bucket{le="0.005",outcome="ok"}'),
  ).toBe(1);
  expect(series(text, 'multinet_agent_network_status_write_duration_seconds_count{outcome="error"}')).toBe(1);
  expect(series(text, 'multinet_agent_network_status_write_duration_seconds_sum{outcome="error"}')).toBe(0.2);
  expect(series(text, 'multinet_agent_cni_requests_in_flight')).toBe(2);
});
