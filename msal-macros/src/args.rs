//! The attribute's arguments: `config = "msal.toml"` (optional: without it the file is
//! discovered), `app = "name"` and `crate = "path"`.

use proc_macro2::TokenStream;
use syn::parse::Parser;
use syn::LitStr;

/// Parsed `#[msal_app(...)]` arguments.
pub(crate) struct Args {
    /// The `config = "..."` literal (errors about the file point at it); `None`: find
    /// `msal.toml` from the crate's directory up to its workspace root.
    pub config: Option<LitStr>,
    /// The `app = "..."` literal, when given.
    pub app: Option<LitStr>,
    /// The path of the `msal` crate in generated code: `crate = "..."`, else `::msal`.
    pub krate: syn::Path,
}

const KNOWN: &[&str] = &["config", "app", "crate"];

/// `::msal`, the path generated code uses unless `crate = "..."` says otherwise.
pub(crate) fn default_crate() -> syn::Path {
    syn::parse_quote!(::msal)
}

/// Parses the arguments; every problem is a spanned error.
pub(crate) fn parse(attr: TokenStream) -> syn::Result<Args> {
    let mut config: Option<LitStr> = None;
    let mut app: Option<LitStr> = None;
    let mut krate: Option<syn::Path> = None;
    let parser = syn::meta::parser(|meta| {
        if meta.path.is_ident("crate") {
            if krate.is_some() {
                return Err(meta.error("this argument is given twice"));
            }
            let lit: LitStr = meta.value()?.parse().map_err(|e| {
                syn::Error::new(
                    e.span(),
                    "expected a string literal, e.g. `crate = \"my_msal\"`",
                )
            })?;
            let path = lit.parse::<syn::Path>().map_err(|_| {
                syn::Error::new(
                    lit.span(),
                    "expected the path of the `msal` crate, e.g. `crate = \"my_msal\"` when Cargo.toml renames it",
                )
            })?;
            krate = Some(path);
            return Ok(());
        }
        let slot = if meta.path.is_ident("config") {
            &mut config
        } else if meta.path.is_ident("app") {
            &mut app
        } else {
            let name = meta
                .path
                .get_ident()
                .map(ToString::to_string)
                .unwrap_or_else(|| "this".into());
            let hint = match msal_config::did_you_mean(&name, KNOWN.iter().copied()) {
                Some(s) => format!("did you mean `{s}`?"),
                None => "expected `config = \"msal.toml\"`, `app = \"name\"` or `crate = \"path\"`"
                    .into(),
            };
            return Err(meta.error(format!("unknown #[msal_app] argument `{name}`; {hint}")));
        };
        if slot.is_some() {
            return Err(meta.error("this argument is given twice"));
        }
        let lit: LitStr = meta.value()?.parse().map_err(|e| {
            syn::Error::new(
                e.span(),
                "expected a string literal, e.g. `config = \"msal.toml\"`",
            )
        })?;
        if lit.value().trim().is_empty() {
            return Err(syn::Error::new(lit.span(), "must not be empty"));
        }
        *slot = Some(lit);
        Ok(())
    });
    parser.parse2(attr)?;
    Ok(Args {
        config,
        app,
        krate: krate.unwrap_or_else(default_crate),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::{quote, ToTokens};

    fn path(a: &Args) -> String {
        a.krate.to_token_stream().to_string()
    }

    #[test]
    fn config_and_app() {
        let a = parse(quote!(config = "msal.toml", app = "orders")).unwrap();
        assert_eq!(a.config.unwrap().value(), "msal.toml");
        assert_eq!(a.app.unwrap().value(), "orders");
        let a = parse(quote!(config = "../msal.toml")).unwrap();
        assert!(a.app.is_none());
        assert_eq!(path(&a), ":: msal");
    }

    #[test]
    fn crate_path() {
        let a = parse(quote!(config = "msal.toml", crate = "my_msal")).unwrap();
        assert_eq!(path(&a), "my_msal");
        let a = parse(quote!(crate = "::deps::msal", config = "msal.toml")).unwrap();
        assert_eq!(path(&a), ":: deps :: msal");
        let msg = |t| parse(t).err().unwrap().to_string();
        assert!(msg(quote!(config = "m", crate = "not a path")).starts_with("expected the path"));
        assert!(msg(quote!(config = "m", crate = my_msal)).starts_with("expected a string literal"));
        assert_eq!(
            msg(quote!(config = "m", crate = "a", crate = "b")),
            "this argument is given twice"
        );
        assert_eq!(
            msg(quote!(config = "m", crat = "a")),
            "unknown #[msal_app] argument `crat`; did you mean `crate`?"
        );
    }

    #[test]
    fn config_is_optional() {
        let a = parse(quote!()).unwrap();
        assert!(a.config.is_none() && a.app.is_none());
        let a = parse(quote!(app = "orders")).unwrap();
        assert!(a.config.is_none());
        assert_eq!(a.app.unwrap().value(), "orders");
    }

    #[test]
    fn problems() {
        let msg = |t| parse(t).err().unwrap().to_string();
        assert_eq!(
            msg(quote!(confg = "msal.toml")),
            "unknown #[msal_app] argument `confg`; did you mean `config`?"
        );
        assert!(msg(quote!(path = "x")).contains("expected `config"));
        assert_eq!(
            msg(quote!(config = "a", config = "b")),
            "this argument is given twice"
        );
        assert!(msg(quote!(config = 3)).starts_with("expected a string literal"));
        assert_eq!(msg(quote!(config = "")), "must not be empty");
    }
}
