import { parseCniRequest } from '../lib/cni/request.ts';
import { MemoryFs } from '../test/doubles/memory-ports.ts';
import { okPlugin, rejection, testAgent } from '../test/test-agent.ts';

const macvlan = {
  cniVersion: '0.3.1',
  type: 'macvlan',
  master: 'eth9',
  capabilities: { ips: true, mac: true },
};
const chain = {
  cniVersion: '1.0.0',
  plugins: [{ type: 'ptp' }, { type: 'tuning', capabilities: { mac: true } }],
};

describe('ADD', () => {
  it('attaches the default network as eth0, then the default networks, then the selections as net1, net2, ...', async () => {
    const t = testAgent({
      network: {
        defaultNetworks: ['infra/always'],
        namespaceIsolation: false,
        globalNamespaces: [],
        systemNamespaces: [],
      },
    });
    t.addNad('always', { cniVersion: '1.0.0', type: 'bridge' }, 'infra');
    t.addNad('macvlan-conf', macvlan);
    t.addNad('chained', chain);
    t.addPod('samplepod', { 'k8s.v1.cni.cncf.io/networks': 'macvlan-conf@data0,chained,macvlan-conf' });
    await t.agent.start();
    const result = await t.agent.attacher.handle(t.request('ADD'));
    expect(t.calls()).toEqual([
      'ADD bridge eth0',
      'ADD bridge net1',
      'ADD macvlan data0',
      'ADD ptp net3',
      'ADD tuning net3',
      'ADD macvlan net4',
    ]);
    expect(result).toMatchObject({ cniVersion: '1.0.0', interfaces: [{ name: 'eth0' }] });
    const status = JSON.parse(await t.fs.readFile('/state/network-status/default_samplepod.json')) as Array<
      Record<string, unknown>
    >;
    expect(status.map((s) => [s.name, s.interface, s.default ?? false])).toEqual([
      ['podnet', 'eth0', true],
      ['infra/always', 'net1', false],
      ['default/macvlan-conf', 'data0', false],
      ['default/chained', 'net3', false],
      ['default/macvlan-conf', 'net4', false],
    ]);
  });

  it('passes CNI_ARGS, capability arguments only where declared, cni-args and chained prevResults', async () => {
    const t = testAgent();
    t.addNad('macvlan-conf', macvlan);
    t.addNad('chained', chain);
    t.addPod('samplepod', {
      'k8s.v1.cni.cncf.io/networks': JSON.stringify([
        {
          name: 'macvlan-conf',
          ips: ['192.0.2.99/24'],
          mac: 'c2:b0:57:49:47:f1',
          'cni-args': { foo: 'bar' },
        },
        { name: 'chained', mac: 'c2:b0:57:49:47:f2', portMappings: [{ hostPort: 8080, containerPort: 80 }] },
      ]),
    });
    await t.agent.start();
    await t.agent.attacher.handle(
      t.request('ADD', {
        config: {
          cniVersion: '1.0.0',
          name: 'm',
          type: 'multinet-cni',
          runtimeConfig: { portMappings: [{ hostPort: 1, containerPort: 2 }], bandwidth: { ingressRate: 1 } },
        },
      }),
    );
    const [defaultCall, macvlanCall, ptpCall, tuningCall] = t.exec.calls;
    expect(defaultCall!.env.CNI_ARGS).toBe(
      'IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=samplepod;K8S_POD_INFRA_CONTAINER_ID=c1;K8S_POD_UID=u1',
    );
    expect(defaultCall!.stdin.runtimeConfig).toEqual({ portMappings: [{ hostPort: 1, containerPort: 2 }] });
    expect(defaultCall!.stdin).toMatchObject({ name: 'podnet', cniVersion: '1.0.0' });
    expect(macvlanCall!.stdin).toMatchObject({
      name: 'macvlan-conf',
      cniVersion: '0.3.1',
      runtimeConfig: { ips: ['192.0.2.99/24'], mac: 'c2:b0:57:49:47:f1' },
      args: { cni: { foo: 'bar' } },
    });
    expect(macvlanCall!.stdin.capabilities).toBeUndefined();
    expect(ptpCall!.stdin.runtimeConfig).toBeUndefined();
    expect(tuningCall!.stdin.runtimeConfig).toEqual({ mac: 'c2:b0:57:49:47:f2' });
    expect(tuningCall!.stdin.prevResult).toMatchObject({ interfaces: [{ name: 'net2' }] });
  });

  it('answers in the cniVersion the runtime asked in', async () => {
    const t = testAgent();
    await t.agent.start();
    const result = await t.agent.attacher.handle(
      t.request('ADD', { config: { cniVersion: '0.3.1', name: 'm', type: 'multinet-cni' } }),
    );
    expect(result).toMatchObject({ cniVersion: '0.3.1', ips: [{ version: '4' }] });
  });

  it('stops at the first failure and rolls back what was attached, in reverse order', async () => {
    const t = testAgent();
    t.addNad('macvlan-conf', macvlan);
    t.addNad('broken', { cniVersion: '1.0.0', type: 'ptp' });
    t.addPod('samplepod', { 'k8s.v1.cni.cncf.io/networks': 'macvlan-conf,broken,macvlan-conf' });
    t.exec.register('/opt/cni/bin/ptp', (call) =>
      call.command === 'ADD'
        ? { code: 1, stdout: JSON.stringify({ cniVersion: '1.0.0', code: 11, msg: 'no free address' }) }
        : {},
    );
    await t.agent.start();
    const error = await rejection(t.agent.attacher.handle(t.request('ADD')));
    expect(error.code).toBe(11);
    expect(error.message).toBe(
      'attaching default/broken as net2 failed: network default/broken: no free address',
    );
    expect(t.calls()).toEqual([
      'ADD bridge eth0',
      'ADD macvlan net1',
      'ADD ptp net2',
      'DEL ptp net2',
      'DEL macvlan net1',
      'DEL bridge eth0',
    ]);
    expect(await t.fs.stat('/state/attachments/c1_eth0.json')).toBeUndefined();
    expect(await t.fs.stat('/state/network-status/default_samplepod.json')).toBeUndefined();
  });

  describe('when the state dir is full', () => {
    /** A MemoryFs whose attachment records can be written `room` more times, then fail as the real port does. */
    class FullFs extends MemoryFs {
      room = Infinity;
      override writeFileAtomic(path: string, data: string | Uint8Array, mode?: number): Promise<void> {
        if (path.startsWith('/state/attachments/') && this.room-- <= 0) {
          const error = new Error(`cannot write ${path}: ENOSPC: no space left on device, write`);
          return Promise.reject(Object.assign(error, { code: 'ENOSPC' }));
        }
        return super.writeFileAtomic(path, data, mode);
      }
    }

    it.each([
      // room for the record before eth0: the record before net1 cannot be written
      [
        1,
        'cannot record the attachment of default/macvlan-conf as net1',
        ['ADD bridge eth0', 'DEL bridge eth0'],
      ],
      // room for the records before both delegates: the completed record cannot be written
      [
        2,
        'cannot record the completed ADD',
        ['ADD bridge eth0', 'ADD macvlan net1', 'DEL macvlan net1', 'DEL bridge eth0'],
      ],
    ])(
      'with room for %i record(s): rolls back what was attached and names the file (%s)',
      async (room, what, calls) => {
        const fs = new FullFs();
        const t = testAgent({}, fs);
        t.addNad('macvlan-conf', macvlan);
        t.addPod('samplepod', { 'k8s.v1.cni.cncf.io/networks': 'macvlan-conf' });
        await t.agent.start();
        fs.room = room;
        const error = await rejection(t.agent.attacher.handle(t.request('ADD')));
        expect([error.code, error.message]).toEqual([
          5,
          `${what}: cannot write /state/attachments/c1_eth0.json: ENOSPC: no space left on device, write`,
        ]);
        expect(t.calls()).toEqual(calls);
        expect(await t.fs.stat('/state/attachments/c1_eth0.json')).toBeUndefined();
        expect(await t.fs.stat('/state/network-status/default_samplepod.json')).toBeUndefined();
      },
    );

    it('refuses at once, running nothing, when not even the first record can be written', async () => {
      const fs = new FullFs();
      const t = testAgent({}, fs);
      await t.agent.start();
      fs.room = 0;
      const error = await rejection(t.agent.attacher.handle(t.request('ADD')));
      expect(error.message).toBe(
        'cannot record the attachment of podnet as eth0: cannot write /state/attachments/c1_eth0.json: ENOSPC: no space left on device, write',
      );
      expect(t.calls()).toEqual([]);
    });
  });

  it('refuses colliding interface names before running anything', async () => {
    const t = testAgent();
    t.addNad('macvlan-conf', macvlan);
    t.addPod('samplepod', { 'k8s.v1.cni.cncf.io/networks': 'macvlan-conf,macvlan-conf@net1' });
    await t.agent.start();
    const error = await rejection(t.agent.attacher.handle(t.request('ADD')));
    expect(error.code).toBe(7);
    expect(error.message).toContain(
      'interface "net1" is already taken by networks[0] "default/macvlan-conf"',
    );
    expect(t.calls()).toEqual([]);
  });

  it.each([
    [
      { 'k8s.v1.cni.cncf.io/networks': 'missing' },
      'pod default/samplepod: networks[0] "default/missing": NetworkAttachmentDefinition not found in namespace "default"',
    ],
    [
      { 'k8s.v1.cni.cncf.io/networks': 'Bad' },
      'pod default/samplepod: networks[0].name: "Bad" must be a DNS-1123 label',
    ],
    [
      { 'v1.multus-cni.io/default-network': 'gone' },
      'v1.multus-cni.io/default-network "default/gone": NetworkAttachmentDefinition not found',
    ],
  ])('fails clearly for %j', async (annotations, message) => {
    const t = testAgent();
    t.addPod('samplepod', annotations);
    await t.agent.start();
    expect((await rejection(t.agent.attacher.handle(t.request('ADD')))).message).toContain(message);
  });

  it('enforces namespace isolation with global namespaces', async () => {
    const t = testAgent({
      network: {
        defaultNetworks: [],
        namespaceIsolation: true,
        globalNamespaces: ['shared'],
        systemNamespaces: [],
      },
    });
    t.addNad('m', macvlan, 'other');
    t.addNad('m', macvlan, 'shared');
    t.addPod('samplepod', { 'k8s.v1.cni.cncf.io/networks': 'shared/m' });
    await t.agent.start();
    await t.agent.attacher.handle(t.request('ADD'));
    t.addPod('samplepod', { 'k8s.v1.cni.cncf.io/networks': 'other/m' });
    const error = await rejection(t.agent.attacher.handle(t.request('ADD', { containerId: 'c2' })));
    expect(error.message).toContain('networks[0] "other/m": namespace isolation is on');
  });

  it('uses the default-network annotation instead of the cluster network', async () => {
    const t = testAgent();
    t.addNad('alt', { cniVersion: '1.0.0', type: 'ptp' });
    t.addPod('samplepod', { 'v1.multus-cni.io/default-network': 'alt' });
    await t.agent.start();
    await t.agent.attacher.handle(t.request('ADD'));
    expect(t.calls()).toEqual(['ADD ptp eth0']);
  });

  it('uses the node config file named like a NAD whose spec.config is empty', async () => {
    const t = testAgent();
    t.fs.put(
      '/etc/cni/net.d/20-storage.conf',
      JSON.stringify({ cniVersion: '0.4.0', name: 'storage', type: 'macvlan', master: 'eth1' }),
    );
    t.fs.put(
      '/nads/storage.yaml',
      'apiVersion: k8s.cni.cncf.io/v1\nkind: NetworkAttachmentDefinition\nmetadata:\n  name: storage\n',
    );
    t.addPod('samplepod', { 'k8s.v1.cni.cncf.io/networks': 'storage' });
    await t.agent.start();
    await t.agent.attacher.handle(t.request('ADD'));
    expect(t.calls()).toEqual(['ADD bridge eth0', 'ADD macvlan net1']);
  });

  it('gives pods in system namespaces no default networks', async () => {
    const t = testAgent({
      network: {
        defaultNetworks: ['default/macvlan-conf'],
        namespaceIsolation: false,
        globalNamespaces: [],
        systemNamespaces: ['kube-system'],
      },
    });
    t.addNad('macvlan-conf', macvlan);
    await t.agent.start();
    await t.agent.attacher.handle(
      t.request('ADD', { args: 'K8S_POD_NAMESPACE=kube-system;K8S_POD_NAME=dns' }),
    );
    expect(t.calls()).toEqual(['ADD bridge eth0']);
  });

  it('refuses a config version a plugin does not speak, saying which it does', async () => {
    const t = testAgent();
    t.exec.supportedVersions = ['0.3.0', '0.3.1', '0.4.0', '1.0.0'];
    t.addNad('new', { cniVersion: '1.1.0', type: 'macvlan' });
    t.addPod('samplepod', { 'k8s.v1.cni.cncf.io/networks': 'new' });
    await t.agent.start();
    const error = await rejection(t.agent.attacher.handle(t.request('ADD')));
    expect(error.code).toBe(1);
    expect(error.message).toContain(
      'plugin "macvlan" (/opt/cni/bin/macvlan) does not support CNI 1.1.0, which network default/new asks for',
    );
    expect(error.message).toContain('set "cniVersion" to 1.0.0');
  });

  it('names a missing plugin binary and where it looked', async () => {
    const t = testAgent();
    t.addNad('sriov', { cniVersion: '1.0.0', type: 'sriov' });
    t.addPod('samplepod', { 'k8s.v1.cni.cncf.io/networks': 'sriov' });
    await t.agent.start();
    const error = await rejection(t.agent.attacher.handle(t.request('ADD')));
    expect(error.message).toContain(
      'plugin "sriov" of network default/sriov was not found in /opt/cni/bin; install it on this node',
    );
    expect(t.calls()).toEqual(['ADD bridge eth0', 'DEL bridge eth0']);
  });

  it('reports a delegate that timed out', async () => {
    const t = testAgent();
    t.exec.register('/opt/cni/bin/bridge', (call) =>
      call.command === 'ADD' ? { code: null, timedOut: true } : {},
    );
    await t.agent.start();
    const error = await rejection(t.agent.attacher.handle(t.request('ADD')));
    expect(error.code).toBe(11);
    expect(error.message).toContain(
      'plugin "bridge" of network podnet did not finish ADD within 5000 ms and was killed',
    );
  });

  it('records each delegate in the cache before it runs', async () => {
    const t = testAgent();
    t.addNad('macvlan-conf', macvlan);
    t.addPod('samplepod', { 'k8s.v1.cni.cncf.io/networks': 'macvlan-conf' });
    const seen: string[] = [];
    t.exec.register('/opt/cni/bin/macvlan', async (call) => {
      const cached = JSON.parse(await t.fs.readFile('/state/attachments/c1_eth0.json')) as {
        attachments: Array<{ ifName: string; result?: unknown }>;
      };
      seen.push(cached.attachments.map((a) => `${a.ifName}:${a.result ? 'done' : 'running'}`).join(','));
      return okPlugin(call);
    });
    await t.agent.start();
    await t.agent.attacher.handle(t.request('ADD'));
    expect(seen).toEqual(['eth0:done,net1:running']);
  });

  it('waits for the readiness indicator file, bounded, before an ADD is queued', async () => {
    const t = testAgent({ readinessIndicatorFile: '/run/ready', readinessTimeoutMs: 1000 });
    await t.agent.start();
    const error = await rejection(t.agent.waitReady());
    expect(error.code).toBe(11);
    expect(error.message).toContain('the readiness indicator file /run/ready does not exist (waited 1 s)');
    t.fs.put('/run/ready', '');
    await t.agent.waitReady();
    await t.agent.attacher.handle(t.request('ADD'));
    expect(t.calls()).toEqual(['ADD bridge eth0']);
  });
});

describe('DEL', () => {
  async function attached(): Promise<ReturnType<typeof testAgent>> {
    const t = testAgent();
    t.addNad('macvlan-conf', macvlan);
    t.addNad('chained', chain);
    t.addPod('samplepod', { 'k8s.v1.cni.cncf.io/networks': 'macvlan-conf,chained' });
    t.fs.putNamespace('/var/run/netns/test');
    await t.agent.start();
    await t.agent.attacher.handle(t.request('ADD'));
    t.exec.calls.length = 0;
    return t;
  }

  it('runs in reverse order from the cache, after an agent restart and with the NADs gone', async () => {
    const before = await attached();
    before.fs.files.delete('/nads/default-macvlan-conf.yaml');
    before.fs.files.delete('/nads/default-chained.yaml');
    const after = testAgent({}, before.fs, before.exec);
    await after.agent.start();
    await after.agent.attacher.handle(after.request('DEL'));
    expect(after.calls()).toEqual(['DEL tuning net2', 'DEL ptp net2', 'DEL macvlan net1', 'DEL bridge eth0']);
    const del = after.exec.calls[0]!;
    expect(del.stdin.prevResult).toMatchObject({ interfaces: [{ name: 'net2' }] });
    expect(await after.fs.stat('/state/attachments/c1_eth0.json')).toBeUndefined();
  });

  it('carries on past a failure, keeps only what failed, and retries just that', async () => {
    const t = await attached();
    let failures = 1;
    t.exec.register('/opt/cni/bin/macvlan', (call) =>
      call.command === 'DEL' && failures-- > 0
        ? { code: 1, stdout: JSON.stringify({ code: 5, msg: 'device busy' }) }
        : {},
    );
    const error = await rejection(t.agent.attacher.handle(t.request('DEL')));
    expect(error.message).toBe(
      'detaching default/macvlan-conf (net1) failed: network default/macvlan-conf: device busy',
    );
    expect(t.calls()).toEqual(['DEL tuning net2', 'DEL ptp net2', 'DEL macvlan net1', 'DEL bridge eth0']);
    t.exec.calls.length = 0;
    await t.agent.attacher.handle(t.request('DEL'));
    expect(t.calls()).toEqual(['DEL macvlan net1']);
    expect(await t.fs.stat('/state/attachments/c1_eth0.json')).toBeUndefined();
  });

  it('does not re-validate what it attached: a config that later rules reject still gets its DEL', async () => {
    const t = await attached();
    const file = '/state/attachments/c1_eth0.json';
    const record = JSON.parse(await t.fs.readFile(file)) as {
      attachments: Array<{ config: Record<string, unknown> }>;
    };
    record.attachments[1]!.config.mode = 'no-such-mode';
    t.fs.put(file, JSON.stringify(record));
    await t.agent.attacher.handle(t.request('DEL'));
    expect(t.calls()).toEqual(['DEL tuning net2', 'DEL ptp net2', 'DEL macvlan net1', 'DEL bridge eth0']);
  });

  it('treats an unreadable cache entry as missing and cleans up best effort', async () => {
    const t = await attached();
    t.fs.put('/state/attachments/c1_eth0.json', '{"version":1,"attach');
    await t.agent.attacher.handle(t.request('DEL'));
    expect(t.calls()).toEqual(['DEL tuning net2', 'DEL ptp net2', 'DEL macvlan net1', 'DEL bridge eth0']);
  });

  it('is not a failure when the pod network namespace is gone', async () => {
    const t = await attached();
    t.fs.files.delete('/var/run/netns/test');
    t.exec.register('/opt/cni/bin/macvlan', () => ({
      code: 1,
      stdout: JSON.stringify({ code: 5, msg: 'no such netns' }),
    }));
    await t.agent.attacher.handle(t.request('DEL'));
    expect(await t.fs.stat('/state/attachments/c1_eth0.json')).toBeUndefined();
  });

  it('without a cache entry or a known pod, cleans the default network and succeeds', async () => {
    const t = testAgent();
    await t.agent.start();
    await t.agent.attacher.handle(
      t.request('DEL', { containerId: 'never', args: 'K8S_POD_NAMESPACE=default;K8S_POD_NAME=unknown' }),
    );
    expect(t.calls()).toEqual(['DEL bridge eth0']);
  });

  it('replaces the attachments when ADD is repeated for a container: the old ones are DELeted first', async () => {
    const t = await attached();
    const file = '/state/attachments/c1_eth0.json';
    const before = JSON.parse(await t.fs.readFile(file)) as { attachments: Array<{ result: unknown }> };
    await t.agent.attacher.handle(t.request('ADD'));
    expect(t.calls()).toEqual([
      'DEL tuning net2',
      'DEL ptp net2',
      'DEL macvlan net1',
      'DEL bridge eth0',
      'ADD bridge eth0',
      'ADD macvlan net1',
      'ADD ptp net2',
      'ADD tuning net2',
    ]);
    // The record now holds the new ADD's results (fresh addresses), not the old ones.
    const after = JSON.parse(await t.fs.readFile(file)) as {
      complete: boolean;
      attachments: Array<{ result: unknown }>;
    };
    expect(after.complete).toBe(true);
    expect(after.attachments).toHaveLength(3);
    for (const [i, attachment] of after.attachments.entries())
      expect(attachment.result).not.toEqual(before.attachments[i]!.result);
  });
});

describe('files DEL makes obsolete, and files a killed agent left', () => {
  const statusFile = '/state/network-status/default_samplepod.json';

  it("removes the pod's network-status with the container that wrote it, not a later sandbox's", async () => {
    const t = testAgent();
    t.fs.putNamespace('/var/run/netns/test');
    await t.agent.start();
    await t.agent.attacher.handle(t.request('ADD'));
    expect(await t.fs.stat(statusFile)).toBeDefined();
    await t.agent.attacher.handle(t.request('DEL'));
    expect([...t.fs.files.keys()].filter((f) => f.startsWith('/state/'))).toEqual([]);
    // Two sandboxes of one pod: the older one's DEL leaves the newer one's status.
    await t.agent.attacher.handle(t.request('ADD', { containerId: 'old' }));
    await t.agent.attacher.handle(t.request('ADD', { containerId: 'new' }));
    await t.agent.attacher.handle(t.request('DEL', { containerId: 'old' }));
    expect(await t.fs.stat(statusFile)).toBeDefined();
    await t.agent.attacher.handle(t.request('DEL', { containerId: 'new' }));
    expect(await t.fs.stat(statusFile)).toBeUndefined();
  });

  it('removes the temp files of interrupted writes when it starts, and owner files without a status', async () => {
    const t = testAgent();
    const leftovers = [
      '/state/attachments/.c1_eth0.json.0123456789ab.tmp',
      '/state/network-status/.default_p.json.0123456789ab.tmp',
      '/state/network-status/.default_gone.owner',
      '/etc/cni/net.d/.00-multinet.conflist.0123456789ab.tmp',
    ];
    for (const file of leftovers) t.fs.put(file, 'partial');
    t.fs.put('/etc/cni/net.d/.10-other.conflist.0123456789ab.tmp', "not the agent's");
    t.fs.put('/state/network-status/.default_kept.owner', 'c9\n');
    t.fs.put('/state/network-status/default_kept.json', '[]\n');
    await t.agent.start();
    for (const file of leftovers) expect(await t.fs.stat(file)).toBeUndefined();
    expect(await t.fs.stat('/etc/cni/net.d/.10-other.conflist.0123456789ab.tmp')).toBeDefined();
    expect(await t.fs.stat('/state/network-status/.default_kept.owner')).toBeDefined();
  });
});

describe('CHECK, STATUS and GC', () => {
  it('CHECK runs in order with the cached results; an unknown container is code 3', async () => {
    const t = testAgent();
    t.addNad('macvlan-conf', { ...macvlan, cniVersion: '1.0.0' });
    t.addPod('samplepod', { 'k8s.v1.cni.cncf.io/networks': 'macvlan-conf' });
    await t.agent.start();
    await t.agent.attacher.handle(t.request('ADD'));
    t.exec.calls.length = 0;
    await t.agent.attacher.handle(t.request('CHECK'));
    expect(t.calls()).toEqual(['CHECK bridge eth0', 'CHECK macvlan net1']);
    expect(t.exec.calls[1]!.stdin.prevResult).toMatchObject({ interfaces: [{ name: 'net1' }] });
    expect(
      (await rejection(t.agent.attacher.handle(t.request('CHECK', { containerId: 'other' })))).code,
    ).toBe(3);
  });

  it('CHECK skips networks older than CNI 0.4.0', async () => {
    const t = testAgent();
    t.addNad('old', { cniVersion: '0.3.1', type: 'macvlan' });
    t.addPod('samplepod', { 'k8s.v1.cni.cncf.io/networks': 'old' });
    await t.agent.start();
    await t.agent.attacher.handle(t.request('ADD'));
    t.exec.calls.length = 0;
    await t.agent.attacher.handle(t.request('CHECK'));
    expect(t.calls()).toEqual(['CHECK bridge eth0']);
  });

  it('STATUS goes to a CNI 1.1 default network and is code 50 without one', async () => {
    const t = testAgent();
    t.fs.put(
      '/etc/cni/net.d/10-default.conflist',
      JSON.stringify({ cniVersion: '1.1.0', name: 'podnet', plugins: [{ type: 'bridge' }] }),
    );
    await t.agent.start();
    await t.agent.attacher.handle(t.request('STATUS'));
    expect(t.calls()).toEqual(['STATUS bridge ']);
    t.fs.files.delete('/etc/cni/net.d/10-default.conflist');
    await t.agent.confWriter.sync();
    expect((await rejection(t.agent.attacher.handle(t.request('STATUS')))).code).toBe(50);
  });

  it('GC deletes attachments the runtime no longer knows and passes the valid list on', async () => {
    const t = testAgent();
    t.fs.put(
      '/etc/cni/net.d/10-default.conflist',
      JSON.stringify({ cniVersion: '1.1.0', name: 'podnet', plugins: [{ type: 'bridge' }] }),
    );
    await t.agent.start();
    await t.agent.attacher.handle(t.request('ADD', { containerId: 'keep' }));
    await t.agent.attacher.handle(t.request('ADD', { containerId: 'stale' }));
    t.exec.calls.length = 0;
    const valid = [{ containerID: 'keep', ifname: 'eth0' }];
    await t.agent.attacher.handle(
      t.request('GC', {
        config: { cniVersion: '1.1.0', name: 'm', type: 'multinet-cni', 'cni.dev/valid-attachments': valid },
      }),
    );
    expect(t.exec.calls.map((c) => `${c.command} ${c.containerId}`)).toEqual(['DEL stale', 'GC ']);
    expect(t.exec.calls[1]!.stdin['cni.dev/valid-attachments']).toEqual(valid);
    expect(await t.fs.stat('/state/attachments/stale_eth0.json')).toBeUndefined();
    expect(await t.fs.stat('/state/attachments/keep_eth0.json')).toBeDefined();
  });
});

it('writes nothing outside its state dir for a pod name that climbs out of it', async () => {
  const t = testAgent();
  await t.agent.start();
  const wire = { ...t.request('ADD'), args: 'K8S_POD_NAMESPACE=x;K8S_POD_NAME=/../../../escaped' };
  expect(() => parseCniRequest(wire)).toThrow(
    'CNI_ARGS K8S_POD_NAME "/../../../escaped" must be a DNS-1123 subdomain',
  );
  // Had it got past the request's check, the file source refuses the name too.
  await t.agent.attacher.handle(wire).catch(() => undefined);
  const outside = [...t.fs.files.keys()].filter(
    (path) => !/^\/(state|etc\/cni\/net\.d|opt\/cni\/bin|nads|pods)\//.test(path),
  );
  expect(outside).toEqual([]);
});

describe('attachments that cannot exist', () => {
  const v11 = JSON.stringify({ cniVersion: '1.1.0', name: 'podnet', plugins: [{ type: 'bridge' }] });
  const gc = (t: ReturnType<typeof testAgent>): Promise<unknown> =>
    t.agent.attacher.handle(
      t.request('GC', {
        config: { cniVersion: '1.1.0', name: 'm', type: 'multinet-cni', 'cni.dev/valid-attachments': [] },
      }),
    );
  const dels = (t: ReturnType<typeof testAgent>): string[] =>
    t.exec.calls.filter((c) => c.command === 'DEL').map((c) => c.containerId);

  it('refuses an ADD into something that is no network namespace, running nothing', async () => {
    const t = testAgent();
    t.fs.put('/etc/passwd', 'root:x:0:0:root:/root:/bin/sh\n');
    await t.agent.start();
    const error = await rejection(t.agent.attacher.handle(t.request('ADD', { netns: '/etc/passwd' })));
    expect({ code: error.code, message: error.message }).toEqual({
      code: 4,
      message: 'CNI_NETNS "/etc/passwd" is not a network namespace',
    });
    expect(t.calls()).toEqual([]);
    expect(await t.fs.list('/state/attachments')).toEqual([]);
  });

  it('GC cleans a stale attachment whose namespace is no longer one once, not on every GC', async () => {
    const t = testAgent();
    t.fs.put('/etc/cni/net.d/10-default.conflist', v11);
    t.fs.putNamespace('/var/run/netns/test');
    t.exec.register('/opt/cni/bin/bridge', (call) =>
      call.command === 'DEL'
        ? { code: 1, stdout: JSON.stringify({ code: 999, msg: 'not a netns' }) }
        : okPlugin(call),
    );
    await t.agent.start();
    await t.agent.attacher.handle(t.request('ADD', { containerId: 'gone' }));
    t.fs.namespaces.delete('/var/run/netns/test'); // the file stays, the namespace is gone
    await gc(t);
    await gc(t);
    await gc(t);
    expect(dels(t)).toEqual(['gone']);
    expect(await t.fs.stat('/state/attachments/gone_eth0.json')).toBeUndefined();
  });

  it('GC tries a stale attachment whose DEL fails again only after a backoff, doubling', async () => {
    const t = testAgent();
    t.fs.put('/etc/cni/net.d/10-default.conflist', v11);
    t.fs.putNamespace('/var/run/netns/test');
    t.exec.register('/opt/cni/bin/bridge', (call) =>
      call.command === 'DEL'
        ? { code: 1, stdout: JSON.stringify({ code: 5, msg: 'device busy' }) }
        : okPlugin(call),
    );
    await t.agent.start();
    await t.agent.attacher.handle(t.request('ADD', { containerId: 'stuck' }));
    await gc(t); // tried: fails, 1 min backoff
    await gc(t); // skipped
    t.clock.time += 60_000;
    await gc(t); // tried: fails, 2 min backoff
    t.clock.time += 60_000;
    await gc(t); // skipped
    expect(dels(t)).toEqual(['stuck', 'stuck']);
    expect(await t.fs.stat('/state/attachments/stuck_eth0.json')).toBeDefined();
    // The runtime's own DEL is never held back.
    await rejection(t.agent.attacher.handle(t.request('DEL', { containerId: 'stuck' })));
    expect(dels(t)).toEqual(['stuck', 'stuck', 'stuck']);
  });
});
