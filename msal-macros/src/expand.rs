//! From attribute + struct to generated code. Plain `proc_macro2`, so it is unit-testable.

use std::path::{Path, PathBuf};

use msal_config::{AppConfig, Code, Diagnostic, Grant};
use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote};
use syn::{Fields, Ident, ItemStruct, LitStr};

use crate::args::{self, Args};
use crate::load::{self, Located};

/// What the compiler tells the macro about where it runs.
pub(crate) struct Context {
    /// `CARGO_MANIFEST_DIR` of the crate being compiled.
    pub manifest_dir: Option<PathBuf>,
    /// The absolute path of the source file holding the attribute, when known.
    pub source_file: Option<PathBuf>,
}

/// Expands `#[msal_app(attr)] item`. Never panics: problems become `compile_error!`s,
/// emitted next to the unchanged item so later uses of the type do not cascade into
/// "cannot find type" errors.
pub(crate) fn expand(attr: TokenStream, item: TokenStream, cx: &Context) -> TokenStream {
    let strukt: ItemStruct = match syn::parse2(item.clone()) {
        Ok(s) => s,
        Err(_) => {
            let e = syn::Error::new_spanned(
                first_tokens(&item),
                "#[msal_app] goes on a unit struct, e.g. `pub struct OrdersDaemon;`",
            );
            return with_errors(item, vec![e.to_compile_error()]);
        }
    };
    if !matches!(strukt.fields, Fields::Unit) {
        let e = syn::Error::new_spanned(
            &strukt.fields,
            "#[msal_app] goes on a unit struct (`pub struct OrdersDaemon;`): it adds the fields itself",
        );
        return with_errors(item, vec![e.to_compile_error()]);
    }
    if !strukt.generics.params.is_empty() || strukt.generics.where_clause.is_some() {
        let e = syn::Error::new_spanned(&strukt.generics, "#[msal_app] structs cannot be generic");
        return with_errors(item, vec![e.to_compile_error()]);
    }
    let args = match args::parse(attr) {
        Ok(a) => a,
        Err(e) => return with_errors(item, vec![e.to_compile_error()]),
    };
    match generate(&args, &strukt, cx) {
        Ok(ts) => ts,
        Err(errors) => with_errors(item, errors),
    }
}

fn first_tokens(item: &TokenStream) -> TokenStream {
    item.clone().into_iter().take(2).collect()
}

fn with_errors(item: TokenStream, errors: Vec<TokenStream>) -> TokenStream {
    let mut out = item;
    out.extend(errors);
    out
}

fn error(span: Span, message: &str) -> TokenStream {
    syn::Error::new(span, message).to_compile_error()
}

/// The `include_bytes!` that makes cargo rebuild the crate when the file changes.
fn track(loc: &Located) -> TokenStream {
    let abs = loc.abs.to_string_lossy().into_owned();
    quote!(
        const _: &[u8] = ::core::include_bytes!(#abs);
    )
}

/// A file problem without a source excerpt (the file could not be read).
fn unreadable(display: &Path, detail: &str, help: &str) -> String {
    format!(
        "{}: error: cannot read `{}`: {detail} [{}]\n  = help: {help}",
        display.display(),
        display.display(),
        Code::FileUnreadable
    )
}

fn generate(
    args: &Args,
    strukt: &ItemStruct,
    cx: &Context,
) -> Result<TokenStream, Vec<TokenStream>> {
    let lit = &args.config;
    let written = lit.value();
    let loc = load::locate(
        &written,
        cx.manifest_dir.as_deref(),
        cx.source_file.as_deref(),
    )
    .map_err(|_| {
        vec![error(
            lit.span(),
            &unreadable(
                Path::new(&written),
                "no such file next to the crate's Cargo.toml (CARGO_MANIFEST_DIR) or next to this source file",
                "a relative path is resolved against the directory of the crate's Cargo.toml; a workspace-level file shared by several crates is e.g. `../msal.toml`",
            ),
        )]
    })?;
    let parsed = load::read_and_parse(&loc).map_err(|e| {
        vec![
            error(
                lit.span(),
                &unreadable(&loc.display, &e.to_string(), "msal.toml must be UTF-8 text"),
            ),
            track(&loc),
        ]
    })?;
    let cfg = match &parsed.result {
        Ok(cfg) => cfg,
        Err(diags) => {
            let mut errors: Vec<TokenStream> = if parsed.first_report() {
                diags
                    .iter()
                    .map(|d| error(lit.span(), &render(d, &loc, &parsed.source)))
                    .collect()
            } else {
                // Another #[msal_app] of this crate reported them all already.
                let n = diags.len();
                let first = diags
                    .iter()
                    .next()
                    .map_or(String::new(), |d| render(d, &loc, &parsed.source));
                vec![error(
                    lit.span(),
                    &format!(
                        "{} has {n} problem{} (all reported at the first #[msal_app] naming it); the first:\n{first}",
                        loc.display.display(),
                        if n == 1 { "" } else { "s" },
                    ),
                )]
            };
            errors.push(track(&loc));
            return Err(errors);
        }
    };
    let ident = &strukt.ident;
    let (name, name_span) = match &args.app {
        Some(a) => (a.value(), a.span()),
        None => (msal_config::app_key_for(&ident.to_string()), ident.span()),
    };
    let app = cfg.app(&name).map_err(|d: Diagnostic| {
        let mut msg = render(&d, &loc, &parsed.source);
        if args.app.is_none() {
            let pad = " ".repeat(d.line.to_string().len());
            msg.push_str(&format!(
                "\n{pad} = note: the struct `{ident}` maps to app `{name}`; pick another with `#[msal_app(config = {written:?}, app = \"...\")]`"
            ));
        }
        vec![error(name_span, &msg), track(&loc)]
    })?;
    Ok(codegen(strukt, app, &loc))
}

/// A diagnostic rendered for a `compile_error!`: the file named as written in the
/// attribute (also inside messages), no trailing newline.
fn render(d: &Diagnostic, loc: &Located, source: &str) -> String {
    let mut d = d.clone();
    let abs = loc.abs.to_string_lossy();
    d.message = d.message.replace(&*abs, &loc.display.to_string_lossy());
    d.render(&loc.display, source).trim_end().to_string()
}

fn doc(text: impl AsRef<str>) -> TokenStream {
    let text = text.as_ref();
    quote!(#[doc = #text])
}

fn lit(s: &str) -> LitStr {
    LitStr::new(s, Span::call_site())
}

/// The generated code for one app (see the `msal` crate docs for the list of items).
pub(crate) fn codegen(strukt: &ItemStruct, app: &AppConfig, loc: &Located) -> TokenStream {
    let ident = &strukt.ident;
    let vis = &strukt.vis;
    let attrs = &strukt.attrs;
    let scopes_ident = format_ident!("{}Scopes", ident);
    let file = loc.display.display().to_string();
    let abs = lit(&loc.abs.to_string_lossy());
    let name = lit(&app.name);
    let client_id = lit(app.client_id.as_deref().unwrap_or_default());
    let at = |line: usize| format!("`{file}:{line}`");
    let app_at = format!("`[apps.{}]` ({})", app.name, at(app.span.line));
    let has = |g: Grant| app.has_grant(g);
    let grants_list = app
        .grants
        .iter()
        .map(|g| format!("`{g}`"))
        .collect::<Vec<_>>()
        .join(", ");

    // The struct.
    let mut struct_docs = Vec::new();
    if attrs.iter().any(|a| a.path().is_ident("doc")) {
        struct_docs.push(doc(""));
    }
    struct_docs.push(doc(format!(
        "A client for app {app_at}, generated by `#[msal_app]`: client id `{}`, authority `{}`, grants {grants_list}; scope sets in [`{scopes_ident}`].",
        app.client_id.as_deref().unwrap_or("(from the environment)"),
        app.authority.as_ref().map_or("(from the environment)", |a| a.as_str()),
    )));

    // Scope sets.
    let mut fields = Vec::new();
    let mut inits = Vec::new();
    let mut specs = Vec::new();
    for (i, (set_name, set)) in app.scopes.iter().enumerate() {
        let field = Ident::new(set_name, Span::call_site());
        let kind = if set.is_default {
            quote!(::msal::scope::AppScopes)
        } else {
            quote!(::msal::scope::UserScopes)
        };
        let listed = set
            .scopes
            .iter()
            .map(|s| format!("`{s}`"))
            .collect::<Vec<_>>()
            .join(", ");
        let usable = if set.is_default && has(Grant::ClientCredentials) {
            "a `.default` set: usable with `acquire_token_for_client` and in user flows"
        } else if set.is_default {
            "a `.default` set"
        } else {
            "named delegated scopes: usable in user flows only"
        };
        let d = doc(format!(
            "`scopes.{set_name}` ({}): {listed} — {usable}.",
            at(set.name_span.line)
        ));
        fields.push(quote!(#d pub #field: ::msal::scope::ScopeSet<#ident, #kind>,));
        let n = lit(set_name);
        let scopes = set.scopes.iter().map(|s| lit(s));
        inits.push(quote!(#field: ::msal::scope::ScopeSet::__new(#n, #i, &[#(#scopes),*]),));
        let is_default = set.is_default;
        specs.push(quote!((#n, #is_default)));
    }
    let grants = app.grants.iter().map(|g| {
        let v = format_ident!(
            "{}",
            match g {
                Grant::ClientCredentials => "ClientCredentials",
                Grant::AuthorizationCode => "AuthorizationCode",
                Grant::OnBehalfOf => "OnBehalfOf",
                Grant::RefreshToken => "RefreshToken",
            }
        );
        quote!(::msal::__private::msal_config::Grant::#v)
    });

    let scopes_doc = doc(format!(
        "The scope sets of [`{ident}`] (`scopes.*` of {app_at}), from [`{ident}::scopes`]."
    ));
    let enabled = |g: Grant| doc(format!("\n\nEnabled by `{g}` in the `grants` of {app_at}."));
    let set_ty = |kind: TokenStream| quote!(::msal::scope::ScopeSet<#ident, #kind>);
    let app_set = set_ty(quote!(::msal::scope::AppScopes));
    let any_set = set_ty(quote!(K));
    let k = quote!(K: ::msal::scope::ScopeKind);
    let res = quote!(::msal::Result<::msal::AuthenticationResult>);

    let mut methods = Vec::new();
    if has(Grant::ClientCredentials) {
        let e = enabled(Grant::ClientCredentials);
        methods.push(quote! {
            /// An app-only token for a `.default` scope set (client credentials), from the
            /// cache while it has more than five minutes left.
            #e
            #vis async fn acquire_token_for_client(&self, scopes: #app_set) -> #res {
                self.__msal.for_client(scopes.__index(), ::core::default::Default::default()).await
            }
            /// [`acquire_token_for_client`](Self::acquire_token_for_client) with options
            /// (e.g. a claims challenge).
            #e
            #vis async fn acquire_token_for_client_with(
                &self,
                scopes: #app_set,
                options: ::msal::ForClientOptions,
            ) -> #res {
                self.__msal.for_client(scopes.__index(), options).await
            }
            /// Removes this app's app-only tokens from the cache; returns how many were removed.
            #e
            #vis async fn remove_tokens_for_client(&self) -> ::msal::Result<usize> {
                self.__msal.app().remove_tokens_for_client().await
            }
        });
    }
    if has(Grant::AuthorizationCode) {
        let e = enabled(Grant::AuthorizationCode);
        let redirect = doc(format!(
            "The `redirect_uri` of {app_at} (after profile and `MSAL_{}_REDIRECT_URI` overrides).",
            app.name.to_ascii_uppercase()
        ));
        methods.push(quote! {
            /// Starts a sign-in (authorization code with PKCE): the URL to send the user to
            /// and the flow to keep in the session. The configured redirect URI is used
            /// unless `options` sets one.
            #e
            #vis async fn initiate_auth_code_flow<#k>(
                &self,
                scopes: #any_set,
                options: ::msal::AuthCodeFlowOptions,
            ) -> ::msal::Result<::msal::AuthCodeFlow> {
                self.__msal.initiate_auth_code_flow(scopes.__index(), options).await
            }
            /// Completes a sign-in with the redirect's query (or form-post) parameters.
            #e
            #vis async fn acquire_token_by_auth_code_flow<I, K, V>(
                &self,
                flow: &::msal::AuthCodeFlow,
                auth_response: I,
            ) -> #res
            where
                I: ::core::iter::IntoIterator<Item = (K, V)>,
                K: ::core::convert::Into<::std::string::String>,
                V: ::core::convert::Into<::std::string::String>,
            {
                self.__msal.app().acquire_token_by_auth_code_flow(flow, auth_response).await
            }
            #redirect
            #e
            #vis fn redirect_uri(&self) -> &str {
                self.__msal.redirect_uri()
            }
            /// The authority's sign-out URL (`None` when it advertises none).
            #e
            #vis async fn sign_out_url(
                &self,
                post_logout_redirect_uri: ::core::option::Option<&str>,
            ) -> ::msal::Result<::core::option::Option<::std::string::String>> {
                self.__msal.app().sign_out_url(post_logout_redirect_uri).await
            }
        });
    }
    if has(Grant::AuthorizationCode) || has(Grant::RefreshToken) {
        let e = doc(format!(
            "\n\nEnabled by `authorization_code` or `refresh_token` in the `grants` of {app_at}."
        ));
        methods.push(quote! {
            /// The signed-in accounts in the cache, filtered by username when given.
            #e
            #vis async fn get_accounts(
                &self,
                username: ::core::option::Option<&str>,
            ) -> ::msal::Result<::std::vec::Vec<::msal::Account>> {
                self.__msal.app().get_accounts(username).await
            }
            /// A token for the account from the cache, refreshed if needed; `Ok(None)`
            /// when nothing usable is cached or the refresh fails.
            #e
            #vis async fn acquire_token_silent<#k>(
                &self,
                scopes: #any_set,
                account: &::msal::Account,
            ) -> ::msal::Result<::core::option::Option<::msal::AuthenticationResult>> {
                self.__msal.silent(scopes.__index(), account).await
            }
            /// Like [`acquire_token_silent`](Self::acquire_token_silent), with options, and
            /// returning the refresh failure instead of `None`.
            #e
            #vis async fn acquire_token_silent_with_error<#k>(
                &self,
                scopes: #any_set,
                account: &::msal::Account,
                options: ::msal::SilentOptions,
            ) -> ::msal::Result<::core::option::Option<::msal::AuthenticationResult>> {
                self.__msal.silent_with_error(scopes.__index(), account, options).await
            }
            /// Removes the account's tokens and entries from this app's cache.
            #e
            #vis async fn remove_account(&self, account: &::msal::Account) -> ::msal::Result<()> {
                self.__msal.app().remove_account(account).await
            }
        });
    }
    if has(Grant::OnBehalfOf) {
        let e = enabled(Grant::OnBehalfOf);
        methods.push(quote! {
            /// A token for a downstream API on behalf of the user whose token
            /// (`user_assertion`) this web API received.
            #e
            #vis async fn acquire_token_on_behalf_of<#k>(
                &self,
                user_assertion: &str,
                scopes: #any_set,
            ) -> #res {
                self.__msal.on_behalf_of(user_assertion, scopes.__index(), ::core::option::Option::None).await
            }
            /// [`acquire_token_on_behalf_of`](Self::acquire_token_on_behalf_of) answering a
            /// claims challenge from the downstream API.
            #e
            #vis async fn acquire_token_on_behalf_of_with_claims<#k>(
                &self,
                user_assertion: &str,
                scopes: #any_set,
                claims_challenge: &str,
            ) -> #res {
                self.__msal
                    .on_behalf_of(user_assertion, scopes.__index(), ::core::option::Option::Some(claims_challenge))
                    .await
            }
        });
    }
    if has(Grant::RefreshToken) {
        let e = enabled(Grant::RefreshToken);
        methods.push(quote! {
            /// Redeems a refresh token obtained elsewhere (e.g. migrating from another
            /// library) and caches the result.
            #e
            #vis async fn acquire_token_by_refresh_token<#k>(
                &self,
                refresh_token: &str,
                scopes: #any_set,
            ) -> #res {
                self.__msal.by_refresh_token(refresh_token, scopes.__index()).await
            }
        });
    }

    let env_prefix = format!("MSAL_{}_", app.name.to_ascii_uppercase());
    let from_env_doc = doc(format!(
        "Builds the client from `{file}` as compiled in, with the run-time overlays \
         `MSAL_PROFILE` and `{env_prefix}<KEY>`; the credential is read now from the \
         variable or file {app_at} names (relative paths resolve against the file's \
         directory at compile time). Errors name the missing variable or file."
    ));
    let client_id_doc = doc(format!("`client_id` of {app_at} as compiled (`{env_prefix}CLIENT_ID` or a profile may override it at run time)."));
    let app_name_doc = doc(format!("The app's key in `{file}`: `{}`.", app.name));
    let scopes_fn_doc = doc(format!("The scope sets of {app_at}."));
    let type_name = lit(&ident.to_string());

    quote! {
        #(#attrs)*
        #(#struct_docs)*
        #vis struct #ident {
            __msal: ::msal::__private::State,
        }

        #scopes_doc
        #[derive(Clone, Copy, Debug)]
        #[allow(dead_code)]
        #vis struct #scopes_ident {
            #(#fields)*
        }

        const _: &[u8] = ::core::include_bytes!(#abs);
        const _: () = ::msal::__private::assert_send_sync::<#ident>();

        impl ::core::clone::Clone for #ident {
            fn clone(&self) -> Self {
                #ident { __msal: ::core::clone::Clone::clone(&self.__msal) }
            }
        }

        impl ::core::fmt::Debug for #ident {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                self.__msal.debug(#type_name, f)
            }
        }

        #[allow(dead_code)]
        impl #ident {
            #app_name_doc
            #vis const APP_NAME: &'static str = #name;
            #client_id_doc
            #vis const CLIENT_ID: &'static str = #client_id;

            const __MSAL_SPEC: &'static ::msal::__private::AppSpec = &::msal::__private::AppSpec {
                name: #name,
                config_path: #abs,
                config_text: ::core::include_str!(#abs),
                grants: &[#(#grants),*],
                scope_sets: &[#(#specs),*],
            };

            #scopes_fn_doc
            #vis const fn scopes() -> #scopes_ident {
                #scopes_ident { #(#inits)* }
            }

            #from_env_doc
            #vis fn from_env() -> ::msal::Result<Self> {
                Self::__MSAL_SPEC.from_env().map(|s| #ident { __msal: s })
            }

            /// Like [`from_env`](Self::from_env), with variables (overlays and credentials)
            /// looked up through `lookup` instead of the process environment.
            #vis fn from_env_with<F>(lookup: F) -> ::msal::Result<Self>
            where
                F: Fn(&str) -> ::core::option::Option<::std::string::String>,
            {
                Self::__MSAL_SPEC.from_env_with(&lookup).map(|s| #ident { __msal: s })
            }

            /// Builds the client from an `msal.toml` read now (with the same run-time
            /// overlays). The file must declare this app with the grants and scope sets
            /// (of the same kind) this program was compiled with; the scopes in a set may
            /// differ.
            #vis fn from_config(path: impl ::core::convert::AsRef<::std::path::Path>) -> ::msal::Result<Self> {
                Self::__MSAL_SPEC.from_config(path.as_ref()).map(|s| #ident { __msal: s })
            }

            /// A builder set up like [`from_env`](Self::from_env) would, to adjust (a CA
            /// bundle, an HTTP client, a shared token cache, ...) before
            /// [`from_builder`](Self::from_builder).
            #vis fn builder() -> ::msal::Result<::msal::ConfidentialClientApplicationBuilder> {
                Self::__MSAL_SPEC.builder()
            }

            /// Builds `builder` and wraps it (see [`from_application`](Self::from_application)).
            #vis fn from_builder(builder: ::msal::ConfidentialClientApplicationBuilder) -> ::msal::Result<Self> {
                Self::from_application(builder.build()?)
            }

            /// Wraps an application built by other means. The scope sets and redirect URI
            /// are the compiled-in file's, with the process environment's overlays.
            #vis fn from_application(application: ::msal::ConfidentialClientApplication) -> ::msal::Result<Self> {
                Self::__MSAL_SPEC.from_application(application).map(|s| #ident { __msal: s })
            }

            /// The underlying application (the dynamic API).
            #vis fn application(&self) -> &::msal::ConfidentialClientApplication {
                self.__msal.app()
            }

            /// The underlying application, by value.
            #vis fn into_application(self) -> ::msal::ConfidentialClientApplication {
                self.__msal.into_app()
            }

            /// The token cache this client reads and writes.
            #vis fn token_cache(&self) -> &::msal::TokenCache {
                self.__msal.app().token_cache()
            }

            /// The scopes a set stands for at run time (a profile may have changed them).
            #vis fn scopes_of<#k>(&self, set: #any_set) -> &[::std::string::String] {
                self.__msal.scopes(set.__index())
            }

            #(#methods)*
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SRC: &str = r#"[defaults]
authority = "https://login.microsoftonline.com/contoso.onmicrosoft.com"

[apps.orders_daemon]
client_id = "00000000-0000-0000-0000-0000000000a1"
credential = { kind = "secret", env = "S" }
grants = ["client_credentials"]
scopes.graph = ["https://graph.microsoft.com/.default"]

[apps.orders_api]
client_id = "00000000-0000-0000-0000-0000000000c3"
credential = { kind = "secret", env = "S" }
grants = ["on_behalf_of", "refresh_token"]
scopes.inventory = ["api://inventory/Items.Read"]
"#;

    /// A directory holding `msal.toml` with `src`, as the manifest directory.
    fn cx(src: &str) -> (Context, PathBuf) {
        let dir = std::env::temp_dir().join(format!(
            "msal-macros-expand-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("msal.toml"), src).unwrap();
        let cx = Context {
            manifest_dir: Some(dir.clone()),
            source_file: None,
        };
        (cx, dir)
    }

    fn run(attr: TokenStream, item: TokenStream, src: &str) -> String {
        let (cx, dir) = cx(src);
        let out = expand(attr, item, &cx).to_string();
        std::fs::remove_dir_all(dir).ok();
        out
    }

    fn errors(out: &str) -> usize {
        out.matches("compile_error").count()
    }

    #[test]
    fn methods_follow_the_grants() {
        let daemon = run(
            quote!(config = "msal.toml"),
            quote!(
                pub struct OrdersDaemon;
            ),
            SRC,
        );
        assert_eq!(errors(&daemon), 0, "{daemon}");
        assert!(daemon.contains("fn acquire_token_for_client"));
        assert!(daemon.contains("fn remove_tokens_for_client"));
        assert!(!daemon.contains("fn acquire_token_on_behalf_of"));
        assert!(!daemon.contains("fn acquire_token_silent"));
        assert!(daemon.contains("pub struct OrdersDaemonScopes"));
        assert!(daemon.contains("include_bytes"));

        let api = run(
            quote!(config = "msal.toml", app = "orders_api"),
            quote!(
                pub(crate) struct Api;
            ),
            SRC,
        );
        assert_eq!(errors(&api), 0, "{api}");
        assert!(!api.contains("fn acquire_token_for_client"));
        assert!(api.contains("fn acquire_token_on_behalf_of"));
        assert!(api.contains("fn acquire_token_by_refresh_token"));
        assert!(api.contains("fn acquire_token_silent"));
        assert!(!api.contains("fn initiate_auth_code_flow"));
        assert!(api.contains("pub (crate) fn from_env"));
        assert!(api.contains(":: msal :: scope :: UserScopes"));
    }

    #[test]
    fn every_diagnostic_is_its_own_error_and_the_item_is_kept() {
        let bad = SRC
            .replace("00000000-0000-0000-0000-0000000000a1", "nope")
            .replace("refresh_token", "refresh_tokn");
        let out = run(
            quote!(config = "msal.toml"),
            quote!(
                pub struct OrdersDaemon;
            ),
            &bad,
        );
        assert_eq!(errors(&out), 2, "{out}");
        assert!(out.contains("msal.toml:5:13: error: "), "{out}");
        assert!(out.contains("E0502-unknown-grant"), "{out}");
        assert!(out.contains("pub struct OrdersDaemon ;"), "{out}");
        assert!(
            out.contains("include_bytes"),
            "a fix must trigger a rebuild: {out}"
        );
        // Diagnostics name the file as written: the absolute path appears only in the
        // `include_bytes!`.
        let (cx, dir) = cx(&bad);
        let out = expand(
            quote!(config = "msal.toml"),
            quote!(
                struct OrdersDaemon;
            ),
            &cx,
        )
        .to_string();
        std::fs::remove_dir_all(&dir).ok();
        assert_eq!(out.matches(&*dir.to_string_lossy()).count(), 1, "{out}");
    }

    #[test]
    fn a_broken_file_is_reported_in_full_once_per_crate() {
        let bad = SRC.replace("refresh_token", "refresh_tokn");
        let (cx, dir) = cx(&bad);
        let first = expand(
            quote!(config = "msal.toml"),
            quote!(
                struct OrdersDaemon;
            ),
            &cx,
        );
        let second = expand(
            quote!(config = "msal.toml"),
            quote!(
                struct OrdersApi;
            ),
            &cx,
        );
        std::fs::remove_dir_all(&dir).ok();
        let (first, second) = (first.to_string(), second.to_string());
        assert_eq!(errors(&first), 1, "{first}");
        assert!(first.starts_with("struct OrdersDaemon"), "{first}");
        assert_eq!(errors(&second), 1, "{second}");
        assert!(
            second.contains("msal.toml has 1 problem (all reported at the first #[msal_app] naming it); the first:\\nmsal.toml:13:"),
            "{second}"
        );
    }

    #[test]
    fn unknown_app_suggests_and_names_the_file_as_written() {
        let out = run(
            quote!(config = "msal.toml"),
            quote!(
                struct OrdersDeamon;
            ),
            SRC,
        );
        assert_eq!(errors(&out), 1, "{out}");
        assert!(
            out.contains("app `orders_deamon` is not declared in msal.toml"),
            "{out}"
        );
        assert!(out.contains("did you mean `orders_daemon`?"), "{out}");
    }

    #[test]
    fn item_shape_and_missing_file() {
        let out = run(
            quote!(config = "msal.toml"),
            quote!(
                struct A {
                    x: u8,
                }
            ),
            SRC,
        );
        assert!(out.contains("goes on a unit struct"), "{out}");
        let out = run(
            quote!(config = "msal.toml"),
            quote!(
                struct A<T>;
            ),
            SRC,
        );
        assert!(out.contains("cannot be generic"), "{out}");
        let out = run(
            quote!(config = "msal.toml"),
            quote!(
                enum E {}
            ),
            SRC,
        );
        assert!(out.contains("goes on a unit struct"), "{out}");
        let out = run(
            quote!(config = "other.toml"),
            quote!(
                struct A;
            ),
            SRC,
        );
        assert!(
            out.contains("other.toml: error: cannot read `other.toml`"),
            "{out}"
        );
        assert!(out.contains("E0001-file-unreadable"), "{out}");
    }
}
