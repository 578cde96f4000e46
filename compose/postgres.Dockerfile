# PostgreSQL 15 from Debian 12's packages: the stack's metadata database. Built from the same
# debian:bookworm-slim as every image of the project, so the stack needs no public registry.
FROM debian:bookworm-slim

# Debian's mirror keeps only the newest update: bump this when a build says it was not found.
ARG POSTGRES_PACKAGE_VERSION=15.20-0+deb12u1

COPY image/debian.sources /etc/apt/sources.list.d/debian.sources
RUN rm -f /etc/apt/sources.list \
 && apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      postgresql-15="${POSTGRES_PACKAGE_VERSION}" \
 && rm -rf /var/lib/apt/lists/* \
 && mkdir -p /var/lib/postgresql/data /var/run/postgresql \
 && chown -R postgres:postgres /var/lib/postgresql /var/run/postgresql

ENV PATH=/usr/lib/postgresql/15/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    PGDATA=/var/lib/postgresql/data \
    LANG=C.UTF-8
COPY compose/postgres-entrypoint.sh /usr/local/bin/postgres-entrypoint.sh
USER postgres
EXPOSE 5432
ENTRYPOINT ["/usr/local/bin/postgres-entrypoint.sh"]
