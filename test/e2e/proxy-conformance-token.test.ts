// Differential conformance, upstreamAuth token: every request sequence answers through the proxy
// as it does against the bare registry (see helpers/conformance.ts for the cases).
import { proxyConformanceSuite } from '../helpers/proxy-conformance.js';

proxyConformanceSuite('token');
