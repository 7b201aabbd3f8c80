/**
 * The pure parts of the local node's host handling: which cgroup layouts it accepts (and how it says
 * why not), which mounts belong to a run dir, and the registry references it serves.
 */
import { readFixture } from '../../test/fixtures.ts';
import { cgroupLayout } from './cgroups.ts';
import { mountsBelow, parseSnapshot, snapshotJson } from './host-state.ts';
import { isSharedMount } from './mountinfo.ts';
import { registryRepositories, splitReference } from './images.ts';

describe('cgroupLayout', () => {
  it('takes the hybrid layout of this machine kind, the unified hierarchy included', () => {
    const layout = cgroupLayout(readFixture('mountinfo', 'hybrid-split.txt'));
    if (layout.kind !== 'v1') throw new Error(layout.reason);
    expect(layout.hierarchies.map((h) => h.mountPoint)).toContain('/sys/fs/cgroup/unified');
    expect(layout.hierarchies.find((h) => h.mountPoint === '/sys/fs/cgroup/systemd')?.controllers).toEqual([
      'name=systemd',
    ]);
  });

  it('takes systemd hybrid mounts with joined controllers (cpu,cpuacct) and mount options', () => {
    const layout = cgroupLayout(readFixture('mountinfo', 'hybrid-systemd.txt'));
    if (layout.kind !== 'v1') throw new Error(layout.reason);
    expect(
      layout.hierarchies.find((h) => h.mountPoint === '/sys/fs/cgroup/cpu,cpuacct')?.controllers,
    ).toEqual(['cpu', 'cpuacct']);
    expect(layout.hierarchies.find((h) => h.mountPoint === '/sys/fs/cgroup/systemd')?.controllers).toEqual([
      'xattr',
      'name=systemd',
    ]);
  });

  it('refuses a pure cgroup v2 machine, saying what to do', () => {
    const layout = cgroupLayout(readFixture('mountinfo', 'unified.txt'));
    expect(layout).toEqual({ kind: 'unsupported', reason: expect.stringContaining('pure cgroup v2') });
    expect(layout.kind === 'unsupported' && layout.reason).toContain('multinet up --netns');
  });

  it('names the v1 controllers that are not mounted', () => {
    expect(cgroupLayout(readFixture('mountinfo', 'no-pids.txt'))).toEqual({
      kind: 'unsupported',
      reason: expect.stringMatching(/^cgroup v1 controllers pids are not mounted/),
    });
  });
});

describe('mountsBelow', () => {
  it('lists the mounts at or below a run dir, children before parents, octal escapes decoded', () => {
    expect(mountsBelow(readFixture('mountinfo', 'node-mounts.txt'), '/tmp/multinet-node-abc')).toEqual([
      '/tmp/multinet-node-abc/kubelet/root/pods/1/volumes/kubernetes.io~projected/kube-api-access-x',
      '/tmp/multinet-node-abc/containerd/state/io.containerd.runtime.v2.task/k8s.io/ab12/rootfs',
      '/tmp/multinet-node-abc/kubelet/root',
      '/tmp/multinet-node-abc/with space',
    ]);
  });

  it('does not take a sibling dir that shares the prefix', () => {
    expect(mountsBelow(readFixture('mountinfo', 'node-mounts.txt'), '/tmp/multinet-node-abcdef')).toEqual([
      '/tmp/multinet-node-abcdef/other',
    ]);
  });
});

describe('image references', () => {
  it('applies docker.io defaults as containerd resolves them', () => {
    expect(splitReference('alpine')).toEqual({
      host: 'docker.io',
      repository: 'library/alpine',
      tag: 'latest',
    });
    expect(splitReference('docker.io/library/alpine:latest')).toEqual({
      host: 'docker.io',
      repository: 'library/alpine',
      tag: 'latest',
    });
    expect(splitReference('multinet.local/multinet:0123abc')).toEqual({
      host: 'multinet.local',
      repository: 'multinet',
      tag: '0123abc',
    });
    expect(splitReference('localhost:5000/a/b')).toEqual({
      host: 'localhost:5000',
      repository: 'a/b',
      tag: 'latest',
    });
  });

  it('serves each image under its repository and mirrors each registry host once', () => {
    expect(
      registryRepositories([
        { name: 'alpine', reference: 'docker.io/library/alpine:latest', layoutDir: '/a' },
        { name: 'pause', reference: 'multinet.local/pause:1', layoutDir: '/p' },
        { name: 'multinet', reference: 'multinet.local/multinet:2', layoutDir: '/m' },
      ]),
    ).toEqual({
      repositories: [
        { name: 'library/alpine', layoutDir: '/a' },
        { name: 'pause', layoutDir: '/p' },
        { name: 'multinet', layoutDir: '/m' },
      ],
      hosts: ['docker.io', 'multinet.local'],
    });
  });
});

test("the host snapshot survives the node's process: written as JSON, read back whole", () => {
  const snapshot = {
    sysctls: new Map([['net/ipv4/ip_forward', '0']]),
    dirs: new Map<string, Set<string> | { missing: string[] }>([
      ['/var/lib/cni/results', new Set(['podnet-abc-eth0'])],
      ['/var/log/pods', { missing: ['/var/log/pods'] }],
    ]),
    netns: new Set(['cni-0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0']),
  };
  expect(parseSnapshot(snapshotJson(snapshot))).toEqual(snapshot);
  // A node killed before it wrote one (or a truncated file): nothing to put back from.
  expect(parseSnapshot('')).toBeUndefined();
  expect(parseSnapshot(snapshotJson(snapshot).slice(0, 20))).toBeUndefined();
});

describe('isSharedMount', () => {
  const mountinfo = [
    '22 1 254:1 / / rw,relatime - ext4 /dev/vda rw',
    '30 22 254:1 /run/netns /run/netns rw,relatime shared:5 - ext4 /dev/vda rw',
    '41 22 0:40 / /mnt/with\\040space rw master:7 - tmpfs tmpfs rw',
  ].join('\n');

  it('tells a shared mount from a private one or a slave, by the last mount at the point', () => {
    expect(isSharedMount(mountinfo, '/')).toBe(false);
    expect(isSharedMount(mountinfo, '/run/netns')).toBe(true);
    expect(isSharedMount(mountinfo, '/mnt/with space')).toBe(false);
    expect(isSharedMount(`${mountinfo}\n50 22 254:1 / / rw shared:9 - ext4 /dev/vda rw`, '/')).toBe(true);
  });

  it('names a point nothing is mounted at', () => {
    expect(() => isSharedMount(mountinfo, '/nowhere')).toThrow('no mount of /nowhere in mountinfo');
  });
});
