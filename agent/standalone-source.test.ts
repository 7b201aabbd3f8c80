/** The standalone source's network-status files: written and removed one operation at a time per pod. */
import { MemoryFs } from '../test/doubles/memory-ports.ts';
import { silentLog } from '../test/test-agent.ts';
import { StandaloneSource } from './standalone-source.ts';

/** A MemoryFs whose removal of owner files waits until the test lets it go. */
class PausingFs extends MemoryFs {
  paused: Promise<void> | undefined;
  override async remove(path: string): Promise<void> {
    if (path.endsWith('.owner') && this.paused) await this.paused;
    return super.remove(path);
  }
}

it("leaves no status behind when one sandbox's DEL removes it while another sandbox of the pod publishes", async () => {
  // The chaos campaign's leak: two sandboxes of a pod hold different container turns, so the older
  // one's DEL and the newer one's ADD run at once. A removal that read the old owner must not take
  // the new owner file, or the new status outlives every DEL.
  const fs = new PausingFs();
  const source = new StandaloneSource(
    fs,
    { nadDir: '/nads', podDir: '/pods', stateDir: '/state' },
    silentLog,
  );
  const pod = { namespace: 'default', name: 'p1', uid: 'u1' };
  const status = [{ name: 'podnet', interface: 'eth0', ips: ['198.51.100.2'], default: true }];
  await source.publishStatus(pod, status, 'old');
  let resume!: () => void;
  fs.paused = new Promise((resolve) => (resume = resolve));
  const withdrawing = source.withdrawStatus(pod, 'old');
  const publishing = source.publishStatus(pod, status, 'new');
  for (let i = 0; i < 10; i++) await new Promise((resolve) => setImmediate(resolve));
  resume();
  await Promise.all([withdrawing, publishing]);
  expect(JSON.parse(await fs.readFile('/state/network-status/default_p1.json'))).toEqual(status);
  await source.withdrawStatus(pod, 'new');
  expect([...fs.files.keys()].filter((f) => f.startsWith('/state/network-status/'))).toEqual([]);
});
