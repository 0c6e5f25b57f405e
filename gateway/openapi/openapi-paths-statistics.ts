/**
 * Sharing statistics for data officers (role `audit`), and the anonymous public summary
 * (gateway/statistics/; its query parameters are read by InputReader, with the limits used here).
 */
import { LOOKUP_OUTCOMES } from '../access/lookup-terms.js';
import { DENIAL_REASONS } from '../policy/policy-decision.js';
import {
  DEFAULT_PERIOD_DAYS,
  DEFAULT_TIME_ZONE,
  MAX_PERIOD_DAYS,
  MAX_SUMMARY_DAYS,
} from '../statistics/statistics-params.js';
import { GRANULARITIES, GROUP_KEYS, OUTCOME_COUNTERS } from '../statistics/statistics-store.js';
import { certificateType, departmentCode } from './openapi-components.js';
import { type JsonObject, json, operation, queryParameter, ref } from './openapi-operations.js';

const AUDIT = { roles: ['audit'] } as const;
const dateTime = { type: 'string', format: 'date-time' };
const count = { type: 'integer', minimum: 0 };
const string = { type: 'string' };
const ratio = { type: ['number', 'null'], minimum: 0, maximum: 1 };
const nullableCount = { type: ['integer', 'null'], minimum: 0 };
const maxDays = Object.entries(MAX_PERIOD_DAYS)
  .map(([granularity, days]) => `${days} days by ${granularity}`)
  .join(', ');

const statisticsPeriod = [
  queryParameter(
    'from',
    `Start (inclusive), RFC 3339; default ${DEFAULT_PERIOD_DAYS} days before \`to\`.`,
    dateTime,
  ),
  queryParameter('to', `End (exclusive), RFC 3339; default now. At most ${maxDays}.`, dateTime),
];
const summaryPeriod = (rounded: boolean) => [
  queryParameter(
    'from',
    `Start (inclusive), RFC 3339${rounded ? ', cut to the hour' : ''}; default ${DEFAULT_PERIOD_DAYS} days before \`to\`.`,
    dateTime,
  ),
  queryParameter(
    'to',
    `End (exclusive); default now. At most ${MAX_SUMMARY_DAYS} days after \`from\`.`,
    dateTime,
  ),
];
const percentiles = (names: string[]) => ({
  type: 'object',
  description: 'Milliseconds, of the lookups the provider answered; null without any.',
  properties: Object.fromEntries(names.map((name) => [name, { type: ['number', 'null'] }])),
});

const counters = {
  total: count,
  granted: count,
  denied: count,
  notFound: count,
  failed: count,
  timedOut: count,
  invalid: count,
  deniedByReason: {
    type: 'object',
    description: `Denials by reason: ${DENIAL_REASONS.join(', ')}, missing-role.`,
    additionalProperties: count,
  },
  latencyMs: percentiles(['p50', 'p90', 'p95', 'p99', 'mean']),
};

export const statisticsComponents: Record<string, JsonObject> = {
  StatisticsCounters: {
    type: 'object',
    description: `Lookups by outcome (${LOOKUP_OUTCOMES.join(', ')}).`,
    required: [...OUTCOME_COUNTERS, 'deniedByReason', 'latencyMs'],
    properties: counters,
  },
  Statistics: {
    type: 'object',
    required: ['from', 'to', 'granularity', 'timeZone', 'groupBy', 'rows', 'totals'],
    properties: {
      from: dateTime,
      to: dateTime,
      granularity: { enum: [...GRANULARITIES] },
      timeZone: string,
      groupBy: { type: 'array', items: { enum: [...GROUP_KEYS] } },
      rows: {
        type: 'array',
        items: {
          allOf: [
            ref('StatisticsCounters'),
            {
              type: 'object',
              required: ['period'],
              properties: {
                period: { type: 'string', description: 'Start of the period, in `timeZone`.' },
                requester: { type: ['string', 'null'], description: 'The requesting department.' },
                provider: { type: ['string', 'null'] },
                certificateType: { type: ['string', 'null'] },
              },
            },
          ],
        },
      },
      totals: ref('StatisticsCounters'),
    },
  },
  PublicSummary: {
    type: 'object',
    description: 'Department-level aggregates only: no systems, subjects or officers.',
    required: ['from', 'to', 'generatedAt', 'providers', 'requesters', 'totals'],
    properties: {
      from: dateTime,
      to: dateTime,
      generatedAt: dateTime,
      providers: {
        type: 'array',
        items: {
          type: 'object',
          required: ['department', 'lookupsAnswered'],
          properties: {
            department: departmentCode,
            lookupsAnswered: count,
            answeredWithinDeadline: nullableCount,
            availability: ratio,
            medianLatencyMs: { type: ['number', 'null'] },
          },
        },
      },
      requesters: {
        type: 'array',
        items: {
          type: 'object',
          required: ['department', 'lookups'],
          properties: { department: departmentCode, lookups: count, deniedShare: ratio },
        },
      },
      totals: {
        type: 'object',
        properties: { lookups: count, answered: count, denied: count, deniedShare: ratio },
      },
    },
  },
  Scorecard: {
    type: 'object',
    required: ['from', 'to', 'providers', 'requesters'],
    properties: {
      from: dateTime,
      to: dateTime,
      providers: {
        type: 'array',
        items: {
          type: 'object',
          properties: {
            department: departmentCode,
            lookups: count,
            answeredWithinDeadline: nullableCount,
            timedOut: count,
            availability: ratio,
            observedMinutes: count,
            latencyMs: percentiles(['p50', 'p95']),
            schemaRejectedReplies: count,
          },
        },
      },
      requesters: {
        type: 'array',
        items: {
          type: 'object',
          properties: {
            department: departmentCode,
            lookups: count,
            denied: count,
            deniedByReason: { type: 'object', additionalProperties: count },
          },
        },
      },
    },
  },
};

export function statisticsPaths(): JsonObject {
  return {
    '/v1/statistics': {
      get: operation({
        operationId: 'getStatistics',
        summary: 'Lookups over time',
        description:
          'Counts by outcome and latency percentiles per period, grouped as asked; CSV with `format=csv`.',
        tag: 'statistics',
        access: AUDIT,
        parameters: [
          ...statisticsPeriod,
          queryParameter('granularity', 'Length of each period (default `day`).', {
            enum: [...GRANULARITIES],
          }),
          queryParameter(
            'groupBy',
            `Comma-separated: ${GROUP_KEYS.join(', ')} (default all; empty for none).`,
            string,
          ),
          queryParameter('requester', 'Only this requesting department.', departmentCode),
          queryParameter('provider', 'Only this provider department.', departmentCode),
          queryParameter('certificateType', 'Only this certificate type.', certificateType),
          queryParameter(
            'timeZone',
            `IANA time zone periods are cut in, a whole number of hours from UTC (default \`${DEFAULT_TIME_ZONE}\`).`,
            string,
          ),
          queryParameter('format', '`json` (default) or `csv`.', { enum: ['json', 'csv'] }),
        ],
        responses: {
          200: {
            description: 'The statistics.',
            content: {
              'application/json': { schema: ref('Statistics') },
              'text/csv': {
                schema: { type: 'string', description: 'One row per period and group (attachment).' },
              },
            },
          },
        },
        problems: { 400: ['invalid-request'] },
      }),
    },
    '/v1/statistics/scorecard': {
      get: operation({
        operationId: 'getScorecard',
        summary: 'Departments’ scorecard',
        description: 'Providers: answers within the deadline, availability, latency. Requesters: denials.',
        tag: 'statistics',
        access: AUDIT,
        parameters: summaryPeriod(false),
        responses: { 200: json('Per provider and requester department.', ref('Scorecard')) },
        problems: { 400: ['invalid-request'] },
      }),
    },
    '/v1/public/summary': {
      get: operation({
        operationId: 'getPublicSummary',
        summary: 'Sharing at a glance',
        description: 'Department-level aggregates of a period, for anyone; answers are cached for a minute.',
        tag: 'public',
        access: 'public',
        parameters: summaryPeriod(true),
        responses: { 200: json('Per provider and requester department.', ref('PublicSummary')) },
        problems: { 400: ['invalid-request'] },
      }),
    },
  };
}
