//! The validated app model as Rust code: generated clients build their `AppConfig` from
//! it instead of parsing the embedded msal.toml again when no run-time overlay applies.

use std::path::Path;

use msal_config::authority::AuthorityKind;
use msal_config::{
    AppConfig, Authority, CacheSpec, CredentialSpec, Grant, ManagedIdentityId,
    ManagedIdentitySourceKind, RedisUrl, RegionSpec, ScopeSet, Source, SourceSpan,
};
use proc_macro2::TokenStream;
use quote::quote;

/// The `compiled` field of the generated `AppSpec`: `Some(fn)` building `app` (whose
/// relative paths are as written), or `None` when the model cannot be rebuilt exactly
/// (an authority whose canonical string does not parse back to itself), in which case
/// the embedded text is parsed at run time as before.
pub(crate) fn compiled(app: Option<&AppConfig>, krate: &syn::Path) -> TokenStream {
    let Some(app) = app else {
        return quote!(::core::option::Option::None);
    };
    let Some(authority) = authority(app.authority.as_ref(), krate) else {
        return quote!(::core::option::Option::None);
    };
    let c = quote!(#krate::__private::msal_config);
    let name = &app.name;
    let client_id = opt_str(app.client_id.as_deref());
    let credential = credential(&app.credential, &c);
    let grants = app.grants.iter().map(|g| grant(*g, &c));
    let scopes = app.scopes.iter().map(|(n, s)| {
        let set = scope_set(s, &c);
        quote!((::std::string::String::from(#n), #set))
    });
    let region = match &app.azure_region {
        None => quote!(::core::option::Option::None),
        Some(RegionSpec::Disabled) => {
            quote!(::core::option::Option::Some(#c::RegionSpec::Disabled))
        }
        Some(RegionSpec::Auto) => quote!(::core::option::Option::Some(#c::RegionSpec::Auto)),
        Some(RegionSpec::Named(r)) => quote!(::core::option::Option::Some(
            #c::RegionSpec::Named(::std::string::String::from(#r))
        )),
    };
    let redirect_uri = opt_str(app.redirect_uri.as_deref());
    let imds_endpoint = opt_str(app.imds_endpoint.as_deref());
    let instance_discovery = app.instance_discovery;
    let validate_authority = app.validate_authority;
    let timeout_secs = match app.timeout_secs {
        Some(n) => quote!(::core::option::Option::Some(#n)),
        None => quote!(::core::option::Option::None),
    };
    let ca_bundle = match &app.ca_bundle {
        Some(p) => {
            let p = path(p);
            quote!(::core::option::Option::Some(#p))
        }
        None => quote!(::core::option::Option::None),
    };
    let proxy = opt_str(app.proxy.as_deref());
    let app_name = opt_str(app.app_name.as_deref());
    let app_version = opt_str(app.app_version.as_deref());
    let caps = app.client_capabilities.iter();
    let excl = app.exclude_scopes.iter();
    let cache = cache(&app.token_cache, &c);
    let accepts = accepts(app.accepts.as_ref(), &c);
    let span = span_of(&app.span, &c);
    let name_span = span_of(&app.name_span, &c);
    quote! {
        {
            fn __msal_compiled() -> #krate::Result<#c::AppConfig> {
                ::core::result::Result::Ok(#c::AppConfig {
                    name: ::std::string::String::from(#name),
                    client_id: #client_id,
                    authority: #authority,
                    credential: #credential,
                    grants: [#(#grants),*].into_iter().collect(),
                    redirect_uri: #redirect_uri,
                    scopes: [#(#scopes),*].into_iter().collect(),
                    accepts: #accepts,
                    azure_region: #region,
                    imds_endpoint: #imds_endpoint,
                    instance_discovery: #instance_discovery,
                    validate_authority: #validate_authority,
                    timeout_secs: #timeout_secs,
                    ca_bundle: #ca_bundle,
                    proxy: #proxy,
                    app_name: #app_name,
                    app_version: #app_version,
                    client_capabilities: ::std::vec![#(::std::string::String::from(#caps)),*],
                    exclude_scopes: ::std::vec![#(::std::string::String::from(#excl)),*],
                    token_cache: #cache,
                    span: #span,
                    name_span: #name_span,
                })
            }
            ::core::option::Option::Some(
                __msal_compiled as fn() -> #krate::Result<#c::AppConfig>
            )
        }
    }
}

/// `Option<Authority>` rebuilt from its canonical string; `None` when that string would
/// not give back the same authority.
fn authority(a: Option<&Authority>, krate: &syn::Path) -> Option<TokenStream> {
    let Some(a) = a else {
        return Some(quote!(::core::option::Option::None));
    };
    let oidc = a.kind() == AuthorityKind::Oidc;
    let canonical = a.as_str();
    let again = if oidc {
        Authority::oidc(canonical)
    } else {
        Authority::parse(canonical)
    };
    (again.as_ref() == Ok(a)).then(|| {
        quote!(::core::option::Option::Some(
            #krate::__private::authority(#canonical, #oidc)?
        ))
    })
}

/// `Option<Accepts>` as written in the file.
fn accepts(a: Option<&msal_config::Accepts>, c: &TokenStream) -> TokenStream {
    let Some(a) = a else {
        return quote!(::core::option::Option::None);
    };
    let list = |v: &[String]| quote!(::std::vec![#(::std::string::String::from(#v)),*]);
    let (scopes, roles, audiences) = (list(&a.scopes), list(&a.roles), list(&a.audiences));
    let tenants = match &a.tenants {
        msal_config::AcceptedTenants::Authority => quote!(#c::AcceptedTenants::Authority),
        msal_config::AcceptedTenants::Any => quote!(#c::AcceptedTenants::Any),
        msal_config::AcceptedTenants::Listed(t) => {
            let t = list(t);
            quote!(#c::AcceptedTenants::Listed(#t))
        }
    };
    quote!(::core::option::Option::Some(#c::Accepts {
        scopes: #scopes,
        roles: #roles,
        audiences: #audiences,
        tenants: #tenants,
    }))
}

fn opt_str(s: Option<&str>) -> TokenStream {
    match s {
        Some(s) => quote!(::core::option::Option::Some(::std::string::String::from(#s))),
        None => quote!(::core::option::Option::None),
    }
}

fn path(p: &Path) -> TokenStream {
    let s = p.to_string_lossy();
    let s = s.as_ref();
    quote!(::std::path::PathBuf::from(#s))
}

fn source(s: &Source, c: &TokenStream) -> TokenStream {
    match s {
        Source::Env(v) => quote!(#c::Source::Env(::std::string::String::from(#v))),
        Source::File(p) => {
            let p = path(p);
            quote!(#c::Source::File(#p))
        }
    }
}

fn opt_source(s: Option<&Source>, c: &TokenStream) -> TokenStream {
    match s {
        Some(s) => {
            let s = source(s, c);
            quote!(::core::option::Option::Some(#s))
        }
        None => quote!(::core::option::Option::None),
    }
}

fn credential(cred: &CredentialSpec, c: &TokenStream) -> TokenStream {
    match cred {
        CredentialSpec::Secret(s) => {
            let s = source(s, c);
            quote!(#c::CredentialSpec::Secret(#s))
        }
        CredentialSpec::Assertion(s) => {
            let s = source(s, c);
            quote!(#c::CredentialSpec::Assertion(#s))
        }
        CredentialSpec::Certificate {
            private_key,
            certificate,
            thumbprint,
            passphrase_env,
            send_x5c,
        } => {
            let private_key = source(private_key, c);
            let certificate = opt_source(certificate.as_ref(), c);
            let thumbprint = opt_str(thumbprint.as_deref());
            let passphrase_env = opt_str(passphrase_env.as_deref());
            quote!(#c::CredentialSpec::Certificate {
                private_key: #private_key,
                certificate: #certificate,
                thumbprint: #thumbprint,
                passphrase_env: #passphrase_env,
                send_x5c: #send_x5c,
            })
        }
        CredentialSpec::ManagedIdentity { id, source } => {
            let id = match id {
                None => quote!(::core::option::Option::None),
                Some(id) => {
                    let v = id.value();
                    let variant = match id {
                        ManagedIdentityId::ClientId(_) => quote!(ClientId),
                        ManagedIdentityId::ObjectId(_) => quote!(ObjectId),
                        ManagedIdentityId::ResourceId(_) => quote!(ResourceId),
                    };
                    quote!(::core::option::Option::Some(
                        #c::ManagedIdentityId::#variant(::std::string::String::from(#v))
                    ))
                }
            };
            let source = match source {
                None => quote!(::core::option::Option::None),
                Some(k) => {
                    let variant = match k {
                        ManagedIdentitySourceKind::Imds => quote!(Imds),
                        ManagedIdentitySourceKind::AppService => quote!(AppService),
                        ManagedIdentitySourceKind::MachineLearning => quote!(MachineLearning),
                        ManagedIdentitySourceKind::AzureArc => quote!(AzureArc),
                        ManagedIdentitySourceKind::ServiceFabric => quote!(ServiceFabric),
                        ManagedIdentitySourceKind::CloudShell => quote!(CloudShell),
                    };
                    quote!(::core::option::Option::Some(#c::ManagedIdentitySourceKind::#variant))
                }
            };
            quote!(#c::CredentialSpec::ManagedIdentity { id: #id, source: #source })
        }
        CredentialSpec::WorkloadIdentity => quote!(#c::CredentialSpec::WorkloadIdentity),
        CredentialSpec::AzureEnvironment => quote!(#c::CredentialSpec::AzureEnvironment),
    }
}

fn grant(g: Grant, c: &TokenStream) -> TokenStream {
    match g {
        Grant::ClientCredentials => quote!(#c::Grant::ClientCredentials),
        Grant::AuthorizationCode => quote!(#c::Grant::AuthorizationCode),
        Grant::OnBehalfOf => quote!(#c::Grant::OnBehalfOf),
        Grant::RefreshToken => quote!(#c::Grant::RefreshToken),
    }
}

fn scope_set(s: &ScopeSet, c: &TokenStream) -> TokenStream {
    let scopes = s.scopes.iter();
    let is_default = s.is_default;
    let resource = opt_str(s.resource.as_deref());
    let span = span_of(&s.span, c);
    let name_span = span_of(&s.name_span, c);
    quote!(#c::ScopeSet {
        scopes: ::std::vec![#(::std::string::String::from(#scopes)),*],
        is_default: #is_default,
        resource: #resource,
        span: #span,
        name_span: #name_span,
    })
}

fn cache(spec: &CacheSpec, c: &TokenStream) -> TokenStream {
    match spec {
        CacheSpec::Memory => quote!(#c::CacheSpec::Memory),
        CacheSpec::File { path: p } => {
            let p = path(p);
            quote!(#c::CacheSpec::File { path: #p })
        }
        CacheSpec::Redis { url, key_prefix } => {
            let url = match url {
                RedisUrl::Env(v) => quote!(#c::RedisUrl::Env(::std::string::String::from(#v))),
                RedisUrl::Literal(v) => {
                    quote!(#c::RedisUrl::Literal(::std::string::String::from(#v)))
                }
            };
            quote!(#c::CacheSpec::Redis {
                url: #url,
                key_prefix: ::std::string::String::from(#key_prefix),
            })
        }
    }
}

fn span_of(s: &SourceSpan, c: &TokenStream) -> TokenStream {
    let (start, end, line, col) = (s.range.start, s.range.end, s.line, s.col);
    quote!(#c::SourceSpan { range: #start..#end, line: #line, col: #col })
}
