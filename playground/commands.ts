/**
 * The harness's commands: `multinet up` (the playground) and `multinet dev cluster | node` (the local
 * control plane and real nodes). Only a checkout has them: the entry point adds them where this file
 * exists, and the production image is built without dev/ and playground/ (tsconfig.build.json).
 */
import type { Command } from '../cli/commands.ts';

export const harnessCommands: Readonly<Record<string, Command>> = {
  up: {
    summary: 'the local playground: the whole system on this machine, and the seed walkthrough',
    load: async () => {
      const m = await import('./up-command.ts');
      return { usage: m.upUsage, run: m.runUp };
    },
  },
  dev: {
    summary:
      'local clusters: `dev cluster` (kube-apiserver + etcd), `dev node` (real kubelet nodes with multinet)',
    load: async () => {
      const m = await import('../dev/cli/dev-cluster.ts');
      return { usage: m.devUsage, run: m.runDev };
    },
  },
};
