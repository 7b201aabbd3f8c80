/**
 * The kubelet's pod-resources API (k8s.io/kubelet podresources v1, `List`), as the node agent asks it:
 * which devices of which resource the kubelet allocated to one pod. One List per call (Multus' way:
 * the kubelet's Get is newer), decoded without generated code: only the fields read here
 * (PodResources.name = 1, namespace = 2, containers = 3; ContainerResources.devices = 2;
 * ContainerDevices.resource_name = 1, device_ids = 2), other pods skipped after their name.
 */
import { sortedDevices, type PodDevices } from '../../lib/devices.ts';
import { GrpcError, UnixGrpcClient } from './grpc-client.ts';
import { ProtoReader } from './protobuf.ts';

/** Where the kubelet serves the API by default (its root dir /var/lib/kubelet). */
export const defaultPodResourcesSocket = '/var/lib/kubelet/pod-resources/kubelet.sock';

const listMethod = '/v1.PodResourcesLister/List';

/** ContainerDevices: resource_name = 1, device_ids = 2 (topology = 3 is skipped). */
function readContainerDevices(reader: ProtoReader, into: Map<string, string[]>): void {
  let resource = '';
  const ids: string[] = [];
  for (let tag = reader.next(); tag; tag = reader.next()) {
    if (tag.field === 1 && ProtoReader.isDelimited(tag)) resource = reader.string();
    else if (tag.field === 2 && ProtoReader.isDelimited(tag)) ids.push(reader.string());
    else reader.skip(tag.wireType);
  }
  if (!resource) return;
  const list = into.get(resource);
  if (list) list.push(...ids);
  else into.set(resource, ids);
}

/** ContainerResources: devices = 2. */
function readContainer(reader: ProtoReader, into: Map<string, string[]>): void {
  for (let tag = reader.next(); tag; tag = reader.next()) {
    if (tag.field === 2 && ProtoReader.isDelimited(tag)) readContainerDevices(reader.message(), into);
    else reader.skip(tag.wireType);
  }
}

/**
 * The devices of pod namespace/name in a ListPodResourcesResponse, by resource name, every
 * container's together, sorted (see lib/devices.ts). A pod the answer does not list has none. Other
 * pods cost a byte comparison of their name and namespace: nothing of theirs is decoded.
 */
export function podDevicesFromList(response: Uint8Array, namespace: string, name: string): PodDevices {
  const found = new Map<string, string[]>();
  const wantedName = Buffer.from(name);
  const wantedNamespace = Buffer.from(namespace);
  const top = new ProtoReader(response);
  for (let tag = top.next(); tag; tag = top.next()) {
    if (tag.field !== 1 || !ProtoReader.isDelimited(tag)) {
      top.skip(tag.wireType);
      continue;
    }
    const bounds = top.delimited();
    if (top.startsWithOther(bounds.start, bounds.end, 1, wantedName)) continue;
    const pod = top.sub(bounds.start, bounds.end);
    let nameMatches = false;
    let namespaceMatches = false;
    let other = false;
    const containers: Array<{ start: number; end: number }> = [];
    for (let field = pod.next(); field && !other; field = pod.next()) {
      // A name or namespace that differs settles it: the rest of this pod is not read.
      if (field.field === 1 && ProtoReader.isDelimited(field))
        other = !(nameMatches = pod.bytesEqual(wantedName));
      else if (field.field === 2 && ProtoReader.isDelimited(field))
        other = !(namespaceMatches = pod.bytesEqual(wantedNamespace));
      else if (field.field === 3 && ProtoReader.isDelimited(field)) containers.push(pod.delimited());
      else pod.skip(field.wireType);
    }
    if (other || !nameMatches || !namespaceMatches) continue;
    for (const { start, end } of containers) readContainer(top.sub(start, end), found);
  }
  return sortedDevices(found);
}

export type PodResourcesOutcome = 'ok' | 'error';

export interface PodResourcesOptions {
  readonly socketPath: string;
  readonly timeoutMs: number;
  /** Told about each List: its outcome and seconds from the call to the decoded answer. */
  readonly observe?: (outcome: PodResourcesOutcome, seconds: number) => void;
}

/** Why asking the kubelet failed, in a sentence that names the socket. */
export class PodResourcesError extends Error {
  readonly failure: GrpcError['failure'];
  constructor(failure: GrpcError['failure'], message: string) {
    super(message);
    this.failure = failure;
  }
}

export class PodResourcesClient {
  private readonly options: PodResourcesOptions;
  private readonly grpc: UnixGrpcClient;

  constructor(options: PodResourcesOptions) {
    this.options = options;
    this.grpc = new UnixGrpcClient(options.socketPath);
  }

  /** The devices the kubelet allocated to the pod, by resource (one List call). */
  async devicesOf(pod: { readonly namespace: string; readonly name: string }): Promise<PodDevices> {
    const started = performance.now();
    try {
      const answer = await this.grpc.unary({
        method: listMethod,
        message: new Uint8Array(0),
        timeoutMs: this.options.timeoutMs,
      });
      const devices = podDevicesFromList(answer, pod.namespace, pod.name);
      this.options.observe?.('ok', (performance.now() - started) / 1000);
      return devices;
    } catch (err) {
      this.options.observe?.('error', (performance.now() - started) / 1000);
      if (err instanceof GrpcError) {
        throw new PodResourcesError(err.failure, `the kubelet's pod-resources socket ${err.message}`);
      }
      throw new PodResourcesError(
        'protocol',
        `the kubelet's pod-resources socket ${this.options.socketPath} sent an answer that is not a ListPodResourcesResponse: ${err instanceof Error ? err.message : String(err)}`,
      );
    }
  }

  close(): void {
    this.grpc.close();
  }
}
