/**
 * The few fields of Kubernetes objects `multinet doctor` reads, as the API server returns them (JSON), and
 * what the agent's DaemonSet says about the nodes (its flags).
 */

export interface ObjectMeta {
  readonly name: string;
  readonly namespace?: string;
  readonly uid?: string;
  readonly labels?: Readonly<Record<string, string>>;
  readonly annotations?: Readonly<Record<string, string>>;
  readonly creationTimestamp?: string;
  readonly deletionTimestamp?: string;
}

export interface Condition {
  readonly type: string;
  readonly status: string;
  readonly reason?: string;
  readonly message?: string;
  readonly lastTransitionTime?: string;
}

export interface ContainerState {
  readonly waiting?: { readonly reason?: string; readonly message?: string };
  readonly running?: { readonly startedAt?: string };
  readonly terminated?: { readonly exitCode?: number; readonly reason?: string; readonly message?: string };
}

export interface ContainerStatus {
  readonly name: string;
  readonly ready?: boolean;
  readonly restartCount?: number;
  readonly state?: ContainerState;
  readonly lastState?: ContainerState;
}

export interface PodObject {
  readonly metadata: ObjectMeta;
  readonly spec?: { readonly nodeName?: string };
  readonly status?: {
    readonly phase?: string;
    readonly conditions?: readonly Condition[];
    readonly containerStatuses?: readonly ContainerStatus[];
    readonly initContainerStatuses?: readonly ContainerStatus[];
  };
}

export interface DaemonSetObject {
  readonly metadata: ObjectMeta;
  readonly spec?: {
    readonly selector?: { readonly matchLabels?: Readonly<Record<string, string>> };
    readonly template?: {
      readonly spec?: {
        readonly nodeSelector?: Readonly<Record<string, string>>;
        readonly containers?: ReadonlyArray<{ readonly name: string; readonly args?: readonly string[] }>;
      };
    };
  };
  readonly status?: {
    readonly desiredNumberScheduled?: number;
    readonly currentNumberScheduled?: number;
    readonly numberReady?: number;
  };
}

export interface DeploymentObject {
  readonly metadata: ObjectMeta;
  readonly spec?: {
    readonly replicas?: number;
    readonly template?: {
      readonly spec?: {
        readonly containers?: ReadonlyArray<{ readonly name: string; readonly args?: readonly string[] }>;
      };
    };
  };
  readonly status?: { readonly readyReplicas?: number; readonly replicas?: number };
}

export interface WebhookConfigurationObject {
  readonly metadata: ObjectMeta;
  readonly webhooks?: ReadonlyArray<{
    readonly name: string;
    readonly clientConfig?: { readonly caBundle?: string };
  }>;
}

export interface NodeObject {
  readonly metadata: ObjectMeta;
  readonly status?: { readonly conditions?: readonly Condition[] };
}

export interface NadObject {
  readonly metadata: ObjectMeta;
  readonly spec?: { readonly config?: string };
  readonly status?: {
    readonly conditions?: readonly Condition[];
    readonly nodes?: string;
    readonly pluginType?: string;
  };
}

export interface EventObject {
  readonly type?: string;
  readonly reason?: string;
  readonly message?: string;
  readonly count?: number;
  readonly firstTimestamp?: string;
  readonly lastTimestamp?: string;
  readonly eventTime?: string;
  readonly series?: { readonly count?: number; readonly lastObservedTime?: string };
  readonly source?: { readonly component?: string };
  readonly reportingComponent?: string;
  readonly metadata?: ObjectMeta;
}

/** The value of `--flag=value` (or `--flag value`) in a container's args; true for a bare `--flag`. */
export function flagValue(args: readonly string[] | undefined, flag: string): string | true | undefined {
  if (!args) return undefined;
  let found: string | true | undefined;
  args.forEach((arg, i) => {
    if (arg.startsWith(`--${flag}=`)) found = arg.slice(flag.length + 3);
    else if (arg === `--${flag}`) {
      const next = args[i + 1];
      found = next !== undefined && !next.startsWith('--') ? next : true;
    }
  });
  return found;
}

export function conditionOf(
  conditions: readonly Condition[] | undefined,
  type: string,
): Condition | undefined {
  return conditions?.find((c) => c.type === type);
}

export function keyOf(meta: ObjectMeta): string {
  return meta.namespace ? `${meta.namespace}/${meta.name}` : meta.name;
}
