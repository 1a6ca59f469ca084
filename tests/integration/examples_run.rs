//! The web examples' self-tests, run as part of the test suite.
//!
//! The example sources are compiled into this test as modules, and their `--self-test`
//! routines run in-process: the same code as `cargo run --example web_app -- --self-test`
//! without a nested cargo (which would wait for the build lock `cargo test` holds) and
//! without depending on a possibly stale example binary.

use crate::web_app;

#[path = "../../examples/web_api_obo.rs"]
#[allow(dead_code)]
mod web_api_obo;

use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(120);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn web_app_self_test_passes() {
    match tokio::time::timeout(LIMIT, web_app::self_test_run()).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => panic!("web_app self-test: {e}"),
        Err(_) => panic!("web_app self-test did not finish within {LIMIT:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn web_api_obo_self_test_passes() {
    match tokio::time::timeout(LIMIT, web_api_obo::self_test_run()).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => panic!("web_api_obo self-test: {e}"),
        Err(_) => panic!("web_api_obo self-test did not finish within {LIMIT:?}"),
    }
}
