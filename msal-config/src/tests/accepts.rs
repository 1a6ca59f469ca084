//! `accepts` (what a web API takes from its callers' tokens): the model and one case per
//! rule (E11xx), each pointing at the offending token.

use super::{assert_at, errs, ok, single, with};
use crate::{AcceptedTenants, Code};

fn help(d: &crate::Diagnostic) -> &str {
    d.help.as_deref().unwrap_or("")
}

#[test]
fn accepts_is_parsed_into_the_model() {
    let src = with(&[(
        "accepts",
        Some(
            r#"{ scopes = ["Orders.Read", "access_as_user"], roles = ["Orders.Admin"], audiences = ["api://orders"], tenants = ["11111111-2222-3333-4444-555555555555"] }"#,
        ),
    )]);
    let cfg = ok(&src);
    let a = cfg.app("web").unwrap().accepts.clone().unwrap();
    assert_eq!(a.scopes, ["Orders.Read", "access_as_user"]);
    assert_eq!(a.roles, ["Orders.Admin"]);
    assert_eq!(a.audiences, ["api://orders"]);
    assert_eq!(
        a.tenants,
        AcceptedTenants::Listed(vec!["11111111-2222-3333-4444-555555555555".into()])
    );
    let any = ok(&with(&[(
        "accepts",
        Some(r#"{ roles = ["Jobs.Run"], tenants = "any" }"#),
    )]));
    assert_eq!(
        any.app("web").unwrap().accepts.as_ref().unwrap().tenants,
        AcceptedTenants::Any
    );
    // Dotted keys work too; no `accepts`: `None`.
    let dotted = ok(&with(&[("accepts.scopes", Some(r#"["Orders.Read"]"#))]));
    assert!(dotted.app("web").unwrap().accepts.is_some());
    assert!(ok(&with(&[])).app("web").unwrap().accepts.is_none());
}

#[test]
fn type_names() {
    for (value, ty) in [
        ("Orders.Read", "OrdersRead"),
        ("access_as_user", "AccessAsUser"),
        ("user-impersonation", "UserImpersonation"),
        ("Files.ReadWrite.All", "FilesReadWriteAll"),
    ] {
        assert_eq!(crate::accepted_type_name(value), ty);
    }
}

#[test]
fn e1101_invalid_accepted_values() {
    let src = with(&[(
        "accepts",
        Some(r#"{ scopes = ["api://orders/Orders.Read"] }"#),
    )]);
    let d = single(&src, Code::InvalidAccepted);
    assert_at(&d, &src, "\"api://orders/Orders.Read\"");
    assert!(d.message.contains("bare permission"), "{}", d.message);
    assert_eq!(
        help(&d),
        "write `\"Orders.Read\"` (the audience goes in `audiences`)"
    );

    let src = with(&[("accepts", Some(r#"{ roles = ["2fa.Admin"] }"#))]);
    let d = single(&src, Code::InvalidAccepted);
    assert_at(&d, &src, "\"2fa.Admin\"");
    assert!(d.message.contains("Rust type name"));

    let src = with(&[("accepts", Some(r#"{ scopes = ["Orders Read"] }"#))]);
    assert_at(
        &single(&src, Code::InvalidAccepted),
        &src,
        "\"Orders Read\"",
    );

    let src = with(&[(
        "accepts",
        Some(r#"{ scopes = ["A.B"], audiences = ["orders"] }"#),
    )]);
    let d = single(&src, Code::InvalidAccepted);
    assert_at(&d, &src, "\"orders\"");

    let src = with(&[(
        "accepts",
        Some(r#"{ scopes = ["A.B"], tenants = ["contoso.com"] }"#),
    )]);
    let d = single(&src, Code::InvalidAccepted);
    assert_at(&d, &src, "\"contoso.com\"");
    assert!(help(&d).contains("GUID"));

    let src = with(&[(
        "accepts",
        Some(r#"{ scopes = ["A.B"], tenants = "11111111-2222-3333-4444-555555555555" }"#),
    )]);
    let d = single(&src, Code::InvalidAccepted);
    assert_eq!(
        help(&d),
        "write `[\"11111111-2222-3333-4444-555555555555\"]`"
    );
}

#[test]
fn e1102_duplicates_and_type_name_clashes() {
    let src = with(&[(
        "accepts",
        Some(r#"{ scopes = ["Orders.Read", "Orders.Read"] }"#),
    )]);
    let d = single(&src, Code::DuplicateAccepted);
    assert_eq!(d.col, 38, "points at the second one");
    assert!(d.message.contains("listed twice"));
    let src = with(&[(
        "accepts",
        Some(r#"{ roles = ["Orders.Admin", "orders_admin", "OrdersAdmin"] }"#),
    )]);
    let d = errs(&src);
    assert_eq!(
        d.codes(),
        [Code::DuplicateAccepted, Code::DuplicateAccepted]
    );
    assert!(d.0[0].message.contains("both make the type `OrdersAdmin`"));
}

#[test]
fn e1103_accepts_must_name_something() {
    let src = with(&[("accepts", Some(r#"{ audiences = ["api://orders"] }"#))]);
    let d = single(&src, Code::EmptyAccepts);
    assert_at(&d, &src, r#"{ audiences = ["api://orders"] }"#);
    let src = with(&[("accepts", Some(r#"{ scopes = [] }"#))]);
    let d = single(&src, Code::EmptyAccepts);
    assert_at(&d, &src, "[]");
}

#[test]
fn e1104_not_for_managed_identity() {
    let src = r#"[apps.job]
credential = { kind = "managed_identity" }
scopes.vault = ["https://vault.azure.net/.default"]
accepts = { roles = ["Jobs.Run"] }
"#;
    let d = single(src, Code::AcceptsWithoutClientId);
    assert_at(&d, src, r#"{ roles = ["Jobs.Run"] }"#);
}

#[test]
fn structure_errors_in_accepts() {
    let src = with(&[("accepts", Some(r#"["Orders.Read"]"#))]);
    let d = single(&src, Code::WrongType);
    assert!(help(&d).contains("accepts = {"));
    let src = with(&[("accepts", Some(r#"{ scope = ["Orders.Read"] }"#))]);
    let d = single(&src, Code::UnknownKey);
    assert_eq!(help(&d), "did you mean `scopes`?");
    // Not in [defaults], not changed by a profile.
    let src = format!(
        "[defaults]\naccepts = {{ scopes = [\"A.B\"] }}\n{}",
        with(&[])
    );
    assert_eq!(errs(&src).codes(), [Code::NotInheritable]);
    let src = format!(
        "{}[profiles.prod.apps.web]\naccepts = {{ scopes = [\"A.B\"] }}\n",
        with(&[])
    );
    assert_eq!(errs(&src).codes(), [Code::NotOverridable]);
}
