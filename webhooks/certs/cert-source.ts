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
