//! The validated model: inheritance, defaults, paths, spans, the reference file.

use std::path::{Path, PathBuf};

use super::{ok, with, BASE};
use crate::{
    Authority, AuthorityKind, CacheSpec, Config, CredentialSpec, Grant, RedisUrl, RegionSpec,
    Source,
};

#[test]
fn defaults_are_inherited_and_overridden() {
    let src = format!(
        "[defaults]\ntimeout_secs = 30\napp_name = \"fleet\"\nazure_region = \"eastus\"\n{}",
        with(&[("timeout_secs", Some("5"))])
    );
    let cfg = ok(&src);
    let app = &cfg.apps["web"];
    assert_eq!(app.timeout_secs, Some(5));
    assert_eq!(app.app_name.as_deref(), Some("fleet"));
    assert_eq!(app.azure_region, Some(RegionSpec::Named("eastus".into())));
}

#[test]
fn unset_values_have_documented_defaults() {
    let app = ok(BASE).apps["web"].clone();
    assert_eq!(app.name, "web");
    assert_eq!(
        app.client_id.as_deref(),
        Some("00000000-0000-0000-0000-000000000001")
    );
    assert!(app.instance_discovery && app.validate_authority);
    assert_eq!(app.timeout_secs, None);
    assert_eq!(app.azure_region, None);
    assert_eq!(app.token_cache, CacheSpec::Memory);
    assert_eq!(
        app.credential,
        CredentialSpec::Secret(Source::Env("WEB_SECRET".into()))
    );
    assert_eq!(
        app.grants.iter().copied().collect::<Vec<_>>(),
        [Grant::ClientCredentials]
    );
    assert!(
        app.redirect_uri.is_none()
            && app.client_capabilities.is_empty()
            && app.exclude_scopes.is_empty()
    );
    assert_eq!(
        app.authority,
        Some(
            Authority::parse("https://login.microsoftonline.com/contoso.onmicrosoft.com").unwrap()
        )
    );
    assert_eq!(app.authority.as_ref().unwrap().kind(), AuthorityKind::Aad);
    assert_eq!(
        app.authority.as_ref().unwrap().tenant(),
        "contoso.onmicrosoft.com"
    );
}

#[test]
fn relative_paths_resolve_against_the_config_directory() {
    let src = with(&[
        ("credential", Some("{ kind = \"certificate\", private_key_file = \"certs/k.pem\", certificate_file = \"/abs/c.pem\" }")),
        ("ca_bundle", Some("\"certs/ca.pem\"")),
        ("token_cache", Some("{ kind = \"file\", path = \"cache/msal.json\" }")),
    ]);
    let cfg = Config::parse(Path::new("/work/ws/msal.toml"), &src).unwrap();
    let app = &cfg.apps["web"];
    assert_eq!(app.ca_bundle, Some(PathBuf::from("/work/ws/certs/ca.pem")));
    assert_eq!(
        app.token_cache,
        CacheSpec::File {
            path: "/work/ws/cache/msal.json".into()
        }
    );
    let CredentialSpec::Certificate {
        private_key,
        certificate,
        send_x5c,
        ..
    } = &app.credential
    else {
        panic!()
    };
    assert_eq!(private_key, &Source::File("/work/ws/certs/k.pem".into()));
    assert_eq!(certificate, &Some(Source::File("/abs/c.pem".into())));
    assert!(!send_x5c);
    // a bare file name keeps paths relative (to the process's directory at run time)
    let cfg = Config::parse(Path::new("msal.toml"), &src).unwrap();
    assert_eq!(
        cfg.apps["web"].ca_bundle,
        Some(PathBuf::from("certs/ca.pem"))
    );
}

#[test]
fn credential_variants() {
    let cred = |c: &str| {
        ok(&with(&[("credential", Some(c))])).apps["web"]
            .credential
            .clone()
    };
    assert_eq!(
        cred("{ kind = \"secret\", file = \"s.txt\" }"),
        CredentialSpec::Secret(Source::File("s.txt".into()))
    );
    assert_eq!(
        cred("{ kind = \"assertion\", env = \"FED_TOKEN\" }"),
        CredentialSpec::Assertion(Source::Env("FED_TOKEN".into()))
    );
    assert_eq!(
        cred("{ kind = \"certificate\", private_key_env = \"KEY\", certificate_env = \"CERT\", passphrase_env = \"PASS\", send_x5c = true }"),
        CredentialSpec::Certificate {
            private_key: Source::Env("KEY".into()),
            certificate: Some(Source::Env("CERT".into())),
            thumbprint: None,
            passphrase_env: Some("PASS".into()),
            send_x5c: true,
        }
    );
    // a sub-table works as well as an inline table
    let src =
        with(&[("credential", None)]) + "\n[apps.web.credential]\nkind = \"secret\"\nenv = \"S\"\n";
    assert_eq!(
        ok(&src).apps["web"].credential,
        CredentialSpec::Secret(Source::Env("S".into()))
    );
    let src = with(&[(
        "token_cache",
        Some("{ kind = \"redis\", url_env = \"REDIS_URL\", key_prefix = \"app:\" }"),
    )]);
    assert_eq!(
        ok(&src).apps["web"].token_cache,
        CacheSpec::Redis {
            url: RedisUrl::Env("REDIS_URL".into()),
            key_prefix: "app:".into()
        }
    );
}

#[test]
fn spans_of_apps_and_scope_sets() {
    let src = format!("{BASE}\n[apps.api]\nclient_id = \"00000000-0000-0000-0000-000000000002\"\nauthority = \"https://login.microsoftonline.com/contoso.com\"\ncredential = {{ kind = \"secret\", env = \"API\" }}\ngrants = [\"on_behalf_of\"]\n\n[apps.api.scopes]\ninventory = [\"api://inventory/Items.Read\"]\n");
    let cfg = ok(&src);
    let web = &cfg.apps["web"];
    assert_eq!((web.span.line, web.span.col), (1, 1));
    assert_eq!(&src[web.span.range.clone()], "[apps.web]");
    assert_eq!(&src[web.name_span.range.clone()], "web");
    let graph = &web.scopes["graph"];
    assert_eq!((graph.name_span.line, graph.name_span.col), (6, 8));
    assert_eq!(
        &src[graph.span.range.clone()],
        "[\"https://graph.microsoft.com/.default\"]"
    );
    assert_eq!(
        graph.resource.as_deref(),
        Some("https://graph.microsoft.com")
    );
    let api = &cfg.apps["api"];
    assert_eq!(api.span.line, 8);
    let inv = &api.scopes["inventory"];
    assert_eq!((inv.name_span.line, inv.name_span.col), (15, 1));
    assert!(!inv.is_default);
    assert_eq!(inv.resource.as_deref(), Some("api://inventory"));
    assert_eq!(cfg.apps_span.line, 1);
}

#[test]
fn inline_app_tables_point_at_their_key() {
    let src = "[apps]\nweb = { client_id = \"00000000-0000-0000-0000-000000000001\", authority = \"https://login.microsoftonline.com/contoso.com\", credential = { kind = \"secret\", env = \"S\" }, grants = [\"client_credentials\"], scopes = { graph = [\"https://graph.microsoft.com/.default\"] } }\n";
    let cfg = ok(src);
    assert_eq!(&src[cfg.apps["web"].span.range.clone()], "web");
}

#[test]
fn reference_toml_parses_cleanly() {
    let src = include_str!("../../reference.toml");
    let cfg = ok(src);
    assert_eq!(
        cfg.apps.keys().collect::<Vec<_>>(),
        ["orders_api", "orders_daemon", "orders_web"]
    );
    assert_eq!(cfg.profiles, ["local", "staging"]);
    let daemon = &cfg.apps["orders_daemon"];
    assert_eq!(daemon.credential.kind(), "certificate");
    assert_eq!(daemon.azure_region, Some(RegionSpec::Auto));
    assert_eq!(daemon.timeout_secs, Some(10));
    let web = &cfg.apps["orders_web"];
    assert!(web.has_grant(Grant::AuthorizationCode) && web.has_grant(Grant::RefreshToken));
    assert_eq!(
        web.redirect_uri.as_deref(),
        Some("https://orders.example.com/auth/callback")
    );
    let api = &cfg.apps["orders_api"];
    assert_eq!(
        api.client_credential_sets()
            .map(|(n, _)| n)
            .collect::<Vec<_>>(),
        ["inventory_app"]
    );

    let staging = Config::resolve(Path::new("msal.toml"), src, Some("staging"), &|_| None).unwrap();
    let d = &staging.apps["orders_daemon"];
    assert_eq!(
        d.client_id.as_deref(),
        Some("00000000-0000-0000-0000-0000000000e5")
    );
    assert_eq!(d.azure_region, Some(RegionSpec::Disabled));
    assert!(d
        .authority
        .as_ref()
        .unwrap()
        .as_str()
        .contains("66666666-7777-8888-9999-000000000000"));
    assert_eq!(
        staging.apps["orders_web"].redirect_uri.as_deref(),
        Some("https://staging.orders.example.com/auth/callback")
    );
}

#[test]
fn check_shape_compares_grants_and_set_kinds_not_contents() {
    let cfg = ok(&with(&[
        ("grants", Some(r#"["client_credentials", "on_behalf_of"]"#)),
        ("scopes.api", Some(r#"["api://inventory/Items.Read"]"#)),
    ]));
    let app = &cfg.apps["web"];
    let cc_obo = [Grant::OnBehalfOf, Grant::ClientCredentials];
    // Order of grants does not matter; extra sets in the file are fine.
    assert_eq!(app.check_shape(&cc_obo, &[("graph", true)]), Ok(()));
    assert_eq!(
        app.check_shape(&cc_obo, &[("graph", true), ("api", false)]),
        Ok(())
    );
    // A missing or an extra grant is a mismatch.
    let err = app
        .check_shape(&[Grant::ClientCredentials], &[])
        .unwrap_err();
    assert_eq!(
        err,
        "app `web` enables grants [client_credentials, on_behalf_of] but this program was compiled for [client_credentials]"
    );
    assert!(app
        .check_shape(
            &[
                Grant::ClientCredentials,
                Grant::OnBehalfOf,
                Grant::RefreshToken
            ],
            &[]
        )
        .is_err());
    // A missing set, or one whose kind changed.
    let err = app.check_shape(&cc_obo, &[("storage", true)]).unwrap_err();
    assert!(err.contains("no scope set `storage`"), "{err}");
    let err = app.check_shape(&cc_obo, &[("api", true)]).unwrap_err();
    assert!(
        err.contains("scope set `api` is a set of named scopes here but a `.default` set"),
        "{err}"
    );
}
