/**
 * AdmissionReview admission.k8s.io/v1: the request the API server sends to a validating webhook and
 * the response it expects back. Only the fields multinet reads are typed.
 */
import { isObject } from '../lib/safe-json.ts';
import type { Verdict } from './verdict.ts';

const admissionApiVersion = 'admission.k8s.io/v1';
const admissionKind = 'AdmissionReview';

export type Operation = 'CREATE' | 'UPDATE' | 'DELETE' | 'CONNECT';

export interface GroupVersionResource {
  readonly group: string;
  readonly version: string;
  readonly resource: string;
}

export interface AdmissionRequest {
  readonly uid: string;
  readonly kind?: { readonly group: string; readonly version: string; readonly kind: string };
  readonly resource: GroupVersionResource;
  readonly subResource?: string;
  readonly name?: string;
  readonly namespace?: string;
  readonly operation: Operation;
  readonly userInfo?: { readonly username?: string };
  /** The object as it would be stored (CREATE, UPDATE). */
  readonly object?: unknown;
  /** The object as stored now (UPDATE, DELETE). */
  readonly oldObject?: unknown;
  readonly dryRun?: boolean;
}

export interface AdmissionReview {
  readonly apiVersion: string;
  readonly kind: string;
  readonly request: AdmissionRequest;
}

export interface AdmissionResponse {
  readonly uid: string;
  readonly allowed: boolean;
  readonly status?: { readonly code: number; readonly message: string; readonly reason?: string };
  readonly warnings?: string[];
  readonly patchType?: 'JSONPatch';
  /** The JSON patch, base64. */
  readonly patch?: string;
}

export interface AdmissionReviewResponse {
  readonly apiVersion: string;
  readonly kind: string;
  readonly response: AdmissionResponse;
}

/**
 * The API server shows at most a few warnings well; each becomes an HTTP Warning header, whose total
 * size is bounded (4 KiB per warning, and the whole response header). Keep them few and short.
 */
export const maxWarnings = 16;
const maxWarningLength = 512;

const operations = new Set<string>(['CREATE', 'UPDATE', 'DELETE', 'CONNECT']);

/** Why `body` is not an AdmissionReview v1 request, or undefined when it is one. */
export function admissionReviewError(body: unknown): string | undefined {
  if (!isObject(body)) return 'the body is not a JSON object';
  if (body.apiVersion !== admissionApiVersion || body.kind !== admissionKind) {
    return `expected apiVersion ${admissionApiVersion} kind ${admissionKind}, got apiVersion ${JSON.stringify(body.apiVersion)} kind ${JSON.stringify(body.kind)}`;
  }
  const request = body.request;
  if (!isObject(request)) return 'request is missing';
  if (typeof request.uid !== 'string' || request.uid === '') return 'request.uid is missing';
  if (typeof request.operation !== 'string' || !operations.has(request.operation)) {
    return `request.operation ${JSON.stringify(request.operation)} is not one of CREATE, UPDATE, DELETE, CONNECT`;
  }
  const resource = request.resource;
  if (!isObject(resource) || typeof resource.resource !== 'string' || typeof resource.group !== 'string') {
    return 'request.resource must be {group, version, resource}';
  }
  return undefined;
}

function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 3)}...`;
}

/** The response to a review: the request's uid echoed, the verdict, a 403 status on denial. */
export function reviewResponse(uid: string, verdict: Verdict): AdmissionReviewResponse {
  const warnings = verdict.warnings.slice(0, maxWarnings).map((w) => clip(w, maxWarningLength));
  if (verdict.warnings.length > maxWarnings) {
    warnings[maxWarnings - 1] = `${verdict.warnings.length - maxWarnings + 1} more warnings not shown`;
  }
  const code = verdict.code ?? 403;
  return {
    apiVersion: admissionApiVersion,
    kind: admissionKind,
    response: {
      uid,
      allowed: verdict.allowed,
      ...(verdict.allowed
        ? {}
        : {
            status: {
              code,
              message: verdict.message ?? 'denied',
              ...(code === 403 ? { reason: 'Forbidden' } : {}),
            },
          }),
      ...(warnings.length > 0 ? { warnings } : {}),
      ...(verdict.allowed && verdict.patch && verdict.patch.length > 0
        ? {
            patchType: 'JSONPatch' as const,
            patch: Buffer.from(JSON.stringify(verdict.patch)).toString('base64'),
          }
        : {}),
    },
  };
}

/** `group/resource` as metrics and logs name it ("pods", "k8s.cni.cncf.io/network-attachment-definitions"). */
export function resourceName(resource: GroupVersionResource): string {
  return resource.group === '' ? resource.resource : `${resource.group}/${resource.resource}`;
}
