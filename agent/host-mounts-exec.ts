/**
 * Delegates see the host, not the agent's image: every plugin run enters the host's mount namespace
 * (nsenter --mount=/proc/1/ns/mnt in a hostPID DaemonSet pod), so a plugin sees exactly the host's
 * filesystem, mounts made after the agent started included (pod netns, Calico's /var/lib/calico,
 * Flannel's /run/flannel/subnet.env, Cilium's socket) and the host's tools (iptables for portmap,
 * firewall, bridge's ipMasq). It does what Multus thick's chrootDir does, without needing the host's /
 * to be a shared mount. Paths in the request (plugin, CNI_PATH, CNI_NETNS) are the host's, as the
 * runtime gave them; the process is the plugin itself (nsenter execs it), so timeouts and kills hold.
 */
import type { Exec, ExecRequest, ExecResult } from '../lib/ports.ts';

export function hostMountsExec(exec: Exec, nsenter: string, mountNamespace: string): Exec {
  return {
    run(request: ExecRequest): Promise<ExecResult> {
      return exec.run({
        ...request,
        file: nsenter,
        args: [`--mount=${mountNamespace}`, '--', request.file, ...(request.args ?? [])],
      });
    },
  };
}
