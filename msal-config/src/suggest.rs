//! "Did you mean" suggestions.

/// The candidate closest to `input`, if it is close enough to be a likely typo.
///
/// Case and `-`/`_`/space differences are ignored first (`Client-ID` → `client_id`),
/// then a prefix of at least 3 characters matches (`enviroment` → `env`); otherwise the Damerau-Levenshtein distance must be at most a third of the length
/// (at least 1), or the Jaro-Winkler similarity at least 0.88. The one "did you mean" of
/// the workspace: msal.toml diagnostics and the macro's own arguments use it.
///
/// ```
/// assert_eq!(msal_config::did_you_mean("confg", ["config", "app"]), Some("config"));
/// assert_eq!(msal_config::did_you_mean("path", ["config", "app"]), None);
/// ```
pub fn did_you_mean<'a, I>(input: &str, candidates: I) -> Option<&'a str>
where
    I: IntoIterator<Item = &'a str>,
{
    let norm = |s: &str| -> String {
        s.chars()
            .filter(|c| !matches!(c, '-' | '_' | ' '))
            .flat_map(char::to_lowercase)
            .collect()
    };
    let input_norm = norm(input);
    let mut best: Option<(f64, &'a str)> = None;
    for cand in candidates {
        if cand == input {
            continue;
        }
        let (short, long) = if input.len() <= cand.len() {
            (input, cand)
        } else {
            (cand, input)
        };
        // Ranking: same normalized name > prefix > fewest edits (then Jaro-Winkler) > similar.
        let score = if norm(cand) == input_norm {
            100.0
        } else if short.len() >= 3 && long.starts_with(short) {
            50.0
        } else {
            let dist = strsim::damerau_levenshtein(input, cand);
            let limit = (input.chars().count().max(cand.chars().count()) / 3).max(1);
            let jw = strsim::jaro_winkler(input, cand);
            if dist <= limit {
                20.0 - dist as f64 + jw
            } else if jw >= 0.88 {
                jw
            } else {
                continue;
            }
        };
        if best.is_none_or(|(s, _)| score > s) {
            best = Some((score, cand));
        }
    }
    best.map(|(_, c)| c)
}

/// `help: did you mean `X`?` text, if there is a suggestion.
pub(crate) fn help<'a, I>(input: &str, candidates: I) -> Option<String>
where
    I: IntoIterator<Item = &'a str>,
{
    did_you_mean(input, candidates).map(|c| format!("did you mean `{c}`?"))
}

#[cfg(test)]
mod tests {
    use super::did_you_mean;

    const KEYS: &[&str] = &[
        "authority",
        "oidc_authority",
        "client_id",
        "credential",
        "grants",
    ];

    #[test]
    fn typos_are_suggested() {
        assert_eq!(
            did_you_mean("authorty", KEYS.iter().copied()),
            Some("authority")
        );
        assert_eq!(
            did_you_mean("clientid", KEYS.iter().copied()),
            Some("client_id")
        );
        assert_eq!(
            did_you_mean("Client-ID", KEYS.iter().copied()),
            Some("client_id")
        );
        assert_eq!(did_you_mean("grant", KEYS.iter().copied()), Some("grants"));
        assert_eq!(
            did_you_mean("credentials", KEYS.iter().copied()),
            Some("credential")
        );
    }

    #[test]
    fn far_inputs_have_no_suggestion() {
        assert_eq!(did_you_mean("banana", KEYS.iter().copied()), None);
        assert_eq!(did_you_mean("x", KEYS.iter().copied()), None);
    }
}
