//! One test (at least) per rule: the code, the position of the offending token, the help.

use std::path::Path;

use super::{assert_at, assert_at_prefix, errs, ok, single, with, BASE};
use crate::{Code, Config};

fn help(d: &crate::Diagnostic) -> &str {
    d.help.as_deref().unwrap_or("")
}

// ---- E00xx: the file -------------------------------------------------------------

#[test]
fn e0001_file_unreadable() {
    let err = Config::load(Path::new("/definitely/not/here/msal.toml")).unwrap_err();
    assert_eq!(err.codes(), [Code::FileUnreadable]);
    assert!(err.0[0].message.contains("/definitely/not/here/msal.toml"));
}

#[test]
fn e0002_invalid_toml_embeds_tomls_message() {
    let src = "[apps.web]\nclient_id = \"x\ngrants = []\n";
    let d = single(src, Code::InvalidToml);
    assert_eq!(d.line, 2);
    assert!(d.message.starts_with("invalid TOML: "), "{}", d.message);
    let dup = single("[apps.web]\ngrants = []\ngrants = []\n", Code::InvalidToml);
    assert_eq!((dup.line, dup.col), (3, 1));
    assert!(dup.message.contains("duplicate key"));
}

// ---- E01xx: structure ------------------------------------------------------------

#[test]
fn e0101_unknown_key_in_app_with_did_you_mean() {
    let src = with(&[("authorty", Some("\"https://login.microsoftonline.com/x\""))]);
    let d = single(&src, Code::UnknownKey);
    assert_at(&d, &src, "authorty");
    assert_eq!((d.line, d.col), (7, 1));
    assert_eq!(help(&d), "did you mean `authority`?");
    assert!(d.message.contains("[apps.web]"));
}

#[test]
fn e0101_unknown_key_everywhere() {
    // top level
    let src = format!("{BASE}[defualts]\ntimeout_secs = 5\n");
    let d = single(&src, Code::UnknownKey);
    assert_at(&d, &src, "defualts");
    assert_eq!(help(&d), "did you mean `defaults`?");
    // an app setting at the top level
    let src = format!("timeout_secs = 5\n{BASE}");
    let d = single(&src, Code::UnknownKey);
    assert_at(&d, &src, "timeout_secs");
    assert!(help(&d).contains("[defaults]"));
    // in [defaults]
    let src = format!("[defaults]\ntimeout_sec = 5\n{BASE}");
    let d = single(&src, Code::UnknownKey);
    assert_eq!(help(&d), "did you mean `timeout_secs`?");
    // in a credential
    let src = with(&[(
        "credential",
        Some("{ kind = \"secret\", enviroment = \"X\", env = \"S\" }"),
    )]);
    let d = single(&src, Code::UnknownKey);
    assert_at(&d, &src, "enviroment");
    assert_eq!(help(&d), "did you mean `env`?");
    // a key of another credential kind
    let src = with(&[(
        "credential",
        Some("{ kind = \"secret\", env = \"S\", thumbprint = \"ab\" }"),
    )]);
    let d = single(&src, Code::UnknownKey);
    assert!(
        d.message.contains("not used by a `secret` credential"),
        "{}",
        d.message
    );
    // in a token cache
    let src = with(&[(
        "token_cache",
        Some("{ kind = \"file\", pth = \"c.json\", path = \"c.json\" }"),
    )]);
    let d = single(&src, Code::UnknownKey);
    assert_eq!(help(&d), "did you mean `path`?");
    // in a profile
    let src = format!("{BASE}[profiles.staging.default]\ntimeout_secs = 5\n");
    let d = single(&src, Code::UnknownKey);
    assert_at_prefix(&d, &src, "default]", "default".len());
    assert_eq!(help(&d), "did you mean `defaults`?");
}

#[test]
fn e0102_wrong_type() {
    let src = with(&[("timeout_secs", Some("\"10\""))]);
    let d = single(&src, Code::WrongType);
    assert_at(&d, &src, "\"10\"");
    assert_eq!(d.message, "timeout_secs must be an integer, found a string");

    let src = with(&[("instance_discovery", Some("\"false\""))]);
    let d = single(&src, Code::WrongType);
    assert_eq!(help(&d), "remove the quotes: `false`");

    let src = with(&[("grants", Some("\"client_credentials\""))]);
    let d = single(&src, Code::WrongType);
    assert_eq!(help(&d), "write `[\"client_credentials\"]`");

    let src = with(&[("azure_region", Some("true"))]);
    let d = single(&src, Code::WrongType);
    assert_eq!(help(&d), "use `\"auto\"`");

    let src = "[apps]\nweb = 3\n";
    let d = errs(src);
    assert_eq!(d.codes(), [Code::NoApps, Code::WrongType]);
}

#[test]
fn e0103_not_inheritable_in_defaults() {
    let src = format!("[defaults]\nclient_id = \"00000000-0000-0000-0000-000000000009\"\n{BASE}");
    let d = single(&src, Code::NotInheritable);
    assert_at(&d, &src, "client_id");
    assert_eq!(d.line, 2);
    for key in [
        "grants = []",
        "redirect_uri = \"https://a.example.com/cb\"",
        "scopes.x = [\"a\"]",
    ] {
        let src = format!("[defaults]\n{key}\n{BASE}");
        assert_eq!(errs(&src).codes(), [Code::NotInheritable], "{key}");
    }
}

#[test]
fn e0104_not_overridable_in_profile() {
    let src = format!("{BASE}[profiles.staging.apps.web]\ngrants = [\"on_behalf_of\"]\n");
    let d = single(&src, Code::NotOverridable);
    assert_at_prefix(&d, &src, "grants = [\"on", "grants".len());
}

#[test]
fn e0105_no_apps() {
    let d = single("", Code::NoApps);
    assert_eq!((d.line, d.col), (1, 1));
    let src = "[defaults]\ntimeout_secs = 5\n\n[apps]\n";
    let d = single(src, Code::NoApps);
    assert_at(&d, src, "apps");
}

#[test]
fn e0106_unknown_app_in_profile_and_lookup() {
    let src = format!("{BASE}[profiles.staging.apps.wbe]\ntimeout_secs = 5\n");
    let d = single(&src, Code::UnknownApp);
    assert_at(&d, &src, "wbe");
    assert_eq!(help(&d), "did you mean `web`?");

    let cfg = ok(BASE);
    let d = cfg.app("wep").unwrap_err();
    assert_eq!(d.code, Code::UnknownApp);
    assert_eq!(help(&d), "did you mean `web`?");
    // On the name of the app it probably meant.
    assert_at(&d, BASE, "web");
    let d = cfg.app("totally_different").unwrap_err();
    assert_eq!(help(&d), "declared apps: web");
    // No likely typo: on the `apps` key.
    assert_eq!((d.line, d.col), (1, 2));
}

#[test]
fn e0107_invalid_app_name() {
    let src = BASE.replace("[apps.web]", "[apps.OrdersDaemon]");
    let d = single(&src, Code::InvalidAppName);
    assert_at(&d, &src, "OrdersDaemon");
    assert!(
        help(&d).starts_with("rename it to `orders_daemon`"),
        "{}",
        help(&d)
    );
}

#[test]
fn e0108_unknown_profile() {
    let src = format!("{BASE}[profiles.staging.defaults]\ntimeout_secs = 5\n");
    let err = Config::resolve(Path::new("msal.toml"), &src, Some("stagin"), &|_| None).unwrap_err();
    assert_eq!(err.codes(), [Code::UnknownProfile]);
    assert_eq!(err.0[0].help.as_deref(), Some("did you mean `staging`?"));
    assert_eq!(err.0[0].line, 7);

    let env = |k: &str| (k == "MSAL_PROFILE").then(|| "prod".to_string());
    let err = Config::resolve(Path::new("msal.toml"), BASE, None, &env).unwrap_err();
    assert_eq!(err.codes(), [Code::UnknownProfile]);
    assert!(err.0[0].message.contains("selected by MSAL_PROFILE"));
    assert_eq!(err.0[0].help.as_deref(), Some("declared profiles: none"));
}

#[test]
fn e0109_invalid_profile_name() {
    let src = format!("{BASE}[profiles.\"pre prod\".defaults]\ntimeout_secs = 5\n");
    let d = single(&src, Code::InvalidProfileName);
    assert_at(&d, &src, "\"pre prod\"");
}

#[test]
fn e0110_empty_value() {
    let src = with(&[("ca_bundle", Some("\"\""))]);
    let d = single(&src, Code::EmptyValue);
    assert_at(&d, &src, "\"\"");
    let src = with(&[("client_capabilities", Some("[\"cp1\", \" \"]"))]);
    let d = single(&src, Code::EmptyValue);
    assert_at(&d, &src, "\" \"");
}

#[test]
fn e0111_invalid_env_override() {
    let env = |k: &str| match k {
        "MSAL_WEB_TIMEOUT_SECS" => Some("ten".to_string()),
        "MSAL_WEB_VALIDATE_AUTHORITY" => Some("maybe".to_string()),
        _ => None,
    };
    let err = Config::resolve(Path::new("msal.toml"), BASE, None, &env).unwrap_err();
    assert_eq!(
        err.codes(),
        [Code::InvalidEnvOverride, Code::InvalidEnvOverride]
    );
    assert!(err.iter().all(|d| d.line == 1 && d.col == 1));
    assert!(err
        .iter()
        .any(|d| d.message.contains("MSAL_WEB_TIMEOUT_SECS")));
    assert!(err
        .iter()
        .any(|d| d.message.contains("MSAL_WEB_VALIDATE_AUTHORITY")));
}

// ---- E02xx: client id ------------------------------------------------------------

#[test]
fn e0201_missing_client_id() {
    let src = with(&[("client_id", None)]);
    let d = single(&src, Code::MissingClientId);
    assert_at(&d, &src, "[apps.web]");
}

#[test]
fn e0202_invalid_client_id() {
    let src = with(&[("client_id", Some("\"6f1c...\""))]);
    let d = single(&src, Code::InvalidClientId);
    assert_at(&d, &src, "\"6f1c...\"");
    assert_eq!((d.line, d.col), (2, 13));
}

// ---- E03xx: authority ------------------------------------------------------------

#[test]
fn e0301_missing_authority() {
    let src = with(&[("authority", None)]);
    let d = single(&src, Code::MissingAuthority);
    assert_at(&d, &src, "[apps.web]");
    // inherited from [defaults] is fine
    ok(&format!(
        "[defaults]\nauthority = \"https://login.microsoftonline.com/contoso.com\"\n{}",
        with(&[("authority", None)])
    ));
}

#[test]
fn e0302_conflicting_authority_in_one_table() {
    let src = with(&[(
        "oidc_authority",
        Some("\"https://issuer.example.com/t/v2.0\""),
    )]);
    let d = single(&src, Code::ConflictingAuthority);
    assert_at(&d, &src, "\"https://issuer.example.com/t/v2.0\"");
    // across layers, the more specific one wins
    let src = format!(
        "[defaults]\nauthority = \"https://login.microsoftonline.com/contoso.com\"\n{}",
        with(&[
            ("authority", None),
            (
                "oidc_authority",
                Some("\"https://issuer.example.com/t/v2.0\"")
            )
        ])
    );
    let cfg = ok(&src);
    assert_eq!(
        cfg.apps["web"].authority.as_ref().unwrap().kind(),
        crate::AuthorityKind::Oidc
    );
}

#[test]
fn e0303_invalid_authority() {
    let src = with(&[(
        "authority",
        Some("\"login.microsoftonline.com/contoso.com\""),
    )]);
    let d = single(&src, Code::InvalidAuthority);
    assert_at(&d, &src, "\"login.microsoftonline.com/contoso.com\"");
    assert!(d.message.contains("no scheme"), "{}", d.message);
    let src = with(&[(
        "authority",
        Some("\"https://login.microsoftonline.com/contoso.com#x\""),
    )]);
    single(&src, Code::InvalidAuthority);
    let src = with(&[
        (
            "oidc_authority",
            Some("\"https://issuer.example.com/?x=1\""),
        ),
        ("authority", None),
    ]);
    single(&src, Code::InvalidAuthority);
}

#[test]
fn e0304_insecure_authority() {
    let src = with(&[(
        "authority",
        Some("\"http://login.microsoftonline.com/contoso.com\""),
    )]);
    let d = single(&src, Code::InsecureAuthority);
    assert_at(&d, &src, "\"http://login.microsoftonline.com/contoso.com\"");
    for loopback in [
        "http://localhost:8443/t",
        "http://127.0.0.1/t",
        "http://[::1]:1/t",
        "http://idp.localhost/t",
    ] {
        ok(&with(&[("authority", Some(&format!("\"{loopback}\"")))]));
    }
    let src = with(&[
        ("authority", None),
        ("oidc_authority", Some("\"http://issuer.example.com\"")),
    ]);
    single(&src, Code::InsecureAuthority);
}

#[test]
fn e0305_missing_tenant() {
    let src = with(&[("authority", Some("\"https://login.microsoftonline.com/\""))]);
    let d = single(&src, Code::MissingTenant);
    assert_at(&d, &src, "\"https://login.microsoftonline.com/\"");
    assert!(help(&d).contains("https://login.microsoftonline.com/<tenant-guid-or-domain>"));
    // path-less CIAM derives the tenant from the host
    let cfg = ok(&with(&[(
        "authority",
        Some("\"https://contoso.ciamlogin.com\""),
    )]));
    let a = cfg.apps["web"].authority.as_ref().unwrap();
    assert_eq!(
        (a.tenant(), a.kind()),
        ("contoso.onmicrosoft.com", crate::AuthorityKind::Ciam)
    );
}

#[test]
fn e0306_unknown_authority_host() {
    let src = with(&[(
        "authority",
        Some("\"https://login.microsoftonline.co/contoso.com\""),
    )]);
    let d = single(&src, Code::UnknownAuthorityHost);
    assert_at(&d, &src, "\"https://login.microsoftonline.co/contoso.com\"");
    assert_eq!(help(&d), "did you mean `login.microsoftonline.com`?");

    let src = with(&[("authority", Some("\"https://idp.example.com/contoso\""))]);
    let d = single(&src, Code::UnknownAuthorityHost);
    assert!(help(&d).contains("validate_authority = false"));
    // explicitly unvalidated, in the app or inherited
    ok(&with(&[
        ("authority", Some("\"https://idp.example.com/contoso\"")),
        ("validate_authority", Some("false")),
    ]));
    ok(&with(&[
        ("authority", Some("\"https://idp.example.com/contoso\"")),
        ("instance_discovery", Some("false")),
    ]));
    ok(&format!(
        "[defaults]\ninstance_discovery = false\n{}",
        with(&[("authority", Some("\"https://idp.example.com/contoso\""))])
    ));
    // known to the developer: B2C, ADFS, sovereign clouds
    for url in [
        "https://contoso.b2clogin.com/contoso.onmicrosoft.com/B2C_1_signin",
        "https://fs.contoso.com/adfs",
        "https://login.microsoftonline.us/contoso.com",
        "https://login.partner.microsoftonline.cn/contoso.com",
    ] {
        ok(&with(&[("authority", Some(&format!("\"{url}\"")))]));
    }
}

#[test]
fn e0307_tenant_not_allowed_for_app_tokens() {
    let src = with(&[(
        "authority",
        Some("\"https://login.microsoftonline.com/common\""),
    )]);
    let d = single(&src, Code::TenantNotAllowed);
    assert_at(&d, &src, "\"https://login.microsoftonline.com/common\"");
    assert!(d.message.contains("client_credentials"));

    let src = with(&[
        (
            "authority",
            Some("\"https://login.microsoftonline.com/Organizations/\""),
        ),
        ("grants", Some("[\"on_behalf_of\"]")),
    ]);
    let d = single(&src, Code::TenantNotAllowed);
    assert!(d.message.contains("on_behalf_of"));

    // a multi-tenant web app signing users in may use `common`
    ok(&with(&[
        (
            "authority",
            Some("\"https://login.microsoftonline.com/common\""),
        ),
        ("grants", Some("[\"authorization_code\"]")),
        ("redirect_uri", Some("\"https://app.example.com/cb\"")),
        ("scopes.graph", Some("[\"User.Read\"]")),
    ]));
}

// ---- E04xx: credential -----------------------------------------------------------

#[test]
fn e0401_missing_credential() {
    let src = with(&[("credential", None)]);
    let d = single(&src, Code::MissingCredential);
    assert_at(&d, &src, "[apps.web]");
}

#[test]
fn e0402_unknown_credential_kind() {
    let src = with(&[(
        "credential",
        Some("{ kind = \"certificat\", private_key_file = \"k.pem\" }"),
    )]);
    let d = single(&src, Code::UnknownCredentialKind);
    assert_at(&d, &src, "\"certificat\"");
    assert_eq!(help(&d), "did you mean `certificate`?");
    let src = with(&[(
        "credential",
        Some("{ kind = \"client_secret\", env = \"S\" }"),
    )]);
    assert_eq!(
        help(&single(&src, Code::UnknownCredentialKind)),
        "did you mean `secret`?"
    );
    let src = with(&[("credential", Some("{ env = \"S\" }"))]);
    let d = single(&src, Code::UnknownCredentialKind);
    assert_at(&d, &src, "{ env = \"S\" }");
}

#[test]
fn e0403_inline_secret_is_refused() {
    let src = with(&[(
        "credential",
        Some("{ kind = \"secret\", value = \"p@ss\" }"),
    )]);
    let d = errs(&src);
    assert_eq!(d.codes(), [Code::InlineSecret], "{d}");
    assert_at(&d.0[0], &src, "value");
    assert!(help(&d.0[0]).contains("env = \\\"VAR\\\"") || help(&d.0[0]).contains("env = \"VAR\""));

    let src = with(&[("credential", Some("\"p@ss\""))]);
    let d = single(&src, Code::InlineSecret);
    assert_at(&d, &src, "\"p@ss\"");

    let src = with(&[("client_secret", Some("\"p@ss\""))]);
    let d = errs(&src);
    assert_eq!(d.codes(), [Code::InlineSecret]);

    // The refused line is shown with the value masked (CI logs keep what they print).
    let src = with(&[(
        "credential",
        Some("{ kind = \"secret\", value = \"hunter2-s3cr3t\" }"),
    )]);
    let text = errs(&src).render(Path::new("msal.toml"), &src);
    assert!(!text.contains("hunter2"), "{text}");
    assert!(text.contains("value = \"**************\""), "{text}");
    assert!(text.contains("^^^^^"), "{text}");

    let src = with(&[(
        "credential",
        Some("{ kind = \"certificate\", private_key_file = \"k.pem\", certificate_file = \"c.pem\", passphrase = \"x\" }"),
    )]);
    let d = single(&src, Code::InlineSecret);
    assert_at(&d, &src, "passphrase");
    assert!(help(&d).contains("passphrase_env"));

    let src = with(&[(
        "credential",
        Some("{ kind = \"certificate\", private_key = \"-----BEGIN PRIVATE KEY-----\", certificate_file = \"c.pem\" }"),
    )]);
    let d = errs(&src);
    assert!(d.codes().contains(&Code::InlineSecret));
    assert!(d.iter().any(|d| help(d).contains("private_key_file")));

    let src = with(&[(
        "credential",
        Some("{ kind = \"certificate\", private_key_file = \"-----BEGIN PRIVATE KEY-----\", certificate_file = \"c.pem\" }"),
    )]);
    single(&src, Code::InlineSecret);

    let src = with(&[(
        "token_cache",
        Some("{ kind = \"redis\", url = \"redis://:hunter2@cache:6379\" }"),
    )]);
    let d = single(&src, Code::InlineSecret);
    assert_eq!(
        help(&d),
        "use `url_env = \"REDIS_URL\"` and supply the URL at run time"
    );

    let src = with(&[("proxy", Some("\"http://bob:hunter2@proxy:3128\""))]);
    let d = single(&src, Code::InlineSecret);
    assert!(!d.message.contains("hunter2"));
}

#[test]
fn e0404_invalid_credential_source() {
    let src = with(&[(
        "credential",
        Some("{ kind = \"secret\", env = \"S\", file = \"s.txt\" }"),
    )]);
    let d = single(&src, Code::InvalidCredentialSource);
    assert_at(&d, &src, "\"s.txt\"");
    let src = with(&[("credential", Some("{ kind = \"assertion\" }"))]);
    let d = single(&src, Code::InvalidCredentialSource);
    assert_at(&d, &src, "{ kind = \"assertion\" }");
    let src = with(&[(
        "credential",
        Some("{ kind = \"certificate\", certificate_file = \"c.pem\" }"),
    )]);
    let d = single(&src, Code::InvalidCredentialSource);
    assert!(d.message.contains("private_key_file"));
}

#[test]
fn e0405_invalid_env_var_name() {
    let src = with(&[(
        "credential",
        Some("{ kind = \"secret\", env = \"Xy7~abc.def\" }"),
    )]);
    let d = single(&src, Code::InvalidEnvVarName);
    assert_at(&d, &src, "\"Xy7~abc.def\"");
    let src = with(&[(
        "credential",
        Some("{ kind = \"certificate\", private_key_file = \"k.pem\", certificate_file = \"c.pem\", passphrase_env = \"1PASS\" }"),
    )]);
    let d = single(&src, Code::InvalidEnvVarName);
    assert_at(&d, &src, "\"1PASS\"");
    let src = with(&[(
        "token_cache",
        Some("{ kind = \"redis\", url_env = \"redis-url\" }"),
    )]);
    single(&src, Code::InvalidEnvVarName);
}

#[test]
fn e0406_invalid_thumbprint() {
    let cert = |t: &str| {
        with(&[(
            "credential",
            Some(&format!(
                "{{ kind = \"certificate\", private_key_file = \"k.pem\", thumbprint = \"{t}\" }}"
            )),
        )])
    };
    let src = cert("AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01");
    let d = single(&src, Code::InvalidThumbprint);
    assert_eq!(help(&d), "use `abcdef0123456789abcdef0123456789abcdef01`");
    let d = single(&cert(&"a".repeat(64)), Code::InvalidThumbprint);
    assert!(d.message.contains("SHA-256"));
    let src = cert("nope");
    let d = single(&src, Code::InvalidThumbprint);
    assert_at(&d, &src, "\"nope\"");
    let cfg = ok(&cert("ABCDEF0123456789ABCDEF0123456789ABCDEF01"));
    let crate::CredentialSpec::Certificate { thumbprint, .. } = &cfg.apps["web"].credential else {
        panic!()
    };
    assert_eq!(
        thumbprint.as_deref(),
        Some("abcdef0123456789abcdef0123456789abcdef01")
    );
}

#[test]
fn e0407_x5c_without_certificate() {
    let src = with(&[(
        "credential",
        Some("{ kind = \"certificate\", private_key_file = \"k.pem\", thumbprint = \"abcdef0123456789abcdef0123456789abcdef01\", send_x5c = true }"),
    )]);
    let d = single(&src, Code::X5cWithoutCertificate);
    assert_at_prefix(&d, &src, "true }", 4);
}

#[test]
fn e0408_missing_certificate() {
    let src = with(&[(
        "credential",
        Some("{ kind = \"certificate\", private_key_env = \"KEY_PEM\" }"),
    )]);
    let d = single(&src, Code::MissingCertificate);
    assert_at(
        &d,
        &src,
        "{ kind = \"certificate\", private_key_env = \"KEY_PEM\" }",
    );
}

// ---- E05xx: grants ---------------------------------------------------------------

#[test]
fn e0501_missing_grants() {
    let src = with(&[("grants", None)]);
    let d = single(&src, Code::MissingGrants);
    assert_at(&d, &src, "[apps.web]");
    let src = with(&[("grants", Some("[]"))]);
    let d = single(&src, Code::MissingGrants);
    assert_at(&d, &src, "[]");
}

#[test]
fn e0502_unknown_grant() {
    let src = with(&[("grants", Some("[\"client_credentials\", \"obo\"]"))]);
    let d = single(&src, Code::UnknownGrant);
    assert_at(&d, &src, "\"obo\"");
    assert_eq!(help(&d), "did you mean `on_behalf_of`?");
    let src = with(&[("grants", Some("[\"client_credential\"]"))]);
    assert_eq!(
        help(&single(&src, Code::UnknownGrant)),
        "did you mean `client_credentials`?"
    );
    let src = with(&[(
        "grants",
        Some("[\"client_credentials\", \"on_behalf_off\"]"),
    )]);
    assert_eq!(
        help(&single(&src, Code::UnknownGrant)),
        "did you mean `on_behalf_of`?"
    );
}

#[test]
fn e0503_duplicate_grant() {
    let src = with(&[(
        "grants",
        Some("[\"client_credentials\", \"client_credentials\"]"),
    )]);
    let d = single(&src, Code::DuplicateGrant);
    assert_eq!(d.col, "grants = [\"client_credentials\", ".len() + 1);
}

#[test]
fn e0504_refresh_token_needs_a_source() {
    let src = with(&[(
        "grants",
        Some("[\"client_credentials\", \"refresh_token\"]"),
    )]);
    let d = single(&src, Code::RefreshTokenWithoutSource);
    assert_at(&d, &src, "\"refresh_token\"");
    ok(&with(&[
        ("grants", Some("[\"on_behalf_of\", \"refresh_token\"]")),
        ("scopes.graph", Some("[\"User.Read\"]")),
    ]));
}

// ---- E06xx: redirect URI ---------------------------------------------------------

fn web_app(redirect: Option<&str>) -> String {
    let mut edits = vec![
        (
            "grants",
            Some("[\"authorization_code\", \"refresh_token\"]"),
        ),
        ("scopes.graph", Some("[\"User.Read\"]")),
    ];
    if let Some(r) = redirect {
        edits.push(("redirect_uri", Some(r)));
    }
    with(&edits)
}

#[test]
fn e0601_missing_redirect_uri() {
    let src = web_app(None);
    let d = single(&src, Code::MissingRedirectUri);
    assert_at(&d, &src, "\"authorization_code\"");
}

#[test]
fn e0602_unused_redirect_uri() {
    let src = with(&[("redirect_uri", Some("\"https://app.example.com/cb\""))]);
    let d = single(&src, Code::UnusedRedirectUri);
    assert_at(&d, &src, "\"https://app.example.com/cb\"");
}

#[test]
fn e0603_invalid_redirect_uri() {
    let src = web_app(Some("\"https://app.example.com/cb#frag\""));
    let d = single(&src, Code::InvalidRedirectUri);
    assert_at(&d, &src, "\"https://app.example.com/cb#frag\"");
    assert_eq!(help(&d), "use `https://app.example.com/cb`");
    single(
        &web_app(Some("\"/auth/callback\"")),
        Code::InvalidRedirectUri,
    );
    single(&web_app(Some("\"myapp://cb\"")), Code::InvalidRedirectUri);
}

#[test]
fn e0604_insecure_redirect_uri() {
    let src = web_app(Some("\"http://app.example.com/cb\""));
    let d = single(&src, Code::InsecureRedirectUri);
    assert_at(&d, &src, "\"http://app.example.com/cb\"");
    ok(&web_app(Some("\"http://localhost:8400/cb\"")));
    ok(&web_app(Some("\"http://127.0.0.1:8400/cb\"")));
    ok(&web_app(Some("\"http://[::1]:8400/cb\"")));
}

// ---- E07xx: scopes ---------------------------------------------------------------

#[test]
fn e0701_no_scope_sets() {
    let src = with(&[("scopes.graph", None)]);
    let d = single(&src, Code::NoScopeSets);
    assert_at(&d, &src, "[apps.web]");
    let src = with(&[("scopes.graph", None), ("scopes", Some("{}"))]);
    let d = single(&src, Code::NoScopeSets);
    assert_at(&d, &src, "{}");
}

#[test]
fn e0702_invalid_scope_set_name() {
    let src = with(&[(
        "scopes.Graph",
        Some("[\"https://graph.microsoft.com/.default\"]"),
    )]);
    let d = single(&src, Code::InvalidScopeSetName);
    assert_at(&d, &src, "Graph");
    assert_eq!(help(&d), "rename it to `graph`");
    let src = with(&[(
        "scopes.type",
        Some("[\"https://graph.microsoft.com/.default\"]"),
    )]);
    single(&src, Code::InvalidScopeSetName);
    let src = with(&[(
        "scopes.\"my-api\"",
        Some("[\"https://graph.microsoft.com/.default\"]"),
    )]);
    assert_eq!(
        help(&single(&src, Code::InvalidScopeSetName)),
        "rename it to `my_api`"
    );
}

#[test]
fn e0703_empty_scope_set() {
    let src = with(&[("scopes.storage", Some("[]"))]);
    let d = single(&src, Code::EmptyScopeSet);
    assert_at(&d, &src, "[]");
}

#[test]
fn e0704_invalid_scope() {
    let user = |s: &str| {
        with(&[
            ("grants", Some("[\"on_behalf_of\"]")),
            ("scopes.graph", Some(s)),
        ])
    };
    let src = user("[\"User.Read Mail.Read\"]");
    let d = single(&src, Code::InvalidScope);
    assert_at(&d, &src, "\"User.Read Mail.Read\"");
    assert_eq!(
        help(&d),
        "write each scope as its own string: [\"User.Read\", \"Mail.Read\"]"
    );
    let src = user("[\"User.Read\", \"\"]");
    let d = single(&src, Code::InvalidScope);
    assert_at(&d, &src, "\"\"");
}

#[test]
fn e0705_duplicate_scope() {
    let src = with(&[
        ("grants", Some("[\"on_behalf_of\"]")),
        ("scopes.graph", Some("[\"User.Read\", \"user.read\"]")),
    ]);
    let d = single(&src, Code::DuplicateScope);
    assert_at(&d, &src, "\"user.read\"");
}

#[test]
fn e0706_default_scope_not_alone() {
    let src = with(&[(
        "scopes.graph",
        Some("[\"https://graph.microsoft.com/User.Read\", \"https://graph.microsoft.com/.default\"]"),
    ), ("grants", Some("[\"on_behalf_of\"]"))]);
    let d = single(&src, Code::DefaultScopeNotAlone);
    assert_at(&d, &src, "\"https://graph.microsoft.com/.default\"");
}

#[test]
fn e0707_mixed_resources() {
    let src = with(&[
        ("grants", Some("[\"on_behalf_of\"]")),
        (
            "scopes.graph",
            Some("[\"User.Read\", \"api://inventory/Items.Read\"]"),
        ),
    ]);
    let d = single(&src, Code::MixedResources);
    assert_at(&d, &src, "\"api://inventory/Items.Read\"");
    // bare Graph names and full Graph URIs are one resource
    ok(&with(&[
        ("grants", Some("[\"on_behalf_of\"]")),
        (
            "scopes.graph",
            Some("[\"User.Read\", \"https://graph.microsoft.com/Mail.Read\"]"),
        ),
    ]));
    // two `.default` sets of different resources: one error per set
    let src = with(&[(
        "scopes.graph",
        Some("[\"https://graph.microsoft.com/.default\", \"https://storage.azure.com/.default\"]"),
    )]);
    let d = errs(&src);
    assert!(d.codes().contains(&Code::MixedResources));
}

#[test]
fn e0708_reserved_scope() {
    let src = with(&[("scopes.graph", Some("[\"openid\"]"))]);
    let d = errs(&src);
    assert_eq!(d.codes()[0], Code::ReservedScope);
    assert_at(&d.0[0], &src, "\"openid\"");
    let src = with(&[
        ("grants", Some("[\"on_behalf_of\"]")),
        ("scopes.graph", Some("[\"User.Read\", \"offline_access\"]")),
    ]);
    let d = single(&src, Code::ReservedScope);
    assert_at(&d, &src, "\"offline_access\"");
    assert!(help(&d).contains("exclude_scopes"));
}

#[test]
fn e0709_client_credentials_needs_default_sets() {
    let src = with(&[(
        "scopes.mail",
        Some("[\"https://graph.microsoft.com/Mail.Read\"]"),
    )]);
    let d = single(&src, Code::NonDefaultScopeForClientCredentials);
    assert_at(&d, &src, "[\"https://graph.microsoft.com/Mail.Read\"]");
    assert_eq!(help(&d), "use `[\"https://graph.microsoft.com/.default\"]`");
    // with a user grant too, a delegated set is fine but not a client-credential set
    let cfg = ok(&with(&[
        ("grants", Some("[\"client_credentials\", \"on_behalf_of\"]")),
        (
            "scopes.mail",
            Some("[\"https://graph.microsoft.com/Mail.Read\"]"),
        ),
    ]));
    let app = &cfg.apps["web"];
    assert!(app.scopes["graph"].is_default);
    assert!(!app.scopes["mail"].is_default);
    assert_eq!(
        app.client_credential_sets()
            .map(|(n, _)| n)
            .collect::<Vec<_>>(),
        ["graph"]
    );
}

#[test]
fn e0710_profile_scope_set_mismatch() {
    let src = format!("{BASE}[profiles.staging.apps.web]\nscopes.storage = [\"https://storage.azure.com/.default\"]\n");
    let d = single(&src, Code::ProfileScopeSetMismatch);
    assert_at_prefix(&d, &src, "storage =", "storage".len());

    let src = format!(
        "{}[profiles.staging.apps.web]\nscopes.graph = [\"https://graph.microsoft.com/User.Read\"]\n",
        with(&[("grants", Some("[\"client_credentials\", \"on_behalf_of\"]"))])
    );
    let d = single(&src, Code::ProfileScopeSetMismatch);
    assert_at(&d, &src, "[\"https://graph.microsoft.com/User.Read\"]");

    // changing the resource of a `.default` set is what profiles are for
    ok(&format!(
        "{BASE}[profiles.staging.apps.web]\nscopes.graph = [\"api://staging-graph/.default\"]\n"
    ));
}

// ---- E08xx: region ---------------------------------------------------------------

#[test]
fn e0801_invalid_region() {
    let src = with(&[("azure_region", Some("\"East US\""))]);
    let d = single(&src, Code::InvalidRegion);
    assert_at(&d, &src, "\"East US\"");
    assert_eq!(help(&d), "did you mean `eastus`?");
}

#[test]
fn e0802_unknown_region() {
    let src = with(&[("azure_region", Some("\"westeuropa\""))]);
    let d = single(&src, Code::UnknownRegion);
    assert_at(&d, &src, "\"westeuropa\"");
    assert_eq!(help(&d), "did you mean `westeurope`?");
    let cfg = ok(&with(&[("azure_region", Some("\"auto\""))]));
    assert_eq!(cfg.apps["web"].azure_region, Some(crate::RegionSpec::Auto));
    let cfg = ok(&with(&[("azure_region", Some("\"none\""))]));
    assert_eq!(
        cfg.apps["web"].azure_region,
        Some(crate::RegionSpec::Disabled)
    );
    let cfg = ok(&with(&[("azure_region", Some("\"usgovvirginia\""))]));
    assert_eq!(
        cfg.apps["web"].azure_region,
        Some(crate::RegionSpec::Named("usgovvirginia".into()))
    );
}

#[test]
fn e0803_invalid_imds_endpoint() {
    let src = with(&[("imds_endpoint", Some("\"169.254.169.254/metadata\""))]);
    let d = single(&src, Code::InvalidImdsEndpoint);
    assert_at(&d, &src, "\"169.254.169.254/metadata\"");
    ok(&with(&[(
        "imds_endpoint",
        Some("\"http://127.0.0.1:1234/metadata/instance/compute\""),
    )]));
}

// ---- E09xx: misc -----------------------------------------------------------------

#[test]
fn e0901_invalid_timeout() {
    for (value, col) in [("0", 16), ("601", 16), ("-5", 16)] {
        let src = with(&[("timeout_secs", Some(value))]);
        let d = single(&src, Code::InvalidTimeout);
        assert_eq!((d.line, d.col), (7, col), "{value}");
    }
    assert_eq!(
        ok(&with(&[("timeout_secs", Some("600"))])).apps["web"].timeout_secs,
        Some(600)
    );
}

#[test]
fn e0902_invalid_proxy() {
    let src = with(&[("proxy", Some("\"proxy:3128\""))]);
    let d = single(&src, Code::InvalidProxy);
    assert_at(&d, &src, "\"proxy:3128\"");
    single(
        &with(&[("proxy", Some("\"ftp://proxy:21\""))]),
        Code::InvalidProxy,
    );
}

#[test]
fn e0903_invalid_header_value() {
    let src = with(&[("app_name", Some("\"ordérs\""))]);
    let d = single(&src, Code::InvalidHeaderValue);
    assert_at(&d, &src, "\"ordérs\"");
    single(&with(&[("app_version", Some("\"\""))]), Code::EmptyValue);
}

#[test]
fn e0904_exclude_openid() {
    let src = with(&[("exclude_scopes", Some("[\"offline_access\", \"openid\"]"))]);
    let d = single(&src, Code::ExcludeOpenid);
    assert_at(&d, &src, "\"openid\"");
}

// ---- E10xx: token cache ----------------------------------------------------------

#[test]
fn e1001_unknown_cache_kind() {
    let src = with(&[(
        "token_cache",
        Some("{ kind = \"disk\", path = \"c.json\" }"),
    )]);
    let d = single(&src, Code::UnknownCacheKind);
    assert_at(&d, &src, "\"disk\"");
    assert_eq!(help(&d), "did you mean `file`?");
    let src = with(&[("token_cache", Some("{ kind = \"rediss\" }"))]);
    assert_eq!(
        help(&single(&src, Code::UnknownCacheKind)),
        "did you mean `redis`?"
    );
}

#[test]
fn e1002_empty_cache_path() {
    let src = with(&[("token_cache", Some("{ kind = \"file\", path = \"\" }"))]);
    let d = single(&src, Code::EmptyCachePath);
    assert_at(&d, &src, "\"\"");
    let src = with(&[("token_cache", Some("{ kind = \"file\" }"))]);
    single(&src, Code::EmptyCachePath);
}

#[test]
fn e1003_invalid_redis_url() {
    let src = with(&[(
        "token_cache",
        Some("{ kind = \"redis\", url = \"http://cache:6379\" }"),
    )]);
    let d = single(&src, Code::InvalidRedisUrl);
    assert_at(&d, &src, "\"http://cache:6379\"");
    let cfg = ok(&with(&[(
        "token_cache",
        Some("{ kind = \"redis\", url = \"rediss://cache:6380/1\" }"),
    )]));
    assert_eq!(
        cfg.apps["web"].token_cache,
        crate::CacheSpec::Redis {
            url: crate::RedisUrl::Literal("rediss://cache:6380/1".into()),
            key_prefix: "msal:".into()
        }
    );
}

#[test]
fn e1004_invalid_cache_source() {
    let src = with(&[(
        "token_cache",
        Some("{ kind = \"redis\", url = \"redis://c\", url_env = \"R\" }"),
    )]);
    let d = single(&src, Code::InvalidCacheSource);
    assert_at(&d, &src, "\"R\"");
    let src = with(&[(
        "token_cache",
        Some("{ kind = \"redis\", key_prefix = \"x:\" }"),
    )]);
    single(&src, Code::InvalidCacheSource);
}

// ---- all at once -----------------------------------------------------------------

#[test]
fn ten_mistakes_ten_diagnostics() {
    let src = r#"[defaults]
authorty = "https://login.microsoftonline.com/contoso.com"
timeout_secs = 0

[apps.web]
client_id = "not-a-guid"
authority = "http://login.microsoftonline.com/contoso.com"
credential = { kind = "secret", value = "hunter2" }
grants = ["client_credentials", "auth_code"]
scopes.graph = ["openid"]
scopes.Mail = ["https://graph.microsoft.com/Mail.Read"]
azure_region = "eastus9"
exclude_scopes = ["openid"]
"#;
    let d = errs(src);
    let got: Vec<(Code, usize)> = d.iter().map(|d| (d.code, d.line)).collect();
    assert_eq!(
        got,
        [
            (Code::UnknownKey, 2),
            (Code::InvalidTimeout, 3),
            (Code::InvalidClientId, 6),
            (Code::InsecureAuthority, 7),
            (Code::InlineSecret, 8),
            (Code::UnknownGrant, 9),
            (Code::ReservedScope, 10),
            (Code::InvalidScopeSetName, 11),
            (Code::UnknownRegion, 12),
            (Code::ExcludeOpenid, 13),
        ],
        "{}",
        d.render(Path::new("msal.toml"), src)
    );
}

#[test]
fn every_code_is_exercised_by_a_test() {
    // Keep this list in sync with the tests above: adding a Code without a test fails here.
    let tested = [
        Code::FileUnreadable,
        Code::InvalidToml,
        Code::UnknownKey,
        Code::WrongType,
        Code::NotInheritable,
        Code::NotOverridable,
        Code::NoApps,
        Code::UnknownApp,
        Code::InvalidAppName,
        Code::UnknownProfile,
        Code::InvalidProfileName,
        Code::EmptyValue,
        Code::InvalidEnvOverride,
        Code::MissingClientId,
        Code::InvalidClientId,
        Code::MissingAuthority,
        Code::ConflictingAuthority,
        Code::InvalidAuthority,
        Code::InsecureAuthority,
        Code::MissingTenant,
        Code::UnknownAuthorityHost,
        Code::TenantNotAllowed,
        Code::MissingCredential,
        Code::UnknownCredentialKind,
        Code::InlineSecret,
        Code::InvalidCredentialSource,
        Code::InvalidEnvVarName,
        Code::InvalidThumbprint,
        Code::X5cWithoutCertificate,
        Code::MissingCertificate,
        // tests/secretless.rs
        Code::InvalidManagedIdentityId,
        Code::ConflictingManagedIdentityId,
        Code::UnknownManagedIdentitySource,
        Code::UserAssignedNotSupported,
        Code::NotForManagedIdentity,
        Code::MissingGrants,
        Code::UnknownGrant,
        Code::DuplicateGrant,
        Code::RefreshTokenWithoutSource,
        Code::GrantNotAllowedForCredential,
        Code::MissingRedirectUri,
        Code::UnusedRedirectUri,
        Code::InvalidRedirectUri,
        Code::InsecureRedirectUri,
        Code::NoScopeSets,
        Code::InvalidScopeSetName,
        Code::EmptyScopeSet,
        Code::InvalidScope,
        Code::DuplicateScope,
        Code::DefaultScopeNotAlone,
        Code::MixedResources,
        Code::ReservedScope,
        Code::NonDefaultScopeForClientCredentials,
        Code::ProfileScopeSetMismatch,
        Code::InvalidRegion,
        Code::UnknownRegion,
        Code::InvalidImdsEndpoint,
        Code::InvalidTimeout,
        Code::InvalidProxy,
        Code::InvalidHeaderValue,
        Code::ExcludeOpenid,
        Code::UnknownCacheKind,
        Code::EmptyCachePath,
        Code::InvalidRedisUrl,
        Code::InvalidCacheSource,
        // tests/accepts.rs
        Code::InvalidAccepted,
        Code::DuplicateAccepted,
        Code::EmptyAccepts,
        Code::AcceptsWithoutClientId,
    ];
    assert_eq!(tested.len(), Code::ALL.len());
    for c in Code::ALL {
        assert!(tested.contains(c), "{c} has no test");
    }
    // codes are unique
    let ids: std::collections::BTreeSet<_> = Code::ALL.iter().map(|c| c.id()).collect();
    assert_eq!(ids.len(), Code::ALL.len());
}
