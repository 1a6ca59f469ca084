//! The attribute's arguments: `config = "msal.toml"` (required) and `app = "name"`.

use proc_macro2::{Span, TokenStream};
use syn::parse::Parser;
use syn::LitStr;

/// Parsed `#[msal_app(...)]` arguments.
pub(crate) struct Args {
    /// The `config = "..."` literal (errors about the file point at it).
    pub config: LitStr,
    /// The `app = "..."` literal, when given.
    pub app: Option<LitStr>,
}

const KNOWN: &[&str] = &["config", "app"];

/// Parses the arguments; every problem is a spanned error.
pub(crate) fn parse(attr: TokenStream) -> syn::Result<Args> {
    let mut config: Option<LitStr> = None;
    let mut app: Option<LitStr> = None;
    let parser = syn::meta::parser(|meta| {
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
            let hint = match crate::suggest(&name, KNOWN) {
                Some(s) => format!("did you mean `{s}`?"),
                None => "expected `config = \"msal.toml\"` or `app = \"name\"`".into(),
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
    let config = config.ok_or_else(|| {
        syn::Error::new(
            Span::call_site(),
            "missing `config = \"...\"`: #[msal_app(config = \"msal.toml\")] names the file, relative to the crate's Cargo.toml",
        )
    })?;
    Ok(Args { config, app })
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::quote;

    #[test]
    fn config_and_app() {
        let a = parse(quote!(config = "msal.toml", app = "orders")).unwrap();
        assert_eq!(a.config.value(), "msal.toml");
        assert_eq!(a.app.unwrap().value(), "orders");
        let a = parse(quote!(config = "../msal.toml")).unwrap();
        assert!(a.app.is_none());
    }

    #[test]
    fn problems() {
        let msg = |t| parse(t).err().unwrap().to_string();
        assert!(msg(quote!()).starts_with("missing `config"));
        assert!(msg(quote!(app = "x")).starts_with("missing `config"));
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
