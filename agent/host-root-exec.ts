/**
 * Delegates see the host, not the agent's image: with the host's / mounted at a host root (a DaemonSet's
 * /hostroot), every plugin run goes through chroot into it, as Multus thick's chrootDir does. A default
 * network that reads host files (Calico's /var/lib/calico, Flannel's /run/flannel/subnet.env, Cilium's
 * socket) or calls host tools (iptables for portmap, firewall, bridge's ipMasq) then finds them. Paths
 * in the request (plugin, CNI_PATH, CNI_NETNS) are the host's, as the runtime gave them.
 */
import type { Exec, ExecRequest, ExecResult } from '../lib/ports.ts';

export function hostRootExec(exec: Exec, hostRoot: string, chroot: string): Exec {
  return {
    run(request: ExecRequest): Promise<ExecResult> {
      return exec.run({ ...request, file: chroot, args: [hostRoot, request.file, ...(request.args ?? [])] });
    },
  };
}
