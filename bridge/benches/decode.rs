//! Decode throughput over the fixtures, beside the raw `serde_json` parse of the same bytes.
//! Run with `cargo xtask bench`; criterion reports time per batch of all 12 fixtures.

use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use patchplane_bridge::decode::decode;
use patchplane_bridge::enrich::{EnrichError, Enricher, TagSource, Tags};
use patchplane_bridge::route::RouteConfig;

/// Tags from memory: the bench measures the cached path, as in steady state.
struct Static;

impl TagSource for Static {
    async fn tags(&self, _: &str, _: &str, _: &str) -> Result<Tags, EnrichError> {
        Ok([
            ("PatchGroup".to_owned(), "AL2023-early".to_owned()),
            ("Owner".to_owned(), "team".to_owned()),
        ]
        .into())
    }
}

fn fixtures() -> Vec<Vec<u8>> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/events");
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .expect("fixtures")
        .map(|e| std::fs::read(e.expect("entry").path()).expect("read"))
        .collect();
    v.sort();
    v
}

fn bench(c: &mut Criterion) {
    let bodies = fixtures();
    let mut g = c.benchmark_group("bridge");
    g.throughput(Throughput::Elements(bodies.len() as u64));
    g.bench_function("decode (typed events, 12 fixtures)", |b| {
        b.iter(|| bodies.iter().filter(|body| decode(body).is_ok()).count())
    });
    let runtime = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
    let enricher = Enricher::new(Static, Duration::from_secs(3600), "PatchGroup", &["Owner"]);
    let routes = RouteConfig::defaults();
    g.bench_function("decode + enrich (cached) + route (12 fixtures)", |b| {
        b.iter(|| {
            runtime.block_on(async {
                let mut actions = 0;
                for body in &bodies {
                    if let Ok(d) = decode(body)
                        && enricher.enrich(&d).await.is_ok()
                    {
                        actions += routes.route(&d, 1).len();
                    }
                }
                actions
            })
        })
    });
    g.bench_function("serde_json::Value parse (same 12 fixtures)", |b| {
        b.iter(|| {
            bodies
                .iter()
                .filter(|body| serde_json::from_slice::<serde_json::Value>(body).is_ok())
                .count()
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
