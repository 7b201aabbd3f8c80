/**
 * The `default-route` selection field: the chosen network's gateway becomes the pod's default route
 * and other default routes of that address family go. Runs `ip` inside the pod's namespace through
 * nsenter (a child process): the agent itself never changes namespace.
 */
import { parseIp } from '../lib/net/ip.ts';
import { CniError, CniErrorCode } from '../lib/cni/error.ts';
import type { Exec } from '../lib/ports.ts';

export interface RouteTools {
  readonly exec: Exec;
  readonly nsenter: string;
  readonly ip: string;
  readonly timeoutMs: number;
  readonly env: Readonly<Record<string, string>>;
}

export async function applyDefaultRoute(
  tools: RouteTools,
  netns: string,
  ifName: string,
  gateways: readonly string[],
): Promise<void> {
  const run = async (...args: string[]): Promise<void> => {
    const result = await tools.exec.run({
      file: tools.nsenter,
      args: [`--net=${netns}`, tools.ip, ...args],
      env: tools.env,
      timeoutMs: tools.timeoutMs,
    });
    if (result.code !== 0) {
      throw new CniError(
        CniErrorCode.ioFailure,
        `setting the default route via ${ifName} failed: ip ${args.join(' ')}: ${result.stderr.trim() || `exit ${String(result.code)}`}`,
      );
    }
  };
  const seen = new Set<number>();
  for (const gateway of gateways) {
    const ip = parseIp(gateway);
    if (!ip)
      throw new CniError(
        CniErrorCode.invalidConfig,
        `default-route gateway ${JSON.stringify(gateway)} is not an IP address`,
      );
    const family = `-${ip.family}`;
    if (!seen.has(ip.family)) {
      seen.add(ip.family);
      await run(family, 'route', 'flush', 'exact', ip.family === 4 ? '0.0.0.0/0' : '::/0');
    }
    await run(family, 'route', 'append', 'default', 'via', gateway, 'dev', ifName);
  }
}
