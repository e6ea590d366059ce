// The Node HTTP server's own defences, which no handler can provide: a slow client (slowloris)
// is cut off by the header and request timeouts, oversized headers are refused by the parser,
// and the parser's refusals answer with the same JSON error body as every handler.
import type { Server, ServerOptions } from 'node:http';
import type { Socket } from 'node:net';
import { errorBody } from '../handlers/errors.js';

export interface HttpLimits {
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  keepAliveTimeoutMs: number;
  maxHeaderBytes: number;
  maxHeadersCount: number;
}

/** Options for http.createServer (via @hono/node-server's serverOptions). */
export function serverOptions(limits: HttpLimits): ServerOptions {
  // Node refuses a headers timeout longer than the request timeout.
  const headersTimeout = Math.min(limits.headersTimeoutMs, limits.requestTimeoutMs);
  return {
    requestTimeout: limits.requestTimeoutMs,
    headersTimeout,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    maxHeaderSize: limits.maxHeaderBytes,
    // Node looks for expired requests only this often (30 s by default), so a timeout is enforced
    // within about a quarter of itself.
    connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(headersTimeout / 4))),
  };
}

const REFUSALS: Record<string, [number, string, string, string]> = {
  HPE_HEADER_OVERFLOW: [431, 'Request Header Fields Too Large', 'headers_too_large', 'request headers are too large'],
  ERR_HTTP_REQUEST_TIMEOUT: [408, 'Request Timeout', 'request_timeout', 'request not received in time'],
};

/** Applies the limits that are server properties and answers parser errors with a JSON error body. */
export function hardenServer(server: Server, limits: HttpLimits): void {
  // One past the limit, so ingest can see that there were too many and answer 431 with a code
  // (Node silently drops the headers beyond maxHeadersCount).
  server.maxHeadersCount = limits.maxHeadersCount + 1;
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    const code = err.code ?? '';
    if (code === 'ECONNRESET' || !socket.writable || (socket as { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent) {
      socket.destroy();
      return;
    }
    const [status, reason, errorCode, message] = REFUSALS[code] ?? [400, 'Bad Request', 'bad_request', 'malformed HTTP request'];
    const body = JSON.stringify(errorBody(errorCode, message));
    socket.end(
      `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
    socket.destroySoon();
  });
}
