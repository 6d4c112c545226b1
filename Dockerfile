# syntax=docker/dockerfile:1
#
# Custodian's binaries in one multi-stage build.
#
#   docker build -t custodian .                                   # all three binaries
#   docker build -t custodian-supervisor --build-arg BINARIES=supervisor .
#
# The runtime image is distroless (no shell, no package manager), runs as the
# unprivileged user 65532 and holds only static binaries (CGO_ENABLED=0):
# /usr/local/bin/{supervisor,dashboard,notifier} (those named by BINARIES) and
# /usr/local/bin/custodian-probe, the health-check probe used by compose.yaml.

ARG GO_VERSION=1.26

FROM golang:${GO_VERSION} AS build
WORKDIR /src
ENV CGO_ENABLED=0 GOFLAGS=-buildvcs=false
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
# BINARIES selects which of cmd/supervisor, cmd/dashboard and cmd/notifier go
# into the image (space-separated).
ARG BINARIES="supervisor dashboard notifier"
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    set -eu; mkdir -p /out/bin /out/data; \
    for b in $BINARIES; do \
      case "$b" in supervisor|dashboard|notifier) ;; *) echo "unknown binary $b" >&2; exit 1 ;; esac; \
      go build -trimpath -ldflags="-s -w" -o /out/bin/$b ./cmd/$b; \
    done; \
    go build -trimpath -ldflags="-s -w" -o /out/bin/custodian-probe ./internal/deploy/probe

FROM gcr.io/distroless/static-debian12:nonroot AS runtime
COPY --from=build /out/bin/ /usr/local/bin/
# /data exists in the image and belongs to the runtime user, so that a named
# volume mounted there starts out writable by it.
COPY --from=build --chown=65532:65532 /out/data /data
USER 65532:65532
WORKDIR /data
