# syntax=docker/dockerfile:1
# Multi-stage build: compile TypeScript in a build stage, ship only production dependencies, run as a
# non-root user. Node 24 is an LTS line; override with --build-arg NODE_VERSION=<major> to follow the
# newest LTS. test/docker/dockerfile.test.ts rebuilds every stage from exactly what it copies and starts
# the runtime stage, so a file missing here fails the tests, not a hospital's build.
ARG NODE_VERSION=24

# Every dependency, development tools included, installed once from the lock file. Its layer changes only
# with package.json or package-lock.json, so both stages built FROM it below stay cached across code changes.
FROM node:${NODE_VERSION}-bookworm-slim AS install
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund

FROM install AS build
COPY tsconfig.json tsconfig.build.json ./
# `npm run build` = tsc, then scripts/copy-assets.mjs copies the demo seed (JSON read at run time) to dist/,
# then scripts/build-web.mjs bundles the care-team view (esbuild) next to the compiled service.
COPY scripts/copy-assets.mjs scripts/build-web.mjs ./scripts/
COPY src ./src
RUN npm run build

# The production dependencies: the same install with the development ones removed (the same tree as
# `npm ci --omit=dev`, without unpacking every package a second time), native addons built by the install
# stage included.
# `data` is an empty directory that becomes DATA_DIR, owned by the non-root user (COPY --chown below), so
# the runtime stage needs no RUN step as root.
FROM install AS deps
RUN npm prune --omit=dev --no-audit --no-fund && mkdir -p data

FROM node:${NODE_VERSION}-bookworm-slim AS runtime
ENV NODE_ENV=production \
    PORT=3000 \
    DATA_DIR=/var/lib/spine-bone-health-cds
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=deps --chown=node:node /app/data $DATA_DIR
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY cds-services ./cds-services
COPY fhir-profiles/fsh-generated ./fhir-profiles/fsh-generated
COPY scripts/healthcheck.mjs ./scripts/
USER node
EXPOSE 3000
# Asks the address the service listens on (HOST and PORT as configured for the container; a wildcard HOST
# is asked on loopback).
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "/app/scripts/healthcheck.mjs"]
CMD ["node", "dist/src/index.js"]
