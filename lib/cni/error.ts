/** CNI error codes (CNI spec, "Error" section) and the error type that carries one to the runtime. */
export const CniErrorCode = {
  incompatibleVersion: 1,
  unsupportedField: 2,
  unknownContainer: 3,
  invalidEnvironment: 4,
  ioFailure: 5,
  decodeFailure: 6,
  invalidConfig: 7,
  tryAgainLater: 11,
  pluginNotAvailable: 50,
  limitedConnectivity: 51,
} as const;
export type CniErrorCode = (typeof CniErrorCode)[keyof typeof CniErrorCode];

/** The JSON a CNI plugin prints on stdout when it fails. */
export interface CniErrorJson {
  cniVersion: string;
  code: number;
  msg: string;
  details?: string;
}

export class CniError extends Error {
  readonly code: number;
  readonly details: string | undefined;

  constructor(code: number, msg: string, details?: string) {
    super(msg);
    this.name = 'CniError';
    this.code = code;
    this.details = details;
  }

  toJson(cniVersion: string): CniErrorJson {
    return {
      cniVersion,
      code: this.code,
      msg: this.message,
      ...(this.details ? { details: this.details } : {}),
    };
  }

  /**
   * Reads a plugin's error JSON; anything else becomes an I/O-failure error that quotes it. An error
   * must carry a code (a positive whole number): a plugin's 0 (or other non-code) becomes an I/O failure
   * whose details say what the plugin gave.
   */
  static fromOutput(text: string, fallbackMessage: string): CniError {
    try {
      const parsed = JSON.parse(text) as Partial<CniErrorJson>;
      if (typeof parsed.code === 'number' && typeof parsed.msg === 'string') {
        const details = typeof parsed.details === 'string' ? parsed.details : undefined;
        if (Number.isInteger(parsed.code) && parsed.code > 0)
          return new CniError(parsed.code, parsed.msg, details);
        return new CniError(
          CniErrorCode.ioFailure,
          parsed.msg,
          [details, `the plugin answered error code ${parsed.code}, which is no CNI error code`]
            .filter(Boolean)
            .join('; '),
        );
      }
    } catch {
      // not JSON: fall through and quote the text
    }
    const trimmed = text.trim();
    return new CniError(
      CniErrorCode.ioFailure,
      fallbackMessage,
      trimmed ? trimmed.slice(0, 2000) : undefined,
    );
  }
}

/** Any error as a CNI error: a CniError as it is, anything else as an I/O failure with its message. */
export function asCniError(err: unknown): CniError {
  if (err instanceof CniError) return err;
  return new CniError(CniErrorCode.ioFailure, err instanceof Error ? err.message : String(err));
}
