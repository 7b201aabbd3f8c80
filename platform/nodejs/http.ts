/**
 * node:http and node:https for product code. An ESM import of node:http (even `import { createServer }`)
 * builds its module namespace from every export, which evaluates the lazy WebSocket, CloseEvent and
 * MessageEvent getters and so loads undici: about 11 MB of memory in every process, for nothing
 * multinet uses. `require` returns the exports without touching them.
 */
import type * as Http from 'node:http';
import type * as Https from 'node:https';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

export const http = require('node:http') as typeof Http;
export const https = require('node:https') as typeof Https;
