//! From attribute + struct to generated code. Plain `proc_macro2`, so it is unit-testable.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use msal_config::{AppConfig, Code, Diagnostic, Grant};
use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote};
use syn::{Fields, Ident, ItemStruct, LitStr, Visibility};

use crate::args::{self, Args};
use crate::load::{self, Located};

/// What the compiler tells the macro about where it runs.
pub(crate) struct Context {
    /// `CARGO_MANIFEST_DIR` of the crate being compiled.
    pub manifest_dir: Option<PathBuf>,
    /// The absolute path of the source file holding the attribute, when known.
    pub source_file: Option<PathBuf>,
}

/// Expands `#[msal_app(attr)] item`. Never panics: problems become `compile_error!`s.
///
/// When the item is a unit struct but the arguments or the file are wrong, the errors
/// come with a client generated anyway ([`Model::broken`]: every method, the scope sets
/// that can still be read), so the uses of the type compile and the file's problems
/// are the only errors. When the item itself is wrong it is kept unchanged.
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
        Err(e) => {
            let model = Model::broken(&strukt, None, Vec::new());
            let mut out = e.to_compile_error();
            out.extend(codegen(&strukt, &model, &args::default_crate()));
            return out;
        }
    };
    match generate(&args, &strukt, cx) {
        Ok(ts) => ts,
        Err(failed) => {
            let mut out: TokenStream = failed.errors.into_iter().collect();
            out.extend(codegen(&strukt, &failed.model, &args.krate));
            out
        }
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

/// A file problem without a source excerpt (the file could not be read). rustc prints
/// `error: ` before it.
fn unreadable(display: &Path, detail: &str, help: &str) -> String {
    format!(
        "cannot read `{}`: {detail} [{}]\n  = help: {help}",
        display.display(),
        Code::FileUnreadable
    )
}

/// Why no client could be generated from the file: the errors, and the client to
/// generate anyway.
struct Failed {
    errors: Vec<TokenStream>,
    model: Box<Model>,
}

fn generate(args: &Args, strukt: &ItemStruct, cx: &Context) -> Result<TokenStream, Failed> {
    // Errors about the file point at `config = "..."`, or at the attribute without one.
    let span = args
        .config
        .as_ref()
        .map_or_else(Span::call_site, LitStr::span);
    let ident = &strukt.ident;
    let (name, name_span) = match &args.app {
        Some(a) => (a.value(), a.span()),
        None => (msal_config::app_key_for(&ident.to_string()), ident.span()),
    };
    let failed = |errors, sets| Failed {
        errors,
        model: Box::new(Model::broken(strukt, Some(&name), sets)),
    };
    let loc = match &args.config {
        Some(lit) => {
            let written = lit.value();
            load::locate(
                &written,
                cx.manifest_dir.as_deref(),
                cx.source_file.as_deref(),
            )
            .map_err(|_| {
                failed(
                    vec![error(
                        span,
                        &unreadable(
                            Path::new(&written),
                            "no such file next to the crate's Cargo.toml (CARGO_MANIFEST_DIR) or next to this source file",
                            "a relative path is resolved against the directory of the crate's Cargo.toml; a workspace-level file shared by several crates is e.g. `../msal.toml`",
                        ),
                    )],
                    Vec::new(),
                )
            })?
        }
        None => load::discover(cx.manifest_dir.as_deref()).map_err(|why| {
            failed(
                vec![error(
                    span,
                    &format!(
                        "{why} [{}]\n  = help: create msal.toml in the crate's directory or at the workspace root, or name the file with `#[msal_app(config = \"path/to/msal.toml\")]`",
                        Code::FileUnreadable
                    ),
                )],
                Vec::new(),
            )
        })?,
    };
    let attr_hint = match &args.config {
        Some(lit) => format!("config = {:?}, ", lit.value()),
        None => String::new(),
    };
    let parsed = load::read_and_parse(&loc).map_err(|e| {
        failed(
            vec![
                error(
                    span,
                    &unreadable(&loc.display, &e.to_string(), "msal.toml must be UTF-8 text"),
                ),
                track(&loc),
            ],
            Vec::new(),
        )
    })?;
    let cfg = match &parsed.result {
        Ok(cfg) => cfg,
        Err(diags) => {
            let mut errors: Vec<TokenStream> = if parsed.first_report() {
                diags
                    .iter()
                    .map(|d| error(span, &render(d, &loc, &parsed.source)))
                    .collect()
            } else {
                // Another #[msal_app] of this crate reported them all already.
                let n = diags.len();
                let first = diags
                    .iter()
                    .next()
                    .map_or(String::new(), |d| render(d, &loc, &parsed.source));
                vec![error(
                    span,
                    &format!(
                        "{} has {n} problem{} (all reported at the first #[msal_app] naming it); the first:\n{first}",
                        loc.display.display(),
                        if n == 1 { "" } else { "s" },
                    ),
                )]
            };
            errors.push(track(&loc));
            let sets = msal_config::scope_set_outline(&parsed.source, &name).unwrap_or_default();
            return Err(failed(errors, sets));
        }
    };
    let app = cfg.app(&name).map_err(|d: Diagnostic| {
        let mut msg = render(&d, &loc, &parsed.source);
        if args.app.is_none() {
            let pad = " ".repeat(d.line.to_string().len());
            msg.push_str(&format!(
                "\n{pad} = note: the struct `{ident}` maps to app `{name}`; pick another with `#[msal_app({attr_hint}app = \"...\")]`"
            ));
        }
        // The app the diagnostic points at (the one the name is probably a typo of) is
        // the likeliest intent: generate its scope sets, so uses of them compile.
        let sets = cfg
            .apps
            .values()
            .find(|a| a.name_span.range == d.span)
            .map(|a| {
                a.scopes
                    .iter()
                    .map(|(n, s)| (n.clone(), s.is_default))
                    .collect()
            })
            .unwrap_or_default();
        failed(vec![error(name_span, &msg), track(&loc)], sets)
    })?;
    let mut model = Model::of(app, &loc);
    // The same app with its relative paths as written, compiled in for run time.
    model.compiled = parsed.as_written().and_then(|c| c.app(&name).ok()).cloned();
    Ok(codegen(strukt, &model, &args.krate))
}

/// A diagnostic rendered for a `compile_error!`, which rustc prints after `error: `: the
/// message and code, then (as rustc does) `--> FILE:LINE:COL`, the source line with a
/// caret, and `= help:`. The file is named as written in the attribute (also inside
/// messages); no trailing newline.
fn render(d: &Diagnostic, loc: &Located, source: &str) -> String {
    let abs = loc.abs.to_string_lossy();
    let file = loc.display.to_string_lossy();
    let message = d.message.replace(&*abs, &file);
    let pad = " ".repeat(d.line.to_string().len());
    format!(
        "{message} [{}]\n{pad}--> {file}:{}:{}\n{}",
        d.code,
        d.line,
        d.col,
        d.render_excerpt(source)
    )
    .trim_end()
    .to_string()
}

fn doc(text: impl AsRef<str>) -> TokenStream {
    let text = text.as_ref();
    quote!(#[doc = #text])
}

fn lit(s: &str) -> LitStr {
    LitStr::new(s, Span::call_site())
}

/// One scope set, as the generated code needs it.
pub(crate) struct SetModel {
    name: String,
    is_default: bool,
    scopes: Vec<String>,
    /// Its line in the file (for docs).
    line: usize,
}

/// What the generated code needs of an app: from a valid file ([`Model::of`]) or, when
/// the file or the arguments are wrong, as far as known ([`Model::broken`]).
pub(crate) struct Model {
    name: String,
    client_id: String,
    authority: String,
    /// `credential = { kind = "managed_identity" }`: the client wraps a
    /// `ManagedIdentityClient` and has only the app-token methods.
    managed_identity: bool,
    /// The line of `[apps.NAME]`.
    line: usize,
    /// The file as written in the attribute, and its absolute path (for `include_str!`);
    /// `None` when broken.
    file: Option<(String, String)>,
    /// The enabled grants; `None` when broken: every method is generated, ungated, so
    /// that the program's uses of them add no errors to the file's.
    grants: Option<Vec<Grant>>,
    sets: Vec<SetModel>,
    /// The validated app with relative paths as written, built by the generated code
    /// without parsing; `None` when broken (or unknown).
    compiled: Option<AppConfig>,
    /// `accepts` (a web API's permissions, made into types); `None` when absent or broken.
    accepts: Option<msal_config::Accepts>,
}

impl Model {
    /// A valid app.
    pub(crate) fn of(app: &AppConfig, loc: &Located) -> Model {
        Model {
            name: app.name.clone(),
            client_id: app.client_id.clone().unwrap_or_default(),
            authority: app
                .authority
                .as_ref()
                .map(|a| a.as_str().to_string())
                .unwrap_or_default(),
            managed_identity: app.credential.is_managed_identity(),
            line: app.span.line,
            file: Some((
                loc.display.display().to_string(),
                loc.abs.to_string_lossy().into_owned(),
            )),
            grants: Some(app.grants.iter().copied().collect()),
            sets: app
                .scopes
                .iter()
                .map(|(name, set)| SetModel {
                    name: name.clone(),
                    is_default: set.is_default,
                    scopes: set.scopes.clone(),
                    line: set.name_span.line,
                })
                .collect(),
            compiled: None,
            accepts: app.accepts.clone(),
        }
    }

    /// The client to generate next to the errors of a broken file (or arguments): every
    /// method, and the scope sets `sets` (those that can still be read) whose names are
    /// identifiers.
    pub(crate) fn broken(
        strukt: &ItemStruct,
        name: Option<&str>,
        sets: Vec<(String, bool)>,
    ) -> Model {
        let mut seen = HashSet::new();
        let sets = sets
            .into_iter()
            .filter(|(n, _)| syn::parse_str::<Ident>(n).is_ok() && seen.insert(n.clone()))
            .map(|(name, is_default)| SetModel {
                name,
                is_default,
                scopes: Vec::new(),
                line: 0,
            })
            .collect();
        Model {
            name: name.map_or_else(
                || msal_config::app_key_for(&strukt.ident.to_string()),
                str::to_string,
            ),
            client_id: String::new(),
            authority: String::new(),
            managed_identity: false,
            line: 0,
            file: None,
            grants: None,
            sets,
            compiled: None,
            accepts: None,
        }
    }

    fn has(&self, g: Grant) -> bool {
        self.grants.as_ref().is_none_or(|gs| gs.contains(&g))
    }
}

/// What a group of methods needs.
#[derive(Clone, Copy)]
enum Gate {
    Grant(Grant),
    /// `authorization_code` or `refresh_token`: the signed-in accounts of the cache.
    Accounts,
}

/// A method group's gate: enabled methods are documented plainly; the methods of a grant
/// the app does not enable exist too, hidden, and require a per-app trait that nothing
/// implements, whose `#[diagnostic::on_unimplemented]` says which grant to add to which
/// app. (A lifetime parameter keeps that bound from being "trivially false", which rustc
/// rejects at the definition.)
struct Gated {
    /// "Enabled by ..." (nothing when the file is broken).
    docs: TokenStream,
    /// `Self: __XHasGrant<'__g, G>,` when the group is not enabled.
    bound: Option<TokenStream>,
}

/// One generated method.
struct Sig {
    /// Its `///` docs.
    docs: TokenStream,
    name: &'static str,
    /// Type parameters, without angle brackets.
    generics: TokenStream,
    /// The parameters after `&self`, written with [`Gated::r`] for references.
    inputs: TokenStream,
    output: TokenStream,
    /// Where-predicates, each with a trailing comma.
    bounds: TokenStream,
    /// Type parameters the future of a gated method holds (bounded by its lifetime).
    captured: Vec<Ident>,
    /// The body (it may `.await` when `is_async`).
    body: TokenStream,
    is_async: bool,
}

impl Gated {
    /// `&` for an enabled method; `&'__a` for a gated one (whose parameters all live as
    /// long as the future it returns).
    fn r(&self) -> TokenStream {
        if self.bound.is_some() {
            quote!(&'__a)
        } else {
            quote!(&)
        }
    }

    /// The method. A gated `async fn` is a plain `fn` returning a boxed future: rustc
    /// then reports the missing grant once per call (an `async fn`'s opaque future would
    /// repeat it at the call and at the `.await`).
    fn emit(&self, vis: &Visibility, sig: Sig) -> TokenStream {
        let Sig {
            docs,
            name,
            generics,
            inputs,
            output,
            bounds,
            captured,
            body,
            is_async,
        } = sig;
        let name = format_ident!("{}", name);
        match &self.bound {
            None => {
                let gate_docs = &self.docs;
                let generics = if generics.is_empty() {
                    quote!()
                } else {
                    quote!(<#generics>)
                };
                let where_clause = if bounds.is_empty() {
                    quote!()
                } else {
                    quote!(where #bounds)
                };
                let asyncness = if is_async { quote!(async) } else { quote!() };
                quote! {
                    #docs
                    #gate_docs
                    #vis #asyncness fn #name #generics (&self, #inputs) -> #output #where_clause {
                        #body
                    }
                }
            }
            Some(gate) => {
                let generics = if generics.is_empty() {
                    quote!(<'__g, '__a>)
                } else {
                    quote!(<'__g, '__a, #generics>)
                };
                let (output, body) = if is_async {
                    (
                        quote!(::core::pin::Pin<::std::boxed::Box<dyn ::core::future::Future<Output = #output> + '__a>>),
                        quote!(::std::boxed::Box::pin(async move { #body })),
                    )
                } else {
                    (output, body)
                };
                quote! {
                    #docs
                    #[doc(hidden)]
                    #vis fn #name #generics (&'__a self, #inputs) -> #output
                    where
                        #gate
                        #bounds
                        #(#captured: '__a,)*
                    {
                        #body
                    }
                }
            }
        }
    }
}

fn grant_ident(g: Grant) -> Ident {
    format_ident!(
        "{}",
        match g {
            Grant::ClientCredentials => "ClientCredentials",
            Grant::AuthorizationCode => "AuthorizationCode",
            Grant::OnBehalfOf => "OnBehalfOf",
            Grant::RefreshToken => "RefreshToken",
        }
    )
}

/// `{` and `}` doubled, for a `#[diagnostic::on_unimplemented]` format string.
fn escape_braces(s: &str) -> String {
    s.replace('{', "{{").replace('}', "}}")
}

/// The generated code for one app (see the `msal` crate docs for the list of items).
/// `krate` is the path of the `msal` crate (`crate = "..."`, by default `::msal`).
pub(crate) fn codegen(strukt: &ItemStruct, model: &Model, krate: &syn::Path) -> TokenStream {
    if model.managed_identity {
        return codegen_managed_identity(strukt, model, krate);
    }
    let ident = &strukt.ident;
    let compiled = crate::embed::compiled(model.compiled.as_ref(), krate);
    let vis = &strukt.vis;
    let attrs = &strukt.attrs;
    let scopes_ident = format_ident!("{}Scopes", ident);
    let accepts_items = crate::accepts::codegen(
        strukt,
        &model.name,
        model.accepts.as_ref(),
        &format!(
            "`{}:{}`",
            model.file.as_ref().map_or("msal.toml", |f| f.0.as_str()),
            model.line
        ),
        krate,
    );
    let grant_trait = format_ident!("__{}HasGrant", ident);
    let accounts_trait = format_ident!("__{}HasAccounts", ident);
    let (file, abs) = model.file.clone().unwrap_or_default();
    let name = lit(&model.name);
    let client_id = lit(&model.client_id);
    let at = |line: usize| format!("`{file}:{line}`");
    let app_at = format!("`[apps.{}]` ({})", model.name, at(model.line));
    let has = |g: Grant| model.has(g);
    let enabled_grants = model.grants.clone().unwrap_or_default();
    let grants_list = enabled_grants
        .iter()
        .map(|g| format!("`{g}`"))
        .collect::<Vec<_>>()
        .join(", ");

    // The struct.
    let mut struct_docs = Vec::new();
    if attrs.iter().any(|a| a.path().is_ident("doc")) {
        struct_docs.push(doc(""));
    }
    let or_env = |v: &str, var: &str| {
        if v.is_empty() {
            format!("from `{var}` at run time")
        } else {
            format!("`{v}`")
        }
    };
    struct_docs.push(doc(format!(
        "A client for app {app_at}, generated by `#[msal_app]`: client id {}, authority {}, grants {grants_list}; scope sets in [`{scopes_ident}`].",
        or_env(&model.client_id, "AZURE_CLIENT_ID"),
        or_env(&model.authority, "AZURE_AUTHORITY_HOST`/`AZURE_TENANT_ID"),
    )));

    // Scope sets.
    let mut fields = Vec::new();
    let mut inits = Vec::new();
    let mut specs = Vec::new();
    for (i, set) in model.sets.iter().enumerate() {
        let set_name = &set.name;
        let field = Ident::new(set_name, Span::call_site());
        let kind = if set.is_default {
            quote!(#krate::scope::AppScopes)
        } else {
            quote!(#krate::scope::UserScopes)
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
            at(set.line)
        ));
        fields.push(quote!(#d pub #field: #krate::scope::ScopeSet<#ident, #kind>,));
        let n = lit(set_name);
        let scopes = set.scopes.iter().map(|s| lit(s));
        inits.push(quote!(#field: #krate::scope::ScopeSet::__new(#n, #i, &[#(#scopes),*]),));
        let is_default = set.is_default;
        specs.push(quote!((#n, #is_default)));
    }
    let grants = enabled_grants.iter().map(|g| {
        let v = grant_ident(*g);
        quote!(#krate::__private::msal_config::Grant::#v)
    });

    let scopes_doc = doc(format!(
        "The scope sets of [`{ident}`] (`scopes.*` of {app_at}), from [`{ident}::scopes`]."
    ));
    let enabled = |g: Grant| doc(format!("\n\nEnabled by `{g}` in the `grants` of {app_at}."));
    let set_ty = |kind: TokenStream| quote!(#krate::scope::ScopeSet<#ident, #kind>);
    let any_set = set_ty(quote!(K));
    let k = quote!(K: #krate::scope::ScopeKind);
    // Client credentials take `.default` sets only; when the file is broken, any set (the
    // kind read from a broken set may be wrong, and the file's errors come first).
    let (app_set, app_k) = if model.grants.is_some() {
        (set_ty(quote!(#krate::scope::AppScopes)), quote!())
    } else {
        (any_set.clone(), k.clone())
    };
    let res = quote!(#krate::Result<#krate::AuthenticationResult>);

    // Gates, and the per-app traits the methods of missing grants require.
    let mut need_grant_trait = false;
    let mut need_accounts_trait = false;
    let mut gate = |g: Gate| -> Gated {
        let on = match g {
            Gate::Grant(g) => has(g),
            Gate::Accounts => has(Grant::AuthorizationCode) || has(Grant::RefreshToken),
        };
        if on {
            let docs = match g {
                Gate::Grant(g) if model.grants.is_some() => enabled(g),
                Gate::Accounts if model.grants.is_some() => doc(format!(
                    "\n\nEnabled by `authorization_code` or `refresh_token` in the `grants` of {app_at}."
                )),
                _ => quote!(),
            };
            return Gated { docs, bound: None };
        }
        let bound = match g {
            Gate::Grant(g) => {
                need_grant_trait = true;
                let marker = format_ident!("{}", g.to_string());
                quote!(Self: #grant_trait<'__g, #krate::grants::#marker>,)
            }
            Gate::Accounts => {
                need_accounts_trait = true;
                quote!(Self: #accounts_trait<'__g>,)
            }
        };
        Gated {
            docs: quote!(),
            bound: Some(bound),
        }
    };

    let mut methods = Vec::new();
    let g = gate(Gate::Grant(Grant::ClientCredentials));
    methods.push(g.emit(
        vis,
        Sig {
            docs: quote! {
                /// An app-only token for a `.default` scope set (client credentials), from the
                /// cache while it has more than five minutes left.
            },
            name: "acquire_token_for_client",
            generics: app_k.clone(),
            inputs: quote!(scopes: #app_set),
            output: res.clone(),
            bounds: quote!(),
            captured: vec![],
            body: quote!(
                    self.__msal
                        .for_client(scopes.__index(), ::core::default::Default::default())
                        .await
                ),
            is_async: true,
        },
    ));
    methods.push(g.emit(
        vis,
        Sig {
            docs: quote! {
                /// [`acquire_token_for_client`](Self::acquire_token_for_client) with options
                /// (e.g. a claims challenge).
            },
            name: "acquire_token_for_client_with",
            generics: app_k.clone(),
            inputs: quote!(scopes: #app_set, options: #krate::ForClientOptions),
            output: res.clone(),
            bounds: quote!(),
            captured: vec![],
            body: quote!(self.__msal.for_client(scopes.__index(), options).await),
            is_async: true,
        },
    ));
    methods.push(g.emit(
        vis,
        Sig {
            docs: quote! {
                /// Removes this app's app-only tokens from the cache; returns how many were removed.
            },
            name: "remove_tokens_for_client",
            generics: quote!(),
            inputs: quote!(),
            output: quote!(#krate::Result<usize>),
            bounds: quote!(),
            captured: vec![],
            body: quote!(self.__msal.app().remove_tokens_for_client().await),
            is_async: true,
        },
    ));

    let g = gate(Gate::Grant(Grant::AuthorizationCode));
    let r = g.r();
    methods.push(g.emit(
        vis,
        Sig {
            docs: quote! {
                /// Starts a sign-in (authorization code with PKCE): the URL to send the user to
                /// and the flow to keep in the session. The configured redirect URI is used
                /// unless `options` sets one.
            },
            name: "initiate_auth_code_flow",
            generics: k.clone(),
            inputs: quote!(scopes: #any_set, options: #krate::AuthCodeFlowOptions),
            output: quote!(#krate::Result<#krate::AuthCodeFlow>),
            bounds: quote!(),
            captured: vec![],
            body: quote!(self.__msal.initiate_auth_code_flow(scopes.__index(), options).await),
            is_async: true,
        },
    ));
    methods.push(g.emit(
        vis,
        Sig {
            docs: quote! {
                /// Completes a sign-in with the redirect's query (or form-post) parameters.
            },
            name: "acquire_token_by_auth_code_flow",
            generics: quote!(I, K, V),
            inputs: quote!(flow: #r #krate::AuthCodeFlow, auth_response: I),
            output: res.clone(),
            bounds: quote! {
                I: ::core::iter::IntoIterator<Item = (K, V)>,
                K: ::core::convert::Into<::std::string::String>,
                V: ::core::convert::Into<::std::string::String>,
            },
            captured: vec![format_ident!("I")],
            body: quote!(
                    self.__msal
                        .app()
                        .acquire_token_by_auth_code_flow(flow, auth_response)
                        .await
                ),
            is_async: true,
        },
    ));
    let redirect = doc(format!(
        "The `redirect_uri` of {app_at} (after profile and `MSAL_{}_REDIRECT_URI` overrides).",
        model.name.to_ascii_uppercase()
    ));
    methods.push(g.emit(
        vis,
        Sig {
            docs: redirect,
            name: "redirect_uri",
            generics: quote!(),
            inputs: quote!(),
            output: quote!(&str),
            bounds: quote!(),
            captured: vec![],
            body: quote!(self.__msal.redirect_uri()),
            is_async: false,
        },
    ));
    methods.push(g.emit(
        vis,
        Sig {
            docs: quote! {
                /// The authority's sign-out URL (`None` when it advertises none).
            },
            name: "sign_out_url",
            generics: quote!(),
            inputs: quote!(post_logout_redirect_uri: ::core::option::Option<#r str>),
            output: quote!(#krate::Result<::core::option::Option<::std::string::String>>),
            bounds: quote!(),
            captured: vec![],
            body: quote!(self.__msal.app().sign_out_url(post_logout_redirect_uri).await),
            is_async: true,
        },
    ));

    let g = gate(Gate::Accounts);
    let r = g.r();
    let maybe_result = quote!(#krate::Result<::core::option::Option<#krate::AuthenticationResult>>);
    methods.push(g.emit(
        vis,
        Sig {
            docs: quote! {
                /// The signed-in accounts in the cache, filtered by username when given.
            },
            name: "get_accounts",
            generics: quote!(),
            inputs: quote!(username: ::core::option::Option<#r str>),
            output: quote!(#krate::Result<::std::vec::Vec<#krate::Account>>),
            bounds: quote!(),
            captured: vec![],
            body: quote!(self.__msal.app().get_accounts(username).await),
            is_async: true,
        },
    ));
    methods.push(g.emit(
        vis,
        Sig {
            docs: quote! {
                /// A token for the account from the cache, refreshed if needed; `Ok(None)`
                /// when nothing usable is cached or the refresh fails.
            },
            name: "acquire_token_silent",
            generics: k.clone(),
            inputs: quote!(scopes: #any_set, account: #r #krate::Account),
            output: maybe_result.clone(),
            bounds: quote!(),
            captured: vec![],
            body: quote!(self.__msal.silent(scopes.__index(), account).await),
            is_async: true,
        },
    ));
    methods.push(g.emit(
        vis,
        Sig {
            docs: quote! {
                /// Like [`acquire_token_silent`](Self::acquire_token_silent), with options, and
                /// returning the refresh failure instead of `None`.
            },
            name: "acquire_token_silent_with_error",
            generics: k.clone(),
            inputs: quote!(scopes: #any_set, account: #r #krate::Account, options: #krate::SilentOptions),
            output: maybe_result,
            bounds: quote!(),
            captured: vec![],
            body: quote!(self.__msal.silent_with_error(scopes.__index(), account, options).await),
            is_async: true,
        },
    ));
    methods.push(g.emit(
        vis,
        Sig {
            docs: quote! {
                /// Removes the account's tokens and entries from this app's cache.
            },
            name: "remove_account",
            generics: quote!(),
            inputs: quote!(account: #r #krate::Account),
            output: quote!(#krate::Result<()>),
            bounds: quote!(),
            captured: vec![],
            body: quote!(self.__msal.app().remove_account(account).await),
            is_async: true,
        },
    ));

    let g = gate(Gate::Grant(Grant::OnBehalfOf));
    let r = g.r();
    methods.push(g.emit(
        vis,
        Sig {
            docs: quote! {
                /// A token for a downstream API on behalf of the user whose token
                /// (`user_assertion`: a `&str`, or a validated `Caller`) this web API received.
            },
            name: "acquire_token_on_behalf_of",
            generics: k.clone(),
            inputs: quote!(user_assertion: #r (impl #krate::web_api::UserAssertion + ?::core::marker::Sized), scopes: #any_set),
            output: res.clone(),
            bounds: quote!(),
            captured: vec![],
            body: quote!(
                    self.__msal
                        .on_behalf_of(
                            #krate::web_api::UserAssertion::user_assertion(user_assertion),
                            scopes.__index(),
                            ::core::option::Option::None
                        )
                        .await
                ),
            is_async: true,
        },
    ));
    methods.push(g.emit(
        vis,
        Sig {
            docs: quote! {
                /// [`acquire_token_on_behalf_of`](Self::acquire_token_on_behalf_of) answering a
                /// claims challenge from the downstream API.
            },
            name: "acquire_token_on_behalf_of_with_claims",
            generics: k.clone(),
            inputs: quote!(user_assertion: #r (impl #krate::web_api::UserAssertion + ?::core::marker::Sized), scopes: #any_set, claims_challenge: #r str),
            output: res.clone(),
            bounds: quote!(),
            captured: vec![],
            body: quote! {
                self.__msal
                    .on_behalf_of(#krate::web_api::UserAssertion::user_assertion(user_assertion), scopes.__index(), ::core::option::Option::Some(claims_challenge))
                    .await
            },
            is_async: true,
        },
    ));

    let g = gate(Gate::Grant(Grant::RefreshToken));
    let r = g.r();
    methods.push(g.emit(
        vis,
        Sig {
            docs: quote! {
                /// Redeems a refresh token obtained elsewhere (e.g. migrating from another
                /// library) and caches the result.
            },
            name: "acquire_token_by_refresh_token",
            generics: k.clone(),
            inputs: quote!(refresh_token: #r str, scopes: #any_set),
            output: res.clone(),
            bounds: quote!(),
            captured: vec![],
            body: quote!(self.__msal.by_refresh_token(refresh_token, scopes.__index()).await),
            is_async: true,
        },
    ));

    // The traits behind the gates: never implemented; their message is the error.
    let mut gate_traits = Vec::new();
    let now = escape_braces(&format!(
        "(its grants: {})",
        if enabled_grants.is_empty() {
            "none".to_string()
        } else {
            enabled_grants
                .iter()
                .map(|g| format!("\"{g}\""))
                .collect::<Vec<_>>()
                .join(", ")
        }
    ));
    let app_name = escape_braces(&model.name);
    let where_ = escape_braces(&format!("[apps.{}] in {file}:{}", model.name, model.line));
    if need_grant_trait {
        let message = format!(
            "`{{Self}}` cannot do this: app `{app_name}` does not enable the `{{G}}` grant"
        );
        let note = format!("add \"{{G}}\" to the `grants` of {where_} {now}");
        let d = doc(format!(
            "Never implemented: required by the methods of the grants `[apps.{}]` does not enable, so calling one says which grant to add.",
            model.name
        ));
        gate_traits.push(quote! {
            #d
            #[doc(hidden)]
            #[allow(non_camel_case_types)]
            #[diagnostic::on_unimplemented(
                message = #message,
                label = "needs the `{G}` grant",
                note = #note
            )]
            #vis trait #grant_trait<'__g, G> {}
        });
    }
    if need_accounts_trait {
        let message = format!(
            "`{{Self}}` cannot do this: app `{app_name}` keeps no signed-in accounts (it enables neither `authorization_code` nor `refresh_token`)"
        );
        let note = format!(
            "add \"authorization_code\" (users sign in to this app) or \"refresh_token\" to the `grants` of {where_} {now}"
        );
        let d = doc(format!(
            "Never implemented: required by the account methods, which `[apps.{}]` does not enable.",
            model.name
        ));
        gate_traits.push(quote! {
            #d
            #[doc(hidden)]
            #[allow(non_camel_case_types)]
            #[diagnostic::on_unimplemented(
                message = #message,
                label = "needs the `authorization_code` or `refresh_token` grant",
                note = #note
            )]
            #vis trait #accounts_trait<'__g> {}
        });
    }

    let env_prefix = format!("MSAL_{}_", model.name.to_ascii_uppercase());
    let from_env_doc = doc(format!(
        "Builds the client from `{file}` as compiled in, with the run-time overlays \
         `MSAL_PROFILE` and `{env_prefix}<KEY>`; the credential is read now from the \
         variable or file {app_at} names (relative paths resolve against `MSAL_CONFIG_DIR` \
         when set, else the working directory). Errors name the missing variable or file."
    ));
    let client_id_doc = doc(format!("`client_id` of {app_at} as compiled (`{env_prefix}CLIENT_ID` or a profile may override it at run time)."));
    let app_name_doc = doc(format!("The app's key in `{file}`: `{}`.", model.name));
    let scopes_fn_doc = doc(format!("The scope sets of {app_at}."));
    let type_name = lit(&ident.to_string());
    // A broken file is not included (it may not exist); the crate does not compile then.
    let (tracked, config_text) = if model.file.is_some() {
        (
            quote!(
                const _: &[u8] = ::core::include_bytes!(#abs);
            ),
            quote!(::core::include_str!(#abs)),
        )
    } else {
        (quote!(), quote!(""))
    };

    quote! {
        #(#attrs)*
        #(#struct_docs)*
        #vis struct #ident {
            __msal: #krate::__private::State,
        }

        #scopes_doc
        #[derive(Clone, Copy, Debug)]
        #[allow(dead_code)]
        #vis struct #scopes_ident {
            #(#fields)*
        }

        #(#gate_traits)*

        #tracked
        const _: () = #krate::__private::assert_send_sync::<#ident>();

        #[automatically_derived]
        impl ::core::clone::Clone for #ident {
            fn clone(&self) -> Self {
                #ident { __msal: ::core::clone::Clone::clone(&self.__msal) }
            }
        }

        #[automatically_derived]
        impl ::core::fmt::Debug for #ident {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                self.__msal.debug(#type_name, f)
            }
        }

        #[automatically_derived]
        impl #krate::downstream::TypedApp for #ident {
            fn application(&self) -> &#krate::ConfidentialClientApplication {
                self.__msal.app()
            }
            fn __scopes_at(&self, index: usize) -> &[::std::string::String] {
                self.__msal.scopes(index)
            }
        }

        #[automatically_derived]
        #[allow(dead_code)]
        impl #ident {
            #app_name_doc
            #vis const APP_NAME: &'static str = #name;
            #client_id_doc
            #vis const CLIENT_ID: &'static str = #client_id;

            const __MSAL_SPEC: &'static #krate::__private::AppSpec = &#krate::__private::AppSpec {
                name: #name,
                config_path: #file,
                config_text: #config_text,
                grants: &[#(#grants),*],
                scope_sets: &[#(#specs),*],
                managed_identity: false,
                compiled: #compiled,
            };

            #scopes_fn_doc
            #vis const fn scopes() -> #scopes_ident {
                #scopes_ident { #(#inits)* }
            }

            #from_env_doc
            #vis fn from_env() -> #krate::Result<Self> {
                Self::__MSAL_SPEC.from_env().map(|s| #ident { __msal: s })
            }

            /// Like [`from_env`](Self::from_env), with variables (overlays and credentials)
            /// looked up through `lookup` instead of the process environment.
            #vis fn from_env_with<F>(lookup: F) -> #krate::Result<Self>
            where
                F: Fn(&str) -> ::core::option::Option<::std::string::String>,
            {
                Self::__MSAL_SPEC.from_env_with(&lookup).map(|s| #ident { __msal: s })
            }

            /// Builds the client from an `msal.toml` read now (with the same run-time
            /// overlays). The file must declare this app with the grants and scope sets
            /// (of the same kind) this program was compiled with; the scopes in a set may
            /// differ.
            #vis fn from_config(path: impl ::core::convert::AsRef<::std::path::Path>) -> #krate::Result<Self> {
                Self::__MSAL_SPEC.from_config(path.as_ref()).map(|s| #ident { __msal: s })
            }

            /// A builder set up like [`from_env`](Self::from_env) would, to adjust (a CA
            /// bundle, an HTTP client, a shared token cache, ...) before
            /// [`from_builder`](Self::from_builder).
            #vis fn builder() -> #krate::Result<#krate::ConfidentialClientApplicationBuilder> {
                Self::__MSAL_SPEC.builder()
            }

            /// Builds `builder` and wraps it (see [`from_application`](Self::from_application)).
            #vis fn from_builder(builder: #krate::ConfidentialClientApplicationBuilder) -> #krate::Result<Self> {
                Self::from_application(builder.build()?)
            }

            /// Wraps an application built by other means. The scope sets and redirect URI
            /// are the compiled-in file's, with the process environment's overlays.
            #vis fn from_application(application: #krate::ConfidentialClientApplication) -> #krate::Result<Self> {
                Self::__MSAL_SPEC.from_application(application).map(|s| #ident { __msal: s })
            }

            /// The underlying application (the dynamic API).
            #vis fn application(&self) -> &#krate::ConfidentialClientApplication {
                self.__msal.app()
            }

            /// The underlying application, by value.
            #vis fn into_application(self) -> #krate::ConfidentialClientApplication {
                self.__msal.into_app()
            }

            /// The token cache this client reads and writes.
            #vis fn token_cache(&self) -> &#krate::TokenCache {
                self.__msal.app().token_cache()
            }

            /// The scopes a set stands for at run time (a profile may have changed them).
            #vis fn scopes_of<#k>(&self, set: #any_set) -> &[::std::string::String] {
                self.__msal.scopes(set.__index())
            }

            #(#methods)*
        }

        #accepts_items
    }
}

/// The client of a managed identity app: it wraps a `ManagedIdentityClient` and has only what
/// a managed identity can do (app tokens for its `.default` sets, whose resource it asks for).
/// The methods of user flows do not exist; msal-config already refused any grant but
/// `client_credentials`.
fn codegen_managed_identity(strukt: &ItemStruct, model: &Model, krate: &syn::Path) -> TokenStream {
    let ident = &strukt.ident;
    let compiled = crate::embed::compiled(model.compiled.as_ref(), krate);
    let vis = &strukt.vis;
    let attrs = &strukt.attrs;
    let scopes_ident = format_ident!("{}Scopes", ident);
    let (file, abs) = model.file.clone().unwrap_or_default();
    let name = lit(&model.name);
    let at = |line: usize| format!("`{file}:{line}`");
    let app_at = format!("`[apps.{}]` ({})", model.name, at(model.line));

    let mut struct_docs = Vec::new();
    if attrs.iter().any(|a| a.path().is_ident("doc")) {
        struct_docs.push(doc(""));
    }
    struct_docs.push(doc(format!(
        "A managed identity client for app {app_at}, generated by `#[msal_app]`: no secret, no \
         authority; app tokens for the resources of the scope sets in [`{scopes_ident}`]."
    )));

    let mut fields = Vec::new();
    let mut inits = Vec::new();
    let mut specs = Vec::new();
    for (i, set) in model.sets.iter().enumerate() {
        let set_name = &set.name;
        let field = Ident::new(set_name, Span::call_site());
        let listed = set
            .scopes
            .iter()
            .map(|s| format!("`{s}`"))
            .collect::<Vec<_>>()
            .join(", ");
        let d = doc(format!(
            "`scopes.{set_name}` ({}): {listed} — the managed identity asks for its resource (the scope without `/.default`).",
            at(set.line)
        ));
        fields.push(
            quote!(#d pub #field: #krate::scope::ScopeSet<#ident, #krate::scope::AppScopes>,),
        );
        let n = lit(set_name);
        let scopes = set.scopes.iter().map(|s| lit(s));
        inits.push(quote!(#field: #krate::scope::ScopeSet::__new(#n, #i, &[#(#scopes),*]),));
        let is_default = set.is_default;
        specs.push(quote!((#n, #is_default)));
    }
    let scopes_doc = doc(format!(
        "The scope sets of [`{ident}`] (`scopes.*` of {app_at}), from [`{ident}::scopes`]."
    ));
    let app_set = quote!(#krate::scope::ScopeSet<#ident, #krate::scope::AppScopes>);
    let res = quote!(#krate::Result<#krate::AuthenticationResult>);
    let env_prefix = format!("MSAL_{}_", model.name.to_ascii_uppercase());
    let from_env_doc = doc(format!(
        "Builds the client from `{file}` as compiled in, with the run-time overlays \
         `MSAL_PROFILE` and `{env_prefix}<KEY>`. The token source (IMDS, App Service, Azure \
         Arc, Service Fabric, Azure ML, Cloud Shell) is detected from the process environment \
         on each request, unless {app_at} pins it with `source`."
    ));
    let app_name_doc = doc(format!("The app's key in `{file}`: `{}`.", model.name));
    let scopes_fn_doc = doc(format!("The scope sets of {app_at}."));
    let type_name = lit(&ident.to_string());
    let tracked = quote!(
        const _: &[u8] = ::core::include_bytes!(#abs);
    );
    let cc = quote!(#krate::__private::msal_config::Grant::ClientCredentials);

    quote! {
        #(#attrs)*
        #(#struct_docs)*
        #vis struct #ident {
            __msal: #krate::__private::MiState,
        }

        #scopes_doc
        #[derive(Clone, Copy, Debug)]
        #[allow(dead_code)]
        #vis struct #scopes_ident {
            #(#fields)*
        }

        #tracked
        const _: () = #krate::__private::assert_send_sync::<#ident>();

        #[automatically_derived]
        impl ::core::clone::Clone for #ident {
            fn clone(&self) -> Self {
                #ident { __msal: ::core::clone::Clone::clone(&self.__msal) }
            }
        }

        #[automatically_derived]
        impl ::core::fmt::Debug for #ident {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                self.__msal.debug(#type_name, f)
            }
        }

        #[automatically_derived]
        #[allow(dead_code)]
        impl #ident {
            #app_name_doc
            #vis const APP_NAME: &'static str = #name;

            const __MSAL_SPEC: &'static #krate::__private::AppSpec = &#krate::__private::AppSpec {
                name: #name,
                config_path: #file,
                config_text: ::core::include_str!(#abs),
                grants: &[#cc],
                scope_sets: &[#(#specs),*],
                managed_identity: true,
                compiled: #compiled,
            };

            #scopes_fn_doc
            #vis const fn scopes() -> #scopes_ident {
                #scopes_ident { #(#inits)* }
            }

            #from_env_doc
            #vis fn from_env() -> #krate::Result<Self> {
                Self::__MSAL_SPEC.mi_from_env().map(|s| #ident { __msal: s })
            }

            /// Like [`from_env`](Self::from_env), with every variable (overlays and the
            /// token source's, read again on each request) looked up through `lookup`.
            #vis fn from_env_with<F>(lookup: F) -> #krate::Result<Self>
            where
                F: Fn(&str) -> ::core::option::Option<::std::string::String> + ::core::marker::Send + ::core::marker::Sync + 'static,
            {
                Self::__MSAL_SPEC
                    .mi_from_env_with(#krate::EnvLookup::from_fn(lookup))
                    .map(|s| #ident { __msal: s })
            }

            /// Builds the client from an `msal.toml` read now (with the same run-time
            /// overlays). The file must declare this app as a managed identity with the scope
            /// sets this program was compiled with; the scopes in a set may differ.
            #vis fn from_config(path: impl ::core::convert::AsRef<::std::path::Path>) -> #krate::Result<Self> {
                Self::__MSAL_SPEC.mi_from_config(path.as_ref()).map(|s| #ident { __msal: s })
            }

            /// A builder set up like [`from_env`](Self::from_env) would (identity, pinned
            /// source, cache, timeout), to adjust before [`from_builder`](Self::from_builder).
            #vis fn builder() -> #krate::Result<#krate::ManagedIdentityClientBuilder> {
                Self::__MSAL_SPEC.mi_builder()
            }

            /// Builds `builder` and wraps it (see [`from_client`](Self::from_client)).
            #vis fn from_builder(builder: #krate::ManagedIdentityClientBuilder) -> #krate::Result<Self> {
                Self::from_client(builder.build()?)
            }

            /// Wraps a client built by other means; the scope sets are the compiled-in
            /// file's, with the process environment's overlays.
            #vis fn from_client(client: #krate::ManagedIdentityClient) -> #krate::Result<Self> {
                Self::__MSAL_SPEC.mi_from_client(client).map(|s| #ident { __msal: s })
            }

            /// The underlying managed identity client (the dynamic API).
            #vis fn client(&self) -> &#krate::ManagedIdentityClient {
                self.__msal.client()
            }

            /// The underlying managed identity client, by value.
            #vis fn into_client(self) -> #krate::ManagedIdentityClient {
                self.__msal.into_client()
            }

            /// The token cache this client reads and writes.
            #vis fn token_cache(&self) -> &#krate::TokenCache {
                self.__msal.client().token_cache()
            }

            /// Where tokens come from now (detected from the environment, or pinned).
            #vis fn get_managed_identity_source(&self) -> #krate::ManagedIdentitySource {
                self.__msal.client().get_managed_identity_source()
            }

            /// The scopes a set stands for at run time (a profile may have changed them).
            #vis fn scopes_of(&self, set: #app_set) -> &[::std::string::String] {
                self.__msal.scopes(set.__index())
            }

            /// An app token for a `.default` scope set: the managed identity asks for its
            /// resource (the scope without `/.default`, as MSAL does). From the cache while it
            /// has more than five minutes left.
            #vis async fn acquire_token_for_client(&self, scopes: #app_set) -> #res {
                self.__msal
                    .for_client(scopes.__index(), ::core::default::Default::default())
                    .await
            }

            /// [`acquire_token_for_client`](Self::acquire_token_for_client) with options (a
            /// claims challenge bypasses the cache).
            #vis async fn acquire_token_for_client_with(
                &self,
                scopes: #app_set,
                options: #krate::ForClientOptions,
            ) -> #res {
                self.__msal.for_client(scopes.__index(), options).await
            }
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

    /// The messages of the `compile_error!`s of an expansion.
    fn messages(out: &str) -> Vec<String> {
        let ts: TokenStream = out.parse().unwrap();
        let mut found = Vec::new();
        let mut prev_is_compile_error = false;
        for tt in ts {
            match &tt {
                proc_macro2::TokenTree::Ident(i) if i == "compile_error" => {
                    prev_is_compile_error = true;
                    continue;
                }
                proc_macro2::TokenTree::Punct(p) if p.as_char() == '!' => continue,
                proc_macro2::TokenTree::Group(g) if prev_is_compile_error => {
                    let lit: LitStr = syn::parse2(g.stream()).unwrap();
                    found.push(lit.value());
                }
                _ => {}
            }
            prev_is_compile_error = false;
        }
        found
    }

    #[test]
    fn a_managed_identity_app_wraps_a_managed_identity_client_with_app_token_methods_only() {
        let src = "[defaults]\nauthority = \"https://login.microsoftonline.com/contoso.onmicrosoft.com\"\n\n[apps.billing_job]\ncredential = { kind = \"managed_identity\" }\nscopes.vault = [\"https://vault.azure.net/.default\"]\n";
        let out = run(
            quote!(config = "msal.toml"),
            quote!(
                pub struct BillingJob;
            ),
            src,
        );
        assert_eq!(messages(&out), Vec::<String>::new());
        assert!(out.contains(":: msal :: __private :: MiState"), "{out}");
        assert!(out.contains("pub async fn acquire_token_for_client (& self"));
        assert!(out.contains("managed_identity : true"));
        for absent in [
            "initiate_auth_code_flow",
            "acquire_token_on_behalf_of",
            "get_accounts",
            "remove_tokens_for_client",
            "ConfidentialClientApplication",
            "CLIENT_ID",
        ] {
            assert!(!out.contains(absent), "{absent} in {out}");
        }
    }

    #[test]
    fn the_validated_model_is_compiled_in_with_relative_paths_as_written() {
        let src = r#"[apps.orders_daemon]
client_id = "00000000-0000-0000-0000-0000000000a1"
authority = "https://login.microsoftonline.com/contoso.onmicrosoft.com"
credential = { kind = "certificate", private_key_file = "certs/d.key", certificate_file = "/etc/d.crt" }
grants = ["client_credentials"]
scopes.graph = ["https://graph.microsoft.com/.default"]
token_cache = { kind = "file", path = "cache/tokens.json" }
"#;
        let (cx, dir) = cx(src);
        let out = expand(
            quote!(config = "msal.toml"),
            quote!(
                pub struct OrdersDaemon;
            ),
            &cx,
        )
        .to_string();
        std::fs::remove_dir_all(&dir).ok();
        assert!(out.contains("fn __msal_compiled ()"), "{out}");
        assert!(out.contains("compiled : { fn __msal_compiled"), "{out}");
        for p in ["\"certs/d.key\"", "\"/etc/d.crt\"", "\"cache/tokens.json\""] {
            assert!(
                out.contains(&format!("PathBuf :: from ({p})")),
                "{p}: {out}"
            );
        }
        assert!(out.contains(
            "authority (\"https://login.microsoftonline.com/contoso.onmicrosoft.com\" , false) ?"
        ));
        // The build tree's directory only feeds include_str!/include_bytes!.
        let abs = dir.display().to_string();
        assert!(out
            .match_indices(&abs)
            .all(|(i, _)| out[i.saturating_sub(20)..i].contains("include_")));
    }

    #[test]
    fn the_build_tree_path_is_not_compiled_into_the_spec() {
        let (cx, dir) = cx(SRC);
        let out = expand(
            quote!(config = "msal.toml"),
            quote!(
                pub struct OrdersDaemon;
            ),
            &cx,
        )
        .to_string();
        std::fs::remove_dir_all(&dir).ok();
        // The absolute path only feeds include_str!/include_bytes! (compile time); the spec
        // the program reads at run time names the file as written.
        assert!(out.contains("config_path : \"msal.toml\""), "{out}");
        let abs = dir.join("msal.toml").display().to_string();
        let uses: Vec<&str> = out
            .match_indices(&abs)
            .map(|(i, _)| &out[i.saturating_sub(20)..i])
            .collect();
        assert!(!uses.is_empty());
        assert!(
            uses.iter()
                .all(|u| u.contains("include_str") || u.contains("include_bytes")),
            "{uses:?}"
        );
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
        assert_eq!(messages(&daemon), Vec::<String>::new());
        assert!(daemon.contains("pub async fn acquire_token_for_client (& self"));
        assert!(daemon.contains("pub async fn remove_tokens_for_client (& self"));
        assert!(daemon.contains("pub struct OrdersDaemonScopes"));
        assert!(daemon.contains("include_bytes"));
        // A method of a grant the app does not enable exists, hidden, and requires a
        // trait nothing implements, whose message names the grant and the app.
        assert!(daemon.contains(
            "# [doc (hidden)] pub fn acquire_token_on_behalf_of < '__g , '__a , K : :: msal :: scope :: ScopeKind > (& '__a self , user_assertion : & '__a (impl :: msal :: web_api :: UserAssertion + ? :: core :: marker :: Sized)"
        ));
        assert!(daemon.contains(
            "where Self : __OrdersDaemonHasGrant < '__g , :: msal :: grants :: on_behalf_of > ,"
        ));
        assert!(daemon.contains("where Self : __OrdersDaemonHasAccounts < '__g > ,"));
        assert!(daemon.contains(
            "message = \"`{Self}` cannot do this: app `orders_daemon` does not enable the `{G}` grant\""
        ));
        assert!(daemon.contains(
            "note = \"add \\\"{G}\\\" to the `grants` of [apps.orders_daemon] in msal.toml:4 (its grants: \\\"client_credentials\\\")\""
        ), "{daemon}");
        assert!(
            !daemon.contains("impl < '__g"),
            "the gate traits are never implemented"
        );

        let api = run(
            quote!(config = "msal.toml", app = "orders_api"),
            quote!(
                pub(crate) struct Api;
            ),
            SRC,
        );
        assert_eq!(messages(&api), Vec::<String>::new());
        assert!(
            api.contains("# [doc (hidden)] pub (crate) fn acquire_token_for_client < '__g , '__a > (& '__a self , scopes")
        );
        assert!(api.contains("pub (crate) async fn acquire_token_on_behalf_of < K :"));
        assert!(api.contains("pub (crate) async fn acquire_token_by_refresh_token < K :"));
        assert!(api.contains("pub (crate) async fn acquire_token_silent < K :"));
        assert!(api
            .contains("# [doc (hidden)] pub (crate) fn initiate_auth_code_flow < '__g , '__a , K"));
        // Accounts come with `refresh_token`: no accounts gate.
        assert!(!api.contains("__ApiHasAccounts"));
        assert!(api.contains("pub (crate) trait __ApiHasGrant < '__g , G >"));
        assert!(api.contains("pub (crate) fn from_env"));
        assert!(api.contains(":: msal :: scope :: UserScopes"));
    }

    #[test]
    fn crate_path_is_used_everywhere() {
        let out = run(
            quote!(config = "msal.toml", crate = "my_msal"),
            quote!(
                pub struct OrdersDaemon;
            ),
            SRC,
        );
        assert_eq!(messages(&out), Vec::<String>::new());
        assert!(!out.contains(":: msal ::"), "{out}");
        assert!(out.contains("my_msal :: scope :: ScopeSet"));
        assert!(out.contains("my_msal :: __private :: State"));
        assert!(out.contains("my_msal :: grants :: on_behalf_of"));
    }

    #[test]
    fn every_diagnostic_is_its_own_error_without_a_doubled_prefix() {
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
        let msgs = messages(&out);
        assert_eq!(msgs.len(), 2, "{msgs:#?}");
        // rustc prints `error: ` before each: the message starts with the verdict.
        assert!(
            msgs[0].starts_with("client_id `nope` is not a GUID [E0202-invalid-client-id]\n --> msal.toml:5:13\n  |\n5 | client_id = \"nope\"\n  |             ^^^^^^\n  = help: "),
            "{msgs:#?}"
        );
        assert!(msgs[1].contains("[E0502-unknown-grant]\n  --> msal.toml:13:27\n   |"));
        assert!(msgs.iter().all(|m| !m.contains("error:")), "{msgs:#?}");
        assert!(
            out.contains("include_bytes"),
            "a fix must trigger a rebuild: {out}"
        );
        // The client is generated anyway, with every method and the readable sets, so
        // its uses add no errors.
        assert!(out.contains("pub struct OrdersDaemon { __msal"));
        assert!(out.contains("pub graph : :: msal :: scope :: ScopeSet < OrdersDaemon , :: msal :: scope :: AppScopes >"));
        assert!(out.contains("pub fn from_env ()"));
        assert!(out.contains("pub async fn acquire_token_on_behalf_of < K"));
        assert!(out.contains("pub async fn acquire_token_silent < K"));
        assert!(
            !out.contains("'__g"),
            "no gates when the grants are unknown"
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
        assert_eq!(messages(&first).len(), 1);
        assert!(first.contains("struct OrdersDaemon {"));
        let second_msgs = messages(&second);
        assert_eq!(second_msgs.len(), 1);
        assert!(
            second_msgs[0].starts_with("msal.toml has 1 problem (all reported at the first #[msal_app] naming it); the first:\nunknown grant `refresh_tokn` [E0502-unknown-grant]\n  --> msal.toml:13:27"),
            "{second_msgs:#?}"
        );
        // The second app's own sets, read from the broken file.
        assert!(second.contains("pub inventory : :: msal :: scope :: ScopeSet < OrdersApi , :: msal :: scope :: UserScopes >"));
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
        let msgs = messages(&out);
        assert_eq!(msgs.len(), 1, "{msgs:#?}");
        assert!(
            msgs[0].starts_with("app `orders_deamon` is not declared in msal.toml [E0106-unknown-app]\n --> msal.toml:4:7\n  |\n4 | [apps.orders_daemon]\n  |       ^^^^^^^^^^^^^\n  = help: did you mean `orders_daemon`?\n  = note: the struct `OrdersDeamon` maps to app `orders_deamon`"),
            "{msgs:#?}"
        );
        // Generated with the sets of the app it probably meant.
        assert!(out.contains("pub graph : :: msal :: scope :: ScopeSet < OrdersDeamon , :: msal :: scope :: AppScopes >"));
    }

    #[test]
    fn bad_arguments_still_generate_the_client() {
        let out = run(
            quote!(confg = "msal.toml"),
            quote!(
                pub struct OrdersDaemon;
            ),
            SRC,
        );
        assert_eq!(
            messages(&out),
            ["unknown #[msal_app] argument `confg`; did you mean `config`?"]
        );
        assert!(out.contains("pub fn from_env ()"));
        assert!(out.contains("pub async fn acquire_token_for_client < K"));
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
        let msgs = messages(&out);
        assert_eq!(msgs.len(), 1, "{msgs:#?}");
        assert!(
            msgs[0].starts_with("cannot read `other.toml`: no such file next to the crate's Cargo.toml (CARGO_MANIFEST_DIR) or next to this source file [E0001-file-unreadable]\n  = help: "),
            "{msgs:#?}"
        );
        assert!(out.contains("fn from_env ()"));
        assert!(!out.contains("include_str"));
    }
}
