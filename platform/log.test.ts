import { PassThrough } from 'node:stream';
import { createLogger } from './log.ts';

function capture(level: 'warn' | 'debug'): { log: ReturnType<typeof createLogger>; lines: () => string[] } {
  const stream = new PassThrough();
  const chunks: string[] = [];
  stream.setEncoding('utf8').on('data', (chunk: string) => chunks.push(chunk));
  return {
    log: createLogger({ level, format: 'json', stream }),
    lines: () => chunks.join('').split('\n').filter(Boolean),
  };
}

describe('createLogger', () => {
  it('writes the enabled levels, of children too, with their fields', () => {
    const { log, lines } = capture('warn');
    log.child({ component: 'cni-server' }).warn('slow', { ms: 12 });
    log.error('broken');
    expect(lines().map((l) => JSON.parse(l) as Record<string, unknown>)).toEqual([
      expect.objectContaining({ level: 'warn', message: 'slow', component: 'cni-server', ms: 12 }),
      expect.objectContaining({ level: 'error', message: 'broken' }),
    ]);
  });

  it('does not even format an entry below its level (a request at warn pays nothing for its info line)', () => {
    const { log, lines } = capture('warn');
    let read = false;
    const fields = {
      get networks(): string {
        read = true;
        return 'default/macvlan-conf@net1';
      },
    };
    log.child({ containerId: 'c1' }).info('attached', fields);
    log.debug('ran', fields);
    expect({ read, lines: lines() }).toEqual({ read: false, lines: [] });
    const verbose = capture('debug');
    verbose.log.child({ containerId: 'c1' }).debug('ran', fields);
    expect(read).toBe(true);
    expect(verbose.lines()).toHaveLength(1);
  });
});
