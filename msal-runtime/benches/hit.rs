//! Cached `acquire_token_for_client`: one hit, with 1 and 100,000 tenants cached, through
//! the typed (`Scopes` built once) and the dynamic (`&[&str]`) paths; and 80,000 hits by
//! one task against the same spread over 8 tasks on a two-worker runtime (how reads scale).

mod common;

use common::*;
use msal_runtime::Scopes;
use std::sync::Arc;

fn main() {
    divan::main();
}

#[divan::bench(args = [1, 100_000], sample_size = 1000)]
fn hit_typed(bencher: divan::Bencher<'_, '_>, tenants: usize) {
    let rt = runtime();
    let (_auth, app) = app_with_tenants(&rt, size(tenants));
    let scopes = Scopes::new([GRAPH]).expect("a scope");
    let _enter = rt.enter();
    bencher.bench_local(|| run(&rt, app.acquire_token_for_client(&scopes)).expect("a hit"));
}

#[divan::bench(args = [1, 100_000], sample_size = 1000)]
fn hit_dynamic(bencher: divan::Bencher<'_, '_>, tenants: usize) {
    let rt = runtime();
    let (_auth, app) = app_with_tenants(&rt, size(tenants));
    let _enter = rt.enter();
    bencher.bench_local(|| run(&rt, app.acquire_token_for_client(&[GRAPH])).expect("a hit"));
}

const HITS: usize = 80_000;

/// `HITS` hits in total, by `tasks` tasks on two workers.
#[divan::bench(args = [1, 8], sample_count = 20, sample_size = 1)]
fn hits_80k_by_tasks(bencher: divan::Bencher<'_, '_>, tasks: usize) {
    let rt = runtime();
    let (_auth, app) = app_with_tenants(&rt, 1);
    let scopes = Scopes::new([GRAPH]).expect("a scope");
    let app = Arc::new(app);
    bencher.bench_local(|| {
        rt.block_on(async {
            let handles: Vec<_> = (0..tasks)
                .map(|_| {
                    let (app, scopes) = (app.clone(), scopes.clone());
                    tokio::spawn(async move {
                        for _ in 0..size(HITS) / tasks {
                            app.acquire_token_for_client(&scopes).await.expect("a hit");
                        }
                    })
                })
                .collect();
            for h in handles {
                h.await.expect("the task");
            }
        })
    });
}
