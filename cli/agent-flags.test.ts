import { agentFlagDefaults, agentFlagTable, parseAgentFlags } from './agent-flags.ts';

const standalone = ['--standalone', '--nad-dir', '/nads'];

describe('parseAgentFlags', () => {
  it('starts plugins through the image spawner unless told another one or none', () => {
    expect(parseAgentFlags(standalone, {}).spawner).toBe(agentFlagDefaults.spawner);
    expect(parseAgentFlags([...standalone, '--spawner', '/opt/multinet-spawner'], {}).spawner).toBe(
      '/opt/multinet-spawner',
    );
    expect(parseAgentFlags([...standalone, '--spawner', 'none'], {}).spawner).toBeUndefined();
    expect(() => parseAgentFlags([...standalone, '--spawner', 'spawner'], {})).toThrow(
      '--spawner must be an absolute path (got "spawner")',
    );
  });

  it('serves --max-parallel auto by default, or a number of requests', () => {
    expect(parseAgentFlags(standalone, {}).maxParallel).toBe('auto');
    expect(parseAgentFlags([...standalone, '--max-parallel', '16'], {}).maxParallel).toBe(16);
    expect(() => parseAgentFlags([...standalone, '--max-parallel', '0'], {})).toThrow('--max-parallel');
    expect(() => parseAgentFlags([...standalone, '--max-parallel', 'many'], {})).toThrow('--max-parallel');
  });
});

describe('the agent flag table', () => {
  it('reads every default as given: giving them all explicitly changes nothing', () => {
    const explicit = Object.values(agentFlagTable).flatMap((flag) =>
      flag.default === undefined ? [] : [`--${flag.name}`, String(flag.default)],
    );
    expect(explicit.length).toBeGreaterThan(20);
    expect(parseAgentFlags([...standalone, ...explicit], {})).toEqual(parseAgentFlags(standalone, {}));
  });

  it('applies the rules across flags after reading each', () => {
    expect(() => parseAgentFlags(['--standalone'], {})).toThrow('--standalone needs --nad-dir');
    expect(() => parseAgentFlags([...standalone, '--dra'], {})).toThrow(
      '--dra needs the API server (ResourceSlices, ResourceClaims): not with --standalone',
    );
    expect(() => parseAgentFlags([], {})).toThrow('give --node-name (or set NODE_NAME)');
    expect(parseAgentFlags([], { NODE_NAME: 'n1' }).nodeName).toBe('n1');
    expect(parseAgentFlags([], { NODE_NAME: 'n1' }).probeListen).toEqual({ host: '127.0.0.1', port: 9641 });
    expect(parseAgentFlags(standalone, {}).probeListen).toBeUndefined();
    expect(
      parseAgentFlags(['--owner-daemonset', 'multinet-agent'], { NODE_NAME: 'n', POD_NAMESPACE: 'mn' })
        .ownerDaemonSet,
    ).toEqual({ namespace: 'mn', name: 'multinet-agent' });
    expect(() => parseAgentFlags(['--owner-daemonset', 'multinet-agent'], { NODE_NAME: 'n' })).toThrow(
      '--owner-daemonset must be NAMESPACE/NAME or NAME with $POD_NAMESPACE set (got "multinet-agent")',
    );
  });

  it('reads --cni-bin-dir repeated or joined with ":", --multus-cache-dir "" as none', () => {
    expect(
      parseAgentFlags([...standalone, '--cni-bin-dir', '/a:/b', '--cni-bin-dir', '/c'], {}).cniBinDirs,
    ).toEqual(['/a', '/b', '/c']);
    expect(parseAgentFlags(standalone, {}).cniBinDirs).toEqual([agentFlagDefaults.cniBinDirs]);
    expect(parseAgentFlags([...standalone, '--multus-cache-dir', ''], {}).multusCacheDir).toBeUndefined();
    expect(parseAgentFlags(standalone, {}).multusCacheDir).toBe(agentFlagDefaults.multusCacheDir);
  });

  it('groups the network policy flags as the resolver takes them', () => {
    expect(
      parseAgentFlags([...standalone, '--default-networks', 'ns/a', '--cluster-network', 'kindnet'], {})
        .network,
    ).toEqual({
      clusterNetwork: 'kindnet',
      defaultNetworks: ['ns/a'],
      namespaceIsolation: false,
      globalNamespaces: [],
      systemNamespaces: ['kube-system'],
    });
  });
});
