# syntax=docker/dockerfile:1
#
# agentgate image. Targets:
#   runtime (default)  gateway or worker: `docker build -t agentgate .`
#   emulator           the Bedrock emulator for demos (needs dev dependencies)
# The code runs on Node 20 and 22; the image uses 22. The gateway's TypeScript runs through
# tsx (a runtime dependency); the client library (`agentgate/client`, dist/client) is built,
# with the dev dependencies, in the `client` stage, and the web page (dist/web) in `runtime`.

ARG NODE_IMAGE=node:22-slim

# ---- production dependencies only -------------------------------------------------------
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
# better-sqlite3 (the SQL skill) compiles its native binding when no prebuilt one fits the
# platform; the compilers stay in these stages, out of the runtime image.
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ \
    && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
# --ignore-scripts: `prepare` builds the client library, which needs the sources and the
# dev dependencies (the `client` stage does it). The install scripts of better-sqlite3 and
# esbuild (under tsx) still run, through `npm rebuild`.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
    && npm rebuild better-sqlite3 esbuild && npm cache clean --force

# ---- every dependency (the emulator needs @smithy/eventstream-codec) ---------------------
FROM ${NODE_IMAGE} AS dev-deps
WORKDIR /app
# As above: better-sqlite3 may need to compile.
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ \
    && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund \
    && npm rebuild better-sqlite3 esbuild && npm cache clean --force

# ---- the client library: agentgate/client, built by tsc into dist/client -----------------
FROM dev-deps AS client
COPY tsconfig.client.json ./
COPY src/client ./src/client
RUN npm run build:client

# ---- gateway / worker -------------------------------------------------------------------
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=3000
WORKDIR /app
# Code and dependencies stay owned by root: the process (user node) can read, not change them.
COPY --from=deps /app/node_modules ./node_modules
COPY package.json package-lock.json tsconfig.json ./
COPY src ./src
COPY --from=client /app/dist ./dist
# The web page, bundled from web/ into dist/web by esbuild (a production dependency, as are
# the libraries it bundles), here where /app is still writable.
COPY web ./web
COPY scripts/build-web.ts ./scripts/build-web.ts
RUN node --import tsx scripts/build-web.ts
# The bundled skills, and the SQL skill's demo database, built here from the repo's CSV
# files: the process cannot write under /app, so it finds it ready.
COPY skills ./skills
COPY data/demo ./data/demo
COPY scripts/build-demo-db.ts ./scripts/build-demo-db.ts
RUN node --import tsx scripts/build-demo-db.ts
# The unprivileged user of the official image (uid 1000, home /home/node: mount
# ~/.aws at /home/node/.aws for profile-based credentials).
USER node
EXPOSE 3000
# /health answers without auth; the server binds 127.0.0.1 when auth is off, so probe that.
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/health').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# node directly, not `npm start`: SIGTERM reaches close-with-grace, which drains and closes.
# The worker runs the same image with: node --import tsx src/worker.ts
CMD ["node", "--import", "tsx", "src/server.ts"]

# ---- Bedrock emulator (demo profile of docker-compose.yml) --------------------------------
FROM runtime AS emulator
COPY --from=dev-deps /app/node_modules ./node_modules
COPY scripts/emulator.ts ./scripts/emulator.ts
COPY test/emulator ./test/emulator
ENV EMULATOR_HOST=0.0.0.0 \
    EMULATOR_PORT=4010
EXPOSE 4010
HEALTHCHECK NONE
CMD ["node", "--import", "tsx", "scripts/emulator.ts"]
