/**
 * The DRA driver networks.multinet.io, in the agent (loaded only with --dra: the gRPC server loads
 * node:http2): it publishes the node's usable NADs as devices (slice-publisher.ts, kept current by a
 * watch on the node's slices), serves the kubelet's plugin socket (registration and DRA in one,
 * platform/kubelet/dra-plugin.ts), and prepares claims (claim-preparer.ts: which NAD each allocated
 * device is, with the claim's opaque config, recorded by claim-store.ts). The attach itself happens in
 * the sandbox's CNI ADD, which the agent already serves: the claims' networks come after the
 * annotation's, and the claims' status is written after it (claim-status.ts). Unpreparing forgets the
 * claim; the DEL before it detached it.
 *
 * Why in the agent and not a process beside it: the kubelet's plugin API is two unary gRPC services on a
 * unix socket, which node:http2 serves as it already serves the pod-resources client (no gRPC library);
 * the claims' networks must reach the agent's ADD anyway, and one process needs one ServiceAccount, one
 * node identity and no second socket between them.
 */
import { join } from 'node:path';
import type { Server } from 'node:net';
import type { Logger } from 'winston';
import { draDriver, resourceSlicesPath, type ResourceSlice, type UsableNetwork } from '../../lib/dra.ts';
import { errorMessage } from '../../lib/errors.ts';
import type { FileSystem } from '../../lib/ports.ts';
import { ResilientInformer } from '../../platform/kube/informer.ts';
import type { KubeClient } from '../../platform/kube/rest.ts';
import { createDraPluginServer } from '../../platform/kubelet/dra-plugin.ts';
import type { PodInfo, PodRef } from '../network-source.ts';
import type { ClaimStatusSink } from '../pod-attacher.ts';
import type { ClaimNetworkSource } from '../resolve.ts';
import { ClaimStatusWriter } from './claim-status.ts';
import { ClaimPreparer } from './claim-preparer.ts';
import { ClaimStore } from './claim-store.ts';
import { nodeSliceSelector, SlicePublisher } from './slice-publisher.ts';

/** The plugin socket's name in the kubelet's plugins_registry dir. */
export const draSocketName = `${draDriver}.sock`;

export interface DraDriverOptions {
  readonly client: KubeClient;
  readonly nodeName: string;
  readonly stateDir: string;
  /** The kubelet's plugin registration dir (/var/lib/kubelet/plugins_registry). */
  readonly registryDir: string;
  readonly fs: FileSystem;
  readonly log: Logger;
  /** The NADs the agent holds ("namespace/name"), to tell which NAD an allocated device is. */
  readonly networks: () => ReadonlyArray<{ readonly namespace: string; readonly name: string }>;
}

/** How the entry point listens (platform/nodejs/listen.ts's listenUnixSocket). */
export type ListenUnix = (server: Server, path: string) => Promise<{ close(): Promise<void> }>;

export interface DraDriver {
  /** For the agent: the networks of a pod's prepared claims, and where their attachments are reported. */
  readonly claims: ClaimNetworkSource & ClaimStatusSink;
  readonly socketPath: string;
  /** The networks usable on the node (the node reporter calls it). */
  publish(networks: readonly UsableNetwork[]): void;
  /** Loads the prepared claims, starts watching the node's slices and serves the kubelet's socket. */
  start(listen: ListenUnix): Promise<void>;
  stop(): Promise<void>;
}

export function createDraDriver(options: DraDriverOptions): DraDriver {
  const { client, nodeName, log } = options;
  const store = new ClaimStore(options.fs, options.stateDir, log.child({ component: 'dra-claims' }));
  const publisher = new SlicePublisher({ client, nodeName, log: log.child({ component: 'dra-slices' }) });
  const writer = new ClaimStatusWriter({ client, log: log.child({ component: 'dra-status' }) });
  const socketPath = join(options.registryDir, draSocketName);
  // Which slice changed is all the publisher needs to hear: metadata only.
  const slices = new ResilientInformer<Pick<ResourceSlice, 'metadata'>>({
    client,
    path: resourceSlicesPath,
    fieldSelector: nodeSliceSelector(nodeName),
    metadataOnly: true,
    log: log.child({ informer: 'resourceslices' }),
  });
  slices.on('add', (slice) => publisher.observed(slice, false));
  slices.on('update', (slice) => publisher.observed(slice, false));
  slices.on('delete', (slice) => publisher.observed(slice, true));
  const preparer = new ClaimPreparer({
    client,
    nodeName,
    store,
    networks: options.networks,
    log: log.child({ component: 'dra-prepare' }),
  });

  const server = createDraPluginServer({
    driverName: draDriver,
    socketPath,
    handlers: {
      prepare: (claims) => preparer.prepare(claims),
      unprepare: (claims) => preparer.unprepare(claims),
      registered(ok, error) {
        if (ok) log.info('the kubelet registered the DRA driver', { driver: draDriver, socket: socketPath });
        else log.error('the kubelet refused the DRA driver', { driver: draDriver, error });
      },
    },
    onError: (method, err) => log.warn('a kubelet plugin call failed', { method, error: errorMessage(err) }),
  });
  let listener: { close(): Promise<void> } | undefined;

  return {
    claims: {
      networksOf: (pod: PodInfo) => store.networksOf(pod),
      attached: (pod, attachments) => writer.attached(pod, attachments),
      detached: (pod: PodRef, refs) => writer.detached(pod, refs),
    },
    socketPath,
    publish: (networks) => publisher.publish(networks),
    async start(listen) {
      const loaded = await store.load();
      if (loaded > 0) log.info('loaded prepared ResourceClaims', { count: loaded });
      void slices.start();
      listener = await listen(server.server, socketPath);
    },
    async stop() {
      publisher.stop();
      server.closeConnections();
      await listener?.close();
      await slices.stop();
      await writer.idle();
    },
  };
}
