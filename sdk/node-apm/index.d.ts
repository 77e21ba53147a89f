export * from '@tracekit/node';
