/**
 * The standalone source's network-status files, written and removed one operation at a time per pod;
 * its NAD files, re-read whenever they change.
 */
import { mkdtempSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FileInfo } from '../lib/ports.ts';
import { nodeFileSystem } from '../platform/nodejs/fs.ts';
import { MemoryFs } from '../test/doubles/memory-ports.ts';
import { silentLog } from '../test/test-agent.ts';
import { StandaloneSource } from './standalone-source.ts';

/** A MemoryFs whose removal of owner files waits until the test lets it go, and says when one waits. */
class PausingFs extends MemoryFs {
  paused: Promise<void> | undefined;
  private reached: (() => void) | undefined;
  /** Resolves once a removal of an owner file is held by the pause. */
  readonly held = new Promise<void>((resolve) => (this.reached = resolve));
  override async remove(path: string): Promise<void> {
    if (path.endsWith('.owner') && this.paused) {
      this.reached?.();
      await this.paused;
    }
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
  await fs.held; // the removal is between its read of the owner and its removal; the publish waits behind it
  resume();
  await Promise.all([withdrawing, publishing]);
  expect(JSON.parse(await fs.readFile('/state/network-status/default_p1.json'))).toEqual(status);
  await source.withdrawStatus(pod, 'new');
  expect([...fs.files.keys()].filter((f) => f.startsWith('/state/network-status/'))).toEqual([]);
});

describe('NAD files rewritten in place', () => {
  const nad = (master: string): string =>
    `apiVersion: k8s.cni.cncf.io/v1\nkind: NetworkAttachmentDefinition\nmetadata:\n  name: storage\nspec:\n  config: '{"cniVersion":"1.0.0","type":"macvlan","master":"${master}"}'\n`;
  const masterOf = async (source: StandaloneSource): Promise<unknown> =>
    (await source.getNetwork('default', 'storage'))?.config?.plugins[0]?.master;

  it('are re-read when the content changes but size and mtime stay (cp -p, rsync -t)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'multinet-nads-'));
    try {
      const file = join(dir, 'storage.yaml');
      writeFileSync(file, nad('eth1'));
      // Whole seconds, as `cp -p` and `rsync -t` put them back (a sub-ms part would differ by itself).
      const mtime = new Date(Math.floor(Date.now() / 1000) * 1000);
      utimesSync(file, mtime, mtime);
      // Looked at long after the writes: only the file's own times and inode can tell the change.
      const source = new StandaloneSource(
        nodeFileSystem,
        { nadDir: dir, stateDir: join(dir, 'state'), now: () => Date.now() + 60_000 },
        silentLog,
      );
      expect(await masterOf(source)).toBe('eth1');
      writeFileSync(file, nad('eth2'));
      utimesSync(file, mtime, mtime);
      expect(statSync(file).mtimeMs).toBe(mtime.getTime());
      expect(await masterOf(source)).toBe('eth2');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('are re-read on a file system with coarse timestamps, when rewritten in the same tick', async () => {
    /** Every file has the same second-granular times, as a rewrite within that second leaves them. */
    class CoarseFs extends MemoryFs {
      reads = 0;
      override async stat(path: string): Promise<FileInfo | undefined> {
        const info = await super.stat(path);
        return info && { ...info, mtimeMs: 5000, ctimeMs: 5000 };
      }
      override readFile(path: string): Promise<string> {
        this.reads++;
        return super.readFile(path);
      }
    }
    const fs = new CoarseFs();
    let now = 5300;
    const source = new StandaloneSource(
      fs,
      { nadDir: '/nads', stateDir: '/state', now: () => now },
      silentLog,
    );
    fs.put('/nads/storage.yaml', nad('eth1'));
    expect(await masterOf(source)).toBe('eth1');
    fs.put('/nads/storage.yaml', nad('eth2'));
    expect(await masterOf(source)).toBe('eth2');
    // Once the times are old enough to be trusted, the file is compared once more and then left alone.
    now = 60_000;
    expect(await masterOf(source)).toBe('eth2');
    const reads = fs.reads;
    expect(await masterOf(source)).toBe('eth2');
    expect(fs.reads).toBe(reads);
  });
});
