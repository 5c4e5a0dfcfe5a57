/** Placeholder: this transport is built by its own issue. */
import type { Transport } from './transport.js';

export const transports: Partial<Record<string, Transport>> = {};
