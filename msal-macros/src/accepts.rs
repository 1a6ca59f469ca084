//! `accepts` of a web API app -> a module of marker types (`orders_api::scopes::OrdersRead`,
//! `orders_api::roles::OrdersAdmin`) that only this app accepts, and `impl WebApi`, so that
//! `Caller<OrdersApi, Requires<orders_api::scopes::OrdersRead>>` compiles and a permission
//! the app does not accept (or another app's) does not.

use msal_config::{accepted_type_name, AcceptedTenants, Accepts};
use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote};
use syn::{Ident, ItemStruct};

fn doc(text: String) -> TokenStream {
    quote!(#[doc = #text])
}

/// The generated items; nothing when the app declares no `accepts`.
pub(crate) fn codegen(
    strukt: &ItemStruct,
    app_name: &str,
    accepts: Option<&Accepts>,
    config_at: &str,
    krate: &syn::Path,
) -> TokenStream {
    let Some(a) = accepts else {
        return TokenStream::new();
    };
    let ident = &strukt.ident;
    let vis = &strukt.vis;
    let module = Ident::new(
        &msal_config::app_key_for(&ident.to_string()),
        Span::call_site(),
    );
    let marker = |value: &str, kind: &str, claim: &str| {
        let ty = format_ident!("{}", accepted_type_name(value));
        let d = doc(format!(
            "The {kind} `{value}` (in `{claim}`), which app `{app_name}` accepts ({config_at}): \
             `Caller<{ident}, Requires<{module}::{}s::{ty}>>` admits only tokens that carry it.",
            kind.split(' ').next_back().unwrap_or(kind)
        ));
        (ty, d)
    };
    let mut scope_items = Vec::new();
    let mut role_items = Vec::new();
    let mut impls = Vec::new();
    for (values, kind, claim, items, sub, variant) in [
        (
            &a.scopes,
            "delegated scope",
            "scp",
            &mut scope_items,
            quote!(scopes),
            quote!(Scope),
        ),
        (
            &a.roles,
            "app role",
            "roles",
            &mut role_items,
            quote!(roles),
            quote!(Role),
        ),
    ] {
        for value in values {
            let (ty, d) = marker(value, kind, claim);
            items.push(quote! {
                #d
                #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
                pub struct #ty;
            });
            impls.push(quote! {
                #[automatically_derived]
                impl #krate::web_api::Permission for #module::#sub::#ty {
                    const VALUE: &'static str = #value;
                    const KIND: #krate::web_api::PermissionKind = #krate::web_api::PermissionKind::#variant;
                }
                #[automatically_derived]
                impl #krate::web_api::AcceptedBy<#ident> for #module::#sub::#ty {}
            });
        }
    }
    let strs = |v: &[String]| quote!(&[#(#v),*]);
    let (scopes, roles, audiences) = (strs(&a.scopes), strs(&a.roles), strs(&a.audiences));
    let tenants = match &a.tenants {
        AcceptedTenants::Authority => quote!(#krate::web_api::AcceptedTenantsSpec::Authority),
        AcceptedTenants::Any => quote!(#krate::web_api::AcceptedTenantsSpec::Any),
        AcceptedTenants::Listed(t) => {
            let t = strs(t);
            quote!(#krate::web_api::AcceptedTenantsSpec::Listed(#t))
        }
    };
    let mod_doc = doc(format!(
        "The permissions app `{app_name}` accepts in its callers' tokens (`accepts` at {config_at}), as types for [`{ident}`]'s `Requires<...>`."
    ));
    let scopes_doc = doc(format!(
        "Delegated permissions (`scp`) app `{app_name}` accepts."
    ));
    let roles_doc = doc(format!("App roles (`roles`) app `{app_name}` accepts."));
    quote! {
        #mod_doc
        #[allow(dead_code)]
        #vis mod #module {
            #scopes_doc
            pub mod scopes {
                #(#scope_items)*
            }
            #roles_doc
            pub mod roles {
                #(#role_items)*
            }
        }

        #(#impls)*

        #[automatically_derived]
        impl #krate::web_api::WebApi for #ident {
            const APP_NAME: &'static str = #app_name;
            const ACCEPTS: #krate::web_api::AcceptsSpec = #krate::web_api::AcceptsSpec {
                scopes: #scopes,
                roles: #roles,
                audiences: #audiences,
                tenants: #tenants,
            };

            fn application(&self) -> &#krate::ConfidentialClientApplication {
                #ident::application(self)
            }
        }
    }
}
