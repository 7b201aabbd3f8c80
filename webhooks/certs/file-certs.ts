/**
 * Serving certificates from files (cert-manager, or any mounted kubernetes.io/tls Secret): read at
 * start, then reloaded when the files change (the directories are watched, since the kubelet swaps a
 * Secret volume's files through a symlink) and on a periodic check as a fallback. A new pair whose key
 * does not match its certificate (a half-written update) is ignored until the pair is consistent.
 */
import { dirname } from 'node:path';
import type { Logger } from 'winston';
import { errorMessage } from '../../lib/errors.ts';
import { HeldCertSource } from './cert-source.ts';
import { keyMatches, tryInspect, type ServingCertificate } from './serving-cert.ts';

export interface FileCertOptions {
  readonly certFile: string;
  readonly keyFile: string;
  /** Optional CA bundle file (what the ValidatingWebhookConfiguration trusts). */
  readonly caFile?: string | undefined;
  /** Fallback re-read interval. Default 60 s. */
  readonly pollIntervalMs?: number;
}

export interface FileCertDeps {
  readonly readFile: (path: string) => Promise<string>;
  /** Watches a directory; returns a function that stops watching (platform/nodejs/watch.ts). */
  readonly watchDir: (dir: string, onChange: () => void) => () => void;
  readonly log: Logger;
}

export class FileCerts extends HeldCertSource {
  private readonly options: FileCertOptions;
  private readonly deps: FileCertDeps;
  private readonly stops: Array<() => void> = [];
  private timer: NodeJS.Timeout | undefined;
  private reading: Promise<void> | undefined;

  constructor(options: FileCertOptions, deps: FileCertDeps) {
    super();
    this.options = options;
    this.deps = deps;
  }

  async start(): Promise<ServingCertificate> {
    const first = await this.read();
    this.certificate.set(first);
    this.deps.log.info('serving certificate loaded from files', {
      certFile: this.options.certFile,
      serial: tryInspect(first.certPem)?.serialNumber,
    });
    const dirs = new Set([dirname(this.options.certFile), dirname(this.options.keyFile)]);
    if (this.options.caFile) dirs.add(dirname(this.options.caFile));
    for (const dir of dirs) this.stops.push(this.deps.watchDir(dir, () => void this.reload()));
    this.timer = setInterval(() => void this.reload(), this.options.pollIntervalMs ?? 60_000);
    this.timer.unref();
    return first;
  }

  stop(): void {
    clearInterval(this.timer);
    for (const stop of this.stops.splice(0)) stop();
  }

  /** Reads the files again and loads them when they changed and are consistent. */
  reload(): Promise<void> {
    this.reading ??= this.reloadNow().finally(() => (this.reading = undefined));
    return this.reading;
  }

  private async reloadNow(): Promise<void> {
    let next: ServingCertificate;
    try {
      next = await this.read();
    } catch (err) {
      this.deps.log.warn('serving certificate files are not usable; keeping the loaded certificate', {
        error: errorMessage(err),
      });
      return;
    }
    const current = this.certificate.current;
    if (
      current &&
      current.certPem === next.certPem &&
      current.keyPem === next.keyPem &&
      current.caBundlePem === next.caBundlePem
    ) {
      return;
    }
    this.deps.log.info('serving certificate reloaded from files', {
      serial: tryInspect(next.certPem)?.serialNumber,
    });
    this.certificate.set(next);
  }

  private async read(): Promise<ServingCertificate> {
    const { certFile, keyFile, caFile } = this.options;
    const [certPem, keyPem, caBundlePem] = await Promise.all([
      this.deps.readFile(certFile),
      this.deps.readFile(keyFile),
      caFile ? this.deps.readFile(caFile) : Promise.resolve(undefined),
    ]);
    if (!tryInspect(certPem)) throw new Error(`${certFile} holds no PEM certificate`);
    if (!keyMatches(certPem, keyPem)) throw new Error(`${keyFile} is not the private key of ${certFile}`);
    return { certPem, keyPem, ...(caBundlePem ? { caBundlePem } : {}) };
  }
}
