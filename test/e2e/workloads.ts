/** Reading the chart's rendered workloads: pod specs, containers, their args, and RBAC rules. */
import type { V1Container, V1PodSpec, V1PolicyRule } from '@kubernetes/client-node';
import { findObject, type KubeObject } from './helm.ts';

export type Component = 'controller' | 'webhook' | 'agent';

const workloadKinds: Record<Component, string> = {
  controller: 'Deployment',
  webhook: 'Deployment',
  agent: 'DaemonSet',
};

/** The component's Deployment or DaemonSet (labelled app.kubernetes.io/component). */
export function workload(objects: readonly KubeObject[], component: Component): KubeObject {
  const found = objects.find(
    (o) =>
      o.kind === workloadKinds[component] && o.metadata.labels?.['app.kubernetes.io/component'] === component,
  );
  if (!found) throw new Error(`no ${workloadKinds[component]} for the ${component}`);
  return found;
}

export function podSpec(object: KubeObject): V1PodSpec {
  return (object.spec as { template: { spec: V1PodSpec } }).template.spec;
}

export function podLabels(object: KubeObject): Record<string, string> {
  return (object.spec as { template: { metadata: { labels: Record<string, string> } } }).template.metadata
    .labels;
}

export function mainContainer(object: KubeObject): V1Container {
  const container = podSpec(object).containers[0];
  if (!container) throw new Error(`${object.kind} ${object.metadata.name} has no container`);
  return container;
}

/** The container's args after the subcommand (`controller`, `webhook`, `agent`). */
export function componentArgs(objects: readonly KubeObject[], component: Component): string[] {
  const [command, ...args] = mainContainer(workload(objects, component)).args ?? [];
  if (command !== component) throw new Error(`the ${component} runs "${String(command)}"`);
  return args;
}

/** Drops `--flag=value` and `--flag value` arguments of the named flags. */
export function withoutFlags(args: readonly string[], flags: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    const name = arg.split('=')[0]!.replace(/^--/, '');
    if (!flags.includes(name)) out.push(arg);
    else if (!arg.includes('=')) i++;
  }
  return out;
}

export function rulesOf(
  objects: readonly KubeObject[],
  kind: 'Role' | 'ClusterRole',
  name: string,
): V1PolicyRule[] {
  return (findObject(objects, kind, name).rules as V1PolicyRule[] | undefined) ?? [];
}

/** Every granted (group, resource, verb), with the names it is limited to ("*" = any). */
export function grants(rules: readonly V1PolicyRule[]): Set<string> {
  const out = new Set<string>();
  for (const rule of rules) {
    for (const group of rule.apiGroups ?? [])
      for (const resource of rule.resources ?? [])
        for (const verb of rule.verbs)
          for (const name of rule.resourceNames ?? ['*']) out.add(`${group}/${resource}:${verb}:${name}`);
  }
  return out;
}
