/** Moved to the socket-free relay core (plugin/net/relay-core), shared with the in-memory switch. */
export { BoundedBucketMap, TokenBucket } from '../../plugin/net/relay-core/rate-limit';
