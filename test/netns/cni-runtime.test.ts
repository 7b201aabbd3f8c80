/**
 * The CNI runtime end to end, as root: this test is the container runtime. It creates network
 * namespaces, runs the multinet shim with the CNI environment, and checks the interfaces with `ip`.
 * Delegates are Debian's real reference plugins.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { eventually } from '../../dev/eventually.ts';
import { Lab, requireNetnsPrerequisites } from './lab.ts';
import { readFixture } from '../fixtures.ts';

requireNetnsPrerequisites();

const seedStatus = JSON.parse(readFixture('seed', 'network-status.reference.json')) as Array<
  Record<string, unknown>
>;

function inRange(address: string, first: number, last: number): boolean {
  const match = /^192\.0\.2\.(\d+)\/24$/.exec(address);
  return match !== null && Number(match[1]) >= first && Number(match[1]) <= last;
}

describe('multinet as the CNI plugin of a runtime', () => {
  let lab: Lab;

  beforeAll(async () => {
    lab = new Lab('rt');
    lab.writeNad('macvlan-conf', lab.seedMacvlanNad());
    await lab.startAgent(['--delegate-timeout', '3']);
  });

  afterAll(async () => {
    await lab.destroy();
  });

  it('writes 00-multinet.conflist pointing at the default network', () => {
    const conf = lab.generatedConfig();
    expect(conf).toMatchObject({ cniVersion: '1.0.0', name: 'multinet-cni-network' });
    expect(conf.plugins[0]).toMatchObject({
      type: 'multinet-cni',
      socketPath: lab.socket,
      defaultNetwork: { name: 'podnet', file: join(lab.confDir, '10-podnet.conflist') },
    });
  });

  it('gives the seed samplepod eth0 on the default network and net1 on macvlan-conf, with network-status in the seed shape', () => {
    const pod = lab.newPod('macvlan-conf');
    const add = pod.cni('ADD');
    expect(add.stderr).toBe('');
    expect(add.code).toBe(0);
    expect(add.json).toMatchObject({
      cniVersion: '1.0.0',
      interfaces: expect.arrayContaining([expect.objectContaining({ name: 'eth0' })]),
    });
    const interfaces = pod.interfaces();
    expect(interfaces.map((i) => i.ifname).sort()).toEqual(['eth0', 'net1']);
    expect(interfaces.find((i) => i.ifname === 'eth0')!.addresses[0]).toMatch(/^198\.51\.100\.\d+\/24$/);
    const net1 = interfaces.find((i) => i.ifname === 'net1')!;
    expect(inRange(net1.addresses[0]!, 200, 216)).toBe(true);
    const status = pod.networkStatus()!;
    expect(status).toHaveLength(2);
    expect(status[0]).toMatchObject({ name: 'podnet', interface: 'eth0', default: true, dns: {} });
    expect(status[1]).toMatchObject({
      name: 'default/macvlan-conf',
      interface: 'net1',
      ips: [net1.addresses[0]!.split('/')[0]],
      dns: {},
    });
    expect(status[1]!.mac).toMatch(/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/);
    for (const key of Object.keys(seedStatus[1]!)) expect(status[1]).toHaveProperty(key);
    expect(pod.cni('DEL').code).toBe(0);
  });

  it('gives "macvlan-conf,macvlan-conf" net1 and net2; DEL removes them and frees the leases', () => {
    const pod = lab.newPod('macvlan-conf,macvlan-conf');
    expect(pod.cni('ADD').code).toBe(0);
    const names = pod
      .interfaces()
      .map((i) => i.ifname)
      .sort();
    expect(names).toEqual(['eth0', 'net1', 'net2']);
    expect(lab.leases('macvlan-conf')).toHaveLength(2);
    expect(lab.leases('podnet')).toHaveLength(1);
    const del = pod.cni('DEL');
    expect(del.code).toBe(0);
    expect(pod.interfaces()).toEqual([]);
    expect(lab.leases('macvlan-conf')).toEqual([]);
    expect(lab.leases('podnet')).toEqual([]);
  });

  it('rolls back the first delegates when a later one fails', () => {
    lab.writeNad('broken', {
      cniVersion: '0.3.1',
      type: 'macvlan',
      master: `${lab.prefix}xx`,
      ipam: { type: 'host-local', subnet: '203.0.113.0/24', dataDir: join(lab.dir, 'ipam') },
    });
    const pod = lab.newPod('macvlan-conf,broken');
    const add = pod.cni('ADD');
    expect(add.code).toBe(1);
    expect(add.json).toMatchObject({
      msg: expect.stringContaining('attaching default/broken as net2 failed'),
    });
    expect(pod.interfaces()).toEqual([]);
    expect(lab.leases('macvlan-conf')).toEqual([]);
    expect(lab.leases('podnet')).toEqual([]);
    expect(lab.leases('broken')).toEqual([]);
    // macvlan cannot even DEL a config whose master does not exist: the cache keeps just that one for the
    // runtime's DEL, which succeeds once the sandbox (and its netns) is gone.
    const cache = join(lab.stateDir, 'attachments', `${pod.containerId}_eth0.json`);
    expect(
      (JSON.parse(readFileSync(cache, 'utf8')) as { attachments: Array<{ name: string }> }).attachments.map(
        (a) => a.name,
      ),
    ).toEqual(['default/broken']);
    execFileSync('ip', ['netns', 'del', pod.netns]);
    expect(pod.cni('DEL').code).toBe(0);
    expect(existsSync(cache)).toBe(false);
  });

  it('rejects a pod that names a missing network, with the network in the message', () => {
    const pod = lab.newPod('nowhere');
    const add = pod.cni('ADD');
    expect(add.code).toBe(1);
    expect(add.json).toMatchObject({
      code: 7,
      msg: `pod default/${pod.name}: networks[0] "default/nowhere": NetworkAttachmentDefinition not found in namespace "default"`,
    });
  });

  it('CHECKs what it attached, and notices an interface that went missing', () => {
    lab.writeNad('macvlan-v1', { ...lab.seedMacvlanNad('macvlan-v1'), cniVersion: '1.0.0' });
    const pod = lab.newPod('macvlan-v1');
    expect(pod.cni('ADD').code).toBe(0);
    const check = pod.cni('CHECK');
    expect(check.stdout).toBe('');
    expect(check.code).toBe(0);
    const netns = pod.netns;
    expect(existsSync(`/run/netns/${netns}`)).toBe(true);
    // remove net1 behind the agent's back
    execFileSync('ip', ['-n', netns, 'link', 'del', 'net1']);
    const broken = pod.cni('CHECK');
    expect(broken.code).toBe(1);
    expect(broken.json).toMatchObject({ msg: expect.stringContaining('default/macvlan-v1') });
    expect(pod.cni('DEL').code).toBe(0);
  });

  it('kills a delegate that hangs and rolls back', () => {
    lab.writePlugin(
      'hang',
      '#!/bin/sh\nif [ "$CNI_COMMAND" = VERSION ]; then echo \'{"cniVersion":"1.0.0","supportedVersions":["1.0.0"]}\'; exit 0; fi\n[ "$CNI_COMMAND" = DEL ] && exit 0\nexec sleep 600\n',
    );
    lab.writeNad('hanging', { cniVersion: '1.0.0', type: 'hang' });
    const pod = lab.newPod('hanging');
    const started = Date.now();
    const add = pod.cni('ADD');
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(add.code).toBe(1);
    expect(add.json).toMatchObject({
      code: 11,
      msg: expect.stringContaining(
        'plugin "hang" of network default/hanging did not finish ADD within 3000 ms and was killed',
      ),
    });
    expect(pod.interfaces()).toEqual([]);
  });

  it('attaches ptp, host-device (a moved veth end) and a macvlan+tuning chain with static IPAM', () => {
    lab.addVethPair(`${lab.prefix}h0`, `${lab.prefix}h1`);
    lab.writeNad('p2p', {
      cniVersion: '1.0.0',
      type: 'ptp',
      ipam: { type: 'host-local', subnet: '203.0.113.0/28', dataDir: lab.ipamDir },
    });
    lab.writeNad('hostdev', {
      cniVersion: '1.0.0',
      type: 'host-device',
      device: `${lab.prefix}h1`,
      ipam: { type: 'static', addresses: [{ address: '203.0.113.130/25' }] },
    });
    lab.writeNad('tuned', {
      cniVersion: '1.0.0',
      plugins: [
        {
          type: 'macvlan',
          master: lab.master,
          ipam: { type: 'static', addresses: [{ address: '192.0.2.77/24' }] },
        },
        { type: 'tuning', mtu: 1400 },
      ],
    });
    const pod = lab.newPod('p2p,hostdev@data0,tuned');
    const add = pod.cni('ADD');
    expect(add.stderr).toBe('');
    expect(add.code).toBe(0);
    const byName = Object.fromEntries(pod.interfaces().map((i) => [i.ifname, i]));
    expect(Object.keys(byName).sort()).toEqual(['data0', 'eth0', 'net1', 'net3']);
    expect(byName.net1!.addresses[0]).toMatch(/^203\.0\.113\.\d+\/28$/);
    expect(byName.data0!.addresses).toEqual(['203.0.113.130/25']);
    expect(byName.net3).toMatchObject({ mtu: 1400, addresses: ['192.0.2.77/24'] });
    expect(pod.cni('DEL').code).toBe(0);
    expect(pod.interfaces()).toEqual([]);
    // host-device gives the device back to the host
    expect(() => execFileSync('ip', ['link', 'show', `${lab.prefix}h1`])).not.toThrow();
  });

  it('makes the selected network the default route when default-route is given', () => {
    const pod = lab.newPod(JSON.stringify([{ name: 'macvlan-conf', 'default-route': ['192.0.2.1'] }]));
    expect(pod.cni('ADD').code).toBe(0);
    const defaults = pod
      .routes()
      .split('\n')
      .filter((l) => l.startsWith('default'));
    expect(defaults).toEqual([expect.stringMatching(/^default via 192\.0\.2\.1 dev net1/)]);
    expect(pod.cni('DEL').code).toBe(0);
  });

  it('DELs from its on-disk cache after an agent restart, even after a crash', async () => {
    const pod = lab.newPod('macvlan-conf');
    expect(pod.cni('ADD').code).toBe(0);
    expect(lab.leases('macvlan-conf')).toHaveLength(1);
    await lab.stopAgent('SIGKILL');
    writeFileSync(join(lab.nadDir, 'default-macvlan-conf.yaml'), '# the NAD is gone\n');
    await lab.startAgent(['--delegate-timeout', '3']);
    expect(pod.cni('DEL').code).toBe(0);
    expect(pod.interfaces()).toEqual([]);
    expect(lab.leases('macvlan-conf')).toEqual([]);
    lab.writeNad('macvlan-conf', lab.seedMacvlanNad());
  });

  it('follows a change of the default network and keeps its config when stopped', async () => {
    writeFileSync(
      join(lab.confDir, '05-other.conflist'),
      JSON.stringify({
        cniVersion: '0.4.0',
        name: 'other',
        plugins: [
          { type: 'ptp', ipam: { type: 'host-local', subnet: '203.0.113.64/28', dataDir: lab.ipamDir } },
        ],
      }),
    );
    await eventually(
      'the generated config to follow the new default network',
      () => (lab.generatedConfig().plugins[0]!.defaultNetwork as { name: string }).name === 'other',
      10_000,
    );
    expect(lab.generatedConfig().cniVersion).toBe('0.4.0');
    unlinkSync(join(lab.confDir, '05-other.conflist'));
    const mtime = statSync(join(lab.confDir, '00-multinet.conflist')).mtimeMs;
    expect(await lab.stopAgent('SIGTERM')).toBe(0);
    expect(existsSync(join(lab.confDir, '00-multinet.conflist'))).toBe(true);
    expect(statSync(join(lab.confDir, '00-multinet.conflist')).mtimeMs).toBeGreaterThanOrEqual(mtime);
    await lab.startAgent(['--delegate-timeout', '3']);
    expect((lab.generatedConfig().plugins[0]!.defaultNetwork as { name: string }).name).toBe('podnet');
  });
});
