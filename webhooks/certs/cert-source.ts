/** Where the serving certificate comes from: self-managed (a Secret) or files (cert-manager, a mounted Secret). */
import type { ServingCertificate } from './serving-cert.ts';

export interface CertSource {
  /** Obtains the first certificate (retrying until it has one or stop() is called). */
  start(): Promise<ServingCertificate>;
  current(): ServingCertificate | undefined;
  /** Called with each new certificate after the first. */
  onChange(listener: (cert: ServingCertificate) => void): void;
  stop(): void;
}

/** The current serving certificate and who wants to hear of the next one: what every CertSource keeps. */
export class CertificateHolder {
  private cert: ServingCertificate | undefined;
  private readonly listeners: Array<(cert: ServingCertificate) => void> = [];

  get current(): ServingCertificate | undefined {
    return this.cert;
  }

  onChange(listener: (cert: ServingCertificate) => void): void {
    this.listeners.push(listener);
  }

  /** Makes cert the current one; listeners hear of every certificate after the first. */
  set(cert: ServingCertificate): void {
    const first = this.cert === undefined;
    this.cert = cert;
    if (!first) for (const listener of this.listeners) listener(cert);
  }
}

/** A CertSource's shared half: the holder of the current certificate, and current() and onChange() over it. */
export abstract class HeldCertSource implements CertSource {
  protected readonly certificate = new CertificateHolder();

  abstract start(): Promise<ServingCertificate>;
  abstract stop(): void;

  current(): ServingCertificate | undefined {
    return this.certificate.current;
  }

  onChange(listener: (cert: ServingCertificate) => void): void {
    this.certificate.onChange(listener);
  }
}
