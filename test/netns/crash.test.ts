/**
 * An agent killed in the middle of an ADD, as root with real plugins: the delegate it was running must
 * be dead before the restarted agent serves the DEL, or the delegate finishes its ADD after the DEL and
 * leaves an interface and a lease behind (the campaign saw it in 5 of 5 rounds).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { processEnded } from '../../platform/nodejs/orphans.ts';
import { Lab, pluginDir, requireNetnsPrerequisites, shimInBackground, waitFor } from './lab.ts';

requireNetnsPrerequisites();

const running = (pid: number): boolean => !processEnded(pid);

describe('an agent killed while a delegate runs', () => {
  let lab: Lab;
  let started: string;
  let go: string;

  beforeAll(async () => {
    lab = new Lab('crash');
    started = join(lab.dir, 'slow-started');
    go = join(lab.dir, 'slow-go');
    // macvlan that takes its time: its ADD waits for the test's word, then does what macvlan does.
    lab.writePlugin(
      'slowvlan',
      `#!/bin/sh\nif [ "$CNI_COMMAND" = ADD ]; then\n  echo $$ > ${started}\n  while [ ! -e ${go} ]; do sleep 0.05; done\nfi\nexec ${pluginDir}/macvlan\n`,
    );
    lab.writeNad('slow', { ...lab.seedMacvlanNad('slow'), type: 'slowvlan' });
    await lab.startAgent(['--delegate-timeout', '60']);
  });

  afterAll(async () => {
    writeFileSync(go, '');
    await lab.destroy();
  });

  it('ends the delegate before it serves the DEL, so nothing is attached after the DEL', async () => {
    const pod = lab.newPod('slow');
    const add = shimInBackground(lab, 'ADD', pod.env(), {});
    await waitFor('the slow delegate to start', () => existsSync(started));
    const delegate = Number(readFileSync(started, 'utf8'));
    await lab.stopAgent('SIGKILL');
    expect((await add).json).toMatchObject({ code: 5, msg: expect.stringContaining('without answering') });
    await lab.startAgent(['--delegate-timeout', '60']);
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
