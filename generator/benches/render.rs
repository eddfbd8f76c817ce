//! `cargo xtask bench`: time to load, validate and render `examples/org-policy.yaml` (target: < 20 ms on
//! a 2-core machine), and each stage alone.

use std::path::Path;

use criterion::{Criterion, criterion_group, criterion_main};
use patchplane::{load_str, render, schedule};

const POLICY: &str = include_str!("../../examples/org-policy.yaml");

fn bench(c: &mut Criterion) {
    let file = Path::new("examples/org-policy.yaml");
    c.bench_function("org-policy: load + validate + render", |b| {
        b.iter(|| {
            let l = load_str(POLICY, file).expect("valid");
            render::render(&l.plan).expect("renders")
        })
    });
    c.bench_function("org-policy: load + validate", |b| {
        b.iter(|| load_str(POLICY, file).expect("valid"))
    });
    let loaded = load_str(POLICY, file).expect("valid");
    c.bench_function("org-policy: render", |b| {
        b.iter(|| render::render(&loaded.plan).expect("renders"))
    });
    let from = jiff::civil::date(2026, 1, 1);
    c.bench_function("org-policy: schedule preview, 24 openings", |b| {
        b.iter(|| schedule::preview(&loaded.plan, from, 24))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
