/**
 * A CNI invocation as the runtime makes it (environment + stdin), in the wire form the shim
 * (cni/, Go) sends to the agent: the runtime's CNI_* variables and the network configuration from
 * stdin, forwarded unchecked. The agent checks them here, so the messages name the CNI_* variables.
 */
import { interfaceNameError } from '../annotations/interface-name.ts';
import { checkPodArgs, parseCniArgs } from './args.ts';
import { isObject, type JsonObject } from '../safe-json.ts';
import { CniError, CniErrorCode, type CniErrorJson } from './error.ts';

const cniCommands = ['ADD', 'DEL', 'CHECK', 'STATUS', 'GC', 'VERSION'] as const;
export type CniCommand = (typeof cniCommands)[number];

export interface CniRequest {
  readonly command: CniCommand;
  readonly containerId: string;
  readonly netns: string;
  readonly ifName: string;
  /** CNI_ARGS as given ("K8S_POD_NAMESPACE=ns;K8S_POD_NAME=name;..."). */
  readonly args: string;
  /** CNI_PATH: where the runtime looks for plugins. */
  readonly path: string;
  /** The network configuration from stdin. */
  readonly config: JsonObject;
}

/**
 * What the agent answers (HTTP 200, JSON): the result the shim prints as it is, already in the
 * request's cniVersion (null when the command has none), or the CNI error it prints, exiting 1.
 */
export type CniReply = { readonly result: JsonObject | null } | { readonly error: CniErrorJson };

/** The HTTP path the agent serves CNI requests on (over its unix socket). */
export const cniEndpoint = '/cni';

/**
 * The request header in which the shim sends the cniVersion it read from the runtime's configuration
 * (cni/transport.go), so that a request refused before its body is read is answered in that version.
 */
export const cniVersionHeader = 'cni-version';

/**
 * Version skew between the shim on a node and its agent (an upgrade rolling out, a shim left from another
 * install): the shim names its multinet version and the wire protocol it speaks (POST /cni, CniRequest,
 * CniReply), the agent names its version in every answer (cni/transport.go has the same names). Shims from
 * before these headers send neither and speak protocol 1. The agent refuses a protocol it does not speak,
 * naming both versions; the shim reports an answer it cannot read naming both versions.
 */
export const shimVersionHeader = 'multinet-shim-version';
export const agentVersionHeader = 'multinet-agent-version';
export const protocolHeader = 'multinet-protocol';
/** The wire protocol of this release, and those the agent serves. */
export const wireProtocol = 1;
export const servedProtocols: readonly number[] = [1];

/** The CNI spec's container ID form. */
const containerIdPattern = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/** Why id is not a container ID (it names the agent's cache files), or undefined. */
export function containerIdError(id: string): string | undefined {
  if (containerIdPattern.test(id) && id.length <= 1024) return undefined;
  return `${JSON.stringify(id.slice(0, 80))} must be alphanumeric, '_', '.' or '-'`;
}

/** Where the agent listens and keeps its state unless configured otherwise (cni/shim.go has the same defaults). */
export const defaultSocketPath = '/run/multinet/agent.sock';
export const defaultStateDir = '/var/lib/multinet';

/**
 * The file in which the agent records what ADD attached for (containerId, runtime ifName); the shim
 * checks it to tell whether a DEL has anything to clean while the agent is away (cni/shim.go CacheFile).
 */
export function attachmentCacheFile(stateDir: string, containerId: string, ifName: string): string {
  return `${stateDir.replace(/\/+$/, '')}/attachments/${containerId}_${ifName}.json`;
}

function isCommand(value: unknown): value is CniCommand {
  return typeof value === 'string' && (cniCommands as readonly string[]).includes(value);
}

function invalid(message: string): CniError {
  return new CniError(CniErrorCode.invalidEnvironment, message);
}

/**
 * Checks the fields the CNI spec requires for each command, and every value that becomes part of a
 * path (container ID, interface name, the pod's namespace and name, the netns), here where they enter.
 */
function checkCniRequest(request: CniRequest): CniRequest {
  const { command } = request;
  if (command === 'VERSION') return request;
  if (command === 'ADD' || command === 'DEL' || command === 'CHECK') {
    if (!request.containerId) throw invalid(`CNI_CONTAINERID is required for ${command}`);
    const idError = containerIdError(request.containerId);
    if (idError) throw invalid(`CNI_CONTAINERID ${idError}`);
    if (!request.ifName) throw invalid(`CNI_IFNAME is required for ${command}`);
    const ifError = interfaceNameError(request.ifName);
    if (ifError) throw invalid(`CNI_IFNAME ${ifError}`);
    if (command !== 'DEL' && !request.netns) throw invalid(`CNI_NETNS is required for ${command}`);
  }
  if (request.netns && (!request.netns.startsWith('/') || request.netns.includes('\0'))) {
    throw invalid(`CNI_NETNS ${JSON.stringify(request.netns.slice(0, 200))} must be an absolute path`);
  }
  checkPodArgs(parseCniArgs(request.args), containerIdError);
  if (!request.path) throw invalid(`CNI_PATH is required for ${command}`);
  return request;
}

/** Validates a request received on the agent's socket. */
export function parseCniRequest(value: unknown): CniRequest {
  if (!isObject(value) || !isObject(value.config)) {
    throw new CniError(
      CniErrorCode.decodeFailure,
      'the request must be a JSON object whose "config" (the network configuration on stdin) is an object',
    );
  }
  if (!isCommand(value.command)) {
    throw invalid(
      `CNI_COMMAND must be one of ${cniCommands.join(', ')} (got ${JSON.stringify(value.command ?? '')})`,
    );
  }
  for (const key of ['containerId', 'netns', 'ifName', 'args', 'path'] as const) {
    if (value[key] !== undefined && typeof value[key] !== 'string') throw invalid(`${key} must be a string`);
  }
  return checkCniRequest({
    command: value.command,
    containerId: (value.containerId as string | undefined) ?? '',
    netns: (value.netns as string | undefined) ?? '',
    ifName: (value.ifName as string | undefined) ?? '',
    args: (value.args as string | undefined) ?? '',
    path: (value.path as string | undefined) ?? '',
    config: value.config,
  });
}
