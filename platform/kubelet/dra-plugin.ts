/**
 * A DRA driver's kubelet plugin, as the kubelet speaks to it (k8s.io/kubelet pluginregistration/v1 and
 * dra/v1): one gRPC socket in the kubelet's plugin registry dir that serves both the Registration
 * service (GetInfo: "DRAPlugin", the driver's name, the services it offers; NotifyRegistrationStatus)
 * and the DRAPlugin service (NodePrepareResources, NodeUnprepareResources), so the kubelet finds the
 * plugin when the socket appears and calls it at the same path. Messages are encoded and decoded here
 * by field number (no generated code): what happens to a claim is the handlers' business.
 *
 * Wire (dra/v1): NodePrepareResourcesRequest {repeated Claim claims = 1}; Claim {namespace = 1,
 * uid = 2, name = 3}; NodePrepareResourcesResponse {map<string, NodePrepareResourceResponse> claims =
 * 1}; NodePrepareResourceResponse {repeated Device devices = 1; error = 2}; Device {repeated
 * request_names = 1; pool_name = 2; device_name = 3; repeated cdi_device_ids = 4; optional share_id =
 * 5}; NodeUnprepareResourcesResponse {map<string, NodeUnprepareResourceResponse{error = 1}> claims = 1}.
 * pluginregistration: PluginInfo {type = 1; name = 2; endpoint = 3; repeated supported_versions = 4};
 * RegistrationStatus {bool plugin_registered = 1; error = 2}.
 */
import {
  createGrpcServer,
  GrpcStatusError,
  grpcStatus,
  type GrpcServer,
  type UnaryMethod,
} from './grpc-server.ts';
import { ProtoReader, ProtoWriter } from './protobuf.ts';

/** The gRPC services this plugin offers, as the kubelet names them when it picks one. */
export const draPluginService = 'v1.DRAPlugin';

export const kubeletPluginMethods = {
  getInfo: '/pluginregistration.Registration/GetInfo',
  notifyRegistrationStatus: '/pluginregistration.Registration/NotifyRegistrationStatus',
  nodePrepareResources: '/k8s.io.kubelet.pkg.apis.dra.v1.DRAPlugin/NodePrepareResources',
  nodeUnprepareResources: '/k8s.io.kubelet.pkg.apis.dra.v1.DRAPlugin/NodeUnprepareResources',
} as const;

/** A claim the kubelet asks about: namespace, UID and name of the ResourceClaim. */
export interface DraClaim {
  readonly namespace: string;
  readonly uid: string;
  readonly name: string;
}

/** One device of a prepared claim, for the kubelet (no CDI devices: networks need none). */
export interface PreparedDevice {
  readonly requestNames: readonly string[];
  readonly poolName: string;
  readonly deviceName: string;
  readonly cdiDeviceIds?: readonly string[];
  readonly shareId?: string;
}

/** A claim's outcome: its devices, or why it could not be prepared (the kubelet asks again later). */
export type PrepareOutcome = { readonly devices: readonly PreparedDevice[] } | { readonly error: string };

export interface DraPluginHandlers {
  prepare(claims: readonly DraClaim[], signal: AbortSignal): Promise<ReadonlyMap<string, PrepareOutcome>>;
  /** Per claim UID: undefined when done, else why not. */
  unprepare(
    claims: readonly DraClaim[],
    signal: AbortSignal,
  ): Promise<ReadonlyMap<string, string | undefined>>;
  /** The kubelet's verdict on the registration. */
  registered?(registered: boolean, error: string): void;
}

export interface DraPluginOptions {
  readonly driverName: string;
  /** The socket's path (in the kubelet's plugins_registry dir): also the DRA service's endpoint. */
  readonly socketPath: string;
  readonly handlers: DraPluginHandlers;
  readonly onError?: (method: string, err: unknown) => void;
}

/** Reads the repeated Claim field of a Node(Un)PrepareResourcesRequest. */
export function decodeClaims(request: Uint8Array): DraClaim[] {
  const claims: DraClaim[] = [];
  const top = new ProtoReader(request);
  for (let tag = top.next(); tag; tag = top.next()) {
    if (tag.field !== 1 || !ProtoReader.isDelimited(tag)) {
      top.skip(tag.wireType);
      continue;
    }
    const claim = top.message();
    const fields = { namespace: '', uid: '', name: '' };
    for (let field = claim.next(); field; field = claim.next()) {
      const key = ({ 1: 'namespace', 2: 'uid', 3: 'name' } as const)[field.field as 1 | 2 | 3];
      if (key && ProtoReader.isDelimited(field)) fields[key] = claim.string();
      else claim.skip(field.wireType);
    }
    claims.push(fields);
  }
  return claims;
}

function encodeDevice(device: PreparedDevice): ProtoWriter {
  return new ProtoWriter()
    .strings(1, device.requestNames)
    .string(2, device.poolName)
    .string(3, device.deviceName)
    .strings(4, device.cdiDeviceIds ?? [])
    .string(5, device.shareId, device.shareId !== undefined);
}

function encodePrepareResponse(outcomes: ReadonlyMap<string, PrepareOutcome>): Buffer {
  const out = new ProtoWriter();
  for (const [uid, outcome] of outcomes) {
    const value = new ProtoWriter();
    if ('error' in outcome) value.string(2, outcome.error || 'failed');
    else for (const device of outcome.devices) value.message(1, encodeDevice(device));
    out.message(1, new ProtoWriter().string(1, uid, true).message(2, value));
  }
  return out.finish();
}

function encodeUnprepareResponse(outcomes: ReadonlyMap<string, string | undefined>): Buffer {
  const out = new ProtoWriter();
  for (const [uid, error] of outcomes)
    out.message(1, new ProtoWriter().string(1, uid, true).message(2, new ProtoWriter().string(1, error)));
  return out.finish();
}

/** The PluginInfo the kubelet reads at registration. */
function encodePluginInfo(options: DraPluginOptions): Buffer {
  return new ProtoWriter()
    .string(1, 'DRAPlugin')
    .string(2, options.driverName)
    .string(3, options.socketPath)
    .strings(4, [draPluginService])
    .finish();
}

function decodeRegistrationStatus(request: Uint8Array): { registered: boolean; error: string } {
  const status = { registered: false, error: '' };
  const reader = new ProtoReader(request);
  for (let tag = reader.next(); tag; tag = reader.next()) {
    if (tag.field === 1 && tag.wireType === 0) status.registered = reader.varint() !== 0;
    else if (tag.field === 2 && ProtoReader.isDelimited(tag)) status.error = reader.string();
    else reader.skip(tag.wireType);
  }
  return status;
}

/** The plugin's gRPC server (both services); listen on options.socketPath with listenUnixSocket. */
export function createDraPluginServer(options: DraPluginOptions): GrpcServer {
  const decode = (request: Buffer): DraClaim[] => {
    try {
      return decodeClaims(request);
    } catch (err) {
      throw new GrpcStatusError(grpcStatus.invalidArgument, `undecodable request: ${String(err)}`);
    }
  };
  const methods: Record<string, UnaryMethod> = {
    [kubeletPluginMethods.getInfo]: () => encodePluginInfo(options),
    [kubeletPluginMethods.notifyRegistrationStatus]: (request) => {
      const status = decodeRegistrationStatus(request);
      options.handlers.registered?.(status.registered, status.error);
      return new Uint8Array(0);
    },
    [kubeletPluginMethods.nodePrepareResources]: async (request, signal) =>
      encodePrepareResponse(await options.handlers.prepare(decode(request), signal)),
    [kubeletPluginMethods.nodeUnprepareResources]: async (request, signal) =>
      encodeUnprepareResponse(await options.handlers.unprepare(decode(request), signal)),
  };
  return createGrpcServer({ methods, ...(options.onError ? { onError: options.onError } : {}) });
}
