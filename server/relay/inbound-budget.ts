/** Moved to the socket-free relay core (plugin/net/relay-core), shared with the in-memory switch. */
export { InboundBudget } from '../../plugin/net/relay-core/inbound-budget';
