# Redis 7 from Debian 12's packages: the Celery broker of the stack (reached on the stack's own
# network only; no port is published to the host).
FROM debian:bookworm-slim

ARG REDIS_PACKAGE_VERSION=5:7.0.15-1~deb12u10

COPY image/debian.sources /etc/apt/sources.list.d/debian.sources
RUN rm -f /etc/apt/sources.list \
 && apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      redis-server="${REDIS_PACKAGE_VERSION}" \
 && rm -rf /var/lib/apt/lists/*

USER redis
EXPOSE 6379
ENTRYPOINT ["redis-server", "--bind", "0.0.0.0", "--protected-mode", "no", "--save", "", "--appendonly", "no"]
