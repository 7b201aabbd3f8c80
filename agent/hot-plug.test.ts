import { networksAnnotation } from '../lib/annotations/keys.ts';
import { MemoryExec, MemoryFs } from '../test/doubles/memory-ports.ts';
import { okPlugin, testAgent, type TestAgent } from '../test/test-agent.ts';

const macvlan = { cniVersion: '1.0.0', type: 'macvlan', master: 'eth9' };
const bridge = { cniVersion: '1.0.0', type: 'bridge' };

/** An exec of the plugins testAgent registers, over `fs` (an agent started again on the same node's files). */
function pluginsOn(fs: MemoryFs): MemoryExec {
  const exec = new MemoryExec(fs);
  for (const plugin of ['bridge', 'macvlan', 'tuning', 'host-local', 'ptp'])
    exec.register(`/opt/cni/bin/${plugin}`, okPlugin);
  return exec;
}

/** An agent whose pod `samplepod` was attached by a sandbox ADD with `networks`. */
async function attached(networks: string, fs?: MemoryFs): Promise<TestAgent> {
  const t = fs ? testAgent({}, fs, pluginsOn(fs)) : testAgent();
  t.addNad('macvlan-conf', macvlan);
  t.addNad('other-net', bridge);
  t.addNad('third', bridge);
  t.addPod('samplepod', { [networksAnnotation]: networks });
  await t.agent.start();
  await t.agent.attacher.handle(t.request('ADD'));
  t.exec.calls.length = 0;
  return t;
}

/** The pod's annotation is edited to `networks`, and hot-plug converges it. */
async function edit(t: TestAgent, networks: string): Promise<string> {
  t.addPod('samplepod', { [networksAnnotation]: networks });
  return t.agent.hotPlug.converge(await t.pod('samplepod'));
}

async function recorded(t: TestAgent): Promise<string[]> {
  const record = JSON.parse(await t.fs.readFile('/state/attachments/c1_eth0.json')) as {
    attachments: Array<{ name: string; ifName: string; result?: unknown }>;
  };
  return record.attachments.map((a) => `${a.name}@${a.ifName}${a.result ? '' : ' (no result)'}`);
}

function lastStatus(t: TestAgent): string[] {
  return t.published.at(-1)!.statuses.map((s) => `${s.name}@${s.interface}`);
}

describe('hot-plug: networks on running pods', () => {
  it('attaches a network added to the annotation as the lowest free netN, in the sandbox netns, and rewrites network-status', async () => {
    const t = await attached('macvlan-conf');
    expect(await edit(t, 'macvlan-conf,other-net')).toBe('changed');
    expect(t.calls()).toEqual(['ADD bridge net2']);
    expect(t.exec.calls[0]!.env).toMatchObject({
      CNI_CONTAINERID: 'c1',
      CNI_NETNS: '/var/run/netns/test',
      CNI_ARGS: expect.stringContaining('K8S_POD_NAME=samplepod'),
    });
    expect(await recorded(t)).toEqual(['podnet@eth0', 'default/macvlan-conf@net1', 'default/other-net@net2']);
    expect(lastStatus(t)).toEqual(['podnet@eth0', 'default/macvlan-conf@net1', 'default/other-net@net2']);
    expect(t.published.at(-1)!.added).toEqual(['net2']);
  });

  it('detaches a removed network the user never named (DNC#63), the other keeping its name, with its recorded config', async () => {
    const t = await attached('macvlan-conf,other-net');
    t.addNad('macvlan-conf', { ...macvlan, master: 'eth8' }); // edited since: DEL uses what ADD used
    expect(await edit(t, 'other-net')).toBe('changed');
    expect(t.calls()).toEqual(['DEL macvlan net1']);
    expect(t.exec.calls[0]!.stdin).toMatchObject({ master: 'eth9', prevResult: expect.any(Object) });
    expect(await recorded(t)).toEqual(['podnet@eth0', 'default/other-net@net2']);
    expect(lastStatus(t)).toEqual(['podnet@eth0', 'default/other-net@net2']);
    expect(t.events).toContain('RemovedInterface Remove net1 from default/macvlan-conf');
  });

  it('does an add and a remove of one change both (DNC#157), and removes an interface the pod had since it was created (DNC#209)', async () => {
    const t = await attached('macvlan-conf,other-net');
    expect(await edit(t, 'other-net,third')).toBe('changed');
    expect(t.calls()).toEqual(['DEL macvlan net1', 'ADD bridge net1']);
    expect(await recorded(t)).toEqual(['podnet@eth0', 'default/other-net@net2', 'default/third@net1']);
    expect(t.events.filter((e) => e.startsWith('RemovedInterface'))).toHaveLength(1);
  });

  it('changes nothing when the annotation asks for what the sandbox has (explicit names, a network twice)', async () => {
    const t = await attached('macvlan-conf@data0,other-net,other-net');
    expect(await edit(t, 'macvlan-conf@data0,other-net,other-net')).toBe('unchanged');
    expect(t.calls()).toEqual([]);
  });

  it('rolls back a failed attach and keeps the pod as it was, saying why in an Event; the next try attaches it', async () => {
    const t = await attached('macvlan-conf');
    let fail = true;
    t.exec.register('/opt/cni/bin/bridge', (call) =>
      fail && call.command === 'ADD' ? { code: 1, stdout: '{"code":11,"msg":"no room"}' } : okPlugin(call),
    );
    expect(await edit(t, 'macvlan-conf,other-net')).toBe('failed');
    expect(t.calls()).toEqual(['ADD bridge net2', 'DEL bridge net2']);
    expect(await recorded(t)).toEqual(['podnet@eth0', 'default/macvlan-conf@net1']);
    expect(t.events).toEqual([
      expect.stringMatching(/^FailedAddingInterface Add net2 from default\/other-net: .*no room/),
    ]);
    fail = false;
    expect(await edit(t, 'macvlan-conf,other-net')).toBe('changed');
    expect(await recorded(t)).toEqual(['podnet@eth0', 'default/macvlan-conf@net1', 'default/other-net@net2']);
  });

  it('names a missing NAD in an Event and changes nothing', async () => {
    const t = await attached('macvlan-conf');
    expect(await edit(t, 'macvlan-conf,nope')).toBe('failed');
    expect(t.calls()).toEqual([]);
    expect(t.events).toEqual([expect.stringMatching(/^FailedAddingInterface .*nope.*not found/)]);
  });

  it('converges a pod attached before an agent restart from the records on disk', async () => {
    const fs = new MemoryFs();
    const before = await attached('macvlan-conf', fs);
    before.agent.stop();
    const after = testAgent({}, fs, pluginsOn(fs));
    await after.agent.start();
    after.addPod('samplepod', { [networksAnnotation]: 'other-net' });
    expect(await after.agent.hotPlug.converge(await after.pod('samplepod'))).toBe('changed');
    expect(after.calls()).toEqual(['DEL macvlan net1', 'ADD bridge net1']);
  });

  it('leaves a pod without a sandbox of this agent alone', async () => {
    const t = testAgent();
    t.addNad('other-net', bridge);
    t.addPod('samplepod', { [networksAnnotation]: 'other-net' });
    await t.agent.start();
    expect(await t.agent.hotPlug.converge(await t.pod('samplepod'))).toBe('no-sandbox');
    expect(t.calls()).toEqual([]);
  });

  it('folds rapid edits into one convergence to the last, after the sandbox ADD in its turn', async () => {
    const t = testAgent();
    t.addNad('macvlan-conf', macvlan);
    t.addNad('other-net', bridge);
    t.addNad('third', bridge);
    t.addPod('samplepod', { [networksAnnotation]: 'macvlan-conf' });
    await t.agent.start();
    await t.agent.attacher.handle(t.request('ADD'));
    t.exec.calls.length = 0;
    // Three edits while the pod's turn is taken by a CHECK: the last one is what gets applied.
    const check = t.agent.attacher.handle(t.request('CHECK'));
    for (const networks of ['macvlan-conf,third', 'third', 'macvlan-conf,other-net']) {
      t.addPod('samplepod', { [networksAnnotation]: networks });
      t.agent.hotPlug.podChanged(await t.pod('samplepod'));
    }
    await check;
    await t.agent.hotPlug.idle();
    expect(await recorded(t)).toEqual(['podnet@eth0', 'default/macvlan-conf@net1', 'default/other-net@net2']);
    expect(t.calls().filter((c) => !c.startsWith('CHECK'))).toEqual(['ADD bridge net2']);
  });
});
