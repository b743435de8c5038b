# Multi-stage build: compile with the Rust toolchain, run on a slim Debian as a non-root user.
# Not built on the development machines (no Docker engine there); see README "Production".
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
RUN cargo build --release --bin bellhop

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates tini \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /var/lib/bellhop --create-home bellhop
COPY --from=build /src/target/release/bellhop /usr/local/bin/bellhop
USER bellhop
WORKDIR /var/lib/bellhop
ENV BELLHOP_DATA_DIR=/var/lib/bellhop/data \
    BELLHOP_LISTEN=0.0.0.0:8080 \
    BELLHOP_LOG_FORMAT=json
EXPOSE 8080
ENTRYPOINT ["/usr/bin/tini", "--", "bellhop"]
CMD ["serve"]
