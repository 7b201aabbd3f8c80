/**
 * The agent's two kinds of lock (a turn per container, a slot of --max-parallel) are taken in one order
 * everywhere: a turn, then a slot, and never a turn while holding a slot. The campaign's deadlock: with
 * one slot, a GC that held the slot waited for a container's turn, whose request waited for the slot.
 */
import { okPlugin, testAgent } from '../test/test-agent.ts';
import { quiesce, serveOnSocket, wireRequest, type Answer } from '../test/doubles/cni-socket.ts';

const netns = '/var/run/netns/test';

function wire(command: string, containerId: string, config: object = {}): string {
  return wireRequest({
    command,
    containerId,
    netns,
    ifName: 'eth0',
    args: `K8S_POD_NAMESPACE=default;K8S_POD_NAME=${containerId}`,
    config: { cniVersion: '1.1.0', name: 'multinet-cni-network', type: 'multinet-cni', ...config },
  });
}

it.each([1, 2])(
  'answers every request when a GC needs a container whose DEL waits for a slot (%i slots)',
  async (slots) => {
    const t = testAgent({ concurrency: slots, maxQueued: 100 });
    t.fs.put(
      '/etc/cni/net.d/10-default.conflist',
      JSON.stringify({ cniVersion: '1.1.0', name: 'podnet', plugins: [{ type: 'bridge' }] }),
    );
    t.fs.putNamespace(netns);
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    t.exec.register('/opt/cni/bin/bridge', async (call) => {
      if (call.containerId.startsWith('b') && call.command === 'ADD') await gate;
      return okPlugin(call);
    });
    await t.agent.start();
    const served = await serveOnSocket(t.agent.handler);
    try {
      const a0 = await served.post(wire('ADD', 'a0'));
      expect(a0.json).toMatchObject({ result: { cniVersion: '1.1.0' } });
      const answers: Array<Answer | undefined> = [];
      const send = (body: string): void => {
        const index = answers.push(undefined) - 1;
        served.post(body).then(
          (answer) => (answers[index] = answer),
          (err: unknown) => (answers[index] = { status: 0, text: String(err), json: undefined, headers: {} }),
        );
      };
      // b0..b3 fill the slots and the queue; then a GC without a0 in its valid list, then a0's DEL.
      for (const id of ['b0', 'b1', 'b2', 'b3']) send(wire('ADD', id));
      await quiesce(() => t.exec.calls.length);
      send(wire('GC', '', { 'cni.dev/valid-attachments': [] }));
      await quiesce(() => t.exec.calls.length);
      send(wire('DEL', 'a0'));
      await quiesce(() => t.exec.calls.length);
      open();
      await quiesce(() => t.exec.calls.length + answers.filter(Boolean).length, 100);
      expect({ unanswered: answers.filter((a) => a === undefined).length, ...t.agent.limiter.stats }).toEqual(
        {
          unanswered: 0,
          running: 0,
          waiting: 0,
        },
      );
      for (const answer of answers) expect(answer!.json).toHaveProperty('result');
    } finally {
      open();
      await served.close();
    }
  },
);
