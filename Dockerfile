# syntax=docker/dockerfile:1
# Purser's container image.
#   docker build -t purser .                                   the token server (the last stage)
#   docker build --target credential-provider -t purser-cp .   the kubelet plugin, for the chart's installer
# BASE: any image with node (>= 20.19) and npm on PATH and a POSIX shell; the test suite builds
# with a Debian minbase + Node made locally (test/e2e/image.test.ts).
ARG BASE=node:24-bookworm-slim

# --- build: dev dependencies, tsc, the single-executable credential provider ---------------
FROM ${BASE} AS build
ENV NPM_CONFIG_UPDATE_NOTIFIER=false
WORKDIR /src
COPY package.json package-lock.json ./
# No install scripts: the only one in the tree (esbuild's) just checks its platform binary.
RUN npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
COPY tsconfig.json ./
COPY bin ./bin
COPY clients ./clients
COPY src ./src
# tsconfig also includes test/, bench/ and examples/, which are not in the context: only
# src/ and clients/src/ compile.
RUN node_modules/.bin/tsc -p tsconfig.json

FROM build AS credential-provider-build
COPY scripts/build-credential-provider.js ./scripts/
RUN node scripts/build-credential-provider.js

# --- credential-provider: the kubelet plugin (a Node SEA, runs on nodes without Node.js) -----
# The chart's DaemonSet copies /opt/purser/purser-credential-provider to the node.
FROM ${BASE} AS credential-provider
COPY --from=credential-provider-build /src/dist/purser-credential-provider /opt/purser/purser-credential-provider
USER 65532:65532
ENTRYPOINT ["/opt/purser/purser-credential-provider"]

# --- the token server: production dependencies and compiled code only ------------------------
FROM ${BASE} AS purser
ENV NODE_ENV=production NPM_CONFIG_UPDATE_NOTIFIER=false
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error \
  && npm cache clean --force \
  && rm -rf /root/.npm /tmp/*
COPY bin ./bin
COPY schema ./schema
COPY --from=build /src/dist/src ./dist/src
COPY --from=build /src/dist/clients/src ./dist/clients/src
RUN ln -s /app/bin/purser.js /usr/local/bin/purser \
  && ln -s /app/bin/docker-credential-purser.js /usr/local/bin/docker-credential-purser \
  && mkdir -p /etc/purser
# A numeric non-root user (no passwd entry needed, so runAsNonRoot can check it). Nothing is
# written outside /tmp, so the root filesystem can be read-only (mount a tmpfs on /tmp).
USER 65532:65532
ENV HOME=/tmp
# The healthcheck asks the listen address of the config; set it when the config listens elsewhere.
ENV PURSER_HEALTHCHECK_URL=http://127.0.0.1:5001/healthz
EXPOSE 5001
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch(process.env.PURSER_HEALTHCHECK_URL,{signal:AbortSignal.timeout(4000)}).then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
ENTRYPOINT ["purser"]
CMD ["serve", "--config", "/etc/purser/purser.yml"]
