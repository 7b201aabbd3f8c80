/** One HTTPS GET of `/` on a fresh connection (a new TLS handshake each time), resolving the body. */
import { request, type RequestOptions } from 'node:https';

export function httpsGet(port: number, ca: string, options: RequestOptions = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/', ca, agent: false, ...options }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve(body));
    });
    req.on('error', reject);
    req.end();
  });
}
