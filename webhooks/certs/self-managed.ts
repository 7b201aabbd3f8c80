/**
 * Self-managed serving certificates: a CA and a serving certificate kept in a Secret (created when
 * missing, reused when valid, so every replica and every restart serves the same chain), renewed when
 * less than a third of their validity is left, the CA bundle written into the
 * ValidatingWebhookConfiguration, and the TLS server told about each new certificate.
 *
 * A new CA is trusted before it is used: the bundle holds the new and the previous CA, the
 * configuration is patched, and the server switches to a certificate from the new CA only after a
 * delay that lets the API server see the new bundle. Replicas race through resourceVersion
 * conflicts: the loser reads the winner's Secret and uses it.
 */
import type { Logger } from 'winston';
import { Backoff } from '../../lib/backoff.ts';
import { errorMessage } from '../../lib/errors.ts';
import { createCa, issueCertificate, type CertificateAuthority } from '../../platform/pki.ts';
import type { Clock } from '../../lib/ports.ts';
import { HeldCertSource } from './cert-source.ts';
import {
  coversNames,
  keyMatches,
  normalizePem,
  renewalDue,
  signedBy,
  splitPem,
  tryInspect,
  type ServingCertificate,
} from './serving-cert.ts';

/** The Secret's keys. */
export const secretKeys = {
  cert: 'tls.crt',
  key: 'tls.key',
  caCert: 'ca.crt',
  caKey: 'ca.key',
  bundle: 'ca-bundle.crt',
} as const;

export type SecretData = Readonly<Record<string, string>>;

export interface StoredSecret {
  /** Decoded values (PEM text). */
  readonly data: SecretData;
  readonly resourceVersion: string;
}

/** A write lost a race (HTTP 409): read again. */
export class ConflictError extends Error {
  constructor(message = 'conflict') {
    super(message);
    this.name = 'ConflictError';
  }
}

/** The Secret holding the CA and serving certificate. */
export interface SecretStore {
  read(): Promise<StoredSecret | undefined>;
  /** Throws ConflictError when it exists already. */
  create(data: SecretData): Promise<StoredSecret>;
  /** Throws ConflictError when resourceVersion is not current. */
  replace(data: SecretData, resourceVersion: string): Promise<StoredSecret>;
}

export type BundleSync = 'updated' | 'unchanged' | 'missing';

/** Where the CA bundle goes: the caBundle of every webhook of the ValidatingWebhookConfiguration. */
export interface CaBundleTarget {
  sync(caBundlePem: string): Promise<BundleSync>;
}

export interface SelfManagedOptions {
  readonly commonName: string;
  readonly dnsNames: readonly string[];
  readonly ipAddresses: readonly string[];
  readonly caValidityDays?: number;
  readonly certValidityDays?: number;
  /** Renew when less than this fraction of the validity is left. Default 1/3. */
  readonly renewFraction?: number;
  /** How often the Secret is read again and renewal checked. Default 5 minutes. */
  readonly checkIntervalMs?: number;
  /** Wait between trusting a new CA and serving a certificate from it. Default 10 s. */
  readonly caRolloverDelayMs?: number;
}

export interface SelfManagedDeps {
  readonly store: SecretStore;
  /** Where the bundle goes; none when nothing should be patched. */
  readonly target?: CaBundleTarget | undefined;
  readonly clock: Clock;
  readonly log: Logger;
}

interface Material {
  ca: CertificateAuthority | undefined;
  bundle: string[];
  cert: { certPem: string; keyPem: string } | undefined;
}

function decode(data: SecretData | undefined): Material {
  const caCert = data?.[secretKeys.caCert];
  const caKey = data?.[secretKeys.caKey];
  const caFacts = tryInspect(caCert);
  const ca =
    caCert && caKey && caFacts && keyMatches(caCert, caKey)
      ? {
          certPem: caCert,
          keyPem: caKey,
          notBefore: caFacts.notBefore,
          notAfter: caFacts.notAfter,
          serialNumber: caFacts.serialNumber,
        }
      : undefined;
  const cert = data?.[secretKeys.cert];
  const key = data?.[secretKeys.key];
  return {
    ca,
    bundle: splitPem(data?.[secretKeys.bundle] ?? ''),
    cert: cert && key && keyMatches(cert, key) ? { certPem: cert, keyPem: key } : undefined,
  };
}

function encode(material: Material): SecretData {
  return {
    [secretKeys.cert]: material.cert!.certPem,
    [secretKeys.key]: material.cert!.keyPem,
    [secretKeys.caCert]: material.ca!.certPem,
    [secretKeys.caKey]: material.ca!.keyPem,
    [secretKeys.bundle]: material.bundle.join(''),
  };
}

export interface ReconcileRequest {
  /** Issue a new serving certificate even if the current one is fine. */
  readonly renewCertificate?: boolean;
  /** Create a new CA (and certificate) even if the current one is fine. */
  readonly renewCa?: boolean;
}

export class SelfManagedCerts extends HeldCertSource {
  private readonly options: Required<SelfManagedOptions>;
  private readonly deps: SelfManagedDeps;
  private loadedSerial: string | undefined;
  private syncedBundle: string | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  private readonly abort = new AbortController();

  constructor(options: SelfManagedOptions, deps: SelfManagedDeps) {
    super();
    this.options = {
      caValidityDays: 5 * 365,
      certValidityDays: 365,
      renewFraction: 1 / 3,
      checkIntervalMs: 5 * 60_000,
      caRolloverDelayMs: 10_000,
      ...options,
    };
    this.deps = deps;
  }

  async start(): Promise<ServingCertificate> {
    const backoff = new Backoff({ baseMs: 1000, maxMs: 30_000 });
    for (;;) {
      try {
        await this.reconcile();
        break;
      } catch (err) {
        if (this.abort.signal.aborted) throw err;
        const retryInMs = backoff.next();
        this.deps.log.warn('could not set up the serving certificate; retrying', {
          error: errorMessage(err),
          retryInMs,
        });
        await this.deps.clock.sleep(retryInMs, this.abort.signal);
      }
    }
    this.timer = setInterval(() => {
      this.reconcile().catch((err: unknown) =>
        this.deps.log.error('serving certificate check failed; retrying at the next check', {
          error: errorMessage(err),
        }),
      );
    }, this.options.checkIntervalMs);
    this.timer.unref();
    return this.certificate.current!;
  }

  stop(): void {
    clearInterval(this.timer);
    this.abort.abort();
  }

  /** Issues a new serving certificate now (same CA) and loads it. */
  rotate(): Promise<ServingCertificate> {
    return this.reconcile({ renewCertificate: true });
  }

  /** Writes the bundle into the webhook configuration again (it changed, e.g. a Helm upgrade reset it). */
  resyncBundle(): Promise<void> {
    return this.serialized(async () => {
      this.syncedBundle = undefined;
      const bundle = this.certificate.current?.caBundlePem;
      if (bundle) await this.syncBundle(bundle);
    });
  }

  /** Reads the Secret, renews what is due, writes it back, syncs the bundle and loads the certificate. */
  reconcile(request: ReconcileRequest = {}): Promise<ServingCertificate> {
    return this.serialized(() => this.reconcileNow(request));
  }

  private serialized<T>(work: () => Promise<T>): Promise<T> {
    const run = this.queue.then(work, work);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async reconcileNow(request: ReconcileRequest): Promise<ServingCertificate> {
    const { store, log } = this.deps;
    let material: Material | undefined;
    let force = request;
    for (let attempt = 0; !material; attempt++) {
      const stored = await store.read();
      const next = decode(stored?.data);
      const changes = await this.renew(next, force);
      if (changes.length === 0) {
        material = next;
        break;
      }
      try {
        if (stored) await store.replace(encode(next), stored.resourceVersion);
        else await store.create(encode(next));
        log.info('serving certificate material written', { changes });
        material = next;
      } catch (err) {
        if (!(err instanceof ConflictError) || attempt >= 4) throw err;
        // Another replica wrote first: use what it wrote (its certificate is as fresh as ours).
        force = {};
      }
    }
    const bundle = material.bundle.join('');
    const bundleChanged = await this.syncBundle(bundle);
    const cert = { certPem: material.cert!.certPem, keyPem: material.cert!.keyPem, caBundlePem: bundle };
    const serial = tryInspect(cert.certPem)?.serialNumber;
    if (serial !== this.loadedSerial) {
      if (bundleChanged && this.certificate.current) {
        log.info('waiting for the API server to trust the new CA before serving its certificate', {
          delayMs: this.options.caRolloverDelayMs,
        });
        await this.deps.clock.sleep(this.options.caRolloverDelayMs, this.abort.signal);
      }
      const first = this.certificate.current === undefined;
      this.loadedSerial = serial;
      log.info(first ? 'serving certificate loaded' : 'serving certificate rotated', { serial });
      this.certificate.set(cert);
    }
    return cert;
  }

  /** Brings the material up to date in place; returns what changed. */
  private async renew(material: Material, request: ReconcileRequest): Promise<string[]> {
    const now = this.deps.clock.now();
    const { options } = this;
    const changes: string[] = [];
    const ca = material.ca;
    if (!ca || request.renewCa || renewalDue(ca, now, options.renewFraction)) {
      const fresh = await createCa(`${options.commonName} CA`, options.caValidityDays, new Date(now));
      // The previous CAs stay trusted until they expire: replicas may still serve their certificates.
      const previous = [...(ca ? [ca.certPem] : []), ...material.bundle].map(normalizePem);
      material.bundle = [...new Set([normalizePem(fresh.certPem), ...previous])].slice(0, 3);
      material.ca = fresh;
      material.cert = undefined;
      changes.push(ca ? 'renewed the CA' : 'created a CA');
    }
    const signer = material.ca!;
    // The bundle keeps the signing CA and drops expired ones.
    const bundle = material.bundle.filter((pem) => (tryInspect(pem)?.notAfter.getTime() ?? 0) > now);
    if (!bundle.includes(normalizePem(signer.certPem))) bundle.unshift(normalizePem(signer.certPem));
    if (bundle.join('') !== material.bundle.join('')) {
      material.bundle = bundle;
      changes.push('updated the CA bundle');
    }
    const current = material.cert;
    const facts = tryInspect(current?.certPem);
    const reason =
      !current || !facts
        ? 'issued a serving certificate'
        : request.renewCertificate
          ? 'rotated the serving certificate on request'
          : renewalDue(facts, now, options.renewFraction)
            ? 'renewed the serving certificate (less than a third of its validity left)'
            : !coversNames(facts, options.dnsNames, options.ipAddresses)
              ? 'reissued the serving certificate for new names'
              : !signedBy(current.certPem, signer.certPem)
                ? 'reissued the serving certificate from the current CA'
                : undefined;
    if (reason) {
      material.cert = await issueCertificate(
        signer,
        {
          commonName: options.commonName,
          dnsNames: options.dnsNames,
          ipAddresses: options.ipAddresses,
          usage: 'server',
          validityDays: options.certValidityDays,
        },
        new Date(now),
      );
      changes.push(reason);
    }
    return changes;
  }

  /** True when the target's bundle was changed. */
  private async syncBundle(bundle: string): Promise<boolean> {
    const target = this.deps.target;
    if (!target || bundle === this.syncedBundle) return false;
    const result = await target.sync(bundle);
    if (result === 'missing') {
      this.deps.log.warn(
        'the ValidatingWebhookConfiguration does not exist yet; its caBundle is set when it appears',
      );
      return false;
    }
    this.syncedBundle = bundle;
    if (result === 'updated') this.deps.log.info('caBundle of the ValidatingWebhookConfiguration updated');
    return result === 'updated';
  }
}
