/**
 * An informer that stays up: @kubernetes/client-node stops a ListWatch on any error other than 410
 * Gone, so this wrapper restarts it with exponential backoff (1 s to 30 s) and reports whether its
 * cache has been synced at least once (for /readyz).
 */
import {
  ListWatch,
  Watch,
  type KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
  type ObjectCache,
} from '@kubernetes/client-node';
import type { Logger } from 'winston';
import { Backoff } from '../../lib/backoff.ts';

export type InformerEvent = 'add' | 'update' | 'delete';

export interface InformerOptions<T extends KubernetesObject> {
  readonly kubeConfig: KubeConfig;
  /** The watch path, e.g. /apis/k8s.cni.cncf.io/v1/network-attachment-definitions. */
  readonly path: string;
  readonly list: () => Promise<KubernetesListObject<T>>;
  readonly labelSelector?: string | undefined;
  readonly fieldSelector?: string | undefined;
  readonly log: Logger;
  readonly minBackoffMs?: number;
  readonly maxBackoffMs?: number;
}

export class ResilientInformer<T extends KubernetesObject> {
  private readonly options: InformerOptions<T>;
  private readonly watch: ListWatch<T>;
  private readonly backoff: Backoff;
  private stopped = false;
  private restartTimer: NodeJS.Timeout | undefined;
  private hasSynced = false;
  private readonly syncWaiters: Array<() => void> = [];
  /** How many times the informer was restarted after an error. */
  restarts = 0;

  constructor(options: InformerOptions<T>) {
    this.options = options;
    this.backoff = new Backoff({
      baseMs: options.minBackoffMs ?? 1000,
      maxMs: options.maxBackoffMs ?? 30_000,
    });
    const list = async (): Promise<KubernetesListObject<T>> => {
      const result = await options.list();
      this.markSynced();
      return result;
    };
    this.watch = new ListWatch<T>(
      options.path,
      new Watch(options.kubeConfig),
      list,
      false,
      options.labelSelector,
      options.fieldSelector,
    );
    this.watch.on('error', (err: unknown) => this.onError(err));
    this.watch.on('connect', () => undefined);
  }

  get cache(): ObjectCache<T> {
    return this.watch;
  }

  get synced(): boolean {
    return this.hasSynced;
  }

  latestResourceVersion(): string {
    return this.watch.latestResourceVersion();
  }

  on(event: InformerEvent, callback: (object: T) => void): void {
    this.watch.on(event, callback);
  }

  /** Starts listing and watching; resolves once the first list has filled the cache. */
  async start(): Promise<void> {
    this.stopped = false;
    await this.watch.start();
    if (!this.hasSynced) await new Promise<void>((resolve) => this.syncWaiters.push(resolve));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.restartTimer);
    await this.watch.stop();
    for (const resolve of this.syncWaiters.splice(0)) resolve();
  }

  private markSynced(): void {
    this.backoff.reset();
    if (this.hasSynced) return;
    this.hasSynced = true;
    for (const resolve of this.syncWaiters.splice(0)) resolve();
  }

  private onError(err: unknown): void {
    if (this.stopped) return;
    const delay = this.backoff.next();
    this.options.log.warn('informer stopped on an error; restarting', {
      path: this.options.path,
      error: err instanceof Error ? err.message : String(err),
      retryInMs: delay,
    });
    clearTimeout(this.restartTimer);
    this.restartTimer = setTimeout(() => {
      if (this.stopped) return;
      this.restarts++;
      this.watch.start().catch((e: unknown) => this.onError(e));
    }, delay);
    this.restartTimer.unref();
  }
}
