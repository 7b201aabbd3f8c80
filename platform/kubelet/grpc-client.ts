/**
 * A unary gRPC client over HTTP/2 on a unix socket, with Node's own http2: what asking the kubelet's
 * local gRPC APIs takes (one request message, one answer), without a gRPC library in the agent. It keeps
 * one HTTP/2 connection and opens a new one after the kubelet closed or restarted it. Every call is
 * bounded by a timeout (sent to the server as grpc-timeout, enforced here), answers larger than a
 * limit are refused, and failures say what went wrong at which socket: no such socket, nobody
 * listening, no answer in time, or the server's gRPC status.
 *
 * Wire format (gRPC over HTTP/2): POST /package.Service/Method, content-type application/grpc; the
 * body and the answer are length-prefixed messages (1 byte "compressed" = 0, 4 bytes big-endian
 * length, the protobuf bytes); the outcome is grpc-status (0 = OK) in the trailers, or in the headers
 * of a trailers-only answer.
 */
import http2, { type ClientHttp2Session, type IncomingHttpHeaders } from 'node:http2';
import { connect } from 'node:net';

/** gRPC status codes multinet names in messages. */
export const grpcCodeNames: Readonly<Record<number, string>> = {
  1: 'CANCELLED',
  2: 'UNKNOWN',
  3: 'INVALID_ARGUMENT',
  4: 'DEADLINE_EXCEEDED',
  5: 'NOT_FOUND',
  7: 'PERMISSION_DENIED',
  8: 'RESOURCE_EXHAUSTED',
  12: 'UNIMPLEMENTED',
  13: 'INTERNAL',
  14: 'UNAVAILABLE',
  16: 'UNAUTHENTICATED',
};

export type GrpcFailure =
  /** The socket file does not exist. */
  | 'no-socket'
  /** The socket exists but nothing accepts connections on it (or access is denied). */
  | 'unreachable'
  /** No complete answer within the timeout. */
  | 'timeout'
  /** The server answered with a gRPC status other than OK. */
  | 'status'
  /** The answer is not a gRPC answer, or too large. */
  | 'protocol';

export class GrpcError extends Error {
  readonly failure: GrpcFailure;
  /** The gRPC status code, for failure 'status'. */
  readonly code: number | undefined;

  constructor(failure: GrpcFailure, message: string, code?: number) {
    super(message);
    this.failure = failure;
    this.code = code;
  }
}

export interface UnaryCall {
  /** "/package.Service/Method". */
  readonly method: string;
  /** The request message's protobuf bytes. */
  readonly message: Uint8Array;
  readonly timeoutMs: number;
}

/** A message as gRPC sends it: 1 byte "not compressed", 4 bytes big-endian length, the bytes. */
export function frame(message: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(5 + message.length);
  out[0] = 0;
  out.writeUInt32BE(message.length, 1);
  out.set(message, 5);
  return out;
}

function statusOf(headers: IncomingHttpHeaders): { code: number; message: string } | undefined {
  const raw = headers['grpc-status'];
  if (raw === undefined) return undefined;
  const code = Number(Array.isArray(raw) ? raw[0] : raw);
  const text = headers['grpc-message'];
  let message = typeof text === 'string' ? text : '';
  try {
    message = decodeURIComponent(message);
  } catch {
    // a message that is not percent-encoded is shown as it came
  }
  return { code, message };
}

export class UnixGrpcClient {
  readonly socketPath: string;
  private readonly maxResponseBytes: number;
  private session: ClientHttp2Session | undefined;

  constructor(socketPath: string, options: { readonly maxResponseBytes?: number } = {}) {
    this.socketPath = socketPath;
    // As Multus' client of the same API: 16 MiB.
    this.maxResponseBytes = options.maxResponseBytes ?? 16 * 1024 * 1024;
  }

  /** Sends one request message and resolves with the answer message's protobuf bytes. */
  unary(call: UnaryCall): Promise<Buffer> {
    return new Promise<Buffer>((resolve, reject) => {
      const session = this.connection();
      let settled = false;
      const chunks: Buffer[] = [];
      let received = 0;
      let httpStatus: number | undefined;
      let grpcStatus: { code: number; message: string } | undefined;
      const settle = (error: GrpcError | undefined, value?: Buffer): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        session.off('error', onSessionError);
        if (!stream.closed) stream.close(http2.constants.NGHTTP2_CANCEL);
        if (error) {
          // A connection that failed or timed out is not reused.
          if (error.failure !== 'status') this.drop(session);
          reject(error);
        } else resolve(value!);
      };
      const onSessionError = (err: NodeJS.ErrnoException): void => settle(this.connectionError(err));
      session.on('error', onSessionError);
      const timer = setTimeout(
        () =>
          settle(
            new GrpcError(
              'timeout',
              `${this.socketPath} did not answer ${call.method} within ${call.timeoutMs} ms`,
            ),
          ),
        call.timeoutMs,
      );
      const stream = session.request({
        ':method': 'POST',
        ':path': call.method,
        'content-type': 'application/grpc',
        te: 'trailers',
        // The server's deadline a little later than ours: the caller hears "no answer in time" from here.
        'grpc-timeout': `${Math.ceil(call.timeoutMs) + 1000}m`,
      });
      stream.on('response', (headers) => {
        httpStatus = Number(headers[':status']);
        grpcStatus = statusOf(headers);
      });
      stream.on('trailers', (trailers: IncomingHttpHeaders) => {
        grpcStatus = statusOf(trailers) ?? grpcStatus;
      });
      stream.on('data', (chunk: Buffer) => {
        received += chunk.length;
        if (received > this.maxResponseBytes + 5) {
          settle(
            new GrpcError(
              'protocol',
              `the answer of ${this.socketPath} to ${call.method} is larger than ${this.maxResponseBytes} bytes`,
            ),
          );
          return;
        }
        chunks.push(chunk);
      });
      stream.on('error', (err: NodeJS.ErrnoException) => settle(this.connectionError(err)));
      stream.on('close', () => {
        if (settled) return;
        const where = `${this.socketPath} (${call.method})`;
        if (httpStatus === undefined) {
          settle(new GrpcError('unreachable', `${where} closed the stream without an answer`));
          return;
        }
        if (httpStatus !== 200) {
          settle(new GrpcError('protocol', `${where} answered HTTP ${httpStatus}, not a gRPC answer`));
          return;
        }
        if (!grpcStatus) {
          settle(new GrpcError('protocol', `${where} answered without a grpc-status`));
          return;
        }
        if (grpcStatus.code !== 0) {
          const name = grpcCodeNames[grpcStatus.code] ?? `code ${grpcStatus.code}`;
          settle(
            new GrpcError(
              'status',
              `${where} failed: ${name}${grpcStatus.message ? `: ${grpcStatus.message}` : ''}`,
              grpcStatus.code,
            ),
          );
          return;
        }
        const body = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, received);
        if (body.length < 5) {
          settle(new GrpcError('protocol', `${where} answered OK without a message`));
          return;
        }
        const length = body.readUInt32BE(1);
        if (body[0] !== 0 || body.length !== 5 + length) {
          settle(
            new GrpcError(
              'protocol',
              body[0] !== 0
                ? `${where} sent a compressed message, which was not asked for`
                : `${where} sent ${body.length - 5} bytes for a message of ${length}`,
            ),
          );
          return;
        }
        settle(undefined, body.subarray(5));
      });
      stream.end(frame(call.message));
    });
  }

  /** Closes the connection (calls made later open a new one). */
  close(): void {
    if (this.session) this.drop(this.session);
  }

  private connection(): ClientHttp2Session {
    const current = this.session;
    if (current && !current.closed && !current.destroyed) return current;
    const session = http2.connect('http://localhost', {
      createConnection: () => connect(this.socketPath),
    });
    // Errors reach the calls that wait (their own listeners); with none waiting they only end the session.
    session.on('error', () => undefined);
    session.on('close', () => {
      if (this.session === session) this.session = undefined;
    });
    session.on('goaway', () => this.drop(session));
    // An idle connection to the kubelet never keeps the process alive.
    session.unref();
    this.session = session;
    return session;
  }

  private drop(session: ClientHttp2Session): void {
    if (this.session === session) this.session = undefined;
    if (!session.destroyed) session.destroy();
  }

  private connectionError(failed: NodeJS.ErrnoException): GrpcError {
    if (failed instanceof GrpcError) return failed;
    // A stream cancelled because its connection failed carries the connection's error as its cause.
    const cause = failed.cause as NodeJS.ErrnoException | undefined;
    const err = cause?.code ? cause : failed;
    if (err.code === 'ENOENT') return new GrpcError('no-socket', `${this.socketPath} does not exist`);
    if (err.code === 'ECONNREFUSED')
      return new GrpcError('unreachable', `${this.socketPath}: nothing listens on it (connection refused)`);
    if (err.code === 'EACCES' || err.code === 'EPERM')
      return new GrpcError('unreachable', `${this.socketPath}: permission denied`);
    return new GrpcError('unreachable', `${this.socketPath}: ${err.message}`);
  }
}
