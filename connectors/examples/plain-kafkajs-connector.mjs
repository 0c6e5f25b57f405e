// A department connector written without the SiloBridge SDK: plain kafkajs, node:crypto and the wire
// protocol of docs/protocol.md. It answers marriage-certificate lookups for the civil-affairs
// department and signs what it sends with the private key of its connector system.
//
//   KAFKA_BROKERS=localhost:9092 SIGNING_KEY_FILE=civil-affairs.connector.jwk node plain-kafkajs-connector.mjs
import { createHash, createPrivateKey, randomBytes, sign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { Kafka, logLevel, Partitioners } from 'kafkajs';

const brokers = (process.env.KAFKA_BROKERS ?? 'localhost:9092').split(',');
const prefix = process.env.SILOBRIDGE_TOPIC_PREFIX ?? 'silobridge';
const department = 'civil-affairs';
const instanceId = process.env.INSTANCE_ID ?? `${hostname().toLowerCase()}-${process.pid}`;
const heartbeatIntervalMs = 5000;
const served = [{ certificateType: 'marriage-certificate', schemaVersion: 1 }];
// The department's connector system and the private JWK of its registered ES256 key.
const systemId = process.env.SYSTEM_ID ?? `${department}/connector`;
const signingJwk = JSON.parse(readFileSync(process.env.SIGNING_KEY_FILE, 'utf8'));
const signingKey = createPrivateKey({ key: signingJwk, format: 'jwk' });

const base64url = (text) => Buffer.from(text, 'utf8').toString('base64url');
// A compact JWS, ES256: the signature is the raw r || s (ieee-p1363), not DER.
function jws(payload, typ) {
  const header = { alg: 'ES256', kid: `${systemId}#${signingJwk.kid}`, typ };
  const input = `${base64url(JSON.stringify(header))}.${base64url(JSON.stringify(payload))}`;
  const signature = sign('sha256', Buffer.from(input), { key: signingKey, dsaEncoding: 'ieee-p1363' });
  return `${input}.${signature.toString('base64url')}`;
}
// One disclosure per record field, [salt, field, value]; the signature lists their digests.
function signReply(reply) {
  const claims = {
    lookupId: reply.lookupId,
    certificateType: reply.certificateType,
    schemaVersion: reply.schemaVersion,
    outcome: reply.outcome,
    department,
    iat: Math.floor(Date.now() / 1000),
  };
  if (reply.outcome === 'found') {
    reply.disclosures = {};
    claims.digests = {};
    for (const [field, value] of Object.entries(reply.record)) {
      const disclosure = base64url(JSON.stringify([randomBytes(16).toString('base64url'), field, value]));
      reply.disclosures[field] = disclosure;
      claims.digests[field] = createHash('sha256').update(disclosure).digest('base64url');
    }
  }
  if (reply.outcome === 'error') claims.error = reply.error.code;
  return { ...reply, signature: jws(claims, 'silobridge-reply+jws') };
}

// Stands in for the department's own registry; a real connector queries its database here.
const marriages = [
  {
    licenceId: '1.2.156.3005.2.111000000008674214003.113501020027208103.3501022015000123.001.4',
    certificateNumber: 'J350102-2015-000123',
    registeredOn: '2015-05-20',
    spouses: [
      {
        name: '林志远',
        sex: 'male',
        dateOfBirth: '1985-01-01',
        nationality: '中国',
        residentIdNumber: '35010219850101123X',
      },
      {
        name: '陈晓梅',
        sex: 'female',
        dateOfBirth: '1987-02-02',
        nationality: '中国',
        residentIdNumber: '350102198702022349',
      },
    ],
    issuingAuthority: '福州市鼓楼区民政局',
    issuedOn: '2015-05-20',
    status: 'valid',
  },
];
// The subject holds exactly one of: either spouse's resident ID number, or the certificate number.
async function findMarriage({ residentIdNumber, certificateNumber }) {
  return marriages.find(
    (record) =>
      record.certificateNumber === certificateNumber ||
      record.spouses.some((spouse) => residentIdNumber && spouse.residentIdNumber === residentIdNumber),
  );
}

const topics = {
  requests: `${prefix}.lookup-requests.${department}`,
  heartbeats: `${prefix}.heartbeats`,
  deadLetters: `${prefix}.dead-letters`,
};
const kafka = new Kafka({ clientId: `${department}-${instanceId}`, brokers, logLevel: logLevel.WARN });
const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
// A low maxWaitTimeInMs: an idle connector sees a new request within 100 ms instead of 5 s.
const consumer = kafka.consumer({ groupId: `${prefix}.connector.${department}`, maxWaitTimeInMs: 100 });

const header = (message, name) => message.headers?.[name]?.toString('utf8');

function sendHeartbeat(state) {
  const heartbeat = {
    version: 1,
    department,
    instanceId,
    certificateTypes: served,
    state,
    intervalMs: heartbeatIntervalMs,
    sentAt: new Date().toISOString(),
  };
  return producer.send({
    topic: topics.heartbeats,
    messages: [
      {
        key: `${department}/${instanceId}`,
        value: JSON.stringify({ ...heartbeat, signature: jws(heartbeat, 'silobridge-heartbeat+jws') }),
        headers: { 'content-type': 'application/json' },
      },
    ],
  });
}

function deadLetter(message, reason) {
  console.warn(`dead-lettering offset ${message.offset}: ${reason}`);
  return producer.send({
    topic: topics.deadLetters,
    messages: [
      {
        key: message.key,
        value: message.value,
        headers: { ...message.headers, silobridge_dead_letter_reason: reason },
      },
    ],
  });
}

async function answer(request) {
  if (request.certificateType !== 'marriage-certificate' || request.schemaVersion !== 1) {
    return {
      outcome: 'error',
      error: { code: 'unsupported-certificate-type', message: `${department} does not serve this.` },
    };
  }
  try {
    const record = await findMarriage(request.subject);
    return record ? { outcome: 'found', record } : { outcome: 'not-found' };
  } catch (error) {
    // The details stay here; the requester only learns that the lookup failed.
    console.error(`lookup ${request.lookupId} failed`, error);
    return {
      outcome: 'error',
      error: { code: 'adapter-failed', message: 'The registry could not be searched.' },
    };
  }
}

async function handle(message) {
  let request;
  try {
    request = JSON.parse(message.value?.toString('utf8') ?? '');
  } catch {
    return deadLetter(message, 'not valid JSON');
  }
  const replyTopic = header(message, 'kafka_replyTopic');
  if (!replyTopic?.startsWith(`${prefix}.lookup-replies.`))
    return deadLetter(message, 'no usable kafka_replyTopic header');
  if (!(Date.parse(request.deadline) > Date.now())) return; // too late: the gateway has answered 504 already

  const result = await answer(request);
  const reply = signReply({
    version: 1,
    lookupId: request.lookupId,
    certificateType: request.certificateType,
    schemaVersion: request.schemaVersion,
    connector: { department, instanceId },
    ...result,
  });
  await producer.send({
    topic: replyTopic,
    messages: [
      {
        key: message.key,
        value: JSON.stringify(reply),
        headers: {
          kafka_correlationId: header(message, 'kafka_correlationId') ?? request.lookupId,
          'content-type': 'application/json',
        },
      },
    ],
  });
}

let heartbeats;
await producer.connect();
await consumer.connect();
await consumer.subscribe({ topics: [topics.requests], fromBeginning: true });
// Say `up` once the group has taken us in, and keep saying it.
consumer.on(consumer.events.GROUP_JOIN, () => {
  if (heartbeats) return;
  sendHeartbeat('up').catch((error) => console.error('heartbeat failed', error));
  heartbeats = setInterval(
    () => sendHeartbeat('up').catch((error) => console.error('heartbeat failed', error)),
    heartbeatIntervalMs,
  );
  console.log(`${department}/${instanceId} is answering lookups from ${topics.requests}`);
});
// eachMessage resolves only after the reply is sent, so the offset is committed only after that.
await consumer.run({ partitionsConsumedConcurrently: 4, eachMessage: ({ message }) => handle(message) });

async function shutdown() {
  clearInterval(heartbeats);
  await sendHeartbeat('down').catch(() => {});
  await consumer.disconnect(); // lets the lookup being handled finish, then leaves the group
  await producer.disconnect();
  process.exit(0);
}
process.once('SIGTERM', shutdown);
process.once('SIGINT', shutdown);
