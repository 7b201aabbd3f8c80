/**
 * Tests that act as the container runtime use the playground's LocalNode as their lab; anything a
 * test leaves behind is removed when the test process exits.
 */
import { spawn } from 'node:child_process';
import { LocalNode, pluginDir, shimPath, type ShimOutcome } from '../../dev/netns/local-node.ts';

export {
  LocalNode as Lab,
  pluginDir,
  repoRoot,
  requireNetnsPrerequisites,
} from '../../dev/netns/local-node.ts';
export type { Pod, ShimOutcome, IpAddressInfo } from '../../dev/netns/local-node.ts';

process.on('exit', () => LocalNode.destroyAllSync());

/** Runs the shim as the runtime does, without blocking the test (which meanwhile stops or starts the agent). */
export function shimInBackground(
  lab: LocalNode,
  command: string,
  env: Record<string, string>,
  stdin: object,
): Promise<ShimOutcome> {
  return new Promise((resolve, reject) => {
    const child = spawn(shimPath(), [], {
      env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', CNI_COMMAND: command, CNI_PATH: pluginDir, ...env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      let json: Record<string, unknown> | undefined;
      try {
        json = stdout.trim() ? (JSON.parse(stdout) as Record<string, unknown>) : undefined;
      } catch {
        json = undefined;
      }
      resolve({ code, stdout, stderr, json });
    });
    child.stdin.end(lab.shimStdin(stdin as Record<string, unknown>));
  });
}
