/**
 * An agent killed in the middle of an ADD, as root with real plugins: the delegate it was running must
 * be dead before the restarted agent serves the DEL, or the delegate finishes its ADD after the DEL and
 * leaves an interface and a lease behind (the campaign saw it in 5 of 5 rounds). Started by the
 * spawner, the delegate dies with the agent; started by Node (no spawner), the restarted agent ends it.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { processEnded } from '../../platform/nodejs/orphans.ts';
import { Lab, pluginDir, requireNetnsPrerequisites, shimInBackground } from './lab.ts';
import { eventually } from '../../dev/eventually.ts';

const waitFor = (what: string, condition: () => boolean): Promise<boolean> =>
  eventually(what, condition, { timeoutMs: 20_000, intervalMs: 20 });

requireNetnsPrerequisites();

const running = (pid: number): boolean => !processEnded(pid);

describe('an agent killed while a delegate runs', () => {
  let lab: Lab;
  let started: string;
  let go: string;

  beforeEach(() => {
    lab = new Lab('crash');
    started = join(lab.dir, 'slow-started');
    go = join(lab.dir, 'slow-go');
    // macvlan that takes its time: its ADD waits for the test's word, then does what macvlan does.
    lab.writePlugin(
      'slowvlan',
      `#!/bin/sh\nif [ "$CNI_COMMAND" = ADD ]; then\n  echo $$ > ${started}\n  while [ ! -e ${go} ]; do sleep 0.05; done\nfi\nexec ${pluginDir}/macvlan\n`,
    );
    lab.writeNad('slow', { ...lab.seedMacvlanNad('slow'), type: 'slowvlan' });
  });

  afterEach(async () => {
    writeFileSync(go, '');
    await lab.destroy();
  });

  it('started by the spawner, the delegate dies with the agent, and the DEL leaves nothing', async () => {
    await lab.startAgent(['--delegate-timeout', '60']);
    const pod = lab.newPod('slow');
    const add = shimInBackground(lab, 'ADD', pod.env(), {});
    await waitFor('the slow delegate to start', () => existsSync(started));
    const delegate = Number(readFileSync(started, 'utf8'));
    await lab.stopAgent('SIGKILL');
    // No agent runs now: only the spawner (told by PR_SET_PDEATHSIG) can end it.
    await waitFor(`delegate ${delegate} to die with the agent`, () => !running(delegate));
    expect((await add).json).toMatchObject({ code: 5, msg: expect.stringContaining('without answering') });
    await lab.startAgent(['--delegate-timeout', '60']);
    const del = pod.cni('DEL');
    expect({ code: del.code, stdout: del.stdout }).toEqual({ code: 0, stdout: '' });
    expect(pod.interfaces()).toEqual([]);
    expect({ slow: lab.leases('slow'), podnet: lab.leases('podnet') }).toEqual({ slow: [], podnet: [] });
    expect(lab.log).not.toContain('ended the delegates a previous agent left running');
  });

  it('started by Node (--spawner none), the restarted agent ends the delegate before it serves the DEL', async () => {
    await lab.startAgent(['--delegate-timeout', '60', '--spawner', 'none']);
    const pod = lab.newPod('slow');
    const add = shimInBackground(lab, 'ADD', pod.env(), {});
    await waitFor('the slow delegate to start', () => existsSync(started));
    const delegate = Number(readFileSync(started, 'utf8'));
    await lab.stopAgent('SIGKILL');
    expect((await add).json).toMatchObject({ code: 5, msg: expect.stringContaining('without answering') });
    await lab.startAgent(['--delegate-timeout', '60', '--spawner', 'none']);
    expect(running(delegate)).toBe(false);
    const del = pod.cni('DEL');
    expect({ code: del.code, stdout: del.stdout }).toEqual({ code: 0, stdout: '' });
    // Whatever the killed agent's delegate would still do, it would do now.
    writeFileSync(go, '');
    await waitFor(`delegate ${delegate} of the killed agent to end`, () => !running(delegate));
    expect(pod.interfaces()).toEqual([]);
    expect({ slow: lab.leases('slow'), podnet: lab.leases('podnet') }).toEqual({ slow: [], podnet: [] });
    expect(lab.log).toContain('ended the delegates a previous agent left running');
  });
});
