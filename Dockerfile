# keelson: one static-ish binary on a small Debian base.
#
#   docker build -t keelson .
#   docker run --rm -p 9898:9898 -v $PWD/examples/fleet:/repo:ro keelson \
#       run --repo /repo --target sim --listen 0.0.0.0:9898
#
# The repository may be mounted read-only: the lock, the journal and the simulator's state
# go to KEELSON_STATE_DIR (/var/lib/keelson, a volume owned by the image's user).
#
# The image runs as an unprivileged user and needs no shell, git binary or package
# manager at run time: git is libgit2 (linked in), TLS is rustls for AWS and Kubernetes
# and OpenSSL (libssl3) for git over HTTPS.
FROM rust:1.94-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY schemas ./schemas
COPY examples ./examples
RUN cargo build --release --locked --bin keelson && strip target/release/keelson

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates libssl3 \
    && rm -rf /var/lib/apt/lists/* \
    && mkdir -p /var/lib/keelson /home/keelson \
    && chown 65532:65532 /var/lib/keelson /home/keelson
COPY --from=build /src/target/release/keelson /usr/local/bin/keelson
# 65532: the conventional "nonroot" uid; the cache and state directories are volumes.
USER 65532:65532
ENV HOME=/home/keelson \
    KEELSON_STATE_DIR=/var/lib/keelson
VOLUME /var/lib/keelson
WORKDIR /home/keelson
EXPOSE 9898
ENTRYPOINT ["/usr/local/bin/keelson"]
CMD ["run", "--help"]
