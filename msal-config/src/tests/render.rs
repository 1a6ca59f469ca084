//! Rendering of diagnostics.

use std::path::Path;

use super::{errs, with};
use crate::{Code, Diagnostic};

#[test]
fn renders_like_rustc_with_quotes_underlined() {
    let src = with(&[("client_id", Some("\"6f1c\""))]);
    let d = errs(&src);
    let text = d.render(Path::new("crates/app/msal.toml"), &src);
    assert_eq!(
        text,
        "crates/app/msal.toml:2:13: error: client_id `6f1c` is not a GUID [E0202-invalid-client-id]
  |
2 | client_id = \"6f1c\"
  |             ^^^^^^
  = help: use the Application (client) ID from the app registration, e.g. `6f1c2d3e-4a5b-4c6d-8e9f-0a1b2c3d4e5f`

error: crates/app/msal.toml has 1 problem
"
    );
}

#[test]
fn columns_count_characters_and_keep_tabs() {
    let src = "# é\n\tx = \"é\"\n";
    let d = Diagnostic::new(Code::EmptyValue, "m", 10..14, src);
    assert_eq!((d.line, d.col), (2, 6));
    let text = d.render(Path::new("m.toml"), src);
    assert!(text.contains("2 | \tx = \"é\"\n  | \t    ^^^\n"), "{text}");
}

#[test]
fn multi_line_spans_underline_the_first_line_only() {
    let src = "a = [\n  1,\n]\n";
    let d = Diagnostic::new(Code::WrongType, "m", 4..src.len() - 1, src);
    let text = d.render(Path::new("m.toml"), src);
    assert!(text.contains("1 | a = [\n  |     ^\n"), "{text}");
}

#[test]
fn empty_span_at_end_of_file_gets_one_caret() {
    let src = "[apps]";
    let d = Diagnostic::new(Code::NoApps, "m", 6..6, src);
    assert_eq!((d.line, d.col), (1, 7));
    assert!(d
        .render(Path::new("m.toml"), src)
        .contains("1 | [apps]\n  |       ^\n"));
}

#[test]
fn display_is_compact() {
    let d = Diagnostic::new(Code::UnknownKey, "unknown key `x`", 0..1, "x = 1")
        .with_help("did you mean `y`?");
    assert_eq!(
        d.to_string(),
        "1:1: error: unknown key `x` [E0101-unknown-key]\n  = help: did you mean `y`?"
    );
}

#[test]
fn rendering_against_another_source_never_panics() {
    let d = Diagnostic::new(Code::WrongType, "m", 3..9, "abcdefghij");
    let text = d.render(Path::new("m.toml"), "éé\né");
    assert!(text.starts_with("m.toml:1:4: error: m"));
}

#[test]
fn no_panic_on_single_character_deletions_of_the_reference() {
    // A cheap stand-in for fuzzing: every third one-character deletion of the reference file
    // either parses or yields rendered diagnostics, never a panic.
    let src = include_str!("../../reference.toml");
    let mut failures = 0;
    for (i, c) in src.char_indices().step_by(3) {
        let mutated = format!("{}{}", &src[..i], &src[i + c.len_utf8()..]);
        if let Err(d) = crate::Config::parse(Path::new("msal.toml"), &mutated) {
            failures += 1;
            assert!(!d.is_empty());
            let text = d.render(Path::new("msal.toml"), &mutated);
            assert!(text.contains("error: "));
        }
    }
    assert!(failures > 30);
}
