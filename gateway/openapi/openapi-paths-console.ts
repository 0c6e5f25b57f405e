/**
 * Signing in to and out of the officers' console (gateway/console/). The console's pages, scripts and
 * styles (GET under /console/) are a browser UI served as files, not API: they are left out.
 */
import { CSRF_HEADER, SESSION_COOKIE } from '../console/console-security.js';
import { TOKEN_PROBLEMS } from '../identity/token-errors.js';
import { type JsonObject, json, operation, ref } from './openapi-operations.js';

const dateTime = { type: 'string', format: 'date-time' };
const string = { type: 'string' };
export const CONSOLE_COOKIE = SESSION_COOKIE;
/** The console's header as written in the docs; the gateway reads it in lower case, as Node gives it. */
export const CONSOLE_CSRF_HEADER = 'X-CSRF-Token';
if (CONSOLE_CSRF_HEADER.toLowerCase() !== CSRF_HEADER) throw new Error(`the console reads ${CSRF_HEADER}`);

export const consoleComponents: Record<string, JsonObject> = {
  ConsoleSession: {
    type: 'object',
    required: ['systemId', 'expiresAt', 'csrfToken'],
    properties: { systemId: string, expiresAt: dateTime, csrfToken: string },
  },
};

export function consolePaths(): JsonObject {
  return {
    '/console/session': {
      post: operation({
        operationId: 'signInToConsole',
        audited: true,
        summary: 'Sign in to the console',
        description:
          `Trades the bearer JWT of a system with the \`audit\` role for an HttpOnly session cookie \`${CONSOLE_COOKIE}\`. ` +
          `Send the answer’s \`csrfToken\` as \`${CONSOLE_CSRF_HEADER}\` with every call made with the cookie; ` +
          'such calls act with the `audit` role only. Cross-site requests are refused. Audited.',
        tag: 'console',
        access: 'public',
        body: {
          type: 'object',
          required: ['token'],
          additionalProperties: false,
          properties: {
            token: { type: 'string', description: 'A bearer JWT, as `silobridge token` prints it.' },
          },
        },
        responses: {
          201: json('Signed in.', ref('ConsoleSession'), {
            'Set-Cookie': { description: `\`${CONSOLE_COOKIE}=...; HttpOnly\``, schema: string },
          }),
        },
        problems: {
          400: ['invalid-request'],
          401: TOKEN_PROBLEMS,
          403: ['missing-role', 'console-cross-site'],
        },
      }),
      get: operation({
        operationId: 'getConsoleSession',
        summary: 'The current console session, if any',
        description: 'Answers 200 either way; `ended` when the cookie names a session that is over.',
        tag: 'console',
        access: 'public',
        parameters: [{ name: CONSOLE_COOKIE, in: 'cookie', required: false, schema: string }],
        responses: {
          200: json('Signed in (with the session) or not.', {
            type: 'object',
            required: ['signedIn'],
            properties: {
              signedIn: { type: 'boolean' },
              ended: { type: 'boolean' },
              systemId: string,
              expiresAt: dateTime,
              csrfToken: string,
            },
          }),
        },
      }),
      delete: operation({
        operationId: 'signOutOfConsole',
        audited: true,
        summary: 'Sign out of the console',
        description: `Revokes the session on the server (audited) with its \`${CONSOLE_CSRF_HEADER}\`, and clears the cookie.`,
        tag: 'console',
        access: 'public',
        parameters: [
          { name: CONSOLE_COOKIE, in: 'cookie', required: false, schema: string },
          { name: CONSOLE_CSRF_HEADER, in: 'header', required: false, schema: string },
        ],
        responses: { 204: { description: 'Signed out.' } },
        problems: { 403: ['console-csrf-rejected', 'console-cross-site'] },
      }),
    },
  };
}
