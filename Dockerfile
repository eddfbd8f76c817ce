# patchplane-bridge container image: a static-enough release build on Debian, run as a non-root
# user on distroless (no shell, no package manager). Build from the workspace root:
#   docker build -t patchplane-bridge:0.1.0 .
# The ECS health check runs `/patchplane-bridge health` (the image has no curl).

FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
COPY . .
# The bridge, and the `patchplane` command line for the scheduled monthly report (the central
# stack runs `/patchplane report --month previous --publish` as a task of this image); not the
# test crate.
RUN cargo build --release --locked -p patchplane-bridge -p patchplane \
    && strip target/release/patchplane-bridge target/release/patchplane

# glibc + CA certificates + a nonroot user (65532), nothing else.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /src/target/release/patchplane-bridge /patchplane-bridge
COPY --from=build /src/target/release/patchplane /patchplane
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/patchplane-bridge"]
CMD ["run"]
