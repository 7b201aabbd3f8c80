/**
 * Calls a node:http RequestListener without a socket: the request is a readable stream of the body
 * with method, url and headers, the response records what the handler writes. For tests that need
 * the agent's HTTP handler deterministic on the event loop (every step a promise or an immediate).
 */
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';

export interface MemoryAnswer {
  readonly status: number;
  readonly body: string;
}

export function callHandler(
  handler: RequestListener,
  method: string,
  url: string,
  body: string | Buffer,
  contentType?: string,
): Promise<MemoryAnswer> {
  return new Promise((resolve) => {
    const req = Object.assign(Readable.from(body.length > 0 ? [Buffer.from(body)] : []), {
      method,
      url,
      headers: {
        'content-length': String(Buffer.byteLength(body)),
        ...(contentType ? { 'content-type': contentType } : {}),
      },
    });
    let status = 0;
    const res = {
      headersSent: false,
      destroyed: false,
      writableFinished: false,
      writeHead(code: number) {
        status = code;
        this.headersSent = true;
        return this;
      },
      once() {
        return this;
      },
      off() {
        return this;
      },
      end(text?: string) {
        this.writableFinished = true;
        resolve({ status, body: text ?? '' });
        return this;
      },
    };
    handler(req as unknown as IncomingMessage, res as unknown as ServerResponse);
  });
}
