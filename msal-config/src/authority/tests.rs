use super::*;

/// The shared table: `(input, verdict)`.
pub(crate) fn table() -> Vec<(&'static str, &'static str)> {
    include_str!("../../tests/authorities.tsv")
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| l.split_once('\t').expect("a tab between input and verdict"))
        .collect()
}

/// The verdict of [`Authority::parse`], in the table's notation.
fn verdict(input: &str) -> String {
    match Authority::parse(input) {
        Ok(a) => format!("{} {} {}", a.kind(), a.tenant(), a.as_str()),
        Err(e) => format!(
            "error {}",
            format!("{e:?}").split([' ', '(', '{']).next().unwrap()
        ),
    }
}

#[test]
fn the_shared_table() {
    let table = table();
    assert!(table.len() >= 40, "{} rows", table.len());
    let wrong: Vec<String> = table
        .iter()
        .filter(|(input, want)| verdict(input) != *want)
        .map(|(input, want)| format!("{input:?}: want `{want}`, got `{}`", verdict(input)))
        .collect();
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn canonical_form_parses_to_itself() {
    for (input, _) in table() {
        if let Ok(a) = Authority::parse(input) {
            let again = Authority::parse(a.as_str()).unwrap();
            assert_eq!(again, a, "{input}");
        }
    }
}

#[test]
fn discovery_urls() {
    let url = |s: &str| Authority::parse(s).unwrap().openid_configuration_url();
    assert_eq!(
        url("https://login.microsoftonline.com/contoso.com/"),
        "https://login.microsoftonline.com/contoso.com/v2.0/.well-known/openid-configuration"
    );
    assert_eq!(
        url("https://contoso.b2clogin.com/contoso.onmicrosoft.com/B2C_1_signin"),
        "https://contoso.b2clogin.com/contoso.onmicrosoft.com/B2C_1_signin/v2.0/.well-known/openid-configuration"
    );
    assert_eq!(
        url("https://contoso.ciamlogin.com"),
        "https://contoso.ciamlogin.com/contoso.onmicrosoft.com/v2.0/.well-known/openid-configuration"
    );
    assert_eq!(
        url("https://fs.contoso.com/adfs"),
        "https://fs.contoso.com/adfs/.well-known/openid-configuration"
    );
}

#[test]
fn host_trust_and_tenancy() {
    let a = |s: &str| Authority::parse(s).unwrap();
    assert!(a("https://login.microsoftonline.com/t").is_trusted_host());
    assert!(!a("https://idp.contoso.com/t").is_trusted_host());
    assert!(a("https://idp.contoso.com/t").needs_instance_discovery());
    assert!(a("http://localhost:8080/t").is_trusted_host());
    assert!(a("https://fs.contoso.com/adfs").is_trusted_host());
    assert!(a("https://login.microsoftonline.com/Common").is_multi_tenant());
    assert!(!a("https://login.microsoftonline.com/contoso.com").is_multi_tenant());
    assert_eq!(a("https://localhost:8443/t").host(), "localhost");
    assert_eq!(a("https://localhost:8443/t").port(), Some(8443));
}

#[test]
fn oidc_issuers() {
    let a = Authority::oidc("https://issuer.example.com/tenant/v2.0").unwrap();
    assert_eq!(a.kind(), AuthorityKind::Oidc);
    assert_eq!(a.tenant(), "tenant");
    assert!(a.is_trusted_host());
    assert_eq!(
        Authority::oidc("https://i.example.com").unwrap().as_str(),
        "https://i.example.com"
    );
    assert_eq!(
        Authority::oidc("http://example.com/x").unwrap_err(),
        AuthorityError::Insecure {
            host: "example.com".into()
        }
    );
    assert_eq!(
        Authority::oidc("https://i.example.com/?a=1").unwrap_err(),
        AuthorityError::Query
    );
}

#[test]
fn errors_explain_themselves() {
    for (input, want) in table() {
        if want.starts_with("error") {
            let e = Authority::parse(input).unwrap_err();
            assert!(!e.to_string().is_empty() && !e.help().is_empty(), "{input}");
        }
    }
}
