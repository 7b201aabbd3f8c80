# syntax=docker/dockerfile:1
# One image for every multinet component: `multinet controller | webhook | agent`.
# The agent installs the CNI shim (/usr/local/lib/multinet/multinet-cni, a static Go executable built
# from cni/) into the host's CNI bin dir, so nodes need nothing besides it, and starts delegate plugins
# through its spawner (/usr/local/lib/multinet/multinet-spawner, static Go, from spawner/).
ARG NODE_IMAGE=node:24.21.0-bookworm-slim
ARG GO_IMAGE=golang:1.26-bookworm

# The shim and the spawner: standard library only, CGO_ENABLED=0 (scripts/build-go.sh holds the one go
# build line; it stamps multinet's version from package.json).
FROM ${GO_IMAGE} AS shim
WORKDIR /src
COPY cni ./cni
COPY spawner ./spawner
COPY package.json ./
COPY scripts/build-go.sh scripts/build-shim.sh scripts/build-spawner.sh ./scripts/
RUN bash scripts/build-shim.sh && bash scripts/build-spawner.sh

FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY lib ./lib
COPY platform ./platform
COPY agent ./agent
COPY controllers ./controllers
COPY webhooks ./webhooks
COPY cli ./cli
COPY cmd ./cmd
COPY scripts/generate-validators.ts ./scripts/
# npm run build generates the schema validators (lib/generated/) before compiling.
RUN npm run build

FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force

FROM ${NODE_IMAGE} AS runtime
LABEL org.opencontainers.image.title="multinet" \
      org.opencontainers.image.description="Multiple network interfaces for Kubernetes pods: controller, admission webhook and node agent" \
      org.opencontainers.image.licenses="Apache-2.0"
# iproute2 and util-linux (nsenter) for the agent's default-route handling.
RUN apt-get update \
 && apt-get install -y --no-install-recommends iproute2 util-linux \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json ./
COPY --from=build /src/dist/app ./
COPY --from=shim /src/dist/shim/multinet-cni /usr/local/lib/multinet/multinet-cni
COPY --from=shim /src/dist/spawner/multinet-spawner /usr/local/lib/multinet/multinet-spawner
ENV NODE_ENV=production
# Controller and webhook run as this non-root user; the agent's DaemonSet runs privileged as root.
USER 65532:65532
ENTRYPOINT ["node", "/app/cmd/multinet.js"]
CMD ["--help"]
