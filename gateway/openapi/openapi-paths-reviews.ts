/**
 * Review sampling of the audit log (role `audit`): drawing samples, recording findings, the summary and
 * its publication. Bodies are read by InputReader (gateway/review/review-routes.ts) and described here
 * with its limits.
 */
import { LOOKUP_OUTCOMES } from '../access/lookup-terms.js';
import { REQUESTER } from '../http/input-reader.js';
import { MAX_SAMPLE_SIZE } from '../review/review-routes.js';
import { FINDINGS } from '../review/review-service.js';
import { departmentCode } from './openapi-components.js';
import { type JsonObject, json, LOCATION, operation, pathParameter, ref } from './openapi-operations.js';
import { listOf } from './openapi-paths-audit.js';

const AUDIT = { roles: ['audit'] } as const;
const dateTime = { type: 'string', format: 'date-time' };
const string = { type: 'string' };
const QUERY_PROBLEMS = { 400: ['invalid-request'] };

const sampleId = pathParameter('id', 'The review sample’s id (a UUID).', { type: 'string', format: 'uuid' });
const counts = { type: 'integer', minimum: 0 };

const sampleRequest = {
  type: 'object',
  additionalProperties: false,
  required: ['from', 'to', 'size'],
  properties: {
    from: dateTime,
    to: { ...dateTime, description: 'Later than `from`, and not in the future.' },
    size: { type: 'integer', minimum: 1, maximum: MAX_SAMPLE_SIZE },
    seed: { type: 'string', pattern: '^[\\x21-\\x7e]{1,128}$', description: 'Default: random.' },
    outcomes: { ...listOf(LOOKUP_OUTCOMES, false), description: 'Default: `granted`.' },
    requester: { type: 'string', pattern: REQUESTER.source },
    provider: departmentCode,
    reviewers: {
      type: 'array',
      maxItems: 50,
      uniqueItems: true,
      items: { type: 'string', minLength: 1, maxLength: 128 },
    },
  },
};
const finding = {
  type: 'object',
  additionalProperties: false,
  required: ['sequence', 'finding', 'reviewer'],
  properties: {
    sequence: { type: 'integer', minimum: 1 },
    finding: { enum: [...FINDINGS] },
    reviewer: { type: 'string', minLength: 1, maxLength: 128 },
    note: { type: 'string', minLength: 1, maxLength: 4000 },
  },
};

export const reviewComponents: Record<string, JsonObject> = {
  ReviewSample: {
    type: 'object',
    required: ['id', 'algorithm', 'seed', 'size', 'population', 'items'],
    description: 'How it was drawn (enough to redraw it) and its events (docs/audit.md).',
    properties: {
      id: { type: 'string', format: 'uuid' },
      algorithm: string,
      createdAt: dateTime,
      createdBy: string,
      seed: string,
      size: counts,
      population: { type: 'object' },
      reviewers: { type: 'array', items: string },
      items: { type: 'array', items: { type: 'object' } },
    },
  },
  ReviewSummary: {
    type: 'object',
    required: ['sample', 'reviewed', 'findings', 'pending', 'byRequester', 'nonCompliant'],
    properties: {
      sample: { type: 'object' },
      reviewed: counts,
      findings: { type: 'object', additionalProperties: counts },
      pending: counts,
      byRequester: { type: 'array', items: { type: 'object' } },
      nonCompliant: { type: 'array', items: { type: 'object' } },
    },
  },
  PublishedReviewEntry: {
    type: 'object',
    required: ['id', 'url', 'publishedAt', 'period', 'reviewed', 'pending', 'complete', 'findings'],
    properties: {
      id: { type: 'string', format: 'uuid' },
      url: { type: 'string', description: 'Where the whole summary is published.' },
      publishedAt: dateTime,
      period: { type: 'object', required: ['from', 'to'], properties: { from: dateTime, to: dateTime } },
      reviewed: counts,
      pending: counts,
      complete: { type: 'boolean', description: 'Every sampled event has a finding.' },
      findings: { type: 'object', additionalProperties: counts },
    },
  },
  PublishedReview: {
    description: 'A review summary as published: without reviewer names and notes.',
    allOf: [
      ref('ReviewSummary'),
      {
        type: 'object',
        required: ['id', 'publishedAt', 'complete'],
        properties: {
          id: { type: 'string', format: 'uuid' },
          publishedAt: dateTime,
          complete: { type: 'boolean', description: 'Every sampled event has a finding.' },
        },
      },
    ],
  },
};

export function reviewPaths(): JsonObject {
  return {
    '/v1/audit/reviews/samples': {
      post: operation({
        operationId: 'drawReviewSample',
        audited: true,
        summary: 'Draw a review sample',
        tag: 'reviews',
        access: AUDIT,
        body: sampleRequest,
        responses: { 201: json('The sample (audited).', ref('ReviewSample'), LOCATION) },
        problems: QUERY_PROBLEMS,
      }),
      get: operation({
        operationId: 'listReviewSamples',
        summary: 'The samples drawn',
        tag: 'reviews',
        access: AUDIT,
        responses: {
          200: json('Every sample.', {
            type: 'object',
            required: ['samples'],
            properties: { samples: { type: 'array', items: ref('ReviewSample') } },
          }),
        },
      }),
    },
    '/v1/audit/reviews/samples/{id}': {
      get: operation({
        operationId: 'getReviewSample',
        summary: 'One sample, its events and their latest findings',
        tag: 'reviews',
        access: AUDIT,
        parameters: [sampleId],
        responses: { 200: json('The sample.', ref('ReviewSample')) },
        problems: { 400: ['invalid-request'], 404: ['review-sample-not-found'] },
      }),
    },
    '/v1/audit/reviews/samples/{id}/findings': {
      post: operation({
        operationId: 'recordReviewFinding',
        audited: true,
        summary: 'Record a finding',
        tag: 'reviews',
        access: AUDIT,
        parameters: [sampleId],
        body: finding,
        responses: { 201: json('The finding (audited).', { type: 'object' }) },
        problems: {
          400: ['invalid-request'],
          404: ['review-sample-not-found', 'not-in-sample'],
          409: ['reviewer-not-assigned'],
        },
      }),
    },
    '/v1/audit/reviews/samples/{id}/summary': {
      get: operation({
        operationId: 'getReviewSummary',
        summary: 'The publishable summary',
        tag: 'reviews',
        access: AUDIT,
        parameters: [sampleId],
        responses: {
          200: json('Findings per requesting department, non-compliant accesses.', ref('ReviewSummary')),
        },
        problems: { 400: ['invalid-request'], 404: ['review-sample-not-found'] },
      }),
    },
    '/v1/audit/reviews/samples/{id}/publication': {
      post: operation({
        operationId: 'publishReviewSummary',
        audited: true,
        summary: 'Publish a sample’s summary',
        description: 'Published at /v1/public/reviews/{id}, without reviewer names and notes.',
        tag: 'reviews',
        access: AUDIT,
        parameters: [sampleId],
        body: { type: 'object', maxProperties: 0, description: 'Nothing, or an empty object.' },
        bodyRequired: false,
        responses: {
          201: json(
            'Published (audited); publishing again replaces the publication.',
            {
              type: 'object',
              required: ['id', 'publishedAt', 'publishedBy', 'url'],
              properties: {
                id: { type: 'string', format: 'uuid' },
                publishedAt: dateTime,
                publishedBy: string,
                url: string,
              },
            },
            LOCATION,
          ),
        },
        problems: { 400: ['invalid-request'], 404: ['review-sample-not-found'] },
      }),
    },
  };
}
