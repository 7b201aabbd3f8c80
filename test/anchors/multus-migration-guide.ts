/**
 * Replacing Multus (thick) with multinet on a live cluster: the commands, in order, as docs/replacing-multus.md's guide
 * shows them (a unit test keeps the two the same) and as test/anchors/multus-migration.test.ts runs them
 * on the real node, with the node's paths and files put in for the placeholders (see `forNode`).
 */

export interface GuideStep {
  /** Why, in one line (the guide's comment). */
  readonly why?: string;
  /** The command line, as a user types it (placeholders: values.yaml, /etc/cni/net.d, /opt/cni/bin, POD...). */
  readonly command: readonly string[];
  /** Run on every node (a shell there), not against the API server. */
  readonly onEachNode?: true;
}

export const migrationGuide: readonly GuideStep[] = [
  {
    why: "multinet's CRDs over the one Multus installed: the NAD CRD gains the status subresource, NADs stay",
    command: ['kubectl', 'apply', '--server-side', '--force-conflicts', '-f', 'charts/multinet/crds/'],
  },
  { why: 'its namespace runs the privileged agent', command: ['kubectl', 'create', 'namespace', 'multinet'] },
  {
    command: ['kubectl', 'label', 'namespace', 'multinet', 'pod-security.kubernetes.io/enforce=privileged'],
  },
  {
    why: 'multinet beside Multus: each agent writes 00-multinet.conflist, which sorts before 00-multus.conf; until its webhook serves, pods are let through',
    command: [
      'helm',
      'install',
      'multinet',
      'charts/multinet',
      '--namespace',
      'multinet',
      '--skip-crds',
      '-f',
      'values.yaml',
      '--set',
      'webhook.failurePolicy=Ignore',
      '--wait',
    ],
  },
  { command: ['kubectl', '-n', 'multinet', 'rollout', 'status', 'daemonset/multinet-agent'] },
  {
    why: 'the webhook serves: back to refusing what it cannot check (failurePolicy from values.yaml: Fail)',
    command: [
      'helm',
      'upgrade',
      'multinet',
      'charts/multinet',
      '--namespace',
      'multinet',
      '-f',
      'values.yaml',
      '--wait',
    ],
  },
  {
    why: "every node: multinet's config is the one the runtime uses",
    command: ['kubectl', 'multinet', 'doctor'],
  },
  {
    why: "Multus' daemon (gone with its pods), not its manifest: that also holds the NAD CRD, whose deletion deletes every NAD",
    command: [
      'kubectl',
      '-n',
      'kube-system',
      'delete',
      'daemonset',
      'kube-multus-ds',
      '--cascade=foreground',
    ],
  },
  {
    command: [
      'kubectl',
      '-n',
      'kube-system',
      'delete',
      'configmap/multus-daemon-config',
      'serviceaccount/multus',
    ],
  },
  { command: ['kubectl', 'delete', 'clusterrolebinding/multus', 'clusterrole/multus'] },
  {
    why: 'what Multus leaves on each node (its daemon may not remove its config before it is killed)',
    command: [
      'rm',
      '-f',
      '/etc/cni/net.d/00-multus.conf',
      '/opt/cni/bin/multus-shim',
      '/opt/cni/bin/passthru',
    ],
    onEachNode: true,
  },
  {
    why: 'pods Multus attached keep their interfaces; their deletion releases what Multus attached',
    command: ['kubectl', 'delete', 'pod', 'POD...'],
  },
  { command: ['kubectl', 'multinet', 'doctor'] },
];

/** A command line as the guide prints it (words with spaces or quotes quoted). */
export function shellWords(command: readonly string[]): string {
  return command.map((w) => (/^[\w./=:,@%+-]+$/.test(w) ? w : `'${w.replace(/'/g, "'\\''")}'`)).join(' ');
}

/** The guide as docs/replacing-multus.md shows it: one comment and command per step. */
export function guideText(): string {
  return migrationGuide
    .map((step) => {
      const line = `${shellWords(step.command)}${step.onEachNode ? '   # on each node' : ''}`;
      return step.why ? `# ${step.why}\n${line}` : line;
    })
    .join('\n');
}

export interface NodePlaces {
  readonly repoRoot: string;
  readonly valuesFile: string;
  readonly cniConfDir: string;
  readonly cniBinDir: string;
  /** The pods Multus attached, deleted by the POD... step. */
  readonly oldPods: readonly string[];
}

/** A step's command with the node's paths and files for the placeholders. */
export function forNode(step: GuideStep, places: NodePlaces): string[] {
  return step.command.flatMap((word) => {
    if (word === 'POD...') return [...places.oldPods];
    if (word === 'values.yaml') return [places.valuesFile];
    if (word.startsWith('charts/')) return [`${places.repoRoot}/${word}`];
    if (word.startsWith('/etc/cni/net.d/'))
      return [`${places.cniConfDir}/${word.slice('/etc/cni/net.d/'.length)}`];
    if (word.startsWith('/opt/cni/bin/'))
      return [`${places.cniBinDir}/${word.slice('/opt/cni/bin/'.length)}`];
    return [word];
  });
}
