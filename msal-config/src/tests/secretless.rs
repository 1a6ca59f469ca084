//! `managed_identity`, `workload_identity` and `azure_environment` credentials: the model
//! and one test per rule (E0409-E0413, E0505).

use super::{assert_at, errs, ok, single};
use crate::{Code, CredentialSpec, Grant, ManagedIdentityId, ManagedIdentitySourceKind};

const AUTH: &str = "https://login.microsoftonline.com/contoso.onmicrosoft.com";
const UAMI: &str = "6f1c2d3e-0000-4000-8000-000000000002";
const RES_ID: &str = "/subscriptions/11111111-2222-3333-4444-555555555555/resourceGroups/rg-orders/providers/Microsoft.ManagedIdentity/userAssignedIdentities/orders-id";

/// A managed identity app with `credential` and extra lines.
fn mi(credential: &str, extra: &str) -> String {
    format!(
        "[apps.job]\ncredential = {credential}\nscopes.vault = [\"https://vault.azure.net/.default\"]\n{extra}"
    )
}

fn help(d: &crate::Diagnostic) -> &str {
    d.help.as_deref().unwrap_or("")
}

#[test]
fn system_assigned_needs_no_client_id_authority_or_grants() {
    let cfg = ok(&mi("{ kind = \"managed_identity\" }", ""));
    let app = &cfg.apps["job"];
    assert_eq!(app.client_id, None);
    assert_eq!(app.authority, None);
    assert_eq!(
        app.credential,
        CredentialSpec::ManagedIdentity {
            id: None,
            source: None
        }
    );
    assert_eq!(
        app.grants.iter().copied().collect::<Vec<_>>(),
        [Grant::ClientCredentials]
    );
    assert_eq!(app.client_credential_sets().count(), 1);
}

#[test]
fn user_assigned_ids_and_pinned_source() {
    for (key, value, want) in [
        ("client_id", UAMI, ManagedIdentityId::ClientId(UAMI.into())),
        ("object_id", UAMI, ManagedIdentityId::ObjectId(UAMI.into())),
        (
            "resource_id",
            RES_ID,
            ManagedIdentityId::ResourceId(RES_ID.into()),
        ),
    ] {
        let src = mi(
            &format!(
                "{{ kind = \"managed_identity\", {key} = \"{value}\", source = \"app_service\" }}"
            ),
            "grants = [\"client_credentials\"]\n",
        );
        let app = ok(&src).apps["job"].clone();
        assert_eq!(
            app.credential,
            CredentialSpec::ManagedIdentity {
                id: Some(want),
                source: Some(ManagedIdentitySourceKind::AppService)
            }
        );
    }
    // ARM segment names are case-insensitive.
    let lower = RES_ID.to_ascii_lowercase();
    ok(&mi(
        &format!("{{ kind = \"managed_identity\", resource_id = \"{lower}\" }}"),
        "",
    ));
}

#[test]
fn an_authority_in_defaults_is_ignored_by_a_managed_identity_app() {
    let src = format!(
        "[defaults]\nauthority = \"{AUTH}\"\nazure_region = \"none\"\n\n{}",
        mi("{ kind = \"managed_identity\" }", "")
    );
    assert_eq!(ok(&src).apps["job"].authority, None);
}

#[test]
fn workload_identity_and_azure_environment_take_ids_from_the_environment() {
    for kind in ["workload_identity", "azure_environment"] {
        let src = format!(
            "[apps.job]\ncredential = {{ kind = \"{kind}\" }}\nscopes.vault = [\"https://vault.azure.net/.default\"]\n"
        );
        let app = ok(&src).apps["job"].clone();
        assert_eq!(
            (app.client_id.as_deref(), app.authority.as_ref()),
            (None, None)
        );
        assert!(app.credential.reads_azure_environment());
        assert!(app.has_grant(Grant::ClientCredentials));
        // Both may be pinned in the file; then they win over AZURE_CLIENT_ID / AZURE_TENANT_ID.
        let src = format!(
            "[apps.job]\nclient_id = \"{UAMI}\"\nauthority = \"{AUTH}\"\ncredential = {{ kind = \"{kind}\" }}\ngrants = [\"client_credentials\", \"on_behalf_of\"]\nscopes.vault = [\"https://vault.azure.net/.default\"]\n"
        );
        let app = ok(&src).apps["job"].clone();
        assert_eq!(app.client_id.as_deref(), Some(UAMI));
        assert_eq!(app.authority.as_ref().unwrap().as_str(), AUTH);
        assert!(app.has_grant(Grant::OnBehalfOf));
    }
    // A pinned client id is still checked.
    let src = "[apps.job]\nclient_id = \"nope\"\ncredential = { kind = \"workload_identity\" }\nscopes.v = [\"https://vault.azure.net/.default\"]\n";
    single(src, Code::InvalidClientId);
    // They take no other key.
    let src = "[apps.job]\ncredential = { kind = \"workload_identity\", file = \"/var/run/token\" }\nscopes.v = [\"https://vault.azure.net/.default\"]\n";
    let d = single(src, Code::UnknownKey);
    assert_at(&d, src, "file");
    assert!(help(&d).contains("AZURE_"), "{}", help(&d));
}

#[test]
fn old_aliases_point_at_the_new_kinds() {
    let d = single(&mi("{ kind = \"msi\" }", ""), Code::UnknownCredentialKind);
    assert_eq!(help(&d), "did you mean `managed_identity`?");
    let d = single(
        &mi("{ kind = \"workload\" }", ""),
        Code::UnknownCredentialKind,
    );
    assert_eq!(help(&d), "did you mean `workload_identity`?");
}

#[test]
fn e0409_invalid_managed_identity_id() {
    let src = mi(
        "{ kind = \"managed_identity\", client_id = \"orders-id\" }",
        "",
    );
    let d = single(&src, Code::InvalidManagedIdentityId);
    assert_at(&d, &src, "\"orders-id\"");
    assert!(d.message.contains("GUID"), "{}", d.message);
    // A resource id under the wrong key: the help names the right one.
    let src = mi(
        &format!("{{ kind = \"managed_identity\", object_id = \"{RES_ID}\" }}"),
        "",
    );
    let d = single(&src, Code::InvalidManagedIdentityId);
    assert!(help(&d).contains("resource_id"), "{}", help(&d));
    // A GUID as resource_id.
    let src = mi(
        &format!("{{ kind = \"managed_identity\", resource_id = \"{UAMI}\" }}"),
        "",
    );
    let d = single(&src, Code::InvalidManagedIdentityId);
    assert!(help(&d).contains("client_id"), "{}", help(&d));
    // A resource id of another resource type.
    let vm = RES_ID.replace(
        "Microsoft.ManagedIdentity/userAssignedIdentities",
        "Microsoft.Compute/virtualMachines",
    );
    let src = mi(
        &format!("{{ kind = \"managed_identity\", resource_id = \"{vm}\" }}"),
        "",
    );
    let d = single(&src, Code::InvalidManagedIdentityId);
    assert!(help(&d).contains("userAssignedIdentities"), "{}", help(&d));
}

#[test]
fn e0410_conflicting_managed_identity_id() {
    let src = mi(
        &format!(
            "{{ kind = \"managed_identity\", client_id = \"{UAMI}\", object_id = \"{UAMI}\" }}"
        ),
        "",
    );
    let d = single(&src, Code::ConflictingManagedIdentityId);
    // At the later key's value (the second occurrence of the GUID).
    let at = src.rfind(&format!("\"{UAMI}\"")).unwrap();
    assert_eq!(d.span, at..at + UAMI.len() + 2);
    assert!(
        d.message.contains("`client_id` and `object_id`"),
        "{}",
        d.message
    );
    assert_eq!(help(&d), "remove `object_id`");
}

#[test]
fn e0411_unknown_managed_identity_source() {
    let src = mi(
        "{ kind = \"managed_identity\", source = \"app_servce\" }",
        "",
    );
    let d = single(&src, Code::UnknownManagedIdentitySource);
    assert_at(&d, &src, "\"app_servce\"");
    assert_eq!(help(&d), "did you mean `app_service`?");
    let d = single(
        &mi("{ kind = \"managed_identity\", source = \"x\" }", ""),
        Code::UnknownManagedIdentitySource,
    );
    assert!(
        help(&d).contains("imds") && help(&d).contains("detect"),
        "{}",
        help(&d)
    );
}

#[test]
fn e0412_user_assigned_not_supported_by_a_pinned_source() {
    for source in ["service_fabric", "cloud_shell"] {
        let src = mi(
            &format!(
                "{{ kind = \"managed_identity\", client_id = \"{UAMI}\", source = \"{source}\" }}"
            ),
            "",
        );
        let d = single(&src, Code::UserAssignedNotSupported);
        assert_at(&d, &src, &format!("\"{source}\""));
        assert!(d.message.contains("`client_id` is set"), "{}", d.message);
        // The system-assigned identity is fine there.
        ok(&mi(
            &format!("{{ kind = \"managed_identity\", source = \"{source}\" }}"),
            "",
        ));
    }
    for source in ["imds", "app_service", "machine_learning", "azure_arc"] {
        ok(&mi(
            &format!(
                "{{ kind = \"managed_identity\", object_id = \"{UAMI}\", source = \"{source}\" }}"
            ),
            "",
        ));
    }
}

#[test]
fn e0413_not_for_managed_identity() {
    let src = mi(
        "{ kind = \"managed_identity\" }",
        &format!("client_id = \"{UAMI}\"\n"),
    );
    let d = single(&src, Code::NotForManagedIdentity);
    assert_at(&d, &src, &format!("\"{UAMI}\""));
    assert!(
        help(&d).contains("kind = \"managed_identity\", client_id = "),
        "{}",
        help(&d)
    );

    let src = mi(
        "{ kind = \"managed_identity\" }",
        &format!("authority = \"{AUTH}\"\n"),
    );
    let d = single(&src, Code::NotForManagedIdentity);
    assert_at(&d, &src, &format!("\"{AUTH}\""));
    assert!(d.message.contains("`authority`"), "{}", d.message);

    let src = mi(
        "{ kind = \"managed_identity\" }",
        "oidc_authority = \"https://issuer.example.com/t\"\n",
    );
    let d = single(&src, Code::NotForManagedIdentity);
    assert!(d.message.contains("`oidc_authority`"), "{}", d.message);

    let src = mi(
        "{ kind = \"managed_identity\" }",
        "azure_region = \"eastus\"\n",
    );
    let d = single(&src, Code::NotForManagedIdentity);
    assert_at(&d, &src, "\"eastus\"");

    // From the environment at run time, the message names the variable.
    let src = mi("{ kind = \"managed_identity\" }", "");
    let env = |k: &str| (k == "MSAL_JOB_AUTHORITY").then(|| AUTH.to_string());
    let err =
        crate::Config::resolve(std::path::Path::new("msal.toml"), &src, None, &env).unwrap_err();
    assert_eq!(err.codes(), [Code::NotForManagedIdentity]);
    assert!(
        err.0[0].message.contains("MSAL_JOB_AUTHORITY"),
        "{}",
        err.0[0].message
    );
}

#[test]
fn e0505_grant_not_allowed_for_credential() {
    let src = mi(
        "{ kind = \"managed_identity\" }",
        "grants = [\"client_credentials\", \"on_behalf_of\"]\n",
    );
    let d = single(&src, Code::GrantNotAllowedForCredential);
    assert_at(&d, &src, "\"on_behalf_of\"");
    assert!(d.message.contains("only gets app tokens"), "{}", d.message);
    let src = mi(
        "{ kind = \"managed_identity\" }",
        "grants = [\"authorization_code\"]\nredirect_uri = \"https://app.example.com/cb\"\n",
    );
    assert!(errs(&src)
        .codes()
        .contains(&Code::GrantNotAllowedForCredential));
}

#[test]
fn managed_identity_scope_sets_are_default_sets() {
    let src = "[apps.job]\ncredential = { kind = \"managed_identity\" }\nscopes.mail = [\"https://graph.microsoft.com/Mail.Read\"]\n";
    let d = single(src, Code::NonDefaultScopeForClientCredentials);
    assert!(
        help(&d).contains("https://graph.microsoft.com/.default"),
        "{}",
        help(&d)
    );
}
