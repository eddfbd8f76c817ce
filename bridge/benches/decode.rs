//! Decode throughput over the fixtures, beside the raw `serde_json` parse of the same bytes.
//! Run with `just bench`; criterion reports time per batch of all 12 fixtures.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use patchplane_bridge::decode::decode;

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
