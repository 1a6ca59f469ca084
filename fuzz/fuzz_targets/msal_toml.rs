//! `msal.toml`: any text never panics; every diagnostic's span lies in the text on
//! character boundaries with the right line and column, and renders.
#![no_main]

use libfuzzer_sys::fuzz_target;
use msal_config::{line_col, Config};
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let Ok(source) = std::str::from_utf8(data) else {
        return;
    };
    let path = Path::new("/srv/app/msal.toml");
    let Err(diags) = Config::parse(path, source) else {
        return;
    };
    assert!(!diags.is_empty());
    let lines = source.split('\n').count();
    for d in diags.iter() {
        assert!(
            d.span.start <= d.span.end && d.span.end <= source.len(),
            "{d:?}"
        );
        assert!(source.is_char_boundary(d.span.start) && source.is_char_boundary(d.span.end));
        assert_eq!((d.line, d.col), line_col(source, d.span.start));
        assert!(d.line >= 1 && d.line <= lines && d.col >= 1);
        let _ = d.render(path, source);
    }
    let _ = diags.render(path, source);
});
