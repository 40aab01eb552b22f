#!/usr/bin/env node
// Launcher for a clone or the server package: the kubelet credential provider compiled by
// `npm run build`. Nodes without Node.js use the single executable instead
// (`npm run build:credential-provider` → dist/purser-credential-provider).
import { runAsProcess } from '../dist/clients/src/kubelet/main.js';

runAsProcess(process.argv.slice(2));
