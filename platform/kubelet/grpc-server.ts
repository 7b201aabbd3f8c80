/**
 * A unary gRPC server over HTTP/2 on a unix socket, with Node's own http2: what serving the kubelet's
 * plugin APIs takes (plugin registration, a DRA driver's NodePrepareResources), without a gRPC library.
 * Each method is a function from the request message's protobuf bytes to the answer's; the server
 * frames the answer and ends the stream with grpc-status 0 in the trailers. An unknown method is
 * answered UNIMPLEMENTED, a request that is not one gRPC message INVALID_ARGUMENT, a method that throws
 * (a GrpcStatusError, or anything: INTERNAL) with its status and message, and a request larger than
 * the limit RESOURCE_EXHAUSTED, all as trailers-only answers, as gRPC servers answer them.
 *
 * It listens where the caller says (platform/nodejs/listen.ts's listenUnixSocket: bound under a temp
 * name and renamed into place, so a watcher of the socket's dir sees it appear whole).
 */
import http2, {
  type Http2Server,
  type IncomingHttpHeaders,
  type ServerHttp2Session,
  type ServerHttp2Stream,
} from 'node:http2';
import { frame, grpcCodeNames } from './grpc-client.ts';

/** A gRPC status code with a message, thrown by a method to answer with it. */
export class GrpcStatusError extends Error {
  readonly code: number;
  constructor(code: number, message: string) {
    super(message);
    this.code = code;
  }
}

export const grpcStatus = {
  ok: 0,
  invalidArgument: 3,
  resourceExhausted: 8,
  unimplemented: 12,
  internal: 13,
} as const;

/** One unary method: the request's protobuf bytes in, the answer's out; `signal` aborts with the stream. */
export type UnaryMethod = (request: Buffer, signal: AbortSignal) => Promise<Uint8Array> | Uint8Array;

export interface GrpcServerOptions {
  /** Methods by path: "/package.Service/Method". */
  readonly methods: Readonly<Record<string, UnaryMethod>>;
  /** The largest request accepted (default 4 MiB, gRPC's default). */
  readonly maxRequestBytes?: number;
  /** Told about every call that fails (for logs). */
  readonly onError?: (method: string, err: unknown) => void;
}

/** grpc-message is percent-encoded (gRPC over HTTP/2: printable ASCII except '%'). */
function encodeMessage(message: string): string {
  return encodeURIComponent(message).replace(/%20/g, ' ');
}

function answerStatus(stream: ServerHttp2Stream, code: number, message: string): void {
  if (stream.destroyed || stream.closed) return;
  if (stream.headersSent) {
    stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR);
    return;
  }
  stream.respond(
    {
      ':status': 200,
      'content-type': 'application/grpc',
      'grpc-status': String(code),
      ...(message ? { 'grpc-message': encodeMessage(message) } : {}),
    },
    { endStream: true },
  );
}

export interface GrpcServer {
  /** Listen on it with listenUnixSocket. */
  readonly server: Http2Server;
  /**
   * Ends the clients' connections (calls in flight finish first): the kubelet keeps its connection,
   * and a server closes only once its connections are gone. Call it before closing the listener.
   */
  closeConnections(): void;
}

/** An HTTP/2 (cleartext) server answering gRPC unary calls. */
export function createGrpcServer(options: GrpcServerOptions): GrpcServer {
  const maxBytes = options.maxRequestBytes ?? 4 * 1024 * 1024;
  const server = http2.createServer();
  const sessions = new Set<ServerHttp2Session>();
  server.on('session', (session: ServerHttp2Session) => {
    sessions.add(session);
    session.on('error', () => undefined);
    session.once('close', () => sessions.delete(session));
  });
  server.on('stream', (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => {
    const path = String(headers[':path'] ?? '');
    const method = options.methods[path];
    const fail = (code: number, message: string, err?: unknown): void => {
      options.onError?.(path, err ?? new Error(`${grpcCodeNames[code] ?? code}: ${message}`));
      answerStatus(stream, code, message);
    };
    stream.on('error', () => undefined);
    if (
      headers[':method'] !== 'POST' ||
      !String(headers['content-type'] ?? '').startsWith('application/grpc')
    ) {
      stream.respond({ ':status': 415 }, { endStream: true });
      return;
    }
    if (!method) {
      stream.resume();
      fail(grpcStatus.unimplemented, `unknown method ${path}`);
      return;
    }
    const chunks: Buffer[] = [];
    let received = 0;
    let refused = false;
    stream.on('data', (chunk: Buffer) => {
      if (refused) return;
      received += chunk.length;
      if (received > maxBytes + 5) {
        refused = true;
        fail(grpcStatus.resourceExhausted, `the request is larger than ${maxBytes} bytes`);
        return;
      }
      chunks.push(chunk);
    });
    stream.on('end', () => {
      if (refused) return;
      const body = Buffer.concat(chunks, received);
      if (body.length < 5 || body[0] !== 0 || body.readUInt32BE(1) !== body.length - 5) {
        fail(grpcStatus.invalidArgument, 'the request is not one uncompressed gRPC message');
        return;
      }
      const aborted = new AbortController();
      stream.once('close', () => aborted.abort());
      Promise.resolve()
        .then(() => method(body.subarray(5), aborted.signal))
        .then(
          (answer) => {
            if (stream.destroyed || stream.closed) return;
            stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
            stream.once('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
            stream.end(frame(answer));
          },
          (err: unknown) =>
            err instanceof GrpcStatusError
              ? fail(err.code, err.message, err)
              : fail(grpcStatus.internal, err instanceof Error ? err.message : String(err), err),
        );
    });
  });
  return {
    server,
    closeConnections() {
      for (const session of sessions) {
        session.close();
        setTimeout(() => session.destroy(), 2000).unref();
      }
    },
  };
}
