//! What can still be read of an app from a file that does not pass the checks.

use toml::de::{DeTable, DeValue};

use crate::checks::is_default_scope;

/// The scope sets of app `app` as far as they can be read from `source`, even when the
/// file has problems (invalid TOML included, as far as the parser recovers): each
/// `(name, is a .default set)`, in file order. `None` when no `[apps.APP]` table can be
/// read.
///
/// For hosts that keep going after reporting the file's diagnostics: `#[msal_app]`
/// still generates a client with these sets when the file is broken, so the program
/// using it yields the file's errors only, not a cascade of "no field" errors. Nothing
/// here is validated: names may not be identifiers, and a set whose scopes cannot be
/// read counts as not `.default`.
///
/// ```
/// let src = "[apps.api]\nclient_id = \"not-a-guid\"\nscopes.graph = [\"https://graph.microsoft.com/.default\"]\nscopes.user = [\"User.Read\"]\n";
/// assert_eq!(
///     msal_config::scope_set_outline(src, "api"),
///     Some(vec![("graph".to_string(), true), ("user".to_string(), false)])
/// );
/// assert_eq!(msal_config::scope_set_outline(src, "web"), None);
/// ```
pub fn scope_set_outline(source: &str, app: &str) -> Option<Vec<(String, bool)>> {
    let (doc, _errors) = DeTable::parse_recoverable(source);
    let apps = table(doc.get_ref(), "apps")?;
    let app = table(apps, app)?;
    let Some(scopes) = table(app, "scopes") else {
        return Some(Vec::new());
    };
    let mut sets: Vec<(String, bool)> = scopes
        .iter()
        .map(|(k, v)| {
            let is_default = match v.get_ref() {
                DeValue::Array(items) => items.iter().any(|s| match s.get_ref() {
                    DeValue::String(s) => is_default_scope(s),
                    _ => false,
                }),
                _ => false,
            };
            (k.get_ref().to_string(), is_default)
        })
        .collect();
    sets.dedup_by(|a, b| a.0 == b.0);
    Some(sets)
}

fn table<'a, 'i>(t: &'a DeTable<'i>, key: &str) -> Option<&'a DeTable<'i>> {
    t.iter().find_map(|(k, v)| match v.get_ref() {
        DeValue::Table(t) if k.get_ref().as_ref() == key => Some(t),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::scope_set_outline;

    #[test]
    fn reads_what_it_can() {
        // Invalid TOML after the sets: they are still read.
        let src = "[apps.web]\nscopes.user = [\"User.Read\"]\n[apps.web.scopes]\nmail = [\"Mail.Read\"]\ngrants = [\n";
        let sets = scope_set_outline(src, "web").unwrap();
        assert!(sets.contains(&("user".to_string(), false)), "{sets:?}");
        // A table without sets, a missing app, a file that is not TOML at all.
        assert_eq!(scope_set_outline("[apps.x]\n", "x"), Some(vec![]));
        assert_eq!(scope_set_outline("[apps.x]\n", "y"), None);
        assert_eq!(scope_set_outline("\u{0}[[[", "x"), None);
        // Broken set values count as not `.default`.
        let sets = scope_set_outline(
            "[apps.x]\nscopes.a = 3\nscopes.b = [1, \"api://b/.default\"]\n",
            "x",
        );
        assert_eq!(sets, Some(vec![("a".into(), false), ("b".into(), true)]));
    }
}
