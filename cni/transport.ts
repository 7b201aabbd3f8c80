/** The shim's side of the wire: one HTTP request over the agent's unix socket. */
import { request as httpRequest } from 'node:http';
import { cniEndpoint, type CniReply, type CniRequest } from '../lib/cni/request.ts';

/** The agent could not be reached at all (no socket, nobody listening): worth waiting for. */
export class AgentUnreachableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AgentUnreachableError';
  }
}

export interface Transport {
  send(socketPath: string, request: CniRequest, timeoutMs: number): Promise<CniReply>;
}

const unreachable = new Set(['ENOENT', 'ECONNREFUSED', 'ENOTSOCK', 'ECONNRESET']);

export const unixSocketTransport: Transport = {
  send(socketPath, request, timeoutMs) {
    const body = JSON.stringify(request);
    return new Promise((resolve, reject) => {
      const req = httpRequest(
        {
          socketPath,
          path: cniEndpoint,
          method: 'POST',
          headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
          timeout: timeoutMs,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            try {
              resolve(JSON.parse(text) as CniReply);
            } catch {
              reject(
                new Error(
                  `the agent answered HTTP ${res.statusCode ?? '?'} with something that is not JSON: ${text.slice(0, 200)}`,
                ),
              );
            }
          });
          res.on('error', reject);
        },
      );
      req.on('timeout', () =>
        req.destroy(new Error(`no answer from the agent within ${Math.round(timeoutMs / 1000)} s`)),
      );
      req.on('error', (err: NodeJS.ErrnoException) => {
        if (err.code && unreachable.has(err.code) && !req.reusedSocket)
          reject(new AgentUnreachableError(`${err.code} ${socketPath}`));
        else reject(err);
      });
      req.end(body);
    });
  },
};
