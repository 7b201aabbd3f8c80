import { agentFlagDefaults, parseAgentFlags } from './agent-flags.ts';

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
