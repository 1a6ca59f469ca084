//! Property tests of the two parsers of this crate that read untrusted text: the authority
//! URL parser and `msal.toml`. Bounded (256 cases per property) so they run in seconds; the
//! `fuzz/` targets `authority_parse` and `msal_toml` explore the same entry points without a
//! bound.

use msal_config::{line_col, Authority, AuthorityKind, Config};
use proptest::prelude::*;
use std::path::Path;

/// 256 cases, or `PROPTEST_CASES` for a longer run.
fn config() -> ProptestConfig {
    ProptestConfig {
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(256),
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Hosts of every kind the parser classifies, plus odd ones.
fn host() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("login.microsoftonline.com".to_string()),
        Just("LOGIN.microsoftonline.us".to_string()),
        Just("login.partner.microsoftonline.cn".to_string()),
        Just("contoso.b2clogin.com".to_string()),
        Just("contoso.ciamlogin.com".to_string()),
        Just("adfs.contoso.com".to_string()),
        Just("127.0.0.1:8443".to_string()),
        Just("localhost".to_string()),
        Just("[::1]:443".to_string()),
        "[a-z0-9.-]{1,20}",
        "[a-zA-Z0-9.:%\\[\\]-]{0,24}",
    ]
}

fn segment() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("common".to_string()),
        Just("organizations".to_string()),
        Just("consumers".to_string()),
        Just("adfs".to_string()),
        Just("contoso.onmicrosoft.com".to_string()),
        Just("11111111-2222-3333-4444-555555555555".to_string()),
        Just("B2C_1_signupsignin".to_string()),
        Just("tfp".to_string()),
        Just("v2.0".to_string()),
        Just("..".to_string()),
        Just("%2e%2e".to_string()),
        "[a-zA-Z0-9._~%-]{0,16}",
        "\\PC{0,6}",
    ]
}

/// Authority-shaped strings: a scheme, a host, a few path segments, maybe a query.
fn authority_like() -> impl Strategy<Value = String> {
    (
        prop_oneof![
            Just("https://"),
            Just("HTTPS://"),
            Just("http://"),
            Just(""),
            Just("ftp://")
        ],
        host(),
        prop::collection::vec(segment(), 0..4),
        prop_oneof![Just(""), Just("/"), Just("?x=1"), Just("#f"), Just("//")],
    )
        .prop_map(|(scheme, host, segs, tail)| {
            let mut s = format!("{scheme}{host}");
            for seg in segs {
                s.push('/');
                s.push_str(&seg);
            }
            s.push_str(tail);
            s
        })
}

/// Checks what every diagnostic of `source` must satisfy: a span inside the text on
/// character boundaries, and the line and column of its start.
fn check_diagnostics(source: &str) -> Result<(), TestCaseError> {
    let path = Path::new("/srv/app/msal.toml");
    if let Err(diags) = Config::parse(path, source) {
        prop_assert!(!diags.is_empty(), "an error without a diagnostic");
        let lines = source.split('\n').count();
        for d in diags.iter() {
            prop_assert!(
                d.span.start <= d.span.end && d.span.end <= source.len(),
                "span {:?} outside a {}-byte source ({:?})",
                d.span,
                source.len(),
                d.code
            );
            prop_assert!(source.is_char_boundary(d.span.start));
            prop_assert!(source.is_char_boundary(d.span.end));
            prop_assert_eq!((d.line, d.col), line_col(source, d.span.start));
            prop_assert!(d.line >= 1 && d.line <= lines, "line {} of {lines}", d.line);
            prop_assert!(d.col >= 1);
            let rendered = d.render(path, source);
            let location = format!("msal.toml:{}:{}", d.line, d.col);
            prop_assert!(rendered.contains(&location), "{}", rendered);
        }
        let _ = diags.render(path, source);
    }
    Ok(())
}

/// Lines that look like `msal.toml`: real keys and tables with values of every type,
/// broken quoting, secrets, environment references.
fn toml_line() -> impl Strategy<Value = String> {
    let key = prop_oneof![
        Just("client_id"),
        Just("authority"),
        Just("credential"),
        Just("grants"),
        Just("scopes.graph"),
        Just("redirect_uri"),
        Just("timeout"),
        Just("region"),
        Just("cache"),
        Just("client_capabilities"),
        Just("instance_discovery"),
        Just("accepts"),
        Just("authorty"),
        Just("profiles.dev.authority"),
    ];
    let value = prop_oneof![
        Just("\"00000000-0000-0000-0000-000000000001\"".to_string()),
        Just("\"https://login.microsoftonline.com/common\"".to_string()),
        Just("\"${env:CLIENT_SECRET}\"".to_string()),
        Just("{ kind = \"secret\", value = \"hunter2\" }".to_string()),
        Just("{ kind = \"certificate\", private_key_file = \"k.pem\", certificate_file = \"c.pem\" }".to_string()),
        Just("[\"client_credentials\", \"on_behalf_of\"]".to_string()),
        Just("[\"https://graph.microsoft.com/.default\"]".to_string()),
        Just("\"30s\"".to_string()),
        Just("-1".to_string()),
        Just("1e400".to_string()),
        Just("true".to_string()),
        Just("\"unterminated".to_string()),
        Just("'''\nmulti\n'''".to_string()),
        "\"\\PC{0,12}\"",
        "[0-9]{1,25}",
    ];
    prop_oneof![
        (key, value).prop_map(|(k, v)| format!("{k} = {v}")),
        "[a-z_]{1,10}".prop_map(|n| format!("[apps.{n}]")),
        Just("[defaults]".to_string()),
        Just("[profiles.prod]".to_string()),
        Just("[[apps]]".to_string()),
        "\\PC{0,20}",
        Just(String::new()),
        Just("# comment é".to_string()),
    ]
}

/// Found by the `authority_parse` fuzz target: a path-less CIAM authority whose host holds a
/// character the path escapes got its tenant from the raw host, and its canonical form
/// parsed to another tenant (`%60` for `` ` ``).
#[test]
fn a_path_less_ciam_tenant_is_spelled_as_in_the_canonical_url() {
    for input in [
        "https:/+l.`1clom.ciong0iogU.ciamlogin.com",
        "https://contoso.ciamlogin.com",
    ] {
        let a = Authority::parse(input).unwrap();
        assert_eq!(a.kind(), AuthorityKind::Ciam);
        let again = Authority::parse(a.as_str()).unwrap();
        assert_eq!(again.tenant(), a.tenant(), "{input}");
        assert_eq!(again.as_str(), a.as_str(), "{input}");
    }
    let a = Authority::parse("https:/+l.`1clom.ciong0iogU.ciamlogin.com").unwrap();
    assert_eq!(a.tenant(), "+l.%601clom.ciong0iogu.onmicrosoft.com");
    assert_eq!(
        Authority::parse("https://contoso.ciamlogin.com")
            .unwrap()
            .tenant(),
        "contoso.onmicrosoft.com"
    );
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn the_authority_parser_never_panics_on_any_text(s in "\\PC{0,80}") {
        let _ = Authority::parse(&s);
        let _ = Authority::oidc(&s);
    }

    #[test]
    fn a_canonical_authority_parses_to_itself(s in authority_like()) {
        let Ok(a) = Authority::parse(&s) else { return Ok(()); };
        let again = Authority::parse(a.as_str());
        prop_assert!(again.is_ok(), "{} -> {} -> {:?}", s, a.as_str(), again);
        let again = again.unwrap();
        prop_assert_eq!(again.kind(), a.kind());
        prop_assert_eq!(again.tenant(), a.tenant());
        prop_assert_eq!(again.host(), a.host());
        prop_assert_eq!(again.port(), a.port());
        prop_assert_eq!(again.as_str(), a.as_str());
        prop_assert!(!a.as_str().ends_with('/'));
        if a.kind() == AuthorityKind::Adfs {
            prop_assert_eq!(a.tenant(), "adfs");
        }
    }

    #[test]
    fn an_oidc_issuer_parses_to_itself(s in authority_like()) {
        let Ok(a) = Authority::oidc(&s) else { return Ok(()); };
        let again = Authority::oidc(a.as_str());
        prop_assert!(again.is_ok(), "{} -> {} -> {:?}", s, a.as_str(), again);
        let again = again.unwrap();
        prop_assert_eq!(again.as_str(), a.as_str());
    }

    #[test]
    fn msal_toml_of_any_text_gives_diagnostics_with_valid_spans(source in "\\PC{0,300}") {
        check_diagnostics(&source)?;
    }

    #[test]
    fn msal_toml_of_plausible_lines_gives_diagnostics_with_valid_spans(
        lines in prop::collection::vec(toml_line(), 0..24),
        crlf in any::<bool>(),
    ) {
        let source = lines.join(if crlf { "\r\n" } else { "\n" });
        check_diagnostics(&source)?;
    }
}
