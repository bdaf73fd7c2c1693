# syntax=docker/dockerfile:1
#
# Two stages: the build stage has the whole toolchain (nest CLI, TypeScript); the runtime stage
# gets production dependencies, the compiled dist/ and the console's static dist-console/ only, so
# no compiler, bundler or test tool ships.
# Node 24 is the current LTS; the code itself also runs on Node 20 (package.json "engines").
ARG NODE_IMAGE=node:24-slim

# --- build -------------------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS build
WORKDIR /app

# Manifests first: the `npm ci` layer is reused until the lockfile changes.
COPY package.json package-lock.json ./
RUN npm ci

COPY nest-cli.json tsconfig.json tsconfig.build.json ./
COPY src ./src
# The web console's page (Vite): `npm run build` makes dist-console/ after dist/.
COPY console ./console
RUN npm run build

# --- runtime -----------------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS runtime
WORKDIR /app

ENV NODE_ENV=production \
    PORT=8765

COPY package.json package-lock.json ./
# What the service runs on besides the library (its logger, configuration, health checks, HTTP
# platform) is in devDependencies, so that a host installing the library does not get it: this
# image's manifest makes those dependencies again before installing without the dev ones. The
# lockfile still pins every version, theirs and everything they pull in.
# Dependencies are installed as root and stay owned by root: the service user can read its code
# but not rewrite it.
RUN node -e "const fs = require('node:fs'); \
      const m = JSON.parse(fs.readFileSync('package.json', 'utf8')); \
      for (const name of process.argv.slice(1)) { \
        if (!m.devDependencies[name]) throw new Error(name + ' is not a devDependency'); \
        m.dependencies[name] = m.devDependencies[name]; delete m.devDependencies[name]; \
      } \
      fs.writeFileSync('package.json', JSON.stringify(m, null, 2));" \
      @nestjs/config @nestjs/platform-express @nestjs/terminus \
      nestjs-pino pino pino-http pino-pretty \
 && npm install --omit=dev --no-audit --no-fund && npm cache clean --force

COPY --from=build /app/dist ./dist
COPY --from=build /app/dist-console ./dist-console

# The official image ships an unprivileged `node` user (uid 1000).
USER node

EXPOSE 8765

# Slim images have neither curl nor wget; Node's own fetch does the probe. /healthz checks only
# the process itself, so a Redis outage does not get a healthy container restarted.
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||8765)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]

# Exec form with node as PID 1: SIGTERM from `docker stop` reaches the app, which drains its
# connections (SHUTDOWN_DRAIN_MS) and exits 0. npm would swallow or delay the signal.
CMD ["node", "dist/main.js"]
