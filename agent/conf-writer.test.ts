import { readFixture } from '../test/fixtures.ts';
import { MemoryFs } from '../test/doubles/memory-ports.ts';
import { silentLog } from '../test/test-agent.ts';
import { ConfWriter, type ShimConfigOptions } from './conf-writer.ts';

const options: ShimConfigOptions = {
  confDir: '/etc/cni/net.d',
  fileName: '00-multinet.conflist',
  shimType: 'multinet-cni',
  socketPath: '/run/multinet/agent.sock',
  stateDir: '/var/lib/multinet',
  agentWaitSeconds: 30,
  networkName: 'multinet-cni-network',
};

function setup(files: Record<string, string>): { fs: MemoryFs; writer: ConfWriter } {
  const fs = new MemoryFs();
  for (const [name, text] of Object.entries(files)) fs.put(`/etc/cni/net.d/${name}`, text);
  return { fs, writer: new ConfWriter(fs, options, silentLog) };
}

describe('ConfWriter', () => {
  it('generates the config from the seed calico network, copying its capabilities and version', async () => {
    const { fs, writer } = setup({
      '10-calico.conflist': readFixture('seed', '10-calico.conflist'),
      'loopback.conf': readFixture('seed', 'loopback.conf'),
    });
    const outcome = await writer.sync();
    expect(outcome.written).toBe(true);
    expect(JSON.parse(await fs.readFile('/etc/cni/net.d/00-multinet.conflist'))).toEqual({
      cniVersion: '0.3.1',
      name: 'multinet-cni-network',
      plugins: [
        {
          type: 'multinet-cni',
          capabilities: { bandwidth: true, portMappings: true },
          socketPath: '/run/multinet/agent.sock',
          stateDir: '/var/lib/multinet',
          agentWaitSeconds: 30,
          defaultNetwork: { name: 'k8s-pod-network', file: '/etc/cni/net.d/10-calico.conflist' },
        },
      ],
    });
  });

  it('does not rewrite an unchanged file, and follows a change of the default network', async () => {
    const { fs, writer } = setup({
      '20-b.conflist': JSON.stringify({ cniVersion: '1.0.0', name: 'b', plugins: [{ type: 'bridge' }] }),
    });
    await writer.sync();
    expect((await writer.sync()).written).toBe(false);
    expect(fs.writes).toBe(1);
    fs.put('/etc/cni/net.d/10-a.conf', JSON.stringify({ cniVersion: '0.4.0', name: 'a', type: 'ptp' }));
    expect((await writer.sync()).defaultNetwork?.config.name).toBe('a');
    expect(JSON.parse(await fs.readFile('/etc/cni/net.d/00-multinet.conflist'))).toMatchObject({
      cniVersion: '0.4.0',
    });
  });

  it('never picks itself or another meta-plugin, and skips invalid files', async () => {
    const { fs, writer } = setup({
      '00-multus.conf': readFixture('seed', '00-multus.conf.reference.json'),
      '01-other-multinet.conflist': JSON.stringify({
        cniVersion: '1.0.0',
        name: 'x',
        plugins: [{ type: 'multinet-cni' }],
      }),
      '05-broken.conflist': '{"cniVersion":',
      '30-real.conflist': JSON.stringify({
        cniVersion: '1.0.0',
        name: 'real',
        plugins: [{ type: 'bridge' }],
      }),
      'notes.txt': 'ignored',
    });
    const outcome = await writer.sync();
    expect(outcome.defaultNetwork?.config.name).toBe('real');
    expect(outcome.scan.skipped.map((s) => s.path)).toEqual([
      '/etc/cni/net.d/00-multus.conf',
      '/etc/cni/net.d/01-other-multinet.conflist',
      '/etc/cni/net.d/05-broken.conflist',
    ]);
    expect(await fs.readFile('/etc/cni/net.d/00-multinet.conflist')).toContain(
      '"file": "/etc/cni/net.d/30-real.conflist"',
    );
  });

  it('writes nothing, and keeps an existing file, when no default network is left', async () => {
    const { fs, writer } = setup({});
    expect(await writer.sync()).toMatchObject({ written: false, defaultNetwork: undefined });
    expect(await fs.stat('/etc/cni/net.d/00-multinet.conflist')).toBeUndefined();
    fs.put('/etc/cni/net.d/10-a.conf', JSON.stringify({ cniVersion: '0.4.0', name: 'a', type: 'ptp' }));
    await writer.sync();
    fs.files.delete('/etc/cni/net.d/10-a.conf');
    await writer.sync();
    expect(await fs.readFile('/etc/cni/net.d/00-multinet.conflist')).toContain('"name": "a"');
  });

  it("reports its file, the runtime's first file and what it was made from", async () => {
    const { fs, writer } = setup({
      '10-flannel.conflist': JSON.stringify({
        cniVersion: '1.0.0',
        name: 'cbr0',
        plugins: [{ type: 'bridge' }],
      }),
    });
    expect(await writer.state()).toEqual({
      path: '/etc/cni/net.d/00-multinet.conflist',
      present: false,
      runtimeFile: '/etc/cni/net.d/10-flannel.conflist',
      generatedFrom: '',
      externalChange: null,
    });
    await writer.sync();
    fs.put('/etc/cni/net.d/00-aaa.conf', JSON.stringify({ cniVersion: '1.0.0', name: 'x', type: 'ptp' }));
    expect(await writer.state()).toEqual({
      path: '/etc/cni/net.d/00-multinet.conflist',
      present: true,
      runtimeFile: '/etc/cni/net.d/00-aaa.conf',
      generatedFrom: '/etc/cni/net.d/10-flannel.conflist',
      externalChange: null,
    });
  });

  it('writes its file again when something else removes or edits it, and reports when', async () => {
    const fs = new MemoryFs();
    fs.put('/etc/cni/net.d/10-a.conf', JSON.stringify({ cniVersion: '0.4.0', name: 'a', type: 'ptp' }));
    let now = Date.parse('2026-12-06T10:00:00Z');
    const writer = new ConfWriter(fs, options, silentLog, () => new Date(now));
    await writer.sync();
    const written = await fs.readFile('/etc/cni/net.d/00-multinet.conflist');
    // A change of the default network is the agent's own rewrite, not someone else's.
    fs.put('/etc/cni/net.d/10-a.conf', JSON.stringify({ cniVersion: '1.0.0', name: 'a', type: 'ptp' }));
    await writer.sync();
    expect((await writer.state()).externalChange).toBeNull();
    now += 60_000;
    fs.files.delete('/etc/cni/net.d/00-multinet.conflist');
    expect(await writer.sync()).toMatchObject({ written: true });
    expect((await writer.state()).externalChange).toEqual({
      time: '2026-12-06T10:01:00Z',
      change: 'removed',
    });
    now += 60_000;
    fs.put('/etc/cni/net.d/00-multinet.conflist', written);
    await writer.sync();
    expect((await writer.state()).externalChange).toEqual({
      time: '2026-12-06T10:02:00Z',
      change: 'changed',
    });
    expect(await fs.readFile('/etc/cni/net.d/00-multinet.conflist')).toContain('"cniVersion": "1.0.0"');
  });
});
