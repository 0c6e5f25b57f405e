// What test/support/global-setup.ts hands to test files through vitest's inject(): the Kafka
// bootstrap servers, comma-separated (the harness broker's, or KAFKA_BROKERS when set).
declare module 'vitest' {
  export interface ProvidedContext {
    kafkaBrokers: string;
  }
}

export {};
